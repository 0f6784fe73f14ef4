// Retention across the nodes of a cluster: one node deletes a period's expired messages, and members on
// every node hear of it once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needs } from './helpers/installed.ts';
import { member, startNodes, tapped } from './helpers/cluster.ts';
import { onDatabase } from './helpers/store.ts';
import { until } from './helpers/wait.ts';

test('the retention job runs once a period across the nodes; members on every node get messages_expired once', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const nodes = await startNodes(t, 2, { RETENTION_ROUND_SECONDS: '1', LOG_LEVEL: 'debug' });
  const [a, b] = nodes as unknown as [(typeof nodes)[0], (typeof nodes)[0]];
  const alice = await tapped(a, await member(a));
  const bobMember = await member(b);
  const bob = await tapped(b, bobMember);
  const room = await alice.client.request('create_conversation', { name: 'short memory', members: [bobMember.username] });
  await alice.client.request('set_retention', { conversation_id: room.id, days: 1 });
  const old = await alice.client.request('send_message', { conversation_id: room.id, content: 'yesterday\'s news' });
  await alice.client.request('send_message', { conversation_id: room.id, content: 'today' });
  await onDatabase(a, (db) => db.prepare('UPDATE messages SET sent_at = sent_at - $1 WHERE id = $2').run(2 * 86_400, old.id));

  const expired = (envelopes: typeof alice.envelopes) => envelopes.filter((envelope) => envelope.type === 'messages_expired');
  await until(() => [expired(alice.envelopes), expired(bob.envelopes)], () => expired(alice.envelopes).length > 0 && expired(bob.envelopes).length > 0);
  // Rounds go on every second: a second deletion would have come by now.
  const rounds = () => nodes.flatMap((node, i) => node.logs.filter((line) => line.msg === 'periodic round' && line.job === 'retention' && line.at_start !== true).map((line) => ({ node: i + 1, period: line.period as number })));
  const seen = rounds().length;
  await until(rounds, () => rounds().length >= seen + 3);
  for (const socket of [alice, bob]) {
    assert.deepEqual(expired(socket.envelopes).map((envelope) => (envelope as { data: unknown }).data), [{ conversation_id: room.id, through_id: old.id }]);
  }
  assert.deepEqual((await bob.client.request('get_messages', { conversation_id: room.id })).messages.map((message) => message.content), ['today']);
  const periods = rounds().map((round) => round.period);
  assert.equal(new Set(periods).size, periods.length, `no period ran twice: ${JSON.stringify(rounds())}`);
  assert.equal(nodes.flatMap((node) => node.logs.filter((line) => line.msg === 'deleted expired messages')).length, 1, 'one node deleted it');
  for (const node of nodes) assert.deepEqual(node.logs.filter((line) => line.level === 'error'), []);
});
