// Stopping: real signals to the real process tree (`npm start`, node directly), the graceful shutdown, and the drain.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { follow, startServer, testSecret, type LogLine } from './helpers/server.ts';
import { person, waitFor } from './helpers/clients.ts';
import { http } from './helpers/http.ts';
import { sleep } from './helpers/wait.ts';

const root = new URL('..', import.meta.url).pathname;

/** Whether any process is left in a process group (or with a pid, for a positive number). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

async function gone(pid: number, timeoutMs = 5000): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (!alive(pid)) return true;
    await sleep(20);
  }
  return !alive(pid);
}

/**
 * `npm start` as an operator types it, in a process group of its own (like a job in a terminal),
 * so that the test can signal the group as Ctrl-C does and see that nothing of the tree survives.
 */
async function npmStart(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-npm-'));
  const env = { ...process.env, PORT: '0', HOST: '127.0.0.1', DBPATH: join(dir, 'parley.db'), JWTSECRET: testSecret, LOG_LEVEL: 'info' };
  const npm = spawn('npm', ['start'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = follow(npm);
  t.after(() => {
    if (alive(-npm.pid!)) process.kill(-npm.pid!, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const listening = await output.waitForLog((line) => line.msg === 'listening', 30_000);
  return { npm, group: npm.pid!, server: listening.pid as number, port: listening.port as number, ...output };
}

const messages = (logs: LogLine[]) => logs.filter((line) => ['shutting down', 'already shutting down', 'stopped'].includes(line.msg)).map(({ msg, signal }) => (signal ? [msg, signal] : [msg]));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} to the npm process stops the server cleanly, and nothing of the tree survives`, async (t) => {
    const started = await npmStart(t);
    assert.notEqual(started.server, started.npm.pid, 'npm runs the server as a child process');
    const ping = await http(`http://127.0.0.1:${started.port}`, 'GET', '/misc/ping');
    assert.deepEqual([ping.status, ping.body], [200, 'pong']);

    process.kill(started.npm.pid!, signal);
    assert.equal(await started.exited, 0, 'npm exits with the server, successfully');
    assert.ok(await gone(started.server), 'the server process is gone');
    assert.ok(await gone(-started.group), 'no process of the group is left (esbuild included)');
    assert.deepEqual(messages(started.logs), [['shutting down', signal], ['stopped']]);
    await assert.rejects(http(`http://127.0.0.1:${started.port}`, 'GET', '/misc/ping'), /ECONNREFUSED/, 'nothing listens any more');
  });
}

test('Ctrl-C in a terminal (SIGINT to the whole group, which npm forwards again) stops the server once, cleanly', async (t) => {
  const started = await npmStart(t);
  process.kill(-started.group, 'SIGINT');
  assert.equal(await started.exited, 0);
  assert.ok(await gone(-started.group), 'no process of the group is left');
  const seen = messages(started.logs);
  assert.deepEqual(seen[0], ['shutting down', 'SIGINT']);
  assert.deepEqual(seen.at(-1), ['stopped']);
  assert.equal(seen.filter(([msg]) => msg === 'shutting down').length, 1, 'a repeated signal does not start the shutdown again');
});

test('node started directly stops cleanly on SIGINT and on SIGTERM; sockets are told 1001', async (t) => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const server = await startServer(t, { LOG_LEVEL: 'info' });
    const alice = await person(server, 'alice');
    assert.equal(await server.stop(signal), 0, signal);
    assert.deepEqual(await alice.client.closed, { code: 1001, reason: 'server shutting down' }, 'the socket is told the server is going away');
    assert.deepEqual(messages(server.logs), [['shutting down', signal], ['stopped']]);
  }
});

test('SHUTDOWN_DRAIN: /readyz answers 503 at once while everything else keeps working, then the server stops', async (t) => {
  const server = await startServer(t, { SHUTDOWN_DRAIN: '2', LOG_LEVEL: 'info' });
  const alice = await person(server, 'alice');
  const ready = await http(server.http, 'GET', '/readyz');
  assert.deepEqual([ready.status, ready.body], [200, 'ready']);

  server.child.kill('SIGTERM');
  const shutting = await server.waitForLog((line) => line.msg === 'shutting down');
  assert.deepEqual([shutting.signal, shutting.drainSeconds], ['SIGTERM', 2]);
  const draining = await http(server.http, 'GET', '/readyz');
  assert.deepEqual([draining.status, draining.body], [503, 'shutting down']);
  const alive = await http(server.http, 'GET', '/healthz');
  assert.deepEqual([alive.status, alive.body], [200, 'ok'], 'still alive: an orchestrator must not kill it');
  assert.equal(await alice.client.request('ping'), 'pong', 'open sockets still work during the drain');
  const bob = await person(server, 'bob');
  await alice.client.request('add_contact', { contact_username: bob.username });
  await waitFor(bob.pushes, (push) => push.type === 'contact_added');

  server.child.kill('SIGTERM');
  await server.waitForLog((line) => line.msg === 'already shutting down');
  assert.ok(!server.logs.some((line) => line.msg === 'stopped'), 'a second signal does not cut the drain short');
  assert.equal(await server.stop(), 0);
  assert.equal((await alice.client.closed).code, 1001);
  const stopped = server.logs.find((line) => line.msg === 'stopped')!;
  assert.ok(Date.parse(stopped.time as string) - Date.parse(shutting.time as string) >= 2000, 'the sockets closed after the drain');
});

test('when whatever reads the log goes away (npm start | head), the server goes on serving', async (t) => {
  const server = await startServer(t);
  server.child.stdout!.destroy(); // the reading end of the log's pipe is gone: the next line fails with EPIPE
  for (let i = 0; i < 3; i++) {
    const failed = await http(server.http, 'POST', '/auth/login', { body: { username: 'nobody_here', password: 'wrong password' } });
    assert.equal(failed.status, 401, 'each failure writes a log line');
  }
  assert.equal((await http(server.http, 'GET', '/misc/ping')).body, 'pong');
  assert.equal(server.child.exitCode, null, 'still running');
});
