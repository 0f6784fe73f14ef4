// Cluster-wide presence against a real redis-server: online with the first socket on any node,
// offline after the last anywhere, exactly once each however nodes race, MAX_SOCKETS_PER_USER
// across nodes, and counts written again when Redis comes back empty.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../src/log.ts';
import { createNodes } from '../src/cluster/nodes.ts';
import { createPresence, type Changes } from '../src/cluster/presence.ts';
import { RedisUnavailable } from '../src/cluster/redis.ts';
import { needs } from './helpers/installed.ts';
import { startRedis } from './helpers/redis.ts';
import { linkTo } from './helpers/cluster.ts';
import { sleep } from './helpers/wait.ts';

/** A node of the cluster in this process: a link of its own, joined, with a registry of sockets per user. */
async function member(t: TestContext, url: string, id: string) {
  const { link } = await linkTo(t, url);
  const sockets = new Map<number, number>();
  const changes: Changes[] = [];
  const nodes = createNodes({ link, id, timeoutSeconds: 10, log: createLogger('silent'), gone: () => {} });
  await nodes.join();
  const presence = createPresence({ link, nodeId: id, timeoutSeconds: 10, log: createLogger('silent'), local: () => sockets, changed: (change) => changes.push(change) });
  // As the server's registry will: change the local count, then tell Redis the new one, in that order.
  const open = (user: number, max = 0) => {
    const here = (sockets.get(user) ?? 0) + 1;
    sockets.set(user, here);
    return presence.opened(user, here, max).then((result) => {
      if (!result.admitted) sockets.set(user, here - 1);
      return result;
    });
  };
  const close = (user: number) => {
    const here = sockets.get(user)! - 1;
    if (here === 0) sockets.delete(user);
    else sockets.set(user, here);
    return presence.closed(user, here);
  };
  return { link, presence, sockets, changes, open, close };
}

test('a user is online from their first socket on any node to their last anywhere', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const a = await member(t, redis.url, 'a');
  const b = await member(t, redis.url, 'b');
  assert.deepEqual(await a.open(7), { admitted: true, change: 'online', total: 1 });
  assert.deepEqual(await b.open(7), { admitted: true, change: null, total: 2 });
  assert.deepEqual(await a.open(7), { admitted: true, change: null, total: 3 });
  assert.deepEqual([...await b.presence.online([7, 8])], [7]);
  assert.deepEqual(await a.close(7), { change: null, total: 2 });
  assert.deepEqual(await a.close(7), { change: null, total: 1 }, 'gone from node a, still on node b');
  assert.deepEqual([...await a.presence.online([7])], [7]);
  assert.deepEqual(await b.close(7), { change: 'offline', total: 0 });
  assert.deepEqual([...await a.presence.online([7])], []);
  assert.deepEqual(await a.link.client.hgetall('parley:sockets:a'), {}, 'nothing left behind');
});

test('an announcement is published only while the presence it tells of still holds, whichever node makes it', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const a = await member(t, redis.url, 'a');
  const b = await member(t, redis.url, 'b');
  const heard: string[] = [];
  const listener = a.link.subscriber();
  t.after(() => listener.disconnect());
  listener.on('message', (_channel: string, text: string) => heard.push(text));
  if (listener.status !== 'ready') await new Promise((resolve) => listener.once('ready', resolve));
  await listener.subscribe('announcements');
  await a.open(7);
  assert.equal(await a.presence.announce(7, true, 'announcements', 'online on a'), true);
  await a.close(7); // offline, announced late by a...
  await b.open(7); // ...after b's online
  assert.equal(await b.presence.announce(7, true, 'announcements', 'online on b'), true);
  assert.equal(await a.presence.announce(7, false, 'announcements', 'offline on a, late'), false, 'overtaken: not published');
  assert.equal(await b.presence.announce(8, false, 'announcements', 'never online'), true);
  for (let tries = 0; heard.length < 3 && tries < 100; tries++) await sleep(20);
  assert.deepEqual(heard, ['online on a', 'online on b', 'never online']);
});

test('nodes racing on the same users: exactly one sees each first socket, and exactly one each last', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const nodes = await Promise.all(['a', 'b', 'c'].map((id) => member(t, redis.url, id)));
  const users = Array.from({ length: 20 }, (_, i) => 100 + i);
  // Every node opens 5 sockets for every user, all at once, interleaved as they land.
  const opened = await Promise.all(nodes.flatMap((node) => users.flatMap((user) => Array.from({ length: 5 }, () => node.open(user)))));
  for (const user of users) {
    const mine = opened.filter((result, i) => users[Math.floor(i / 5) % users.length] === user && result.admitted);
    assert.equal(mine.filter((result) => result.admitted && result.change === 'online').length, 1, `user ${user} came online once`);
  }
  assert.equal((await nodes[0]!.presence.online(users)).size, users.length);
  const closed = await Promise.all(nodes.flatMap((node) => users.flatMap((user) => Array.from({ length: 5 }, () => node.close(user)))));
  assert.equal(closed.filter((result) => result.change === 'offline').length, users.length, 'each user went offline once');
  assert.equal(closed.filter((result) => result.change === 'online').length, 0);
  assert.equal((await nodes[1]!.presence.online(users)).size, 0);
});

test('MAX_SOCKETS_PER_USER holds across nodes: a socket past it is refused, and nothing is counted for it', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const a = await member(t, redis.url, 'a');
  const b = await member(t, redis.url, 'b');
  assert.equal((await a.open(1, 3)).admitted, true);
  assert.equal((await a.open(1, 3)).admitted, true);
  assert.deepEqual(await b.open(1, 3), { admitted: true, change: null, total: 3 });
  assert.deepEqual(await b.open(1, 3), { admitted: false, total: 3 }, 'a fourth socket on another node is one too many');
  assert.deepEqual(await a.open(1, 3), { admitted: false, total: 3 });
  assert.deepEqual([a.sockets.get(1), b.sockets.get(1)], [2, 1]);
  assert.deepEqual(await b.link.client.hgetall('parley:sockets:b'), { 1: '1' });
  await a.close(1);
  assert.deepEqual(await b.open(1, 3), { admitted: true, change: null, total: 3 }, 'room again once one closed');
});

test('online() answers for thousands of users at once, over every node', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const a = await member(t, redis.url, 'a');
  const b = await member(t, redis.url, 'b');
  for (let user = 1; user <= 2500; user += 7) await (user % 2 ? a : b).open(user);
  const asked = Array.from({ length: 2500 }, (_, i) => i + 1);
  const online = await a.presence.online(asked);
  assert.deepEqual([...online].sort((x, y) => x - y), asked.filter((user) => (user - 1) % 7 === 0));
});

test('Redis stopped and started empty: calls fail fast meanwhile, then each node writes its counts again and announces the change', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const a = await member(t, redis.url, 'a');
  const b = await member(t, redis.url, 'b');
  await a.open(1);
  await a.open(2);
  await b.open(2);
  await redis.stop();
  const started = performance.now();
  await assert.rejects(a.open(3), RedisUnavailable);
  await assert.rejects(b.close(2), RedisUnavailable);
  await assert.rejects(a.presence.online([1]), RedisUnavailable);
  assert.ok(performance.now() - started < 100, 'failed at once');
  assert.equal(a.presence.dirty(), true);
  await redis.start();
  for (let tries = 0; (a.changes.length === 0 || b.presence.dirty()) && tries < 100; tries++) await sleep(50);
  // Redis came back empty: node a's users (1, 2 and the socket opened meanwhile, 3) are online again.
  assert.deepEqual(a.changes.map(({ online, offline }) => ({ online: online.sort(), offline })), [{ online: [1, 2, 3], offline: [] }]);
  assert.deepEqual(b.changes, [], 'user 2 was online through node a already; node b has nobody left');
  assert.deepEqual([...await b.presence.online([1, 2, 3, 4])].sort(), [1, 2, 3]);
  assert.deepEqual(await a.close(2), { change: 'offline', total: 0 }, 'the socket node b closed while Redis was away is not counted');
});
