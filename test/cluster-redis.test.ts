// The cluster's Redis connection against a real redis-server: commands fail at once while it is
// away (nothing queues), the log says when it goes and comes back, and the connection returns by itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../src/log.ts';
import { connectRedis, redactedUrl, RedisUnavailable, script } from '../src/cluster/redis.ts';
import { needs } from './helpers/installed.ts';
import { startRedis } from './helpers/redis.ts';
import { linkTo } from './helpers/cluster.ts';
import { sleep } from './helpers/wait.ts';

test('Redis stopped: every command fails at once with RedisUnavailable, none waits; back by itself when Redis is', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const { link, logs } = await linkTo(t, redis.url);
  let reconnects = 0;
  link.onReconnect(() => reconnects++);
  assert.equal(await link.call((client) => client.set('k', 'v')), 'OK');
  assert.equal(link.up(), true);

  await redis.stop();
  const started = performance.now();
  const failures = await Promise.allSettled(Array.from({ length: 1000 }, (_, i) => link.call((client) => client.set(`queued:${i}`, 'x'))));
  const tookMs = performance.now() - started;
  assert.ok(failures.every((result) => result.status === 'rejected' && result.reason instanceof RedisUnavailable), 'each one rejected with RedisUnavailable');
  assert.ok(tookMs < 500, `1000 commands failed in ${tookMs} ms, none waiting for a reconnection`);
  assert.equal(link.up(), false);
  await assert.rejects(link.run(script('return 1'), [], []), RedisUnavailable);
  assert.deepEqual(logs.filter((line) => line.msg === 'redis unavailable').map((line) => line.level), ['warn'], 'said once per outage');

  await redis.start();
  for (let tries = 0; !link.up() && tries < 100; tries++) await sleep(50);
  assert.equal(reconnects, 1);
  assert.equal(await link.call((client) => client.get('k')), null, 'a new, empty Redis');
  assert.equal(await link.call((client) => client.dbsize()), 0, 'and none of the failed commands was kept to be sent later');
  const back = logs.find((line) => line.msg === 'redis available again');
  assert.equal(back?.level, 'info');
  assert.ok(typeof back?.downMs === 'number' && back.downMs > 0);
});

test('a script error is not taken for an outage', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const { link } = await linkTo(t, redis.url);
  assert.equal(await link.run(script('return tonumber(ARGV[1]) + #KEYS'), ['a', 'b'], [40]), 42);
  await assert.rejects(link.run(script("return redis.call('NOSUCHCOMMAND')"), [], []), (error: Error) => !(error instanceof RedisUnavailable) && /unknown command|Unknown Redis command/i.test(error.message));
});

test('a REDIS_URL that cannot be reached stops the start with the reason, and without its password', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const log = createLogger('silent');
  await redis.stop();
  await assert.rejects(connectRedis(`redis://user:secret@127.0.0.1:${redis.port}/0`, log), {
    message: `REDIS_URL: cannot connect to redis://user:***@127.0.0.1:${redis.port}/0: connect ECONNREFUSED 127.0.0.1:${redis.port}`,
  });
  await redis.start();
  await assert.rejects(connectRedis(`redis://nobody:wrong@127.0.0.1:${redis.port}`, log), /^Error: REDIS_URL: cannot connect to redis:\/\/nobody:\*\*\*@127\.0\.0\.1:\d+: WRONGPASS/);
  assert.equal(redactedUrl('not a url'), 'an unreadable URL');
});
