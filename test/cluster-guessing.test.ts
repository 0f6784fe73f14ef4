// The password guard of a cluster, counted in Redis: a Redis shared with another cluster's nodes, and
// a Redis that answers late, give a guesser no more tries than LOGIN_MAX_FAILURES (5).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { needs } from './helpers/installed.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { startRedis } from './helpers/redis.ts';
import { sharedFilesDir } from './helpers/cluster.ts';
import { testDatabase } from './helpers/postgres.ts';
import { http, type HttpResult } from './helpers/http.ts';
import { password, uniqueName } from './helpers/clients.ts';

const statuses = (results: HttpResult[]) => {
  const counts: Record<number, number> = {};
  for (const { status } of results) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
};

/** `count` nodes of one cluster (their own PostgreSQL database) on the Redis at `redisUrl`. */
async function cluster(t: TestContext, name: string, count: number, redisUrl: string): Promise<TestServer[]> {
  const database = await testDatabase(t);
  const filesDir = sharedFilesDir(t);
  const nodes: TestServer[] = [];
  for (let i = 1; i <= count; i++) nodes.push(await startServer(t, { DATABASE_URL: database, REDIS_URL: redisUrl, NODE_ID: `${name}${i}`, LOG_LEVEL: 'info', FILES_DIR: filesDir }));
  return nodes;
}

const register = async (node: TestServer, username: string, secret: string) =>
  assert.equal((await http(node.http, 'POST', '/register', { body: { username, password: secret, fullname: username } })).status, 201);
const login = (node: TestServer, username: string, secret: string) => http(node.http, 'POST', '/auth/login', { body: { username, password: secret } });
/** Wrong guesses at once, spread over the nodes in turn. */
const guesses = (nodes: TestServer[], username: string, count: number) =>
  Promise.all(Array.from({ length: count }, (_, i) => login(nodes[i % nodes.length]!, username, `guess ${i}`)));

test('two clusters on one Redis: a login on one neither resets nor spends the other\'s counts', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const redis = await startRedis(t);
  const ours = await cluster(t, 'ours', 2, redis.url);
  const theirs = await cluster(t, 'theirs', 1, redis.url);
  // The same name on both, two different people (two databases): every test client comes from 127.0.0.1.
  const username = uniqueName('victim');
  await register(ours[0]!, username, password);
  await register(theirs[0]!, username, `${password} of theirs`);

  const first = await guesses(ours, username, 4);
  assert.deepEqual(statuses(first), { 401: 4 });
  // Their user logs in, rightly, from the same address: their count for that name and address starts afresh.
  assert.equal((await login(theirs[0]!, username, `${password} of theirs`)).status, 202);
  const rest = await guesses(ours, username, 20);
  // LOGIN_MAX_FAILURES wrong passwords checked over both nodes; one more only if the 1 s wait after
  // the fifth ran out while the guesses queued behind its hash (a busy machine). Their login reset
  // the count: 4 + 5 were checked.
  const checked = statuses([...first, ...rest])[401]!;
  assert.ok(checked === 5 || checked === 6, `${checked} wrong passwords checked of 24`);
  // And our guesser's failures are not theirs: their user still logs in.
  const theirLogin = await login(theirs[0]!, username, `${password} of theirs`);
  assert.deepEqual([theirLogin.status, theirLogin.body], [202, 'login successful']);
});

test('a Redis that answers late: a guess is refused rather than decided by a node alone', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const redis = await startRedis(t);
  const nodes = await cluster(t, 'node', 2, redis.url);
  const username = uniqueName('victim');
  await register(nodes[0]!, username, password);
  const before = statuses(await guesses(nodes, username, 8));
  assert.ok(before[401] === 5 || before[401] === 6, JSON.stringify(before)); // 6: a wait ran out on a busy machine, as above
  // Redis holds every command for 2.5 s: the nodes' scripts take longer than their 1 s timeout.
  const admin = new Redis(redis.url);
  await admin.call('CLIENT', 'PAUSE', '2500', 'ALL');
  admin.disconnect();
  const late = await guesses(nodes, username, 2);
  assert.deepEqual(late.map((result) => [result.status, result.body]), [
    [429, 'too many failed logins: retry in 1 second'],
    [429, 'too many failed logins: retry in 1 second'],
  ]);
});
