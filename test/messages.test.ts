// Messages after sending: paging both ways, edits, deletions to tombstones, reactions seen per reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { expectError, person, pushed, settle, syncAll, waitFor } from './helpers/clients.ts';

test('messages', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const eve = await person(server, 'eve');
  const room = await alice.client.request('create_conversation', { name: 'talk', members: [bob.username] });
  const id = room.id;

  await t.test('get_messages: after (oldest first) and limit', async () => {
    const sent: number[] = [];
    for (let i = 0; i < 5; i++) sent.push((await alice.client.request('send_message', { conversation_id: id, content: `m${i}` })).id);
    const newest = await bob.client.request('get_messages', { conversation_id: id, limit: 2 });
    assert.deepEqual(newest.messages.map((message) => message.content), ['m4', 'm3']);
    const older = await bob.client.request('get_messages', { conversation_id: id, limit: 2, before: sent[3] });
    assert.deepEqual(older.messages.map((message) => message.content), ['m2', 'm1']);
    const forward = await bob.client.request('get_messages', { conversation_id: id, after: sent[1], limit: 2 });
    assert.deepEqual(forward.messages.map((message) => message.content), ['m2', 'm3'], 'oldest first from after');
    assert.deepEqual((await bob.client.request('get_messages', { conversation_id: id, after: 0 })).messages.map((message) => message.content), ['m0', 'm1', 'm2', 'm3', 'm4']);
    for (const limit of [0, 101, 1.5, 'x']) await expectError(bob.client, { type: 'get_messages', conversation_id: id, limit }, 'limit must be a whole number from 1 to 100', 'bad_request');
    await expectError(bob.client, { type: 'get_messages', conversation_id: id, after: 'x' }, 'expected after as integer', 'bad_request');
  });

  await t.test('edit_message: the sender only; every member gets the new content', async () => {
    const message = await alice.client.request('send_message', { conversation_id: id, content: 'teh typo' });
    await expectError(bob.client, { type: 'edit_message', message_id: message.id, content: 'hijacked' }, `only the sender of message ${message.id} can edit it`, 'forbidden');
    await expectError(eve.client, { type: 'edit_message', message_id: message.id, content: 'x' }, `no message with id ${message.id}`, 'not_found');
    await expectError(alice.client, { type: 'edit_message', message_id: 999999, content: 'x' }, 'no message with id 999999', 'not_found');
    await expectError(alice.client, { type: 'edit_message', message_id: message.id, content: '  ' }, 'message content should be non empty string', 'bad_request');
    await expectError(alice.client, { type: 'edit_message', message_id: message.id, content: 'x'.repeat(4001) }, 'message content may be at most 4000 characters', 'bad_request');
    await expectError(alice.client, { type: 'edit_message', message_id: 'one', content: 'x' }, 'expected message_id as integer', 'bad_request');
    const edited = await alice.client.request('edit_message', { message_id: message.id, content: 'the typo, fixed' });
    assert.equal(edited.content, 'the typo, fixed');
    assert.ok(edited.edited_at !== null && edited.edited_at >= message.sent_at);
    assert.deepEqual({ ...edited, content: message.content, edited_at: null }, message, 'only content and edited_at change');
    const seen = await waitFor(bob.pushes, (push) => push.type === 'edit_message' && push.data.id === message.id);
    assert.deepEqual(seen.data, edited);
    const page = await bob.client.request('get_messages', { conversation_id: id, limit: 1 });
    assert.deepEqual([page.messages[0]!.content, page.messages[0]!.edited_at], ['the typo, fixed', edited.edited_at]);
    assert.deepEqual(pushed(eve.pushes, 'edit_message'), [], 'non-members hear nothing');
  });

  await t.test('react and unreact: one of each emoji per person; each reader sees their own `me`', async () => {
    const message = await bob.client.request('send_message', { conversation_id: id, content: 'react to me' });
    for (const emoji of ['', 'ab', '👍👍', 'x'.repeat(40), 5]) {
      await expectError(alice.client, { type: 'react', message_id: message.id, emoji }, 'emoji must be a single emoji', 'bad_request');
    }
    await expectError(eve.client, { type: 'react', message_id: message.id, emoji: '👍' }, `no message with id ${message.id}`, 'not_found');
    const first = await alice.client.request('react', { message_id: message.id, emoji: '👍' });
    assert.deepEqual(first.reactions, [{ emoji: '👍', count: 1, me: true }]);
    await expectError(alice.client, { type: 'react', message_id: message.id, emoji: '👍' }, `you already reacted to message ${message.id} with 👍`, 'conflict');
    const bobSees = await waitFor(bob.pushes, (push) => push.type === 'react' && push.data.id === message.id);
    assert.deepEqual((bobSees.data as typeof first).reactions, [{ emoji: '👍', count: 1, me: false }], 'pushed with the receiver\'s own `me`');
    const both = await bob.client.request('react', { message_id: message.id, emoji: '👍' });
    assert.deepEqual(both.reactions, [{ emoji: '👍', count: 2, me: true }]);
    const flag = await bob.client.request('react', { message_id: message.id, emoji: '🇫🇷' });
    assert.deepEqual(flag.reactions, [{ emoji: '👍', count: 2, me: true }, { emoji: '🇫🇷', count: 1, me: true }], 'in the order first used');
    const family = await alice.client.request('react', { message_id: message.id, emoji: '👨‍👩‍👧' });
    assert.deepEqual(family.reactions.map((reaction) => [reaction.emoji, reaction.me]), [['👍', true], ['🇫🇷', false], ['👨‍👩‍👧', true]]);
    const page = await bob.client.request('get_messages', { conversation_id: id, limit: 1 });
    assert.deepEqual(page.messages[0]!.reactions.map((reaction) => [reaction.emoji, reaction.count, reaction.me]), [['👍', 2, true], ['🇫🇷', 1, true], ['👨‍👩‍👧', 1, false]]);
    await expectError(alice.client, { type: 'unreact', message_id: message.id, emoji: '🎉' }, `you have not reacted to message ${message.id} with 🎉`, 'not_found');
    const taken = await alice.client.request('unreact', { message_id: message.id, emoji: '👍' });
    assert.deepEqual(taken.reactions, [{ emoji: '👍', count: 1, me: false }, { emoji: '🇫🇷', count: 1, me: false }, { emoji: '👨‍👩‍👧', count: 1, me: true }]);
    await settle(alice.client, bob.client);
    const replayed = (await syncAll(bob.client)).filter((event) => event.type === 'unreact');
    assert.deepEqual(replayed.at(-1)!.data, { ...taken, reactions: [{ emoji: '👍', count: 1, me: true }, { emoji: '🇫🇷', count: 1, me: true }, { emoji: '👨‍👩‍👧', count: 1, me: false }] }, 'sync shows bob his own `me`');
    const emojis = ['😀', '😃', '😄', '😁', '😆', '😅', '🤣', '😂', '🙂', '🙃', '😉', '😊', '😇', '🥰', '😍', '🤩', '😘', '😗', '😚', '😙'];
    const many = await alice.client.request('send_message', { conversation_id: id, content: 'many' });
    for (const emoji of emojis) await bob.client.request('react', { message_id: many.id, emoji });
    await expectError(bob.client, { type: 'react', message_id: many.id, emoji: '🤪' }, 'at most 20 different reactions per person on one message', 'bad_request');
  });

  await t.test('delete_message: sender or admin; a tombstone stays and the content leaves the log', async () => {
    const secret = await bob.client.request('send_message', { conversation_id: id, content: 'my password is hunter2' });
    const reply = await alice.client.request('send_message', { conversation_id: id, content: 'do not post that', reply_id: secret.id });
    await bob.client.request('react', { message_id: secret.id, emoji: '😱' });
    await expectError(eve.client, { type: 'delete_message', message_id: secret.id }, `no message with id ${secret.id}`, 'not_found');
    const carol = await person(server, 'carol');
    await alice.client.request('add_members', { conversation_id: id, members: [carol.username] });
    await expectError(carol.client, { type: 'delete_message', message_id: secret.id }, `only the sender of message ${secret.id}, or an owner or admin, can delete it`, 'forbidden');
    const gone = await bob.client.request('delete_message', { message_id: secret.id });
    assert.deepEqual({ ...gone, sent_at: 0 }, { ...secret, sent_at: 0, content: '', deleted: true, reactions: [] });
    await waitFor(alice.pushes, (push) => push.type === 'delete_message' && push.data.id === secret.id);
    await expectError(bob.client, { type: 'delete_message', message_id: secret.id }, `message ${secret.id} was deleted`, 'conflict');
    await expectError(bob.client, { type: 'edit_message', message_id: secret.id, content: 'x' }, `message ${secret.id} was deleted`, 'conflict');
    await expectError(alice.client, { type: 'react', message_id: secret.id, emoji: '👍' }, `message ${secret.id} was deleted`, 'conflict');
    const page = await alice.client.request('get_messages', { conversation_id: id, after: secret.id - 1, limit: 2 });
    assert.deepEqual(page.messages.map((message) => [message.id, message.content, message.deleted]), [[secret.id, '', true], [reply.id, 'do not post that', false]], 'the tombstone keeps its place');
    assert.deepEqual(page.messages[1]!.reply_to, { id: secret.id, sender_username: bob.username, content: '', deleted: true, attachments: [] }, 'replies show it deleted');
    const log = JSON.stringify(await syncAll(alice.client));
    assert.ok(!log.includes('hunter2'), 'no event in the log still holds the content');
    // An admin may delete anyone's message.
    const rude = await carol.client.request('send_message', { conversation_id: id, content: 'rude' });
    const removed = await alice.client.request('delete_message', { message_id: rude.id });
    assert.equal(removed.deleted, true);
  });
});
