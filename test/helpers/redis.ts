// Throwaway Redis for tests: Debian's redis-server on a free loopback port, keeping nothing on disk,
// stopped and started again on the same port for failure tests, and killed by a reaper process if
// the test process dies first.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from './server.ts';
import { startReaper } from './orphans.ts';

export const redisServer = '/usr/bin/redis-server';

export type TestRedis = {
  readonly port: number;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  /** Stops the server (SIGTERM: it closes its clients and exits; unless it keeps its data, the data is gone). */
  stop(): Promise<void>;
  /** Starts it again on the same port: empty, or with its data when it keeps it. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
  /** What the server printed. */
  output(): string;
};

/**
 * Starts redis-server; with `t`, it is destroyed after the test. `keep`: its data survives a stop and
 * start (an append-only file, written at every command), as a production Redis's would.
 */
export async function startRedis(t?: TestContext, options: { keep?: boolean } = {}): Promise<TestRedis> {
  // Its own working folder: redis-server may write there (a crash report, a temporary file).
  const dir = mkdtempSync(join(tmpdir(), 'parley-redis-'));
  const reaper = startReaper({ remove: [dir] });
  let child: ChildProcess | undefined;
  let text = '';
  let port = 0;

  async function launch(): Promise<void> {
    const persistence = options.keep ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    const started = spawn(redisServer, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir, '--loglevel', 'notice'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    reaper.plan({ kill: [started.pid!], remove: [dir] });
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        text += chunk;
        if (text.includes('Ready to accept connections')) resolve();
      };
      started.stdout!.on('data', onData);
      started.stderr!.on('data', (chunk: Buffer) => (text += chunk));
      started.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${text}`)));
    });
  }

  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (error) {
      if (attempt === 3) {
        reaper.done();
        rmSync(dir, { recursive: true, force: true });
        throw error; // the port was taken between freePort() and the start, three times over
      }
    }
  }

  async function stop(): Promise<void> {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  }

  const redis: TestRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    async start() {
      if (child) throw new Error('redis-server is already running');
      text = '';
      await launch();
    },
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
      reaper.done();
    },
    output: () => text,
  };
  t?.after(() => redis.destroy());
  return redis;
}
