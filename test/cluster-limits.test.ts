// Shared rate limits against a real redis-server: src/throttle.ts's semantics held across nodes
// (a client spreading over nodes gets no more), one atomic step to check and count an attempt, and
// this node's own counts while Redis is away — not everything allowed, not everything refused.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../src/log.ts';
import { createLimits } from '../src/cluster/limits.ts';
import { createThrottle, createWindowLimit } from '../src/throttle.ts';
import { needs } from './helpers/installed.ts';
import { startRedis } from './helpers/redis.ts';
import { linkTo } from './helpers/cluster.ts';
import type { LogLine } from './helpers/server.ts';
import { sleep } from './helpers/wait.ts';

async function node(t: TestContext, url: string) {
  const { link } = await linkTo(t, url);
  const logs: LogLine[] = [];
  return { link, logs, limits: createLimits({ link, log: createLogger('debug', (line) => logs.push(JSON.parse(line) as LogLine)) }) };
}

const spec = { limit: 3, baseMs: 1000, maxMs: 4000 };
/** A wait measured on another clock a few milliseconds later: within `slack` below the expected one. */
const about = (actual: number, expected: number, slack = 150) => assert.ok(actual <= expected && actual > expected - slack, `${actual} is about ${expected}`);

test('a failure throttle counts across nodes exactly as createThrottle does on one', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const [a, b] = [await node(t, redis.url), await node(t, redis.url)];
  const onA = a.limits.throttle('login', spec);
  const onB = b.limits.throttle('login', spec);
  const local = createThrottle(spec);
  // The same failures on both: alternately on nodes a and b for the shared one, all here for the local one.
  const fail = async (on: typeof onA) => {
    await on.fail('alice');
    local.fail('alice', Date.now());
  };
  assert.equal(await onB.wait('alice'), 0);
  await fail(onA);
  await fail(onB);
  assert.deepEqual([await onA.wait('alice'), local.wait('alice', Date.now())], [0, 0], 'under the limit');
  await fail(onA);
  about(await onB.wait('alice'), 1000);
  about(local.wait('alice', Date.now()), 1000);
  await fail(onB);
  about(await onA.wait('alice'), 2000, 200);
  about(local.wait('alice', Date.now()), 2000, 200);
  await onB.undo('alice');
  local.undo('alice');
  const [shared, alone] = [await onA.wait('alice'), local.wait('alice', Date.now())];
  assert.ok(shared > 0 && shared <= 1000 && alone > 0 && alone <= 1000, `back to the first wait: ${shared}, ${alone}`);
  // A failure counted and taken back later (a check that never ran) leaves the wait where it was, not a new one from now.
  await sleep(400);
  const [sharedBefore, aloneBefore] = [await onA.wait('alice'), local.wait('alice', Date.now())];
  await fail(onB);
  await onA.undo('alice');
  local.undo('alice');
  about(await onB.wait('alice'), sharedBefore, 100);
  about(local.wait('alice', Date.now()), aloneBefore, 100);
  // A failure known later (a wrong password, once its hash has run) waits from then, not from when it was counted.
  await sleep(300);
  await onA.confirm('alice');
  local.confirm('alice', Date.now());
  about(await onB.wait('alice'), 1000);
  about(local.wait('alice', Date.now()), 1000);
  assert.equal(await onA.wait('bob'), 0, 'per key');
  await onA.forget('alice');
  assert.equal(await onB.wait('alice'), 0);
  const pttl = async () => { await onA.fail('carol'); return a.link.client.pttl('parley:throttle:login:carol'); };
  about(await pttl(), spec.maxMs + 1, 50); // forgotten maxMs after the last failure, as createThrottle does
  assert.throws(() => a.limits.throttle('login', spec), { message: 'a shared throttle named login exists already' });
});

test('attempt: a burst spread over three nodes gets exactly as many tries as the limit, counted before the work', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const nodes = await Promise.all([1, 2, 3].map(() => node(t, redis.url)));
  const throttles = nodes.map(({ limits }) => ({ pairs: limits.throttle('pairs', spec), addresses: limits.throttle('addresses', { ...spec, limit: 5 }) }));
  // 30 password checks from one address for different accounts, at once, ten per node.
  const attempts = await Promise.all(Array.from({ length: 30 }, (_, i) => {
    const { pairs, addresses } = throttles[i % 3]!;
    return nodes[i % 3]!.limits.attempt([{ throttle: pairs, key: `user${i}\n10.0.0.1` }], [{ throttle: addresses, key: '10.0.0.1' }]);
  }));
  const admitted = attempts.filter((attempt) => 'undo' in attempt);
  assert.equal(admitted.length, 5, 'the address limit, not 3 × 5');
  for (const refused of attempts.filter((attempt) => !('undo' in attempt))) about(refused.waitMs, 1000);
  // Right passwords give their count back: two tries again.
  await Promise.all(admitted.slice(0, 2).map((attempt) => 'undo' in attempt && attempt.undo()));
  const again = await Promise.all([1, 2, 3].map((i) => nodes[i - 1]!.limits.attempt([], [{ throttle: throttles[0]!.addresses, key: '10.0.0.1' }])));
  assert.equal(again.filter((attempt) => 'undo' in attempt).length, 2);
  // A key only checked is not counted.
  assert.equal(await throttles[1]!.pairs.wait('user0\n10.0.0.1'), 0);
});

test('a window allows `limit` per key per window across nodes, as createWindowLimit does', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const [a, b] = [await node(t, redis.url), await node(t, redis.url)];
  const onA = a.limits.window('registrations', 2, 600);
  const onB = b.limits.window('registrations', 2, 600);
  const local = createWindowLimit(2, 600);
  const start = Date.now();
  assert.deepEqual([await onA('10.0.0.1'), await onB('10.0.0.1'), local('x', start), local('x', start)], [0, 0, 0, 0]);
  about(await onB('10.0.0.1'), 600, 100);
  about(local('x', Date.now()), 600, 100);
  assert.equal(await onA('10.0.0.2'), 0, 'another key');
  await sleep(650);
  assert.equal(await onA('10.0.0.1'), 0, 'a new window');
});

test('a token bucket shared by nodes: burst at once, then `rate` a second; refusals in a row are counted', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const [a, b] = [await node(t, redis.url), await node(t, redis.url)];
  const onA = a.limits.bucket('events', 10, 3);
  const onB = b.limits.bucket('events', 10, 3);
  assert.deepEqual([await onA('u1'), await onB('u1'), await onA('u1')].map((r) => r.taken), [true, true, true]);
  assert.deepEqual(await onB('u1'), { taken: false, refused: 1 });
  assert.deepEqual(await onA('u1'), { taken: false, refused: 2 });
  await sleep(120);
  assert.deepEqual(await onB('u1'), { taken: true, refused: 0 }, 'a token a tenth of a second');
  assert.deepEqual([await onB('u2', 3), await onA('u2', 1)], [{ taken: true, refused: 0 }, { taken: false, refused: 1 }], 'a cost of several tokens');
  about(await a.link.client.pttl('parley:bucket:events:u1'), 1300, 50);
});

test('Redis stopped: each limit is held by this node alone (said once), then shared again when Redis is back', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const a = await node(t, redis.url);
  const b = await node(t, redis.url);
  const onA = a.limits.throttle('login', spec);
  const onB = b.limits.throttle('login', spec);
  const window = a.limits.window('registrations', 1, 60_000);
  const bucket = a.limits.bucket('events', 1, 1);
  await redis.stop();
  for (let i = 0; i < 3; i++) await onA.fail('mallory');
  about(await onA.wait('mallory'), 1000);
  assert.equal(await onB.wait('mallory'), 0, 'the other node did not see those');
  const attempt = await a.limits.attempt([], [{ throttle: onA, key: 'mallory' }]);
  about(attempt.waitMs, 1000);
  assert.equal(await window('10.0.0.1'), 0);
  assert.ok((await window('10.0.0.1')) > 59_000, 'the window holds locally');
  assert.deepEqual([await bucket('u'), await bucket('u')], [{ taken: true, refused: 0 }, { taken: false, refused: 1 }]);
  assert.equal(a.limits.fallbacks(), 9);
  assert.deepEqual(a.logs.filter((line) => line.msg === 'rate limits held by this node alone while Redis is unavailable').length, 1);

  await redis.start();
  for (let tries = 0; !a.link.up() || !b.link.up(); tries++) await sleep(50);
  await onB.fail('mallory');
  assert.equal(await onA.wait('mallory'), 0, 'shared again: one failure counted in Redis, under the limit');
  assert.equal(a.limits.fallbacks(), 9);
});

test('holds shared by nodes (uploads under way): taken on every key or none, given back by release, and by the lease of a node that stopped renewing', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const [a, b] = [await node(t, redis.url), await node(t, redis.url)];
  const onA = a.limits.hold('uploads', 600);
  const onB = b.limits.hold('uploads', 600);
  const keysOf = (user: string, address: string) => [{ key: `user:${user}`, limit: 2 }, { key: `address:${address}`, limit: 3 }];
  const first = await onA(keysOf('alice', '10.0.0.1'));
  const second = await onB(keysOf('alice', '10.0.0.1'));
  assert.ok(first && second, 'two for alice, one on each node');
  assert.equal(await onA(keysOf('alice', '10.0.0.1')), undefined, 'a third for alice on either node is refused');
  assert.equal(await onB(keysOf('alice', '10.0.0.2')), undefined, 'from another address too');
  const bobs = await onB(keysOf('bob', '10.0.0.1'));
  assert.ok(bobs, 'bob shares the address, which has room for three');
  assert.equal(await onA(keysOf('carol', '10.0.0.1')), undefined, 'the address is full: carol is refused, and holds nothing for it');
  assert.equal(await a.link.client.zcard('parley:hold:uploads:user:carol'), 0);
  first();
  first(); // a second release gives nothing more back
  await sleep(50); // the release is sent without waiting
  const third = await onB(keysOf('alice', '10.0.0.1'));
  assert.ok(third, 'room again once one is released');
  assert.equal(await onA(keysOf('alice', '10.0.0.1')), undefined);

  // Held well past its lease: renewed (every 200 ms here), so still held.
  await sleep(1000);
  assert.equal(await onA(keysOf('alice', '10.0.0.1')), undefined, 'renewed holds outlive their lease');
  // Node b stops renewing (it is gone): its holds end with their lease.
  await b.link.close();
  await sleep(700);
  const afterB = [await onA(keysOf('alice', '10.0.0.1')), await onA(keysOf('alice', '10.0.0.1'))];
  assert.ok(afterB.every(Boolean), 'the gone node\'s two holds of alice ended within a lease');
  assert.equal(await onA(keysOf('alice', '10.0.0.1')), undefined);
  assert.throws(() => a.limits.hold('uploads'), { message: 'a shared hold named uploads exists already' });

  // Redis stopped: this node counts alone, and gives back here what it took here.
  await redis.stop();
  const alone = [await onA(keysOf('dave', '10.0.0.9')), await onA(keysOf('dave', '10.0.0.9'))];
  assert.ok(alone.every(Boolean));
  assert.equal(await onA(keysOf('dave', '10.0.0.9')), undefined, 'the limit holds on this node');
  alone[0]!();
  assert.ok(await onA(keysOf('dave', '10.0.0.9')), 'given back locally');
});
