// What is not logged, across the nodes of a cluster: presence (online with the first socket anywhere,
// offline after the last anywhere, and invisible status hiding both), typing, and sockets closed on every node when their session or
// their user ends (logout, revoke_session, change_password, suspension, deletion); with bans, removals
// and profile changes made on one node reaching sockets on another, and blocking and read receipts across them.
import { test, type TestContext } from 'node:test';
import { createServer, connect as connectTcp, type AddressInfo, type Socket } from 'node:net';
import assert from 'node:assert/strict';
import { needs } from './helpers/installed.ts';
import { http } from './helpers/http.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { member, startNodes, tapped, type Tapped } from './helpers/cluster.ts';
import { sleep, until } from './helpers/wait.ts';
import { password, uniqueName } from './helpers/clients.ts';
import { runAdmin } from './helpers/admin.ts';
import { testDatabase } from './helpers/postgres.ts';
import { tokenFrom } from './helpers/http.ts';

const statuses = (socket: Tapped) => socket.envelopes.filter((envelope) => envelope.type === 'user_status').map((envelope) => (envelope as { data: { is_online: boolean } }).data.is_online);

/** Two nodes; Alice's socket on node1, with Bob, who is on node2, among her contacts. */
async function aliceFollowsBob(t: TestContext) {
  const [a, b] = (await startNodes(t, 2)) as unknown as [TestServer, TestServer];
  const alice = await member(a);
  const bob = await member(b);
  const aliceOnA = await tapped(a, alice);
  await aliceOnA.client.request('add_contact', { contact_username: bob.username });
  return { a, b, bob, aliceOnA };
}

test('presence is cluster-wide: user_status when the first socket opens and the last closes, on whichever nodes; typing crosses nodes and its limit counts over them', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const { a, b, bob, aliceOnA } = await aliceFollowsBob(t);

  const bobOnB = await tapped(b, bob);
  await until('online from node2', () => statuses(aliceOnA).length === 1);
  assert.deepEqual(aliceOnA.envelopes.find((envelope) => envelope.type === 'user_status'), { type: 'user_status', success: true, data: { username: bob.username, is_online: true, status: 'online', status_text: '' } });
  const bobOnA = await tapped(a, bob);
  bobOnB.client.close();
  await bobOnB.client.closed;
  await sleep(500);
  assert.deepEqual(statuses(aliceOnA), [true], 'a socket on another node is not an arrival, nor the first node\'s last socket a departure');
  bobOnA.client.close();
  await until('offline', () => statuses(aliceOnA).length === 2);
  const again = await tapped(b, bob);
  await until('online again from node2', () => statuses(aliceOnA).length === 3);

  // Typing on node2 reaches Alice on node1.
  const { id } = await aliceOnA.client.request('create_conversation', { members: [bob.username] });
  await until('the conversation on node2', () => again.envelopes.some((envelope) => envelope.type === 'create_conversation'));
  await again.client.request('typing', { conversation_id: id, is_typing: true });
  await until('typing on node1', () => aliceOnA.envelopes.some((envelope) => envelope.type === 'typing'));
  assert.deepEqual(aliceOnA.envelopes.find((envelope) => envelope.type === 'typing'), { type: 'typing', success: true, data: { conversation_id: id, username: bob.username, is_typing: true } });
  // The typing limit (10 a conversation every 5 s) counts over both nodes: nine more, alternately, then none on either.
  const bobAlsoOnA = await tapped(a, bob);
  for (let i = 0; i < 9; i++) await (i % 2 ? again : bobAlsoOnA).client.request('typing', { conversation_id: id, is_typing: true });
  for (const socket of [again, bobAlsoOnA]) {
    const { ref: _, ...reply } = await socket.client.call({ type: 'typing', conversation_id: id, is_typing: true });
    assert.deepEqual(reply, { type: 'typing', success: false, error: 'typing: at most 10 events per conversation every 5 seconds', code: 'rate_limited' });
  }
  bobAlsoOnA.client.close();
  await bobAlsoOnA.client.closed;

  again.client.close();
  await until('offline from node2', () => statuses(aliceOnA).length === 4);
  assert.deepEqual(statuses(aliceOnA), [true, false, true, false]);
});

/** A TCP proxy to `target` whose traffic can be held (as a slow or stalled network would) and let go. */
async function holdingProxy(t: TestContext, target: URL): Promise<{ port: number; hold(): void; release(): void }> {
  const sockets = new Set<Socket>();
  let held = false;
  const server = createServer((client) => {
    const upstream = connectTcp(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
      if (held) socket.pause();
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return {
    port: (server.address() as AddressInfo).port,
    hold() {
      held = true;
      for (const socket of sockets) socket.pause();
    },
    release() {
      held = false;
      for (const socket of sockets) socket.resume();
    },
  };
}

test('offline on one node announced after online on another (its database slow): the late one is not sent, contacts keep the truth, online', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const database = await testDatabase(t);
  const proxy = await holdingProxy(t, new URL(database));
  const proxied = new URL(database);
  proxied.port = String(proxy.port);
  // node1 reaches PostgreSQL through the proxy; node2 directly.
  const [a, b] = (await startNodes(t, 2, { DATABASE_URL: database }, (i): Record<string, string> => (i === 1 ? { DATABASE_URL: proxied.toString() } : {}))) as unknown as [TestServer, TestServer];
  const erin = await member(b);
  const frank = await member(a);
  const erinOnB = await tapped(b, erin);
  await erinOnB.client.request('add_contact', { contact_username: frank.username });
  const frankOnA = await tapped(a, frank);
  await until('frank online', () => statuses(erinOnB).length === 1);

  // Frank's socket on node1 closes: Redis counts him offline at once, but node1's unit of work waits
  // for its database. Meanwhile he opens one on node2, which announces him online.
  proxy.hold();
  frankOnA.client.close();
  await frankOnA.client.closed;
  await sleep(300);
  await tapped(b, frank);
  await until('online from node2', () => statuses(erinOnB).length === 2);
  proxy.release();
  // node1's unit of work commits now: a write of Erin's on node1 answered means it has (units commit in order).
  const erinOnA = await tapped(a, erin);
  await erinOnA.client.request('set_status', { status: 'away' });
  await sleep(500);
  // Its announcement, overtaken by node2's, was not sent: Erin never saw Frank offline.
  assert.deepEqual(statuses(erinOnB), [true, true]);
  assert.equal((await erinOnB.client.request('get_user', { username: frank.username })).is_online, true);
});

test('invisible status crosses nodes: going invisible on node2 looks like going offline on node1, typing is kept to themself, coming back looks like coming online', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const { b, bob, aliceOnA } = await aliceFollowsBob(t);
  const { id } = await aliceOnA.client.request('create_conversation', { members: [bob.username] });
  const bobOnB = await tapped(b, bob);
  await until('online from node2', () => statuses(aliceOnA).length === 1);

  await bobOnB.client.request('set_status', { status: 'invisible' });
  await until('offline on node1', () => statuses(aliceOnA).length === 2);
  assert.deepEqual(aliceOnA.envelopes.filter((envelope) => envelope.type === 'user_status').at(-1), { type: 'user_status', success: true, data: { username: bob.username, is_online: false, status: 'offline', status_text: '' } });
  assert.deepEqual([(await aliceOnA.client.request('get_user', { username: bob.username })).is_online], [false], 'asked on node1');

  // Typing from node2 while invisible is answered there and shown to no one on node1.
  await bobOnB.client.request('typing', { conversation_id: id, is_typing: true });
  await bobOnB.client.request('set_status', { status: 'busy', text: 'back' });
  await until('online again on node1', () => statuses(aliceOnA).length === 3);
  assert.deepEqual(aliceOnA.envelopes.filter((envelope) => envelope.type === 'user_status').at(-1), { type: 'user_status', success: true, data: { username: bob.username, is_online: true, status: 'busy', status_text: 'back' } });
  await bobOnB.client.request('typing', { conversation_id: id, is_typing: true });
  await until('typing on node1 once visible', () => aliceOnA.envelopes.some((envelope) => envelope.type === 'typing'));
  // Had the typing sent while invisible crossed, it would stand before Bob's return (and this one, a mere keep-alive, would not be pushed).
  const seen = aliceOnA.envelopes.flatMap((envelope) => (envelope.type === 'user_status' || envelope.type === 'typing' ? [envelope.type] : []));
  assert.deepEqual(seen, ['user_status', 'user_status', 'user_status', 'typing']);
});

test('logout on one node closes the session\'s sockets on the others; account deletion closes the user\'s everywhere', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const [a, b] = (await startNodes(t, 2)) as unknown as [TestServer, TestServer];
  const carol = await member(a);
  const onB = await tapped(b, carol);
  const logout = await http(a.http, 'POST', '/auth/logout', { headers: { cookie: `login-token=${carol.token}` } });
  assert.equal(logout.status, 204, logout.body);
  assert.deepEqual(await onB.client.closed, { code: 4005, reason: 'session logged out' });

  const dave = await member(b);
  const daveOnA = await tapped(a, dave);
  const daveOnB = await tapped(b, dave);
  const deleted = await daveOnB.client.call({ type: 'delete_account', password: 'correct horse battery' });
  assert.equal(deleted.success, true, JSON.stringify(deleted));
  assert.deepEqual(await daveOnA.client.closed, { code: 4003, reason: `'${dave.username}' doesn't exists` });
});

test('Redis away: a logout, a suspension and an account deletion on node1 close the sockets on node2 once Redis is back (the database says which ended)', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const nodes = await startNodes(t, 2);
  const [a, b] = nodes as unknown as [TestServer, TestServer];
  const boss = await member(a);
  const granted = await runAdmin(a.env, ['grant-admin', boss.username]);
  assert.equal(granted.stdout.trim(), `${boss.username} is now an admin`, granted.stderr);
  const bossOnA = await tapped(a, boss);
  const [carol, frank, dave, erin] = [await member(a), await member(a), await member(a), await member(a)];
  const [carolOnB, frankOnB, daveOnB, erinOnB] = [await tapped(b, carol), await tapped(b, frank), await tapped(b, dave), await tapped(b, erin)];
  const daveOnA = await tapped(a, dave);

  await nodes.redis.stop();
  assert.equal((await http(a.http, 'POST', '/auth/logout', { headers: { cookie: `login-token=${carol.token}` } })).status, 204);
  assert.deepEqual(await bossOnA.client.request('admin_set_user_status', { username: frank.username, status: 'suspended' }), { username: frank.username, status: 'suspended' });
  const deleted = await daveOnA.client.call({ type: 'delete_account', password });
  assert.equal(deleted.success, true, JSON.stringify(deleted));
  // Their closes could not cross: node2's sockets are still open meanwhile.
  assert.equal(await carolOnB.client.request('ping'), 'pong');

  await nodes.redis.start();
  // Within a reconnection (at most 2 s) and the lookup, not at the next audit of every 30 s.
  const soon = <T>(closed: Promise<T>) => Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('not closed within 5 s')), 5000).unref())]);
  assert.deepEqual(await soon(carolOnB.client.closed), { code: 4005, reason: 'session logged out' });
  assert.deepEqual(await soon(frankOnB.client.closed), { code: 4009, reason: 'account suspended' });
  assert.deepEqual(await soon(daveOnB.client.closed), { code: 4003, reason: `'${dave.username}' doesn't exists` });
  assert.equal(await erinOnB.client.request('ping'), 'pong', 'a session that did not end stays');
  assert.ok(b.logs.some((line) => line.msg === 'closed the sockets of sessions ended elsewhere' && line.sessions === 3));
});

test('revoke_session, change_password and suspension close the sockets on the other node; bans, removals and profile changes reach it', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const [a, b] = (await startNodes(t, 2)) as unknown as [TestServer, TestServer];
  const logIn = async (node: TestServer, username: string, secret = password) => {
    const login = await http(node.http, 'POST', '/auth/login', { body: { username, password: secret } });
    assert.equal(login.status, 202, login.body);
    return tokenFrom(login);
  };

  // Erin on node1 revokes the session she has on node2, then changes her password: her third session's socket, on node2, closes.
  const erin = await member(a);
  const erinOnA = await tapped(a, erin);
  const phone = await tapped(b, { ...erin, token: await logIn(b, erin.username) });
  const sessions = await erinOnA.client.request('get_sessions');
  const phoneSession = sessions.find((session) => !session.current)!;
  assert.deepEqual(await erinOnA.client.request('revoke_session', { session_id: phoneSession.id }), { session_id: phoneSession.id });
  assert.deepEqual(await phone.client.closed, { code: 4005, reason: 'session logged out' });
  const laptop = await tapped(b, { ...erin, token: await logIn(b, erin.username) });
  assert.deepEqual(await erinOnA.client.request('change_password', { old_password: password, new_password: 'a new secret' }), { sessions_ended: 1 });
  assert.deepEqual(await laptop.client.closed, { code: 4008, reason: 'password changed: log in again' });
  assert.equal(await erinOnA.client.request('ping'), 'pong', 'the session that changed it stays');

  // An administrator on node1 suspends Frank, whose socket is on node2.
  const boss = await member(a);
  const granted = await runAdmin(a.env, ['grant-admin', boss.username]);
  assert.equal(granted.stdout.trim(), `${boss.username} is now an admin`, granted.stderr);
  const bossOnA = await tapped(a, boss);
  const frank = await member(b);
  const frankOnB = await tapped(b, frank);
  assert.deepEqual(await bossOnA.client.request('admin_set_user_status', { username: frank.username, status: 'suspended' }), { username: frank.username, status: 'suspended' });
  assert.deepEqual(await frankOnB.client.closed, { code: 4009, reason: 'account suspended' });

  // Gina on node1 bans Hank and removes Ivan, both on node2, and changes her profile, which Ivan follows as her contact.
  const [gina, hank, ivan] = [await member(a), await member(b), await member(b)];
  const ginaOnA = await tapped(a, gina);
  const [hankOnB, ivanOnB] = [await tapped(b, hank), await tapped(b, ivan)];
  await ivanOnB.client.request('add_contact', { contact_username: gina.username });
  const group = await ginaOnA.client.request('create_conversation', { name: 'crew', members: [hank.username, ivan.username], kind: 'group' });
  const pushed = (socket: Tapped, type: string) => socket.envelopes.filter((envelope) => envelope.type === type).map((envelope) => (envelope as { data: unknown }).data);
  await ginaOnA.client.request('ban_member', { conversation_id: group.id, username: hank.username });
  await until('the ban on node2', () => pushed(hankOnB, 'ban_member').length === 1 && pushed(ivanOnB, 'ban_member').length === 1);
  assert.deepEqual(pushed(hankOnB, 'ban_member'), [{ conversation_id: group.id, username: hank.username, by: gina.username }]);
  await ginaOnA.client.request('remove_member', { conversation_id: group.id, username: ivan.username });
  await until('the removal on node2', () => pushed(ivanOnB, 'remove_member').length === 1);
  await ginaOnA.client.request('update_profile', { fullname: 'Gina Renamed' });
  await until('the profile on node2', () => pushed(ivanOnB, 'user_updated').length === 1);
  assert.deepEqual((pushed(ivanOnB, 'user_updated') as { user: { username: string; fullname: string } }[]).map(({ user }) => [user.username, user.fullname]), [[gina.username, 'Gina Renamed']]);
  assert.equal(pushed(hankOnB, 'user_updated').length, 0, 'not a contact of hers');
  for (const node of [a, b]) assert.deepEqual(node.logs.filter((line) => line.level === 'error'), []);
});

/** Two nodes; Jack's socket on node1, Kate's and Liam's on node2, and a group of the three that Jack made. */
async function jackAcrossFromKateAndLiam(t: TestContext) {
  const [a, b] = (await startNodes(t, 2)) as unknown as [TestServer, TestServer];
  const [jack, kate, liam] = [await member(a), await member(b), await member(b)];
  const jackOnA = await tapped(a, jack);
  const [kateOnB, liamOnB] = [await tapped(b, kate), await tapped(b, liam)];
  const group = await jackOnA.client.request('create_conversation', { name: 'across', members: [kate.username, liam.username], kind: 'group' });
  return { a, b, jack, kate, liam, jackOnA, kateOnB, liamOnB, group };
}

test('blocking and read receipts cross nodes: a message from someone blocked on another node is neither pushed nor synced; a read point moved on one node reaches the sender on another', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const { a, b, jack, kate, liam, jackOnA, kateOnB, liamOnB, group } = await jackAcrossFromKateAndLiam(t);
  // Liam blocks Jack on node2; Jack writes to the group on node1, then Kate answers on node2.
  await liamOnB.client.request('block_user', { username: jack.username });
  const hidden = await jackOnA.client.request('send_message', { conversation_id: group.id, content: 'liam must not see this' });
  const answer = await kateOnB.client.request('send_message', { conversation_id: group.id, content: 'kate answers' });
  const contents = (socket: Tapped) => socket.envelopes.filter((envelope) => envelope.type === 'send_message').map((envelope) => (envelope as { data: { content: string } }).data.content);
  await until('both messages at Liam\'s and Kate\'s', () => contents(liamOnB).includes('kate answers') && contents(kateOnB).includes('liam must not see this'));
  assert.deepEqual(contents(liamOnB), ['kate answers'], 'the later message came, the blocked sender\'s did not');
  const synced = await liamOnB.client.request('sync', { since: 0 });
  assert.deepEqual(synced.events.map((event) => event.seq), liamOnB.seqs.filter((seq) => seq <= synced.next), 'what Liam was pushed is what sync gives him');
  assert.ok(!JSON.stringify(synced.events).includes('liam must not see this'));

  // Kate's read point, moved on node2 (her answer shows she read up to it), reaches Jack on node1.
  const receipts = () => jackOnA.envelopes.filter((envelope) => envelope.type === 'receipt').map((envelope) => (envelope as { data: { username: string; read_id: number } }).data);
  await until('Kate\'s read receipt on node1', () => receipts().some((receipt) => receipt.username === kate.username && receipt.read_id === answer.id));
  assert.ok(!receipts().some((receipt) => receipt.username === liam.username && receipt.read_id >= hidden.id), 'Liam never read what he was not shown');
  for (const node of [a, b]) assert.deepEqual(node.logs.filter((line) => line.level === 'error'), []);
});

test('a blocker on one node: the person they blocked, on another, is shown neither their typing nor their receipts, live or by sync', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const { a, b, jack, liam, jackOnA, kateOnB, liamOnB, group } = await jackAcrossFromKateAndLiam(t);
  await jackOnA.client.request('block_user', { username: liam.username });
  const since = (await liamOnB.client.request('sync', { since: 0 })).next;
  const asked = await kateOnB.client.request('send_message', { conversation_id: group.id, content: 'anyone?' });
  await until('Kate\'s message on node1', () => jackOnA.envelopes.some((envelope) => envelope.type === 'send_message' && (envelope as { data: { id: number } }).data.id === asked.id));

  await jackOnA.client.request('typing', { conversation_id: group.id, is_typing: true });
  await jackOnA.client.request('mark_read', { conversation_id: group.id, message_id: asked.id });
  const jacks = (type: string) => (socket: Tapped) => socket.envelopes.filter((envelope) => envelope.type === type && (envelope as { data: { username: string } }).data.username === jack.username);
  await until('Jack\'s typing and read receipt at Kate\'s', () => jacks('typing')(kateOnB).length > 0 && jacks('receipt')(kateOnB).some((envelope) => (envelope as { data: { read_id?: number } }).data.read_id === asked.id));
  // Node2 sent Liam whatever it sent Kate at the same time: one round trip more and it would be here.
  await liamOnB.client.request('ping');
  const synced = (await liamOnB.client.request('sync', { since })).events.filter((event) => event.type === 'receipt' && (event.data as { username: string }).username === jack.username);
  assert.deepEqual({ typing: jacks('typing')(liamOnB), receipts: jacks('receipt')(liamOnB), synced }, { typing: [], receipts: [], synced: [] });
  for (const node of [a, b]) assert.deepEqual(node.logs.filter((line) => line.level === 'error'), []);
});

test('a node killed with SIGKILL: the users only on it go offline for everyone within NODE_TIMEOUT', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const [a, b] = (await startNodes(t, 2)) as unknown as [TestServer, TestServer];
  const erin = await member(a);
  const frank = await member(b);
  const grace = await member(b);
  const erinOnA = await tapped(a, erin);
  for (const contact of [frank, grace]) await erinOnA.client.request('add_contact', { contact_username: contact.username });
  await tapped(b, frank);
  await tapped(b, grace);
  await tapped(a, grace);
  await until('both online', () => statuses(erinOnA).length === 2);
  await b.stop('SIGKILL');
  const killedAt = performance.now();
  await until('frank offline', () => statuses(erinOnA).length === 3, 5000);
  const tookMs = performance.now() - killedAt;
  t.diagnostic(`offline ${Math.round(tookMs)} ms after the kill`);
  assert.ok(tookMs <= 2000 + 500, `${Math.round(tookMs)} ms (NODE_TIMEOUT=2)`);
  assert.deepEqual(erinOnA.envelopes.filter((envelope) => envelope.type === 'user_status').at(-1), { type: 'user_status', success: true, data: { username: frank.username, is_online: false, status: 'offline', status_text: '' } });
  await sleep(500);
  assert.equal(statuses(erinOnA).length, 3, 'grace still has a socket on node1');
});

test('a node killed and started again at once with its NODE_ID: it waits its old run out, and the users only on that run go offline for everyone', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  // A long NODE_TIMEOUT, so that the node is back (even on a busy machine) before node1 would drop its old run: it drops it itself as it joins.
  const [a, b] = (await startNodes(t, 2, { NODE_TIMEOUT: '12' })) as unknown as [TestServer, TestServer];
  const erin = await member(a);
  const frank = await member(b);
  const erinOnA = await tapped(a, erin);
  await erinOnA.client.request('add_contact', { contact_username: frank.username });
  await tapped(b, frank);
  await until('frank online', () => statuses(erinOnA).length === 1);
  await b.stop('SIGKILL');
  const again = await startServer(t, b.env);
  assert.ok(again.logs.some((line) => line.msg === 'waiting for a previous run of this node to expire'), 'the old run was still beating');
  await until('frank offline', () => statuses(erinOnA).length === 2, 20_000);
  assert.deepEqual(erinOnA.envelopes.filter((envelope) => envelope.type === 'user_status').at(-1), { type: 'user_status', success: true, data: { username: frank.username, is_online: false, status: 'offline', status_text: '' } });
});

test('failed logins count across nodes: spreading guesses over them gets no more tries than one node', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const nodes = await startNodes(t, 2, { LOGIN_MAX_FAILURES: '3' });
  const { username } = await member(nodes[0]!);
  const guess = (node: TestServer) => http(node.http, 'POST', '/auth/login', { body: { username, password: 'a wrong guess' } });
  const answers = [];
  for (const node of [nodes[0]!, nodes[1]!, nodes[0]!, nodes[1]!]) {
    const { status, body } = await guess(node);
    answers.push([status, body]);
  }
  assert.deepEqual(answers.slice(3), [[429, 'too many failed logins: retry in 1 second']], JSON.stringify(answers));
  assert.deepEqual(answers.slice(0, 3).map(([status]) => status), [401, 401, 401]);
});

test('failed logins sent at once to three nodes: exactly LOGIN_MAX_FAILURES passwords are checked, the rest wait', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const nodes = await startNodes(t, 3, { LOGIN_MAX_FAILURES: '3' });
  const { username } = await member(nodes[0]!);
  // Four guesses at once on every node: each node checks one at a time, the three nodes side by side.
  const started = performance.now();
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => http(nodes[i % 3]!.http, 'POST', '/auth/login', { body: { username, password: `wrong guess ${i}` } })));
  const tookMs = performance.now() - started;
  const statuses = answers.map(({ status }) => status).sort();
  // Three are checked, the rest wait. Only a guess still coming after a wait has run out (1 s after the
  // third failure, then 2 s, 4 s...: a busy machine can spread twelve requests that far) is checked too.
  let waitsOver = 0;
  while (2 ** (waitsOver + 1) - 1 <= tookMs / 1000) waitsOver++;
  const checked = statuses.filter((status) => status === 401).length;
  const seen = JSON.stringify({ tookMs: Math.round(tookMs), answers: answers.map(({ status, body }) => [status, body]) });
  assert.ok(checked >= 3 && checked <= 3 + waitsOver, seen);
  assert.deepEqual(statuses, [...Array(checked).fill(401), ...Array(12 - checked).fill(429)], seen);
});

test('registrations from one address count across nodes', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const nodes = await startNodes(t, 2, { REGISTRATIONS_PER_HOUR: '2' });
  const attempt = (node: TestServer) => http(node.http, 'POST', '/register', { body: { username: uniqueName('r'), password: 'correct horse battery', fullname: 'R' } });
  const first = [];
  for (const node of [nodes[0]!, nodes[1]!]) first.push((await attempt(node)).status);
  const third = await attempt(nodes[1]!);
  assert.deepEqual(first, [201, 201]);
  assert.equal(third.status, 429);
  assert.match(third.body, /^too many registrations from this address: retry in \d+ seconds?$/);
});

test('password reset requests from one address count across nodes', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const nodes = await startNodes(t, 2, { REGISTRATIONS_PER_HOUR: '2' });
  const { username } = await member(nodes[0]!); // the one registration allowed besides: the window is per kind
  const forgot = (node: TestServer) => http(node.http, 'POST', '/auth/forgot-password', { body: { username } });
  const first = [];
  for (const node of [nodes[0]!, nodes[1]!]) first.push((await forgot(node)).status);
  const third = await forgot(nodes[1]!);
  assert.deepEqual(first, [202, 202]);
  assert.equal(third.status, 429, third.body);
  assert.match(third.body, /^too many reset requests from this address: retry in \d+ seconds?$/);
});

test('a node started without NODE_ID makes one up (its host and a random part) and names it on every log line', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const [node] = await startNodes(t, 1, { NODE_ID: '' });
  const id = node!.logs.find((line) => line.msg === 'joined the cluster')!.node_id as string;
  assert.match(id, /^[A-Za-z0-9][A-Za-z0-9_-]*-[0-9a-f]{6}$/);
  assert.deepEqual(node!.logs.filter((line) => line.node_id !== id), [], 'every line names it');
});
