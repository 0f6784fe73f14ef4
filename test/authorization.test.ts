// No existence leak: for every event that names a conversation or a message, a non-member gets the
// answer a missing one gets, and can neither read, change nor hear anything of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { person, settle } from './helpers/clients.ts';
import type { Client } from '../protocol/client.ts';

const missing = 987_654;

/** The reply to a frame, with the id it names replaced, so two replies can be compared. */
async function answer(client: Client, frame: Record<string, unknown>, id: number) {
  const { ref: _, ...reply } = await client.call(frame);
  return JSON.parse(JSON.stringify(reply).replace(new RegExp(`\\b${id}\\b`, 'g'), '<id>'));
}

test('a non-member learns nothing about a conversation or its messages', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const eve = await person(server, 'eve');
  const secret = await alice.client.request('create_conversation', { name: 'secret plans', members: [bob.username] });
  const hidden = await alice.client.request('send_message', { conversation_id: secret.id, content: 'the plan' });
  const own = await eve.client.request('create_conversation', { name: 'eve alone', members: [] });

  const probes: { name: string; frame: (id: number) => Record<string, unknown> }[] = [
    { name: 'get_conversation_info', frame: (id) => ({ type: 'get_conversation_info', id }) },
    { name: 'get_messages', frame: (id) => ({ type: 'get_messages', conversation_id: id }) },
    { name: 'get_messages before', frame: (id) => ({ type: 'get_messages', conversation_id: id, before: 5 }) },
    { name: 'send_message', frame: (id) => ({ type: 'send_message', conversation_id: id, content: 'let me in' }) },
    { name: 'send_message, bad content', frame: (id) => ({ type: 'send_message', conversation_id: id, content: 42 }) },
    { name: 'send_message with a client_id', frame: (id) => ({ type: 'send_message', conversation_id: id, content: 'x', client_id: 'probe' }) },
  ];
  for (const probe of probes) {
    const existing = await answer(eve.client, probe.frame(secret.id), secret.id);
    const absent = await answer(eve.client, probe.frame(missing), missing);
    assert.deepEqual(existing, absent, probe.name);
    assert.equal(existing.success, false, probe.name);
    assert.equal(existing.code, 'not_found', probe.name);
  }

  // A message id from a conversation the caller is not in is as unknown as a missing one.
  const replyTo = async (id: number) => answer(eve.client, { type: 'send_message', conversation_id: own.id, content: 'x', reply_id: id }, id);
  assert.deepEqual(await replyTo(hidden.id), await replyTo(missing));

  assert.deepEqual((await eve.client.request('get_conversations')).map(({ id, name }) => ({ id, name })), [{ id: own.id, name: 'eve alone' }], 'not listed');
  const history = await bob.client.request('get_messages', { conversation_id: secret.id });
  assert.deepEqual(history.messages.map((m) => m.content), ['the plan'], 'nothing was added by the probes');

  await alice.client.request('send_message', { conversation_id: secret.id, content: 'more plans' });
  await settle(eve.client);
  assert.deepEqual(eve.pushes, [], 'a non-member is told nothing');
});
