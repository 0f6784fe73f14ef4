// The docs' chats run as printed: their curl commands through sh, their wscat transcripts over real sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type WebSocket from 'ws';
import { startServer } from './helpers/server.ts';
import { http, tokenFrom } from './helpers/http.ts';
import { blockWith, page, replay, runShell, transcript, wscat } from './helpers/examples.ts';
import { sleep, until } from './helpers/wait.ts';
import { person, pushed, uniqueName, waitFor } from './helpers/clients.ts';

const root = new URL('..', import.meta.url).pathname;

async function loggedIn(base: string, username: string, password: string): Promise<string> {
  return tokenFrom(await http(base, 'POST', '/auth/login', { body: { username, password } }));
}

/** Waits until `socket`'s user sees `username` online: people at two terminals connect seconds apart, a test does not. */
async function seenOnline(socket: WebSocket, username: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const answer = new Promise<string>((resolve) => socket.once('message', (data) => resolve(String(data))));
    socket.send(JSON.stringify({ type: 'get_user', username }));
    if ((JSON.parse(await answer) as { data?: { is_online?: boolean } }).data?.is_online) return;
    await sleep(50);
  }
  assert.fail(`${username} never showed online`);
}

test("the README's first chat: curl, then wscat", async (t) => {
  const server = await startServer(t);
  const cwd = mkdtempSync(join(tmpdir(), 'parley-docs-'));
  t.after(() => rmSync(cwd, { recursive: true, force: true }));
  const readme = page('README.md');
  runShell(blockWith(readme, 'sh', 'localhost:8000/register'), server.http, cwd);
  const alice = await wscat(server.ws, await loggedIn(server.http, 'alice', 'wonderland'));
  t.after(() => alice.close());
  await replay([{ name: 'alice', socket: alice, lines: transcript(blockWith(readme, 'text', '"content":"Hello, Bob!"')) }]);

  // docs/client.md's bot, run as `npx tsx bot.ts` would run it: it talks, then exits by itself.
  const bot = blockWith(page('docs/client.md'), 'ts', "login(url, 'alice', 'wonderland')")
    .replace("from 'ws'", `from '${root}node_modules/ws/wrapper.mjs'`)
    .replace("from './protocol/", `from '${root}protocol/`)
    .replace("'http://localhost:8000'", `'${server.http}'`);
  writeFileSync(join(cwd, 'bot.mts'), bot);
  const ran = await new Promise<{ code: number | null; output: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(cwd, 'bot.mts')], { cwd: root, timeout: 30_000 }, (error, stdout, stderr) => resolve({ code: error ? (error.code as number | null) ?? null : 0, output: stdout + stderr }));
  });
  assert.equal(ran.code, 0, ran.output);
  const lines = ran.output.trim().split('\n');
  assert.ok(lines.includes('connection: {"status":"open"}'), ran.output);
  assert.ok(lines.some((line) => /^#\d+ alice: Hello from Node$/.test(line)), ran.output);
  assert.equal(lines.at(-1), 'connection: {"status":"closed"}', 'the bot closes its client and exits');
});

test("docs/client.md's echo bot answers in its conversations, and stops when its token is rotated", async (t) => {
  const server = await startServer(t);
  const cwd = mkdtempSync(join(tmpdir(), 'parley-docs-'));
  t.after(() => rmSync(cwd, { recursive: true, force: true }));
  const alice = await person(server, 'alice');
  const made = await alice.client.request('create_bot', { username: uniqueName('echo'), fullname: 'Echo' });
  const room = await alice.client.request('create_conversation', { kind: 'group', name: 'echoes', members: [made.username] });
  const code = blockWith(page('docs/client.md'), 'ts', 'echo-bot.ts')
    .replace("from 'ws'", `from '${root}node_modules/ws/wrapper.mjs'`)
    .replace("from './protocol/", `from '${root}protocol/`)
    .replace("'ws://localhost:8000/ws'", `'${server.ws}'`);
  writeFileSync(join(cwd, 'echo-bot.mts'), code);
  // Run as `PARLEY_BOT_TOKEN=… npx tsx echo-bot.ts` would run it.
  const child = spawn(process.execPath, ['--import', 'tsx', join(cwd, 'echo-bot.mts')], { cwd: root, env: { ...process.env, PARLEY_BOT_TOKEN: made.token }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const printed: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => printed.push(line));
  child.stderr.on('data', (chunk: Buffer) => printed.push(String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await until(() => printed, () => printed.includes(`${made.username} is listening`), 20_000);

  const said = await alice.client.request('send_message', { conversation_id: room.id, content: 'is anyone there?' });
  const echoed = await waitFor(alice.pushes, (push) => push.type === 'send_message' && push.data.sender_username === made.username);
  assert.deepEqual(echoed.type === 'send_message' && [echoed.data.content, echoed.data.reply_id], ['is anyone there?', said.id]);
  await alice.client.request('rotate_bot_token', { username: made.username });
  assert.equal(await exited, 0, printed.join('\n'));
  assert.deepEqual(printed, [`${made.username} is listening`, 'closed: 4005 session logged out']);
  assert.equal(pushed(alice.pushes, 'send_message').length, 1, 'it never answers itself');
});

test('GET / names every route docs/protocol.md lists, and no other', async (t) => {
  const server = await startServer(t);
  const home = await http(server.http, 'GET', '/');
  assert.equal(home.status, 200);
  const named = [...home.body.matchAll(/^  (GET|POST) +(\S+)/gm)].map((match) => `${match[1]} ${match[2]}`).sort();
  const documented = [...page('docs/protocol.md').matchAll(/^\| `(GET|POST) (\/[^`]*)`/gm)].map((match) => `${match[1]} ${match[2]}`).sort();
  assert.ok(documented.length >= 18, documented.join(', '));
  assert.deepEqual(named, documented);
});

test("Getting started's session: Alice's and Bob's terminals side by side", async (t) => {
  const server = await startServer(t);
  const cwd = mkdtempSync(join(tmpdir(), 'parley-docs-'));
  t.after(() => rmSync(cwd, { recursive: true, force: true }));
  const guide = page('docs/getting-started.md');
  runShell(blockWith(guide, 'sh', 'localhost:8000/register'), server.http, cwd);
  const alice = await wscat(server.ws, await loggedIn(server.http, 'alice', 'wonderland'));
  const bob = await wscat(server.ws, await loggedIn(server.http, 'bob', 'builder123'));
  t.after(() => { alice.close(); bob.close(); });
  await seenOnline(alice, 'bob');
  await replay([
    { name: 'alice', socket: alice, lines: transcript(blockWith(guide, 'text', '> {"type":"add_contact"')) },
    { name: 'bob', socket: bob, lines: transcript(blockWith(guide, 'text', '"content":"Hi Alice","reply_id":1}')) },
  ]);

  // docs/notifications.md goes on in Alice's terminal, with keys made as its shell example makes them.
  const notifications = page('docs/notifications.md');
  runShell(blockWith(notifications, 'sh', 'createECDH'), server.http, cwd);
  await replay([{ name: 'alice', socket: alice, lines: transcript(blockWith(notifications, 'text', '"type":"register_device"')) }]);
});

test('Files: uploads with curl, the message with wscat, Bob downloading the thumbnail', async (t) => {
  const server = await startServer(t);
  const cwd = mkdtempSync(join(tmpdir(), 'parley-docs-'));
  t.after(() => rmSync(cwd, { recursive: true, force: true }));
  for (const [username, password, fullname] of [['alice', 'wonderland', 'Alice Liddell'], ['bob', 'builder123', 'Bob Builder']]) {
    assert.equal((await http(server.http, 'POST', '/register', { body: { username, password, fullname } })).status, 201);
  }
  // The photo: a camera's JPEG of 1200 × 800 with its EXIF, 6,599 bytes; the note: 13 bytes.
  const photo = await sharp({ create: { width: 1200, height: 800, channels: 3, background: { r: 200, g: 120, b: 40 } } })
    .jpeg({ quality: 80 }).withMetadata({ exif: { IFD0: { Copyright: 'Alice' } } }).toBuffer();
  writeFileSync(join(cwd, 'photo.jpg'), photo);
  writeFileSync(join(cwd, 'notes.txt'), 'Hello, files\n');

  const guide = page('docs/files.md');
  const [uploads, download] = [blockWith(guide, 'sh', '-F file=@photo.jpg'), blockWith(guide, 'sh', 'thumb.webp')];
  const ran = runShell(uploads, server.http, cwd);
  // The docs' file ids stand for the ones this run's uploads got, in the order printed.
  const ids = (lines: string[]) => lines.flatMap((line) => [...line.matchAll(/"id":"([0-9a-f]{32})"/g)].map((match) => match[1]!));
  const actual = new Map(ids(ran.documented).map((id, n) => [id, ids(ran.printed)[n]!]));
  assert.equal(actual.size, 2);
  const withIds = (text: string) => [...actual].reduce((result, [documented, got]) => result.replaceAll(documented, got), text);

  const alice = await wscat(server.ws, await loggedIn(server.http, 'alice', 'wonderland'));
  t.after(() => alice.close());
  await replay([{ name: 'alice', socket: alice, lines: [
    { send: true, text: '{"type":"create_conversation","kind":"direct","members":["bob"]}' },
    { send: false, text: '{"type":"create_conversation","success":true,"data":{"id":1,"name":"alice, bob","members":["alice","bob"],"kind":"direct","description":"","created_at":1,"avatar_url":null},"seq":1}' },
  ] }]);
  await replay([{ name: 'alice', socket: alice, lines: transcript(withIds(blockWith(guide, 'text', '"content":"The garden"'))) }]);
  runShell(withIds(download), server.http, cwd);
});

test("Retention's set_retention: Alice's and Bob's terminals", async (t) => {
  const server = await startServer(t);
  for (const [username, password, fullname] of [['alice', 'wonderland', 'Alice Liddell'], ['bob', 'builder123', 'Bob Builder']]) {
    assert.equal((await http(server.http, 'POST', '/register', { body: { username, password, fullname } })).status, 201);
  }
  const guide = page('docs/retention.md');
  const alice = await wscat(server.ws, await loggedIn(server.http, 'alice', 'wonderland'));
  const bob = await wscat(server.ws, await loggedIn(server.http, 'bob', 'builder123'));
  t.after(() => { alice.close(); bob.close(); });
  await replay([
    { name: 'alice', socket: alice, lines: transcript(blockWith(guide, 'text', '"name":"records","members":["bob"]}')) },
    { name: 'bob', socket: bob, lines: transcript(blockWith(guide, 'text', '"days":null}')) },
  ]);
});
