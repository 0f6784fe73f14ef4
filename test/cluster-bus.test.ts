// The ephemeral bus against a real redis-server: typed messages reach every other node and not the
// sender, anything else published on the channel is dropped with a log line, a publish while Redis
// is away fails at once, and the subscription comes back with Redis.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../src/log.ts';
import { createBus, type BusMessage } from '../src/cluster/bus.ts';
import { connectRedis } from '../src/cluster/redis.ts';
import { needs } from './helpers/installed.ts';
import { startRedis } from './helpers/redis.ts';
import type { LogLine } from './helpers/server.ts';
import { until } from './helpers/wait.ts';

async function busOn(t: TestContext, url: string, nodeId: string) {
  const logs: LogLine[] = [];
  const link = await connectRedis(url, createLogger('debug', (line) => logs.push(JSON.parse(line) as LogLine)));
  const bus = await createBus({ link, nodeId, log: createLogger('debug', (line) => logs.push(JSON.parse(line) as LogLine)) });
  t.after(async () => {
    await bus.close();
    await link.close();
  });
  const heard: { message: BusMessage; from: string }[] = [];
  bus.on((message, from) => heard.push({ message, from }));
  return { link, bus, heard, logs };
}

test('a message reaches every other node as sent, and not the node that sent it', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => busOn(t, redis.url, id)));
  const typing: BusMessage = { kind: 'push', event: 'typing', users: [2, 3], text: '{"type":"typing","success":true,"data":{"conversation_id":1,"username":"alice","is_typing":true}}' };
  const close: BusMessage = { kind: 'close', target: { sessions: ['s1', 's2'] }, code: 4005, reason: 'session logged out' };
  const gone: BusMessage = { kind: 'close', target: { user: 9 }, code: 4009, reason: 'account suspended' };
  assert.equal(await a!.bus.publish(typing), true);
  assert.equal(await b!.bus.publish(close), true);
  assert.equal(await c!.bus.publish(gone), true);
  await until('every message', () => a!.heard.length === 2 && b!.heard.length === 2 && c!.heard.length === 2);
  assert.deepEqual(a!.heard, [{ message: close, from: 'b' }, { message: gone, from: 'c' }]);
  assert.deepEqual(b!.heard, [{ message: typing, from: 'a' }, { message: gone, from: 'c' }]);
  assert.deepEqual(c!.heard, [{ message: typing, from: 'a' }, { message: close, from: 'b' }]);
});

test('a message to all reaches the sender too, in the same order as everyone, in an envelope of the earlier shape ({from, message})', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const [a, b] = await Promise.all(['a', 'b'].map((id) => busOn(t, redis.url, id)));
  const raw: unknown[] = [];
  const spy = a!.link.subscriber();
  t.after(() => spy.disconnect());
  spy.on('message', (_channel: string, text: string) => raw.push(JSON.parse(text)));
  if (spy.status !== 'ready') await new Promise((resolve) => spy.once('ready', resolve));
  await spy.subscribe('parley:bus');
  const offline = (n: number): BusMessage => ({ kind: 'push', event: 'user_status', users: [7], text: `{"n":${n}}` });
  assert.equal(a!.bus.listening(), true);
  assert.equal(await a!.bus.publish(offline(1), { all: true }), true);
  assert.equal(await b!.bus.publish(offline(2), { all: true }), true);
  await until('both, on both', () => a!.heard.length === 2 && b!.heard.length === 2 && raw.length === 2);
  assert.deepEqual(a!.heard, [{ message: offline(1), from: 'a/all' }, { message: offline(2), from: 'b/all' }]);
  assert.deepEqual(b!.heard, a!.heard);
  assert.deepEqual(raw.map((envelope) => Object.keys(envelope as object)), [['from', 'message'], ['from', 'message']]);
  await redis.stop();
  await until('not listening while Redis is away', () => !a!.bus.listening());
  await redis.start();
  await until('listening again', () => a!.bus.listening());
});

test('what is not a valid message is dropped with a log line, and a failing listener does not stop the others', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const a = await busOn(t, redis.url, 'a');
  const b = await busOn(t, redis.url, 'b');
  let after = 0;
  b.bus.on(() => {
    throw new Error('listener bug');
  });
  b.bus.on(() => after++);
  const raw = (text: string) => a.link.client.publish('parley:bus', text);
  await raw('not json');
  await raw(`{"from":"x","message":${' '.repeat(8 * 1024 * 1024)}}`);
  await raw(JSON.stringify({ from: 'x', message: { kind: 'eval', code: 'process.exit()' } }));
  await raw(JSON.stringify({ from: 'x', message: { kind: 'close', target: { where: 'user.id > 0' }, code: 4009, reason: 'all' } }));
  await raw(JSON.stringify({ from: 'x', message: { kind: 'push', event: 'typing', users: Array.from({ length: 100_001 }, (_, i) => i + 1), text: '{}' } }));
  await raw(JSON.stringify({ from: 'x', message: { kind: 'close', target: { user: 1 }, code: 1, reason: 'bad code' } }));
  await a.bus.publish({ kind: 'close', target: { user: 4 }, code: 4008, reason: 'password changed' });
  await until('the valid message', () => b.heard.length === 1);
  assert.deepEqual(b.heard.map(({ message }) => message.kind), ['close']);
  assert.equal(after, 1, 'the listener after the failing one heard it');
  const dropped = b.logs.filter((line) => line.msg === 'bus message dropped');
  assert.deepEqual(dropped.map((line) => [line.level, typeof line.why]), Array(6).fill(['warn', 'string']));
  assert.deepEqual([dropped[0]!.why, dropped[1]!.why], ['not JSON', 'too long']);
  assert.deepEqual(b.logs.filter((line) => line.msg === 'bus listener failed').map((line) => (line.error as Error).message), ['listener bug']);
});

test('Redis stopped: publish fails at once (false), and messages flow again once it is back', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const a = await busOn(t, redis.url, 'a');
  const b = await busOn(t, redis.url, 'b');
  await redis.stop();
  const started = performance.now();
  assert.equal(await a.bus.publish({ kind: 'close', target: { user: 1 }, code: 4009, reason: 'lost' }), false);
  assert.ok(performance.now() - started < 50, 'not queued, not waiting');
  await redis.start();
  const message: BusMessage = { kind: 'push', event: 'user_status', users: [1], text: '{"type":"user_status"}' };
  // The subscriber reconnects and subscribes again by itself; publish until it hears.
  await until('the bus after Redis came back', () => {
    void a.bus.publish(message);
    return b.heard.length > 0;
  });
  assert.deepEqual(b.heard[0], { message, from: 'a' }, 'the message sent while Redis was away is not delivered late');
});
