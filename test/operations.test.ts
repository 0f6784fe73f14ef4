// The operators' routes: /healthz, /readyz and /metrics (scraped from the real server, counters checked as they move).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import WebSocket from 'ws';
import { startServer, type TestServer } from './helpers/server.ts';
import { login, password, person, rawSocket, register, settle, socket, uniqueName } from './helpers/clients.ts';
import { http } from './helpers/http.ts';
import { createDatabase, postgresCluster, testEngine } from './helpers/postgres.ts';
import { readSettings } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { createMetrics } from '../src/metrics.ts';
import * as prom from 'prom-client';
import { assembleApp } from '../src/app.ts';
import { createStore, openDatabase, sqliteDriver } from '../src/storage/index.ts';
import { operationRoutes } from '../src/operations.ts';
import type { Request } from '../src/transport/http.ts';
import { sleep } from './helpers/wait.ts';

const token = 'a-metrics-token-for-tests-0123456789';

test('/healthz and /readyz answer without credentials; other methods get 405', async (t) => {
  const server = await startServer(t);
  assert.deepEqual(await http(server.http, 'GET', '/healthz').then((r) => [r.status, r.body, r.headers['content-type']]), [200, 'ok', 'text/plain; charset=utf-8']);
  assert.deepEqual(await http(server.http, 'GET', '/readyz').then((r) => [r.status, r.body]), [200, 'ready']);
  const post = await http(server.http, 'POST', '/readyz', { body: '' });
  assert.deepEqual([post.status, post.body, post.headers.allow], [405, 'method not allowed: use GET, OPTIONS', 'GET, OPTIONS']);
});

test('/readyz answers 503 when the database does not answer', async () => {
  const db = openDatabase(':memory:');
  const logged: string[] = [];
  const app = assembleApp({
    settings: readSettings({}),
    log: createLogger('debug', (line) => logged.push(line)),
    metrics: createMetrics(prom),
    store: createStore(sqliteDriver(db)),
    publish: () => {},
    subscribers: () => 0,
    mail: { send: async () => {} },
    push: { publicKey: 'none', wake: () => {} },
    exports: { build: () => {} },
    tokens: undefined as never,
    secondFactor: undefined as never,
    passwords: undefined as never,
    now: () => 1_700_000_000,
  });
  const readyz = operationRoutes(app, () => false)['/readyz']!.GET!;
  const request = {} as Request;
  assert.deepEqual(await readyz(request), { status: 200, body: 'ready' });
  db.close();
  // The answer of the last probe stands for up to a second; then the next one finds the database gone.
  const closed = performance.now();
  while ((await readyz(request)).status === 200) await sleep(20);
  assert.ok(performance.now() - closed < 1500, `503 after ${Math.round(performance.now() - closed)} ms`);
  assert.deepEqual(await readyz(request), { status: 503, body: 'database unavailable' });
  const line = JSON.parse(logged.at(-1)!);
  assert.deepEqual([line.level, line.msg, line.error.message], ['error', 'readiness check: the database does not answer', 'The database connection is not open']);
  assert.deepEqual(await operationRoutes(app, () => true)['/readyz']!.GET!(request), { status: 503, body: 'shutting down' });
});

test('a flood of /readyz costs one database probe a second, and readiness still follows the database', async (t) => {
  const onPostgres = testEngine() === 'postgres';
  // On PostgreSQL a cluster of the test's own, which it stops.
  const cluster = onPostgres ? await postgresCluster(t) : undefined;
  const server = await startServer(t, cluster ? { DATABASE_URL: await createDatabase(cluster.url) } : {});
  const probes = () => server.logs.filter((line) => line.msg === 'readiness probe: the database answers').length;
  const before = probes();
  const started = performance.now();
  const answers = await Promise.all(Array.from({ length: 300 }, () => http(server.http, 'GET', '/readyz').then((r) => `${r.status} ${r.body}`)));
  const elapsed = performance.now() - started;
  assert.deepEqual(new Set(answers), new Set(['200 ready']));
  // One probe per second the flood lasted (and one for a second it began in): not one per request.
  const made = probes() - before;
  assert.ok(made >= 1 && made <= Math.ceil(elapsed / 1000) + 1, `${made} probes for 300 requests in ${Math.round(elapsed)} ms`);
  if (!cluster) return; // SQLite's file does not go away under a server: the in-process test above closes its handle
  await cluster.stop('fast');
  const stopped = performance.now();
  for (;;) {
    const answer = await http(server.http, 'GET', '/readyz');
    if (answer.status === 503) {
      assert.equal(answer.body, 'database unavailable');
      break;
    }
    await sleep(20);
  }
  const took = performance.now() - stopped;
  assert.ok(took < 3000, `503 only after ${Math.round(took)} ms`);
  await cluster.start();
  const deadline = performance.now() + 15_000;
  while ((await http(server.http, 'GET', '/readyz')).status !== 200) {
    assert.ok(performance.now() < deadline, 'ready again once PostgreSQL is back');
    await sleep(50);
  }
});

test('/metrics does not exist without METRICS_TOKEN', async (t) => {
  const server = await startServer(t);
  const scrape = await http(server.http, 'GET', '/metrics', { headers: { authorization: `Bearer ${token}` } });
  assert.deepEqual([scrape.status, scrape.body], [404, 'not found: GET /metrics']);
});

test('/metrics needs the bearer token, exactly', async (t) => {
  const server = await startServer(t, { METRICS_TOKEN: token });
  for (const authorization of [undefined, token, `Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, `bearer  ${token}`, 'Basic dXNlcjpwYXNz']) {
    const refused = await http(server.http, 'GET', '/metrics', { headers: authorization ? { authorization } : {} });
    assert.deepEqual([refused.status, refused.body, refused.headers['www-authenticate']], [401, 'metrics need Authorization: Bearer <METRICS_TOKEN>', 'Bearer realm="metrics"'], String(authorization));
  }
  const scrape = await http(server.http, 'GET', '/metrics', { headers: { authorization: `Bearer ${token}` } });
  assert.equal(scrape.status, 200);
  assert.equal(scrape.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
});

type Sample = { name: string; labels: Record<string, string>; value: number };

async function scrape(server: TestServer): Promise<Sample[]> {
  const result = await http(server.http, 'GET', '/metrics', { headers: { authorization: `Bearer ${token}` } });
  assert.equal(result.status, 200, result.body);
  return result.body.split('\n').filter((line) => line && !line.startsWith('#')).map((line) => {
    const [, name, labels = '', value] = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)!;
    return { name: name!, labels: Object.fromEntries([...labels.matchAll(/(\w+)="([^"]*)"/g)].map(([, key, text]) => [key!, text!])), value: Number(value) };
  });
}

/** The value of one series; undefined when it is not there. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const keys = Object.keys(labels);
  return samples.find((s) => s.name === name && Object.keys(s.labels).length === keys.length && keys.every((key) => s.labels[key] === labels[key]))?.value;
}

test('a scrape of /metrics shows the counters move as clients use the server', async (t) => {
  // An SMTP server that accepts connections and never greets: mail waits in the queue.
  const silent = new Set<Socket>();
  const smtp = createServer((connection) => silent.add(connection));
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const connection of silent) connection.destroy();
    smtp.close();
  });
  const smtpPort = (smtp.address() as { port: number }).port;
  const server = await startServer(t, {
    METRICS_TOKEN: token, LOGIN_MAX_FAILURES: '1', RATE_LIMIT_EVENTS: '200', RATE_LIMIT_BURST: '20',
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, MAX_MESSAGE_LENGTH: '60000',
  });
  const before = await scrape(server);
  for (const name of ['parley_logins_total', 'parley_rate_limit_refusals_total']) {
    assert.ok(before.filter((s) => s.name === name).every((s) => s.value === 0), `${name} starts at 0 for every label`);
  }
  assert.deepEqual(before.filter((s) => s.name === 'parley_logins_total').map((s) => s.labels.outcome), ['ok', 'failed', 'suspended', 'second_factor']);
  assert.equal(value(before, 'parley_sockets_open'), 0);
  assert.equal(value(before, 'parley_queue_depth', { queue: 'mail' }), 0);
  assert.deepEqual(before.filter((s) => s.name === 'parley_redis_up' || s.name.startsWith('parley_cluster_')), [], 'a node alone has no cluster series');
  assert.ok(value(before, 'nodejs_eventloop_lag_seconds')! >= 0, 'event-loop lag is exported');
  assert.ok(value(before, 'process_cpu_user_seconds_total')! > 0, 'and the process\'s own metrics');

  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const alice2 = await socket(server, alice.token);
  const failed = await http(server.http, 'POST', '/auth/login', { body: { username: alice.username, password: 'wrong password' } });
  assert.equal(failed.status, 401);
  const room = await alice.client.request('create_conversation', { members: [bob.username] });
  await alice.client.request('send_message', { conversation_id: room.id, content: 'one' });
  await alice.client.request('send_message', { conversation_id: room.id, content: 'two' });
  const notFound = await alice.client.call({ type: 'get_messages', conversation_id: 999_999 });
  assert.equal(notFound.success, false);
  const unknown = await alice.client.call({ type: 'no_such_event_xyz' });
  assert.equal(unknown.success, false);
  await alice.client.request('update_profile', { email: 'alice@example.com' }); // its code waits at the silent SMTP server
  await settle(alice2.client, bob.client);

  const during = await scrape(server);
  assert.equal(value(during, 'parley_sockets_open'), 3);
  assert.equal(value(during, 'parley_users_online'), 2);
  assert.equal(value(during, 'parley_logins_total', { outcome: 'ok' }), 2);
  assert.equal(value(during, 'parley_logins_total', { outcome: 'failed' }), 1);
  assert.equal(value(during, 'parley_events_total', { type: 'send_message', outcome: 'ok' }), 2);
  assert.equal(value(during, 'parley_event_duration_seconds_count', { type: 'send_message' }), 2);
  assert.equal(value(during, 'parley_event_duration_seconds_bucket', { type: 'send_message', le: '+Inf' }), 2);
  const buckets = during.filter((s) => s.name === 'parley_event_duration_seconds_bucket' && s.labels.type === 'send_message');
  assert.deepEqual(buckets.map((s) => s.labels.le), ['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf']);
  assert.ok(buckets.every((s, i) => i === 0 || s.value >= buckets[i - 1]!.value), 'buckets are cumulative');
  assert.ok(value(during, 'parley_event_duration_seconds_sum', { type: 'send_message' })! > 0);
  assert.equal(value(during, 'parley_events_total', { type: 'get_messages', outcome: 'not_found' }), 1);
  assert.equal(value(during, 'parley_events_total', { type: 'unknown', outcome: 'unknown_type' }), 1);
  assert.ok(!during.some((s) => s.labels.type === 'no_such_event_xyz'), 'a type nobody knows never becomes a label');
  // Each message reached bob's socket and alice's other one; create_conversation did the same.
  assert.ok(value(during, 'parley_fanout_deliveries_total')! >= 6, String(value(during, 'parley_fanout_deliveries_total')));
  assert.ok(value(during, 'parley_commit_batch_size_count')! > value(before, 'parley_commit_batch_size_count')!);
  assert.ok(value(during, 'parley_commit_duration_seconds_sum')! > 0);
  assert.equal(value(during, 'parley_queue_depth', { queue: 'mail' }), 1);

  // Limits: a slow reader, a burst past a socket's bucket, and a login throttle.
  const slowUser = uniqueName('slow');
  await register(server, slowUser);
  await alice.client.request('add_members', { conversation_id: room.id, members: [slowUser] });
  const slow = new WebSocket(server.ws, { headers: { cookie: `login-token=${await login(server, slowUser)}` } });
  await new Promise((resolve) => slow.once('open', resolve));
  (slow as unknown as { _socket: { pause(): void } })._socket.pause(); // stops reading from the kernel
  const content = 'x'.repeat(60_000);
  const closedLog = server.waitForLog((line) => line.msg === 'closed a socket that reads too slowly', 30_000);
  let closed = false;
  closedLog.then(() => (closed = true), () => {});
  // About 6 MB/s: enough to fill the kernel's buffers, slow enough for the server's sweep to act before the hard cut.
  for (let sent = 0; !closed && sent < 600; sent++) {
    await alice2.client.request('send_message', { conversation_id: room.id, content });
    await sleep(10);
  }
  await closedLog;
  slow.terminate();

  // A refusal has no ref to match (the frame was not read): a bare socket counts the answers.
  const flood = await rawSocket(server, bob.token);
  const answers: { type: string; code?: string }[] = [];
  const answered = new Promise<void>((resolve) => flood.socket.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { type: string; code?: string };
    if (frame.type === 'ping' || frame.code === 'rate_limited') answers.push(frame);
    if (answers.length === 30) resolve();
  }));
  for (let i = 0; i < 30; i++) flood.socket.send('{"type":"ping"}');
  await answered;
  const refusedFrames = answers.filter((frame) => frame.code === 'rate_limited').length;
  assert.ok(refusedFrames >= 5, String(refusedFrames));
  // One address may fail 4 × LOGIN_MAX_FAILURES times: alice's wrong password and three more.
  for (let i = 0; i < 3; i++) assert.equal((await http(server.http, 'POST', '/auth/login', { body: { username: uniqueName(), password } })).status, 401);
  assert.equal((await http(server.http, 'POST', '/auth/login', { body: { username: bob.username, password } })).status, 429);

  const after = await scrape(server);
  assert.equal(value(after, 'parley_rate_limit_refusals_total', { limit: 'events' }), refusedFrames);
  assert.equal(value(after, 'parley_rate_limit_refusals_total', { limit: 'login' }), 1);
  assert.equal(value(after, 'parley_slow_consumer_closes_total'), 1);
  assert.equal(value(after, 'parley_logins_total', { outcome: 'failed' }), 4);
  assert.equal(value(after, 'parley_logins_total', { outcome: 'ok' }), 3);
});
