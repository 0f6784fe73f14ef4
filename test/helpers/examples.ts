// Runs the docs' examples as printed: shell blocks through sh (their `# ...` lines are the output
// expected), and wscat transcripts (`>` sent, `<` received) over real sockets, one per terminal.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const root = new URL('../..', import.meta.url);

/** The text of a page of the docs (`README.md`, `docs/files.md`). */
export const page = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** The fenced blocks of a page in a language, in order. */
export function blocks(markdown: string, language: string): string[] {
  return [...markdown.matchAll(new RegExp('^```' + language + '\\n([\\s\\S]*?)^```$', 'gm'))].map((match) => match[1]!);
}

/** The one block of `language` that holds `marker`. */
export function blockWith(markdown: string, language: string, marker: string): string {
  const found = blocks(markdown, language).filter((block) => block.includes(marker));
  assert.equal(found.length, 1, `expected one ${language} block with ${JSON.stringify(marker)}, found ${found.length}`);
  return found[0]!;
}

/** `...` and `…` in a printed output stand for what differs from run to run, and so does a file's id (32 hex digits). */
function outputPattern(expected: string): RegExp {
  const parts = expected.split(/\.\.\.|…/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\b[0-9a-f]{32}\b/g, '[0-9a-f]{32}'));
  return new RegExp(`^${parts.join('.*?')}$`, 'i');
}

/**
 * Runs each command of a shell block in `cwd` with the server's address for localhost:8000, and checks
 * the `# ` lines after a command against what it printed, line by line (a `#` line that follows no
 * command is a comment). Answers with what the commands printed, and the docs' lines they were checked against.
 */
export function runShell(block: string, base: string, cwd: string, env: Record<string, string> = {}): { printed: string[]; documented: string[] } {
  const all = { printed: [] as string[], documented: [] as string[] };
  const host = new URL(base).host;
  const lines = block.split('\n').filter((line) => line.trim() !== '');
  for (let i = 0; i < lines.length; i++) {
    const command = lines[i]!.replace(/\s+#.*$/, '');
    if (command.startsWith('#')) continue;
    const expected: string[] = [];
    while (lines[i + 1]?.startsWith('# ')) expected.push(lines[++i]!.slice(2));
    const output = execFileSync('sh', ['-c', command.replaceAll('localhost:8000', host)], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const printed = output.split('\n').map((line) => line.replace(/\r$/, '')).filter((line) => line !== '');
    assert.equal(printed.length, expected.length, `${command}\nprinted:\n${printed.join('\n')}\nthe docs say:\n${expected.join('\n')}`);
    expected.forEach((line, n) => assert.match(printed[n]!, outputPattern(line), command));
    all.printed.push(...printed);
    all.documented.push(...expected);
  }
  return all;
}

type Line = { send: boolean; text: string };

/** A wscat transcript's lines: `> ` what was typed, `< ` what came back. */
export function transcript(block: string): Line[] {
  return block.split('\n').filter((line) => /^[<>] /.test(line)).map((line) => ({ send: line.startsWith('>'), text: line.slice(2) }));
}

// Times differ from run to run; everything else in a frame must be as printed.
const times = new Set(['sent_at', 'created_at', 'last_online', 'edited_at', 'invited_at', 'joined_at']);
function normalise(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), (key, value) => (times.has(key) && typeof value === 'number' ? '<time>' : value));
  } catch {
    return text;
  }
}

/** A printed frame as a pattern: `…` inside a string stands for what differs from run to run (a key). */
function printedAs(expected: string): RegExp {
  return new RegExp(`^${expected.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^"]*')}$`);
}

export type Terminal = { name: string; socket: WebSocket; lines: Line[] };

/**
 * Opens a socket as wscat does, with the login cookie; resolves once the server has it: its login token
 * checked and the socket registered, as it is long before a person types a first line. Open alone is not
 * that (the token is checked after the upgrade): another terminal's first event could go out before this
 * socket hears anything, which no one at a terminal would see (a ping's pong, not shown, tells).
 */
export async function wscat(url: string, token: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { headers: { Cookie: `login-token=${token}` } });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('message', (data) => (JSON.parse(String(data)).data === 'pong' ? resolve() : reject(new Error(`before the pong: ${String(data)}`))));
    socket.send(JSON.stringify({ type: 'ping' }));
  });
  return socket;
}

/**
 * Plays terminals side by side as people at them would: a terminal types its next `>` line as soon as
 * everything printed before it has come; what comes between two typed lines must be exactly the
 * `<` lines printed there, in any order (two people's frames cross), times aside.
 */
export async function replay(terminals: Terminal[], timeoutMs = 5000): Promise<void> {
  const inbox = new Map<Terminal, string[]>(terminals.map((terminal) => [terminal, []]));
  const position = new Map<Terminal, number>(terminals.map((terminal) => [terminal, 0]));
  let wake: () => void = () => {};
  for (const terminal of terminals) terminal.socket.on('message', (data) => { inbox.get(terminal)!.push(String(data)); wake(); });
  while (terminals.some((terminal) => position.get(terminal)! < terminal.lines.length)) {
    let moved = false;
    for (const terminal of terminals) {
      const at = position.get(terminal)!;
      const line = terminal.lines[at];
      if (!line) continue;
      if (line.send) {
        terminal.socket.send(line.text);
        position.set(terminal, at + 1);
        moved = true;
        continue;
      }
      let end = at;
      while (terminal.lines[end] && !terminal.lines[end]!.send) end++;
      const received = inbox.get(terminal)!;
      if (received.length < end - at) continue;
      const got = received.splice(0, end - at).map(normalise);
      const printed = terminal.lines.slice(at, end).map((expected) => normalise(expected.text));
      const unmatched = printed.filter((expected) => {
        const found = got.findIndex((frame) => printedAs(expected).test(frame));
        if (found >= 0) got.splice(found, 1);
        return found < 0;
      });
      assert.deepEqual(got, unmatched, `${terminal.name}'s terminal after line ${at}: what came (actual) against what is printed (expected)`);
      position.set(terminal, end);
      moved = true;
    }
    if (moved) continue;
    const arrived = new Promise<boolean>((resolve) => { wake = () => resolve(true); setTimeout(() => resolve(false), timeoutMs).unref(); });
    if (!(await arrived)) {
      const state = terminals.map((terminal) => `${terminal.name} waits at line ${position.get(terminal)} for ${terminal.lines[position.get(terminal)!]?.text}; received ${JSON.stringify(inbox.get(terminal))}`);
      assert.fail(`the transcript stalled:\n${state.join('\n')}`);
    }
  }
  for (const terminal of terminals) {
    assert.deepEqual(inbox.get(terminal), [], `${terminal.name}'s terminal received more than the docs print`);
  }
}
