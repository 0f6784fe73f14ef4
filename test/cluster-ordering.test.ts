// The event log's order across nodes: each batch numbers its events at its end, so one node's open
// batch does not hold up another's, and a batch that never commits (its node killed between numbering
// and COMMIT) leaves no gap. A proxy stops node1's PostgreSQL connection at a chosen statement.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import postgres from 'postgres';
import { needs } from './helpers/installed.ts';
import type { TestServer } from './helpers/server.ts';
import { syncAll } from './helpers/clients.ts';
import { member, startNodes, tapped, type Tapped } from './helpers/cluster.ts';
import { sleep, until } from './helpers/wait.ts';
import { testDatabase } from './helpers/postgres.ts';
import { startPgProxy } from './helpers/pg-proxy.ts';

/** Two nodes on one database, node1 through a proxy that can stop it; Alice and Bob in a conversation, each with a socket on each node. */
async function twoNodes(t: TestContext) {
  const database = await testDatabase(t);
  const proxy = await startPgProxy(t, database);
  const [a, b] = (await startNodes(t, 2, { DATABASE_URL: database }, (i): Record<string, string> => (i === 1 ? { DATABASE_URL: proxy.url } : {}))) as unknown as [TestServer, TestServer];
  const [alice, bob] = [await member(a), await member(b)];
  const sockets = { aliceOnA: await tapped(a, alice), bobOnB: await tapped(b, bob), aliceOnB: await tapped(b, alice), bobOnA: await tapped(a, bob) };
  const { id } = await sockets.aliceOnA.client.request('create_conversation', { members: [bob.username] });
  const created = sockets.aliceOnA.seqs.at(-1)!;
  await until('the conversation everywhere', () => Object.values(sockets).every((socket) => socket.seqs.includes(created)));
  return { database, proxy, a, b, alice, bob, sockets, conversation: id };
}

/**
 * A group of Alice's and others' (made on node2 by `owner`), and Alice's send into it on node1 held by the
 * proxy once it has read what it depends on, before it writes the message. Then `frame` on `other`
 * (node2), which must wait for a lock (one of node2's statements, `lockedAt` a fragment of its text, waits)
 * rather than be answered at once; then the send is let go: both succeed, the message logged first.
 */
async function heldSendAgainst(t: TestContext, setup: Awaited<ReturnType<typeof twoNodes>>, owner: Tapped, others: string[], frame: (group: number) => Record<string, unknown>, lockedAt: string, what: string) {
  const { database, proxy, alice, sockets } = setup;
  const group = await owner.client.request('create_conversation', { name: 'race', members: [alice.username, ...others], kind: 'group' });
  await until('the group on node1', () => sockets.aliceOnA.envelopes.some((envelope) => envelope.type === 'create_conversation' && (envelope as { data?: { id?: number } }).data?.id === group.id));
  proxy.holdAt((statement) => statement.includes('INSERT INTO messages'));
  const held = sockets.aliceOnA.client.call({ type: 'send_message', conversation_id: group.id, content: 'decided before', client_id: `race-${group.id}` });
  await proxy.held();
  const sql = postgres(database, { max: 1, onnotice: () => {} });
  t.after(() => sql.end());
  let atOnce = false;
  const reply = owner.client.call(frame(group.id) as Parameters<Tapped['client']['call']>[0]).then((answer) => {
    atOnce = true;
    return answer;
  });
  const waiting = async () => (await sql`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE ${`%${lockedAt}%`}`).length > 0;
  for (const deadline = Date.now() + 10_000; !atOnce && !(await waiting()); await sleep(20)) assert.ok(Date.now() < deadline, 'answered or waiting for a lock within 10 s');
  assert.equal(atOnce, false, `the ${what} waited for the send that had read what it changes`);
  setup.proxy.release();
  const [sent, answered] = [await held, await reply];
  assert.equal(sent.success, true, JSON.stringify(sent));
  assert.equal(answered.success, true, JSON.stringify(answered));
  assert.ok(sentSeq(sent) < sentSeq(answered), `the message (${sentSeq(sent)}) is logged before the ${what} (${sentSeq(answered)})`);
  return { group: group.id, sent, answered };
}

const sentSeq = (reply: unknown) => (reply as { seq: number }).seq;

/** Each socket got strictly increasing seqs: those its user's sync (asked on `asking`) returns from where it began. */
async function likeSync(checks: Record<string, [socket: Tapped, asking: Tapped]>): Promise<void> {
  for (const [name, [socket, asking]] of Object.entries(checks)) {
    assert.deepEqual(socket.seqs, [...socket.seqs].sort((x, y) => x - y), `${name}: seqs in order`);
    assert.equal(new Set(socket.seqs).size, socket.seqs.length, `${name}: each seq once`);
    const synced = (await syncAll(asking.client, socket.seqs[0]! - 1)).map((event) => event.seq);
    await until(`${name} has what sync has`, () => synced.every((seq) => socket.seqs.includes(seq)));
    assert.deepEqual(socket.seqs.filter((seq) => seq <= synced.at(-1)!), synced, `${name}: exactly what sync returns`);
  }
}

/** The log's seqs: consecutive, none missing (nothing is pruned in a test). */
async function logHasNoGaps(database: string): Promise<number[]> {
  const sql = postgres(database, { max: 1, onnotice: () => {} });
  try {
    // One snapshot: a batch committing between two reads (receipts come half a second after their messages) moves both.
    const { rows, counter } = await sql.begin('ISOLATION LEVEL REPEATABLE READ', async (tx) => ({
      rows: await tx<{ seq: string }[]>`SELECT seq FROM events ORDER BY seq`,
      counter: (await tx<{ seq: string }[]>`SELECT seq FROM event_counter`)[0],
    }));
    const seqs = rows.map((row) => Number(row.seq));
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i), 'no gap in the log');
    assert.equal(Number(counter!.seq), seqs.at(-1), 'the counter is the last seq');
    return seqs;
  } finally {
    await sql.end();
  }
}

test('a node whose batch is held open mid-way does not hold up another node\'s: that one commits meanwhile, numbered first; every socket still gets what sync has, in order', { timeout: 60_000 }, async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const { database, proxy, sockets, conversation } = await twoNodes(t);
  // node1's batch stops at the statement that writes Alice's message: its transaction is open, its
  // units have begun, nothing of it is numbered.
  proxy.holdAt((statement) => statement.includes('INSERT INTO messages'));
  const held = sockets.aliceOnA.client.call({ type: 'send_message', conversation_id: conversation, content: 'held', client_id: 'held-1' });
  await proxy.held();
  // Bob's message on node2 commits while node1's batch is still open. (Before each batch numbered its
  // events at its end, every batch took the event counter first: this waited for node1's COMMIT.)
  const meanwhile = await sockets.bobOnB.client.call({ type: 'send_message', conversation_id: conversation, content: 'meanwhile' });
  assert.equal(meanwhile.success, true);
  proxy.release();
  const late = await held;
  assert.equal(late.success, true);
  assert.ok(sentSeq(late) > sentSeq(meanwhile), 'the batch that committed later has the later seq');
  await until('both messages everywhere', () => Object.values(sockets).every((socket) => socket.seqs.includes(sentSeq(late)) && socket.seqs.includes(sentSeq(meanwhile))));
  const { aliceOnA, aliceOnB, bobOnA, bobOnB } = sockets;
  await likeSync({ aliceOnA: [aliceOnA, aliceOnB], aliceOnB: [aliceOnB, aliceOnB], bobOnA: [bobOnA, bobOnB], bobOnB: [bobOnB, bobOnB] });
  await logHasNoGaps(database);
});

test('a node killed between numbering its batch\'s events and the COMMIT: nothing of the batch stays, the other node numbers from the same seq, the client\'s resend is stored once', { timeout: 60_000 }, async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const { database, proxy, a, sockets, conversation } = await twoNodes(t);
  // node1's batch stops at its COMMIT, once its last statement has numbered its events (and holds the counter).
  let numbered = false;
  proxy.holdAt((statement) => {
    if (statement.includes('UPDATE event_counter')) numbered = true;
    return numbered && statement.trim().toUpperCase() === 'COMMIT';
  });
  const lost = sockets.aliceOnA.client.call({ type: 'send_message', conversation_id: conversation, content: 'never committed', client_id: 'kill-1' }).catch(() => undefined);
  await proxy.held();
  // Bob's message on node2 must wait for the counter: node1's numbering holds it until its COMMIT...
  const waiting = sockets.bobOnB.client.call({ type: 'send_message', conversation_id: conversation, content: 'after the kill' });
  // ...which never comes: node1 dies, its connection closes, PostgreSQL rolls its transaction back.
  a.child.kill('SIGKILL');
  const after = await waiting;
  assert.equal(after.success, true);
  await lost;
  // Alice sends again with the same client id, on node2: stored now, once.
  const again = await sockets.aliceOnB.client.call({ type: 'send_message', conversation_id: conversation, content: 'never committed', client_id: 'kill-1' });
  assert.equal(again.success, true);
  const { messages } = await sockets.aliceOnB.client.request('get_messages', { conversation_id: conversation });
  assert.deepEqual(messages.map((message) => message.content), ['never committed', 'after the kill'], 'newest first: each once');
  await until('Alice\'s message on node2', () => sockets.bobOnB.seqs.includes(sentSeq(again)));
  await likeSync({ aliceOnB: [sockets.aliceOnB, sockets.aliceOnB], bobOnB: [sockets.bobOnB, sockets.bobOnB] });
  const seqs = await logHasNoGaps(database);
  assert.ok(seqs.includes(sentSeq(after)) && seqs.includes(sentSeq(again)));
});

test('a node that has not heard back its numbering when its follower reads the log does not take its own committed events for another node\'s: each is delivered once, in order', { timeout: 60_000 }, async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const { database, proxy, a, sockets, conversation } = await twoNodes(t);
  // node1's batch sends its numbering and its COMMIT, PostgreSQL runs both, and the answers wait in the
  // proxy: Alice's message is committed under a seq that node1 does not know yet.
  proxy.holdAt((statement) => statement.includes('UPDATE event_counter'), { answers: true });
  const held = sockets.aliceOnA.client.call({ type: 'send_message', conversation_id: conversation, content: 'answer held', client_id: 'answer-1' });
  await proxy.held();
  const sql = postgres(database, { max: 1, onnotice: () => {} });
  t.after(() => sql.end());
  while ((await sql`SELECT 1 FROM messages WHERE client_id = 'answer-1'`).length === 0) await sleep(20);
  // Bob's message on node2 wakes node1's follower, which reads both from the log.
  const read = proxy.sent((statement) => statement.includes('FROM events AS e') && statement.includes('member_periods'));
  const meanwhile = await sockets.bobOnB.client.call({ type: 'send_message', conversation_id: conversation, content: 'meanwhile' });
  assert.equal(meanwhile.success, true);
  await read;
  // (Time for node1 to take that read's answer: it would deliver Alice's message now as another node's,
  // and again as its own once the answers come.)
  await sleep(300);
  proxy.release();
  const late = await held;
  assert.equal(late.success, true);
  assert.ok(sentSeq(late) < sentSeq(meanwhile), 'the batch numbered first has the lower seq');
  await until('both messages everywhere', () => Object.values(sockets).every((socket) => socket.seqs.includes(sentSeq(late)) && socket.seqs.includes(sentSeq(meanwhile))));
  const { aliceOnA, aliceOnB, bobOnA, bobOnB } = sockets;
  await likeSync({ aliceOnA: [aliceOnA, aliceOnB], aliceOnB: [aliceOnB, aliceOnB], bobOnA: [bobOnA, bobOnB], bobOnB: [bobOnB, bobOnB] });
  assert.deepEqual(a.logs.filter((line) => line.level === 'error'), [], 'node1 logged no error');
  await logHasNoGaps(database);
});

test('a member removed on another node while their send is still open: the removal waits for it, so the message comes before the removal in the log, never after it', { timeout: 60_000 }, async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const setup = await twoNodes(t);
  const { database, b, alice, sockets } = setup;
  // Bob removes Alice on node2 while her send is open: it waits for her transaction (her member row is
  // locked), or, as before, it commits at once and her message is then stored and numbered after her removal.
  const race = await heldSendAgainst(t, setup, sockets.bobOnB, [(await member(b)).username], (id) => ({ type: 'remove_member', conversation_id: id, username: alice.username }), 'DELETE FROM members', 'removal');
  const removed = race.answered;
  // What Alice's socket got is what her sync has: the message, then her removal, nothing of the group after.
  await until('the removal on Alice\'s socket', () => sockets.aliceOnA.seqs.includes(sentSeq(removed)));
  await likeSync({ aliceOnA: [sockets.aliceOnA, sockets.aliceOnB] });
  const after = await sockets.aliceOnA.client.call({ type: 'send_message', conversation_id: race.group, content: 'no longer a member' });
  assert.equal((after as { code?: string }).code, 'not_found');
  await logHasNoGaps(database);
});

test('a block made on another node while the blocked person\'s send is still open: the block waits for it, so no message decided before the block is numbered after it', { timeout: 60_000 }, async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const setup = await twoNodes(t);
  const { alice, b, sockets } = setup;
  // Carol blocks Alice on node2 while Alice's send (which read who blocks her) is open.
  const carolOnB = await tapped(b, await member(b));
  const race = await heldSendAgainst(t, setup, carolOnB, [], () => ({ type: 'block_user', username: alice.username }), 'FOR UPDATE', 'block');
  const blocked = race.answered;
  // From the block on, Carol's socket has what her sync has (none of Alice's events: sync hides them).
  const after = await sockets.aliceOnA.client.call({ type: 'send_message', conversation_id: race.group, content: 'after the block' });
  const synced = (await syncAll(carolOnB.client, sentSeq(blocked) - 1)).map((event) => event.seq);
  await until('Carol\'s socket up to her sync', () => synced.every((seq) => carolOnB.seqs.includes(seq)));
  assert.deepEqual(carolOnB.seqs.filter((seq) => seq >= sentSeq(blocked)), synced.filter((seq) => seq <= Math.max(...carolOnB.seqs)));
  assert.ok(!carolOnB.seqs.includes(sentSeq(after)), 'nothing Alice sent after the block reached Carol');
});
