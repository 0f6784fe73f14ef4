// What a node answers for the whole cluster, on three nodes of one PostgreSQL and one Redis: is_online
// wherever it is answered, delivered points, who gets push notifications, MAX_SOCKETS_PER_USER, and
// periodic work done once a period rather than once per node, upload limits counted over the nodes;
// with Redis stopped and started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import webpush from 'web-push';
import WebSocket from 'ws';
import { createClient } from '../protocol/client.ts';
import { exchange, heldUpload, underWay } from './helpers/bytes.ts';
import { needs } from './helpers/installed.ts';
import { runAdmin } from './helpers/admin.ts';
import type { TestServer } from './helpers/server.ts';
import { member, startNodes, tapped, type Member, type Tapped } from './helpers/cluster.ts';
import { sleep, until } from './helpers/wait.ts';
import { startPushService } from './helpers/push-service.ts';
import { drained, metricsToken, receivedBy, waitForPushes } from './helpers/push-server.ts';

type Three = [TestServer, TestServer, TestServer];

/** Each username's is_online, for these users only. */
const onlineOf = (users: { username: string; is_online: boolean }[], among: Member[]) =>
  Object.fromEntries(users.filter((user) => among.some((one) => one.username === user.username)).map((user) => [user.username, user.is_online]));

test('is_online, delivered points and push notifications count sockets on every node; invisible and blocked people still look offline', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const keys = webpush.generateVAPIDKeys();
  const service = await startPushService(t, keys.publicKey);
  const home = mkdtempSync(join(tmpdir(), 'parley-cluster-push-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  writeFileSync(join(home, 'ca.pem'), service.ca);
  const nodes = await startNodes(t, 3, {
    VAPID_PUBLIC_KEY: keys.publicKey,
    VAPID_PRIVATE_KEY: keys.privateKey,
    PUSH_ENDPOINT_HOSTS: service.host,
    PUSH_COALESCE_SECONDS: '0',
    METRICS_TOKEN: metricsToken,
    NODE_EXTRA_CA_CERTS: join(home, 'ca.pem'),
  });
  const [a, b, c] = nodes as unknown as Three;
  const alice = await member(a);
  const bob = await member(b);
  const carol = await member(c);
  const dave = await member(c);
  const erin = await member(b);
  const people = [alice, bob, carol, dave, erin];
  const granted = await runAdmin(a.env, ['grant-admin', alice.username]);
  assert.equal(granted.stdout.trim(), `${alice.username} is now an admin`, granted.stderr);

  const aliceOnA = await tapped(a, alice);
  const bobOnB = await tapped(b, bob);
  const carolOnC = await tapped(c, carol);
  await tapped(c, dave);
  const erinOnC = await tapped(c, erin);
  const group = await aliceOnA.client.request('create_conversation', { name: 'everyone', members: [bob.username, carol.username, dave.username, erin.username] });
  // Erin has a device and no socket anywhere; Bob has a device and a socket on node2.
  const erinDevice = service.subscribe();
  await erinOnC.client.request('register_device', { kind: 'webpush', subscription: erinDevice });
  erinOnC.client.close();
  await erinOnC.client.closed;
  const bobDevice = service.subscribe();
  await bobOnB.client.request('register_device', { kind: 'webpush', subscription: bobDevice });
  await carolOnC.client.request('set_status', { status: 'invisible' });
  for (const contact of [bob, carol, erin]) await aliceOnA.client.request('add_contact', { contact_username: contact.username });
  await aliceOnA.client.request('block_user', { username: dave.username });

  const bobSeen = await aliceOnA.client.request('get_user', { username: bob.username });
  assert.deepEqual([bobSeen.is_online, bobSeen.status], [true, 'online'], 'a socket on node2 only');
  const seen = { [alice.username]: true, [bob.username]: true, [carol.username]: false, [dave.username]: false, [erin.username]: false };
  assert.deepEqual(onlineOf((await aliceOnA.client.request('search_users', { query: 'Full' })).users, people), seen);
  assert.deepEqual(onlineOf((await aliceOnA.client.request('get_contacts')).contacts, people), { [bob.username]: true, [carol.username]: false, [erin.username]: false });
  assert.deepEqual(onlineOf(await aliceOnA.client.request('get_members', { conversation_id: group.id }), people), seen);
  // An administrator sees who is connected, invisible or blocked alike.
  assert.deepEqual(onlineOf((await aliceOnA.client.request('admin_list_users', {})).users, people), { ...seen, [carol.username]: true, [dave.username]: true });
  assert.equal((await aliceOnA.client.request('admin_stats')).users.online, 4);

  // Bob's socket is on node2: his delivered point moves with the message sent on node1, and he is not
  // notified on his device; Erin, with no socket anywhere, is notified once (three workers, one claim).
  const message = await aliceOnA.client.request('send_message', { conversation_id: group.id, content: 'for everyone' });
  const bobsReceipt = () => aliceOnA.envelopes.find((envelope) => envelope.type === 'receipt' && 'data' in envelope && (envelope.data as { username: string }).username === bob.username);
  await until('bob\'s delivered receipt', () => bobsReceipt() !== undefined);
  assert.deepEqual((bobsReceipt() as { data: unknown }).data, { conversation_id: group.id, username: bob.username, delivered_id: message.id });
  const receipts = await aliceOnA.client.request('get_receipts', { message_id: message.id });
  assert.deepEqual({ ...receipts, delivered: receipts.delivered.sort() }, { message_id: message.id, delivered: [bob.username], read: [] }, 'invisible Carol\'s point does not move; Dave\'s, whom Alice blocked, is not shown to her');
  const [notified] = await waitForPushes(service, erinDevice);
  assert.equal((notified!.payload as { kind: string }).kind, 'message');
  await drained(a);
  assert.equal(receivedBy(service, erinDevice).length, 1, 'sent once');
  assert.deepEqual(receivedBy(service, bobDevice), [], 'bob has a socket on node2');
});

test('MAX_SOCKETS_PER_USER counts sockets on every node; with Redis away each node counts its own, and presence comes back with Redis', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const nodes = await startNodes(t, 3, { MAX_SOCKETS_PER_USER: '2' });
  const [a, b, c] = nodes as unknown as Three;
  const watcher = await member(a);
  const frank = await member(a);
  const watching = await tapped(a, watcher);
  const opened = (node: TestServer) => createClient(new WebSocket(node.ws, { headers: { cookie: `login-token=${frank.token}` } }), () => {});
  const onA = await tapped(a, frank);
  await tapped(b, frank);
  const third = opened(c);
  const stillOpen = sleep(3000, 'still open').finally(() => third.close());
  assert.deepEqual(await Promise.race([third.closed, stillOpen]), { code: 4004, reason: 'too many connections for this user (limit 2)' }, 'two sockets already, on node1 and node2');
  const isOnline = async () => (await watching.client.request('get_user', { username: frank.username })).is_online;

  // A refused socket leaves the count as it was: one closed, one more fits.
  onA.client.close();
  await onA.client.closed;
  await until('frank\'s socket on node1 gone', () => a.logs.some((line) => line.msg === 'disconnected' && line.user === frank.username));
  let onC: Tapped | undefined;
  for (const deadline = Date.now() + 5000; !onC; await sleep(50)) {
    onC = await tapped(c, frank).catch((error: unknown) => {
      if (Date.now() > deadline) throw error;
      return undefined;
    });
  }
  assert.equal(await isOnline(), true, 'sockets on node2 and node3, none on node1');

  await nodes.redis.stop();
  // Each node by itself: node1 knows of no socket of Frank's, node3 of one of the limit's two.
  assert.equal(await isOnline(), false);
  const fourth = await tapped(c, frank);
  assert.deepEqual(await fourth.client.request('ping'), 'pong');
  const outage = () => a.logs.filter((line) => line.msg === 'redis unavailable').length;
  await until('the outage in the log', () => outage() > 0);

  await nodes.redis.start();
  for (const deadline = Date.now() + 10_000; !(await isOnline()); await sleep(100)) {
    if (Date.now() > deadline) throw new Error('presence did not come back with Redis');
  }
  assert.equal(outage(), 1, 'the outage is logged once');
  for (const node of nodes) assert.deepEqual(node.logs.filter((line) => line.level === 'error'), []);
});

test('uploads under way at once and UPLOADS_PER_HOUR count over every node: spreading uploads over nodes gets no more', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const filesDir = mkdtempSync(join(tmpdir(), 'parley-cluster-uploads-'));
  t.after(() => rmSync(filesDir, { recursive: true, force: true }));
  const nodes = await startNodes(t, 3, { FILES_DIR: filesDir, UPLOADS_PER_HOUR: '4' });
  const [a, b, c] = nodes as unknown as Three;
  const alice = await member(a);
  const upload = (node: TestServer, name: string) =>
    exchange(node.http, 'POST', `/files?filename=${name}`, { body: `${name}\n`, headers: { cookie: `login-token=${alice.token}`, 'content-type': 'text/plain' } });

  // Three under way, one on each node: the fourth is refused on any of them.
  const held = [a, b, c].map((node, i) => heldUpload(node.http, alice.token, `held${i}.txt`));
  await underWay(filesDir, 3);
  for (const node of [a, b, c]) {
    const refused = await upload(node, 'fourth.txt');
    assert.deepEqual([refused.status, refused.body.toString(), refused.headers['retry-after']], [429, 'too many uploads at once: wait for one to finish', '1'], node.env.NODE_ID);
  }
  for (const one of held) one.finish();
  for (const one of held) assert.equal((await one.result).status, 201);

  // Three of the hour's four are used (the refused ones were not counted): one more on node2, then none anywhere.
  const fourth = await upload(b, 'fourth.txt');
  assert.equal(fourth.status, 201, fourth.body.toString());
  for (const node of [a, b, c]) {
    const refused = await upload(node, 'fifth.txt');
    assert.equal(refused.status, 429, node.env.NODE_ID);
    assert.match(refused.body.toString(), /^too many uploads: retry in \d+ (minutes?|seconds?)$/);
  }
});

test('periodic work runs once a period across the nodes, not once per node', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  // A sweep a second (a 24th of UNATTACHED_FILE_HOURS, at least a second).
  const nodes = await startNodes(t, 3, { UNATTACHED_FILE_HOURS: '0.001', LOG_LEVEL: 'debug' });
  const roundsSoFar = () => nodes.flatMap((node, i) => node.logs.filter((line) => line.msg === 'periodic round').map((line) => ({ node: i + 1, job: line.job as string, period: line.period as number, atStart: line.at_start === true })));
  // Four sweep periods after the start (about 4 s; longer on a loaded machine, well within the minute of the outbox prune),
  // and every node's rounds at its start (a node slow to start may log them after the others' sweeps).
  const startsLogged = () => ['prune', 'file-sweep', 'push-outbox-prune'].every((job) => roundsSoFar().filter((round) => round.job === job && round.atStart).length >= 3);
  for (const started = Date.now(); (roundsSoFar().filter((round) => round.job === 'file-sweep' && !round.atStart).length < 4 || !startsLogged()) && Date.now() - started < 30_000;) {
    await sleep(250);
  }
  const rounds = roundsSoFar();
  // Each node's round at its start runs whatever the others did (its settings may be new).
  for (const job of ['prune', 'file-sweep', 'push-outbox-prune']) {
    assert.deepEqual(rounds.filter((round) => round.job === job && round.atStart).map((round) => round.node), [1, 2, 3], job);
  }
  const sweeps = rounds.filter((round) => round.job === 'file-sweep' && !round.atStart);
  t.diagnostic(`file sweeps after the start: ${sweeps.map((round) => `${round.period}@node${round.node}`).join(' ')}`);
  assert.ok(sweeps.length >= 4, `${sweeps.length} sweeps`);
  assert.equal(new Set(sweeps.map((round) => round.period)).size, sweeps.length, 'no period swept twice');
  assert.deepEqual(rounds.filter((round) => round.job !== 'file-sweep' && !round.atStart), [], 'an hour, a minute: not yet');
  for (const node of nodes) assert.deepEqual(node.logs.filter((line) => line.level === 'error'), []);
});
