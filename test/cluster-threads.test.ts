// Threads across two nodes: a reply sent on one node reaches the members' sockets on the other in seq
// order, as sync has it; following and reading a thread on one node is told to the caller's sockets on the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needs } from './helpers/installed.ts';
import type { TestServer } from './helpers/server.ts';
import { syncAll } from './helpers/clients.ts';
import { member, startNodes, tapped, type Tapped } from './helpers/cluster.ts';
import { until } from './helpers/wait.ts';

/** The logged events a socket was pushed, receipts aside (they come half a second after the messages). */
const loggedSeqs = (socket: Tapped) => socket.envelopes.flatMap((envelope) => {
  const { seq } = envelope as { seq?: number };
  return seq === undefined || envelope.type === 'receipt' ? [] : [seq];
});

test('a thread across two nodes: replies, summaries, following and reading', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const [a, b] = (await startNodes(t, 2)) as unknown as [TestServer, TestServer];
  const alice = await member(a);
  const bob = await member(b);
  const aliceOnA = await tapped(a, alice);
  const aliceOnB = await tapped(b, alice);
  const bobOnB = await tapped(b, bob);

  const room = await aliceOnA.client.request('create_conversation', { name: 'across', members: [bob.username] });
  const root = await aliceOnA.client.call({ type: 'send_message', conversation_id: room.id, content: 'a root on node1' });
  const rootId = ((root as { data: unknown }).data as { id: number }).id;
  const replies: { id: number; seq: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const reply = await bobOnB.client.call({ type: 'send_message', conversation_id: room.id, content: `reply ${i} on node2`, thread_id: rootId });
    assert.equal(reply.success, true, JSON.stringify(reply));
    const { ref: _, ...pushed } = reply as typeof reply & { seq: number };
    replies.push({ id: ((reply as { data: unknown }).data as { id: number }).id, seq: pushed.seq });
    await until('the reply on node1', () => aliceOnA.seqs.includes(pushed.seq));
    assert.deepEqual(aliceOnA.envelopes.find((envelope) => (envelope as { seq?: number }).seq === pushed.seq), pushed);
  }
  assert.deepEqual(replies.map((reply) => ((aliceOnA.envelopes.find((envelope) => (envelope as { seq?: number }).seq === reply.seq) as { data: unknown }).data as { thread_id: number }).thread_id), [rootId, rootId, rootId]);

  // The summary and the follows are the same read from either node.
  const summary = { reply_count: 3, last_reply_id: replies[2]!.id, participants: [bob.username] };
  for (const socket of [aliceOnA, aliceOnB]) {
    const thread = await socket.client.request('get_thread', { message_id: rootId });
    assert.deepEqual({ ...thread.root.thread, last_reply_at: undefined }, { ...summary, last_reply_at: undefined });
    assert.deepEqual(thread.messages.map((message) => message.id), replies.map((reply) => reply.id).reverse());
    assert.deepEqual((await socket.client.request('get_threads')).threads.map((item) => [item.root.id, item.unread_count]), [[rootId, 3]], 'alice started it: she follows it');
  }
  const read = await aliceOnA.client.call({ type: 'mark_thread_read', message_id: rootId });
  const readSeq = (read as { seq?: number }).seq!;
  await until('the read point on node2', () => aliceOnB.seqs.includes(readSeq));
  assert.deepEqual((aliceOnB.envelopes.find((envelope) => envelope.type === 'mark_thread_read') as { data: unknown }).data, { message_id: rootId, read_id: replies[2]!.id });
  assert.deepEqual((await aliceOnB.client.request('get_threads', { unread_only: true })).threads, []);
  const unfollowed = await aliceOnB.client.call({ type: 'unfollow_thread', message_id: rootId });
  await until('the unfollow on node1', () => aliceOnA.seqs.includes((unfollowed as { seq?: number }).seq!));

  // Every socket got its log in seq order, as sync has it.
  await until('the last events everywhere', () => aliceOnB.seqs.includes(replies[2]!.seq) && bobOnB.seqs.includes(replies[2]!.seq));
  for (const [socket, who] of [[aliceOnA, aliceOnA], [aliceOnB, aliceOnA], [bobOnB, bobOnB]] as const) {
    const seqs = loggedSeqs(socket);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
    const log = (await syncAll(who.client)).filter((event) => event.type !== 'receipt').map((event) => event.seq);
    assert.deepEqual(seqs.filter((seq) => log.includes(seq)), seqs, 'nothing pushed that sync does not have');
  }

  // Replies from both nodes at once, in one thread: each counted once, the newest the greatest id.
  const burst = await Promise.all([aliceOnA, bobOnB].flatMap((socket, side) => Array.from({ length: 40 }, (_, i) =>
    socket.client.request('send_message', { conversation_id: room.id, content: `burst ${side}:${i}`, thread_id: rootId }))));
  const after = await aliceOnB.client.request('get_thread', { message_id: rootId, limit: 1 });
  assert.deepEqual([after.root.thread?.reply_count, after.root.thread?.last_reply_id], [3 + burst.length, Math.max(...burst.map((reply) => reply.id))]);
  assert.deepEqual(after.root.thread?.participants, [bob.username, alice.username]);
});

