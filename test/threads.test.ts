// Threads: replies under a root message, the root's summary wherever it is shown, reading a thread, following threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { expectError, person, pushed, settle, syncAll, waitFor } from './helpers/clients.ts';

test('threads', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const carol = await person(server, 'carol');
  const eve = await person(server, 'eve');
  const room = await alice.client.request('create_conversation', { name: 'team', members: [bob.username, carol.username] });
  const other = await alice.client.request('create_conversation', { name: 'elsewhere', members: [bob.username] });
  const id = room.id;

  await t.test('send_message with thread_id: replies carry it, a reply to a reply joins the root\'s thread, the root carries the summary', async () => {
    const root = await alice.client.request('send_message', { conversation_id: id, content: 'shall we ship?' });
    assert.deepEqual([root.thread_id, root.also_to_conversation, root.thread], [null, false, null]);
    const first = await bob.client.request('send_message', { conversation_id: id, content: 'yes', thread_id: root.id });
    assert.deepEqual([first.thread_id, first.also_to_conversation, first.thread, first.reply_id], [root.id, false, null, null]);
    const pushedReply = await waitFor(carol.pushes, (push) => push.type === 'send_message' && push.data.id === first.id);
    assert.deepEqual(pushedReply.data, first, 'every member is told of a reply, as of any message');
    const second = await carol.client.request('send_message', { conversation_id: id, content: 'on friday', thread_id: first.id, reply_id: first.id });
    assert.equal(second.thread_id, root.id, 'a reply to a reply joins the root\'s thread');
    assert.equal(second.reply_to?.id, first.id);
    const third = await bob.client.request('send_message', { conversation_id: id, content: 'agreed', thread_id: root.id });
    const page = await carol.client.request('get_messages', { conversation_id: id, limit: 4 });
    assert.deepEqual(page.messages.map((message) => [message.content, message.thread_id]), [['agreed', root.id], ['on friday', root.id], ['yes', root.id], ['shall we ship?', null]]);
    assert.deepEqual(page.messages[3]!.thread, { reply_count: 3, last_reply_id: third.id, last_reply_at: third.sent_at, participants: [bob.username, carol.username] });
    // The root as an edit shows it, and as a reaction pushes it.
    const edited = await alice.client.request('edit_message', { message_id: root.id, content: 'shall we ship on friday?' });
    assert.deepEqual(edited.thread, page.messages[3]!.thread);
    const reacted = await waitFor(bob.pushes, (push) => push.type === 'edit_message' && push.data.id === root.id);
    assert.deepEqual((reacted.data as typeof edited).thread, edited.thread);
    const found = await bob.client.request('search_messages', { query: 'friday', conversation_id: id });
    assert.deepEqual(found.messages.map((message) => [message.id, message.thread_id, message.thread?.reply_count ?? null]), [[second.id, root.id, null], [root.id, null, 3]], 'replies are searchable; hits carry the summary');
  });

  await t.test('send_message with thread_id: the thread must be a message of the same conversation the sender can see', async () => {
    const elsewhere = await alice.client.request('send_message', { conversation_id: other.id, content: 'not here' });
    await expectError(bob.client, { type: 'send_message', conversation_id: id, content: 'x', thread_id: elsewhere.id },
      `No such ${elsewhere.id} message id found in ${id} conversation_id to reply in the thread of`, 'not_found');
    await expectError(bob.client, { type: 'send_message', conversation_id: id, content: 'x', thread_id: 99_999_999 },
      `No such 99999999 message id found in ${id} conversation_id to reply in the thread of`, 'not_found');
    await expectError(bob.client, { type: 'send_message', conversation_id: id, content: 'x', thread_id: 'one' }, 'if thread_id is provided then expected integer', 'bad_request');
    await expectError(bob.client, { type: 'send_message', conversation_id: id, content: 'x', also_to_conversation: true },
      'also_to_conversation is for a thread reply: give thread_id too', 'bad_request');
    await expectError(bob.client, { type: 'send_message', conversation_id: id, content: 'x', thread_id: 1, also_to_conversation: 'yes' }, 'also_to_conversation must be true or false', 'bad_request');
    await expectError(eve.client, { type: 'send_message', conversation_id: id, content: 'x', thread_id: 1 }, `${eve.username} not part of conversation with ${id} id`, 'not_found');
    // Cleared messages are gone for the one who cleared them.
    const old = await alice.client.request('send_message', { conversation_id: other.id, content: 'old news' });
    await bob.client.request('clear_chat', { conversation_id: other.id });
    await expectError(bob.client, { type: 'send_message', conversation_id: other.id, content: 'x', thread_id: old.id },
      `No such ${old.id} message id found in ${other.id} conversation_id to reply in the thread of`, 'not_found');
    assert.equal((await alice.client.request('send_message', { conversation_id: other.id, content: 'still mine', thread_id: old.id })).thread_id, old.id);
  });

  await t.test('client_id: a reply sent again is the reply sent before, pushed once', async () => {
    const root = await carol.client.request('send_message', { conversation_id: id, content: 'idempotent root' });
    const once = await bob.client.request('send_message', { conversation_id: id, content: 'once', thread_id: root.id, client_id: 'reply-1' });
    const again = await bob.client.request('send_message', { conversation_id: id, content: 'once', thread_id: root.id, client_id: 'reply-1' });
    assert.deepEqual(again, once);
    await settle(alice.client, bob.client);
    assert.equal(pushed(alice.pushes, 'send_message').filter((message) => message.id === once.id).length, 1);
    const [listed] = (await alice.client.request('get_messages', { conversation_id: id, before: once.id, limit: 1 })).messages;
    assert.equal(listed!.thread?.reply_count, 1, 'counted once');
  });

  await t.test('sync replays replies in seq order with their thread_id', async () => {
    const root = await alice.client.request('send_message', { conversation_id: id, content: 'sync root' });
    const reply = await bob.client.request('send_message', { conversation_id: id, content: 'sync reply', thread_id: root.id });
    await settle(carol.client);
    const replayed = (await syncAll(carol.client)).filter((event) => event.type === 'send_message');
    const [rootAt, replyAt] = [replayed.findIndex((event) => (event.data as { id: number }).id === root.id), replayed.findIndex((event) => (event.data as { id: number }).id === reply.id)];
    assert.ok(rootAt >= 0 && replyAt > rootAt);
    assert.deepEqual(replayed[replyAt]!.data, reply);
  });
});
