// Starts the real server in a child process on a free port with a temporary database, and stops it after the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createServer } from 'node:net';
import type { TestContext } from 'node:test';
import { built } from './built.ts';
import { dropEngineDatabase, engineEnv } from './postgres.ts';
import { sleep } from './wait.ts';

export type LogLine = { level: string; msg: string; [key: string]: unknown };

export type TestServer = {
  port: number;
  http: string;
  ws: string;
  dir: string;
  dbPath: string;
  env: Record<string, string>;
  logs: LogLine[];
  /** Everything the process printed on stdout and stderr, as text. */
  output(): string;
  child: ChildProcess;
  /** Resolves with the first log line matching, waiting for it if needed. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Stops the process (SIGTERM by default) and resolves with its exit code or signal. */
  stop(signal?: NodeJS.Signals): Promise<number | string | null>;
};

export const testSecret = 'a test secret that is at least 32 bytes long';

/** A server's last lines of output, for a failure's message. */
export const lastLines = (server: TestServer, count = 60): string => server.output().split('\n').slice(-count).join('\n');
const root = new URL('../..', import.meta.url).pathname;

/** Spawns the built `src/main.ts` as `npm start` does; resolves once it listens. Reuses `dir` to restart on the same database. */
export async function startServer(t: TestContext | undefined, env: Record<string, string> = {}, dir?: string, nodeArgs: string[] = []): Promise<TestServer> {
  const home = dir ?? mkdtempSync(join(tmpdir(), 'parley-test-'));
  // The PostgreSQL pass: a fresh database of the shared throwaway cluster per server home (kept for a restart on the same home).
  const engine = await engineEnv(home);
  const fullEnv: Record<string, string> = {
    ...engine,
    PATH: process.env.PATH ?? '',
    PORT: '0',
    HOST: '127.0.0.1',
    DBPATH: join(home, 'parley.db'),
    JWTSECRET: testSecret,
    LOG_LEVEL: 'debug',
    // Tests register many users from one address and script fast senders; limits.test.ts tests the limits.
    REGISTRATIONS_PER_HOUR: '100000',
    RATE_LIMIT_EVENTS: '100000',
    RATE_LIMIT_BURST: '100000',
    // work-budget.test.ts tests the server time per account.
    RATE_LIMIT_WORK_MS: '100000',
    RATE_LIMIT_WORK_BURST_MS: '100000',
    // quotas.test.ts tests the hourly caps on conversations, channels, adds and contacts.
    CONVERSATIONS_PER_HOUR: '100000',
    CHANNELS_PER_HOUR: '100000',
    ADDS_PER_HOUR: '100000',
    CONTACTS_PER_HOUR: '100000',
    ...env,
  };
  for (const [key, value] of Object.entries(fullEnv)) if (value === '') delete fullEnv[key];
  // Below LOG_LEVEL=info the start-up line that names the port is not printed: pick the port here.
  const quiet = ['warn', 'error', 'silent'].includes(fullEnv.LOG_LEVEL ?? '');
  if (quiet && fullEnv.PORT === '0') fullEnv.PORT = String(await freePort());
  const child = spawn(process.execPath, [...nodeArgs, built('src/main.ts')], { cwd: root, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const { logs, text, waitForLog, exited } = follow(child);

  const port = await Promise.race([
    quiet ? waitForPing(Number(fullEnv.PORT)) : waitForLog((line) => line.msg === 'listening', 20_000).then((line) => line.port as number),
    exited.then((code): never => {
      throw new Error(`server exited (${code}) before listening:\n${text.join('\n')}`);
    }),
  ]);
  const server: TestServer = {
    port,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}/ws`,
    dir: home,
    dbPath: fullEnv.DBPATH!,
    env: fullEnv,
    logs,
    output: () => text.join('\n'),
    child,
    waitForLog,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  t?.after(async () => {
    await server.stop('SIGKILL');
    if (dir) return;
    await dropEngineDatabase(home);
    rmSync(home, { recursive: true, force: true });
  });
  return server;
}

/** Collects a server process's output: its JSON log lines parsed, everything as text, and its exit. */
export function follow(child: ChildProcess) {
  const logs: LogLine[] = [];
  const text: string[] = [];
  const waiters = new Set<() => void>();
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  // A server that dies on its own (a failed exit code, or a signal the tests never send: an abort, a
  // segfault) says so on the test's stderr with its last lines, whatever the test then reports (a socket
  // closed with 1006, a refused connection).
  void exited.then((how) => {
    if (how === 0 || how === 'SIGKILL' || how === 'SIGTERM' || how === 'SIGINT' || how === null) return;
    process.stderr.write(`\n[test helper] server process ${child.pid} exited on its own (${how}); its last lines:\n${text.slice(-40).join('\n')}\n`);
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    text.push(line);
    try {
      logs.push(JSON.parse(line) as LogLine);
    } catch {
      // not every line is a log record (a crash prints a stack)
    }
    for (const wake of waiters) wake();
  });
  child.stderr!.on('data', (chunk: Buffer) => text.push(chunk.toString()));

  function waitForLog(match: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = logs.find(match);
        if (!found) return false;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching log line within ${timeoutMs} ms; output:\n${text.join('\n')}`));
      }, timeoutMs);
      if (!check()) waiters.add(check);
    });
  }
  return { logs, text, waitForLog, exited };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function waitForPing(port: number): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const ok = await fetch(`http://127.0.0.1:${port}/misc/ping`).then((res) => res.ok, () => false);
    if (ok) return port;
    await sleep(100);
  }
  throw new Error(`nothing answered on port ${port}`);
}

/** Runs the server entry with the given settings and resolves with how it exited and what it printed. */
export function runServerExpectingExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [built('src/main.ts')], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
