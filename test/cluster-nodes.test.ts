// Nodes and heartbeats against a real redis-server, with nodes in processes of their own: a node
// killed or paused is dropped within NODE_TIMEOUT and the users only on it go offline; a paused node
// that wakes joins again; NODE_ID cannot be used twice at once; a node leaving takes its users along.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { createLogger } from '../src/log.ts';
import { createNodes, generatedNodeId, heartbeatTiming } from '../src/cluster/nodes.ts';
import { createPresence } from '../src/cluster/presence.ts';
import type { RedisLink } from '../src/cluster/redis.ts';
import { needs } from './helpers/installed.ts';
import { startRedis } from './helpers/redis.ts';
import { linkTo, startNode } from './helpers/cluster.ts';
import { sleep } from './helpers/wait.ts';
import type { LogLine } from './helpers/server.ts';

const changed = (line: LogLine) => line.event === 'changed';

/** Which of these users are online, as any node would answer. */
function onlineOf(link: RedisLink, users: number[]): Promise<number[]> {
  const presence = createPresence({ link, nodeId: 'watcher', timeoutSeconds: 2, log: createLogger('silent'), local: () => [], changed: () => {} });
  return presence.online(users).then((online) => [...online].sort());
}

test('timing: beats every quarter of NODE_TIMEOUT, dead three quarters after the last beat; ids', () => {
  assert.deepEqual(heartbeatTiming(10), { everyMs: 2500, deadlineMs: 7500 });
  assert.deepEqual(heartbeatTiming(2), { everyMs: 500, deadlineMs: 1500 });
  const id = generatedNodeId();
  assert.match(id, /^[A-Za-z0-9][A-Za-z0-9_-]*-[0-9a-f]{6}$/);
  assert.notEqual(generatedNodeId(), id, 'a new one at every start');
});

test('nodes list each other; one killed with SIGKILL is dropped within NODE_TIMEOUT, and only the users who were only there go offline', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const { link } = await linkTo(t, redis.url);
  const watcher = createNodes({ link, id: 'watcher', timeoutSeconds: 2, log: createLogger('silent'), gone: () => {} });
  const doomed = await startNode(t, redis.url, { NODE_ID: 'doomed' });
  const survivor = await startNode(t, redis.url);
  assert.deepEqual(await doomed.ask({ op: 'open', user: 1 }), { event: 'open', user: 1, admitted: true, change: 'online', total: 1 });
  await doomed.ask({ op: 'open', user: 2 });
  assert.deepEqual(await survivor.ask({ op: 'open', user: 2 }), { event: 'open', user: 2, admitted: true, change: null, total: 2 });
  const live = await watcher.live();
  assert.deepEqual(live.map((node) => node.id).sort(), ['doomed', survivor.id].sort());
  const listed = live.find((node) => node.id === 'doomed')!;
  assert.deepEqual([listed.pid, listed.host, typeof listed.started], [doomed.pid, hostname(), 'number']);

  const offline = survivor.next(changed, 5000);
  doomed.kill('SIGKILL');
  const killedAt = performance.now();
  assert.deepEqual(await offline, { event: 'changed', online: [], offline: [1] }, 'user 2 is still on the survivor');
  const tookMs = performance.now() - killedAt;
  t.diagnostic(`dropped ${Math.round(tookMs)} ms after the kill`);
  assert.ok(tookMs <= 2000 + 250, `noticed ${Math.round(tookMs)} ms after the kill (NODE_TIMEOUT=2)`);
  assert.deepEqual((await watcher.live()).map((node) => node.id), [survivor.id]);
  assert.deepEqual(await onlineOf(link, [1, 2]), [2]);
  assert.deepEqual(await link.client.exists('parley:sockets:doomed', 'parley:node:doomed'), 0, 'its keys are gone');
});

test('a paused node is dropped; when it wakes it joins again and its users come back online', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const sleeper = await startNode(t, redis.url);
  const other = await startNode(t, redis.url);
  await sleeper.ask({ op: 'open', user: 5 });
  const offline = other.next(changed, 5000);
  sleeper.kill('SIGSTOP'); // as a node whose event loop or machine stalls past NODE_TIMEOUT
  assert.deepEqual(await offline, { event: 'changed', online: [], offline: [5] });
  const online = sleeper.next(changed, 15_000);
  sleeper.kill('SIGCONT');
  assert.deepEqual(await online, { event: 'changed', online: [5], offline: [] }, 'the woken node announces its users again');
  const { link } = await linkTo(t, redis.url);
  assert.deepEqual(await onlineOf(link, [5]), [5]);
  assert.deepEqual(await other.ask({ op: 'open', user: 5 }), { event: 'open', user: 5, admitted: true, change: null, total: 2 });
});

test('NODE_ID: a second node with the id of a running one is refused; after a crash, a restart with the id waits the old one out', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  // A crashed run counts as dead 4.5 s after its last beat: the restart, a process start away, comes within
  // that even on a loaded machine (with NODE_TIMEOUT=2, 1.5 s, it once came after, and had nothing to wait for).
  const env = { NODE_ID: 'n1', NODE_TIMEOUT: '6' };
  const first = await startNode(t, redis.url, env);
  await first.ask({ op: 'open', user: 9 });
  await assert.rejects(startNode(t, redis.url, env), /NODE_ID=n1 is in use by another node that is still running/);

  first.kill('SIGKILL');
  const again = await startNode(t, redis.url, env);
  assert.ok(again.lines.some((line) => line.msg === 'waiting for a previous run of this node to expire'));
  assert.ok(again.lines.some((line) => line.event === 'changed' && JSON.stringify(line.offline) === '[9]'), 'the crashed run\'s user went offline');
  assert.deepEqual(await again.ask({ op: 'open', user: 9 }), { event: 'open', user: 9, admitted: true, change: 'online', total: 1 });
});

test('a node leaving takes the users only it had offline at once', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const leaving = await startNode(t, redis.url);
  const staying = await startNode(t, redis.url);
  await leaving.ask({ op: 'open', user: 1 });
  await leaving.ask({ op: 'open', user: 2 });
  await staying.ask({ op: 'open', user: 2 });
  const offline = leaving.next(changed);
  leaving.send({ op: 'leave' });
  assert.deepEqual(await offline, { event: 'changed', online: [], offline: [1] });
  assert.equal(await leaving.exited, 0);
  assert.deepEqual(await staying.ask({ op: 'close', user: 2 }), { event: 'close', user: 2, change: 'offline', total: 0 });
});

test('Redis away for longer than the deadline and back with its data: no node is dropped, nobody goes offline', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t, { keep: true });
  const a = await startNode(t, redis.url);
  const b = await startNode(t, redis.url);
  await a.ask({ op: 'open', user: 1 });
  await b.ask({ op: 'open', user: 2 });
  const before = a.lines.length + b.lines.length;
  await redis.stop();
  await sleep(2500); // past every deadline (1.5 s)
  await redis.start();
  // Long enough for both to reconnect, beat and sweep a few times.
  await sleep(5000);
  const events = [...a.lines, ...b.lines].slice(before).filter((line) => line.event === 'changed');
  assert.deepEqual(events, [], 'each node waited for the others to beat again before sweeping');
  const { link } = await linkTo(t, redis.url);
  assert.deepEqual(await onlineOf(link, [1, 2]), [1, 2]);
  const watcher = createNodes({ link, id: 'watcher', timeoutSeconds: 2, log: createLogger('silent'), gone: () => {} });
  assert.deepEqual((await watcher.live()).map((node) => node.id).sort(), [a.id, b.id].sort());
});
