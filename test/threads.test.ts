// Threads: replies under a root message, the root's summary wherever it is shown, reading a thread, following threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { awayWithDevice, drained, pushServer, receivedBy, waitForPushes, type Away } from './helpers/push-server.ts';
import type { Client } from '../protocol/client.ts';
import { expectError, person, pushed, settle, socket, syncAll, waitFor } from './helpers/clients.ts';

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

  await t.test('get_thread: the root and a page of its replies, both ways; a reply names its thread; non-members learn nothing', async () => {
    const root = await alice.client.request('send_message', { conversation_id: id, content: 'paged root' });
    const replies: number[] = [];
    for (let i = 0; i < 5; i++) replies.push((await bob.client.request('send_message', { conversation_id: id, content: `r${i}`, thread_id: root.id })).id);
    const newest = await carol.client.request('get_thread', { message_id: root.id, limit: 2 });
    assert.equal(newest.conversation_id, id);
    assert.deepEqual([newest.root.id, newest.root.content, newest.root.thread?.reply_count], [root.id, 'paged root', 5]);
    assert.deepEqual(newest.messages.map((message) => message.content), ['r4', 'r3']);
    assert.deepEqual((await carol.client.request('get_thread', { message_id: root.id, before: replies[3], limit: 2 })).messages.map((message) => message.content), ['r2', 'r1']);
    assert.deepEqual((await carol.client.request('get_thread', { message_id: replies[2]!, after: replies[1], limit: 2 })).messages.map((message) => message.content), ['r2', 'r3'], 'a reply names its thread; oldest first from after');
    const lonely = await alice.client.request('send_message', { conversation_id: id, content: 'no replies' });
    const alone = await carol.client.request('get_thread', { message_id: lonely.id });
    assert.deepEqual([alone.root.thread, alone.messages], [null, []], 'a message with no replies is a thread of none');
    await expectError(carol.client, { type: 'get_thread', message_id: root.id, before: 1, after: 1 }, 'give before or after, not both', 'bad_request');
    await expectError(carol.client, { type: 'get_thread', message_id: 'x' }, 'expected message_id as integer', 'bad_request');
    await expectError(carol.client, { type: 'get_thread', message_id: root.id, limit: 101 }, 'limit must be a whole number from 1 to 100', 'bad_request');
    await expectError(eve.client, { type: 'get_thread', message_id: root.id }, `no message with id ${root.id}`, 'not_found');
  });

  await t.test('get_messages without_thread_replies: the main list leaves replies out, but those also sent to the conversation', async () => {
    const root = await alice.client.request('send_message', { conversation_id: id, content: 'main root' });
    await bob.client.request('send_message', { conversation_id: id, content: 'thread only', thread_id: root.id });
    const also = await bob.client.request('send_message', { conversation_id: id, content: 'to both', thread_id: root.id, also_to_conversation: true });
    assert.deepEqual([also.thread_id, also.also_to_conversation], [root.id, true]);
    const after = await alice.client.request('send_message', { conversation_id: id, content: 'main after' });
    const main = await carol.client.request('get_messages', { conversation_id: id, limit: 3, without_thread_replies: true });
    assert.deepEqual(main.messages.map((message) => message.content), ['main after', 'to both', 'main root']);
    const forward = await carol.client.request('get_messages', { conversation_id: id, after: root.id - 1, without_thread_replies: true });
    assert.deepEqual(forward.messages.map((message) => message.content), ['main root', 'to both', 'main after']);
    const everything = await carol.client.request('get_messages', { conversation_id: id, limit: 4 });
    assert.deepEqual(everything.messages.map((message) => message.content), ['main after', 'to both', 'thread only', 'main root'], 'by default, as the seed\'s list: everything');
    const thread = await carol.client.request('get_thread', { message_id: root.id });
    assert.deepEqual(thread.messages.map((message) => message.content), ['to both', 'thread only']);
    assert.equal(after.thread_id, null);
    await expectError(carol.client, { type: 'get_messages', conversation_id: id, without_thread_replies: 1 }, 'without_thread_replies must be true or false', 'bad_request');
  });

  await t.test('list_conversations: a reply that stays in its thread is neither unread nor the last message there (get_threads counts it); one also sent is both', async () => {
    const counted = await alice.client.request('create_conversation', { name: 'counted', members: [bob.username] });
    const root = await alice.client.request('send_message', { conversation_id: counted.id, content: 'the plan' });
    await bob.client.request('mark_read', { conversation_id: counted.id, message_id: root.id });
    await bob.client.request('follow_thread', { message_id: root.id });
    const quieter = await alice.client.request('create_conversation', { name: 'quieter', members: [bob.username] });
    const elsewhere = await alice.client.request('send_message', { conversation_id: quieter.id, content: 'meanwhile' });
    await alice.client.request('send_message', { conversation_id: counted.id, content: 'thread only', thread_id: root.id });
    const seen = async () => {
      const listed = (await bob.client.request('list_conversations', { sort: 'recent' })).conversations;
      const item = listed.find((conversation) => conversation.id === counted.id)!;
      const threads = (await bob.client.request('get_threads', { conversation_id: counted.id })).threads.map((thread) => [thread.root.id, thread.unread_count]);
      return { unread: item.unread_count, last: item.last_message?.id, first: listed[0]!.id, threads };
    };
    assert.deepEqual(await seen(), { unread: 0, last: root.id, first: quieter.id, threads: [[root.id, 1]] }, 'the conversation stays as it was; the thread has one unread');
    assert.equal((await bob.client.request('get_conversations', {})).find((conversation) => conversation.id === counted.id)!.unread_count, 0);
    const also = await alice.client.request('send_message', { conversation_id: counted.id, content: 'to both', thread_id: root.id, also_to_conversation: true });
    assert.deepEqual(await seen(), { unread: 1, last: also.id, first: counted.id, threads: [[root.id, 2]] }, 'a reply also sent counts in both');
    assert.ok(elsewhere.id < also.id);
    // Replying in the thread is not reading the main list: bob's unread stays; sending to the conversation reads it.
    await bob.client.request('send_message', { conversation_id: counted.id, content: 'a reply of mine', thread_id: root.id });
    assert.equal((await seen()).unread, 1);
    await bob.client.request('send_message', { conversation_id: counted.id, content: 'mine, also sent', thread_id: root.id, also_to_conversation: true });
    assert.equal((await seen()).unread, 0);
  });

  await t.test('edit, delete and react inside a thread; deleting the root keeps the thread readable', async () => {
    const root = await carol.client.request('send_message', { conversation_id: id, content: 'to be deleted' });
    const reply = await bob.client.request('send_message', { conversation_id: id, content: 'a reply', thread_id: root.id });
    const edited = await bob.client.request('edit_message', { message_id: reply.id, content: 'a reply, edited' });
    assert.deepEqual([edited.thread_id, edited.content], [root.id, 'a reply, edited']);
    const reacted = await alice.client.request('react', { message_id: reply.id, emoji: '👍' });
    assert.deepEqual([reacted.thread_id, reacted.reactions], [root.id, [{ emoji: '👍', count: 1, me: true }]]);
    const pushedReaction = await waitFor(carol.pushes, (push) => push.type === 'react' && push.data.id === reply.id);
    assert.equal((pushedReaction.data as typeof reacted).thread_id, root.id);
    const second = await alice.client.request('send_message', { conversation_id: id, content: 'gone soon', thread_id: root.id });
    const gone = await alice.client.request('delete_message', { message_id: second.id });
    assert.deepEqual([gone.thread_id, gone.deleted, gone.content], [root.id, true, '']);
    const tombstone = await carol.client.request('delete_message', { message_id: root.id });
    assert.deepEqual([tombstone.deleted, tombstone.thread?.reply_count, tombstone.thread?.last_reply_id], [true, 2, second.id], 'a deleted root keeps its summary');
    const thread = await bob.client.request('get_thread', { message_id: root.id });
    assert.deepEqual([thread.root.deleted, thread.root.content], [true, '']);
    assert.deepEqual(thread.messages.map((message) => [message.content, message.deleted]), [['', true], ['a reply, edited', false]], 'its replies stay readable');
    const later = await bob.client.request('send_message', { conversation_id: id, content: 'still talking', thread_id: root.id });
    assert.equal(later.thread_id, root.id, 'and it goes on');
  });

  await t.test('following: starting, replying and being mentioned follow; get_threads lists with unread counts; mark_thread_read; unfollow', async () => {
    const dave = await person(server, 'dave');
    const group = await dave.client.request('create_conversation', { name: 'follows', members: [alice.username, bob.username, carol.username] });
    const root = await dave.client.request('send_message', { conversation_id: group.id, content: 'who is in?' });
    assert.deepEqual(await dave.client.request('get_threads'), { threads: [], next: null }, 'a message with no replies is not listed');
    const yes = await bob.client.request('send_message', { conversation_id: group.id, content: `me, and @${carol.username}?`, thread_id: root.id });
    const listed = async (who: typeof dave, query: { conversation_id?: number; unread_only?: boolean } = {}) =>
      (await who.client.request('get_threads', { ...query, conversation_id: query.conversation_id ?? group.id })).threads.map((item) => [item.root.id, item.unread_count]);
    assert.deepEqual(await listed(dave), [[root.id, 1]], 'the root\'s sender follows the thread it started');
    assert.deepEqual(await listed(bob), [[root.id, 0]], 'a replier follows, their own reply read');
    assert.deepEqual(await listed(carol), [[root.id, 1]], 'a mentioned member follows');
    assert.deepEqual(await listed(alice), [], 'others do not');
    const followed = await dave.client.request('get_threads', { conversation_id: group.id });
    assert.deepEqual(followed.threads[0]!.root.thread, { reply_count: 1, last_reply_id: yes.id, last_reply_at: yes.sent_at, participants: [bob.username] });
    assert.equal(followed.threads[0]!.root.conversation_id, group.id);

    const other = await socket(server, alice.token);
    assert.deepEqual(await alice.client.request('follow_thread', { message_id: yes.id }), { message_id: root.id, following: true }, 'a reply names its thread');
    await waitFor(other.pushes, (push) => push.type === 'follow_thread' && push.data.message_id === root.id);
    await carol.client.request('send_message', { conversation_id: group.id, content: 'count me in', thread_id: root.id });
    assert.deepEqual(await listed(alice), [[root.id, 2]]);
    assert.deepEqual(await listed(alice, { unread_only: true }), [[root.id, 2]]);
    assert.deepEqual(await alice.client.request('mark_thread_read', { message_id: root.id }), { message_id: root.id, read_id: (await alice.client.request('get_thread', { message_id: root.id })).root.thread!.last_reply_id });
    await waitFor(other.pushes, (push) => push.type === 'mark_thread_read');
    assert.deepEqual(await listed(alice), [[root.id, 0]]);
    assert.deepEqual(await listed(alice, { unread_only: true }), []);

    assert.deepEqual(await dave.client.request('unfollow_thread', { message_id: root.id }), { message_id: root.id, following: false });
    await bob.client.request('send_message', { conversation_id: group.id, content: 'dave?', thread_id: root.id });
    assert.deepEqual(await listed(dave), [], 'unfollowed: no longer listed, and starting it does not follow it again');
    await bob.client.request('send_message', { conversation_id: group.id, content: `@${dave.username} are you in?`, thread_id: root.id });
    assert.deepEqual(await listed(dave), [[root.id, 4]], 'a mention follows it again');

    // Pages, newest reply first; another conversation's threads are listed without conversation_id.
    const second = await dave.client.request('send_message', { conversation_id: group.id, content: 'second root' });
    await alice.client.request('send_message', { conversation_id: group.id, content: 'on second', thread_id: second.id });
    const elsewhere = await dave.client.request('create_conversation', { name: 'elsewhere too', members: [alice.username] });
    const third = await dave.client.request('send_message', { conversation_id: elsewhere.id, content: 'third root' });
    await alice.client.request('send_message', { conversation_id: elsewhere.id, content: 'on third', thread_id: third.id });
    const first = await dave.client.request('get_threads', { limit: 2 });
    assert.deepEqual(first.threads.map((item) => item.root.id), [third.id, second.id]);
    const rest = await dave.client.request('get_threads', { limit: 2, before: first.next });
    assert.deepEqual([rest.threads.map((item) => item.root.id), rest.next], [[root.id], null]);
    await expectError(eve.client, { type: 'get_threads', conversation_id: group.id }, `${eve.username} not part of conversation with ${group.id} id`, 'not_found');
    await expectError(dave.client, { type: 'get_threads', limit: 51 }, 'limit must be a whole number from 1 to 50', 'bad_request');
    await expectError(dave.client, { type: 'get_threads', unread_only: 'yes' }, 'unread_only must be true or false', 'bad_request');
    for (const type of ['follow_thread', 'unfollow_thread', 'mark_thread_read']) {
      await expectError(eve.client, { type, message_id: root.id }, `no message with id ${root.id}`, 'not_found');
      await expectError(eve.client, { type, message_id: 'x' }, 'expected message_id as integer', 'bad_request');
    }
    // Leaving a conversation leaves its threads out.
    await alice.client.request('leave_conversation', { conversation_id: elsewhere.id });
    assert.ok(!(await alice.client.request('get_threads')).threads.some((item) => item.root.id === third.id));
  });

  await t.test('threads in direct chats and channels; participants: the first five to reply; blocks; a deleted conversation takes its threads', async () => {
    const direct = await alice.client.request('create_conversation', { kind: 'direct', members: [bob.username] });
    const said = await alice.client.request('send_message', { conversation_id: direct.id, content: 'just us' });
    assert.equal((await bob.client.request('send_message', { conversation_id: direct.id, content: 'yes, us', thread_id: said.id })).thread_id, said.id);
    const channel = await alice.client.request('create_conversation', { kind: 'channel', name: 'thread channel', members: [] });
    const people = [bob, carol, eve, await person(server, 'frank'), await person(server, 'gina'), await person(server, 'hugo')];
    for (const someone of people.slice(0, 5)) await someone.client.request('join_channel', { conversation_id: channel.id });
    await people[5]!.client.request('join_channel', { conversation_id: channel.id });
    const news = await alice.client.request('send_message', { conversation_id: channel.id, content: 'big news' });
    for (const someone of [...people].reverse()) await someone.client.request('send_message', { conversation_id: channel.id, content: `from ${someone.username}`, thread_id: news.id });
    await bob.client.request('send_message', { conversation_id: channel.id, content: 'bob again', thread_id: news.id });
    const { root } = await alice.client.request('get_thread', { message_id: news.id, limit: 1 });
    assert.deepEqual([root.thread?.reply_count, root.thread?.participants], [7, [...people].reverse().slice(0, 5).map((someone) => someone.username)]);

    // Someone you blocked: their replies are neither shown nor counted unread to you, as in the main list.
    await alice.client.request('block_user', { username: carol.username });
    const hidden = await carol.client.request('send_message', { conversation_id: channel.id, content: 'carol, blocked', thread_id: news.id });
    assert.ok(!(await alice.client.request('get_thread', { message_id: news.id })).messages.some((message) => message.id === hidden.id));
    await alice.client.request('mark_thread_read', { message_id: news.id });
    await carol.client.request('send_message', { conversation_id: channel.id, content: 'carol, still blocked', thread_id: news.id });
    assert.deepEqual((await alice.client.request('get_threads', { conversation_id: channel.id })).threads.map((item) => item.unread_count), [0]);
    await alice.client.request('unblock_user', { username: carol.username });

    await alice.client.request('delete_conversation', { conversation_id: channel.id });
    assert.ok(!(await bob.client.request('get_threads')).threads.some((item) => item.root.id === news.id));
    await expectError(bob.client, { type: 'get_thread', message_id: news.id }, `no message with id ${news.id}`, 'not_found');
  });
});

test('thread replies notify those who follow the thread, as their levels allow', async (t) => {
  const setup = await pushServer(t);
  const { server, service } = setup;
  /** Back online for one request, then away again. */
  async function asAway(someone: Away, work: (client: Client) => Promise<unknown>): Promise<void> {
    const { client } = await socket(server, someone.token);
    await work(client);
    client.close();
    await client.closed;
  }
  const count = (someone: Away) => receivedBy(service, someone.subscription).length;
  const alice = await person(server, 'alice');
  const bob = await awayWithDevice(setup, 'bob');
  const carol = await awayWithDevice(setup, 'carol');
  const dave = await awayWithDevice(setup, 'dave');
  const group = await alice.client.request('create_conversation', { name: 'threads', members: [bob.username, carol.username, dave.username] });
  for (const someone of [bob, carol, dave]) await waitForPushes(service, someone.subscription, 1);
  let root = 0;
  await asAway(bob, async (client) => (root = (await client.request('send_message', { conversation_id: group.id, content: 'a thread of mine' })).id));
  await waitForPushes(service, carol.subscription, 2);
  await waitForPushes(service, dave.subscription, 2);

  await alice.client.request('send_message', { conversation_id: group.id, content: 'in the thread', thread_id: root });
  const toBob = await waitForPushes(service, bob.subscription, 2);
  assert.deepEqual(toBob.map((item) => (item.payload as { kind: string }).kind), ['added', 'message'], 'the root\'s sender follows');
  const { preview, thread_id, unread } = toBob[1]!.payload as { preview: string; thread_id: number; unread: number };
  assert.deepEqual({ preview, thread_id, unread }, { preview: 'in the thread', thread_id: root, unread: 1 }, 'it names its thread, and counts the thread\'s unread replies (the conversation has none)');

  await asAway(dave, (client) => client.request('set_notifications', { conversation_id: group.id, level: 'mentions' }));
  await alice.client.request('send_message', { conversation_id: group.id, content: `what do you think, @${dave.username}?`, thread_id: root });
  const mentioned = await waitForPushes(service, dave.subscription, 3);
  assert.equal((mentioned[2]!.payload as { kind: string }).kind, 'mention', 'a mention in a thread notifies, whatever the thread');
  await waitForPushes(service, bob.subscription, 3);
  await alice.client.request('send_message', { conversation_id: group.id, content: 'chatter in the thread', thread_id: root });
  await waitForPushes(service, bob.subscription, 4);
  await alice.client.request('send_message', { conversation_id: group.id, content: 'for everyone', thread_id: root, also_to_conversation: true });
  await waitForPushes(service, bob.subscription, 5);
  const toCarol = await waitForPushes(service, carol.subscription, 3);
  const also = toCarol[2]!.payload as { kind: string; preview: string; thread_id: number; unread: number };
  assert.deepEqual([also.kind, also.preview, also.thread_id, also.unread], ['message', 'for everyone', root, 2], 'a reply also sent counts in the conversation (the root and it unread), and still names its thread');
  await drained(server);
  assert.deepEqual([count(bob), count(carol), count(dave)], [5, 3, 3],
    'carol does not follow: only the reply also sent to the conversation reaches her; dave follows since his mention, but his level lets only mentions through');
});

/** A notification's payload, as the push service decrypted it. */
const said = (item: { payload: unknown }) => item.payload as Record<string, unknown>;

test('a thread\'s replies are notified apart from the conversation: read in the thread before it goes, a reply is not notified', async (t) => {
  // A hold long enough for the reader to mark the thread read on another device before the next notification of the thread.
  const setup = await pushServer(t, { PUSH_COALESCE_SECONDS: '5' });
  const { server, service } = setup;
  const alice = await person(server, 'alice');
  const bob = await awayWithDevice(setup, 'bob');
  const group = await alice.client.request('create_conversation', { name: 'apart', members: [bob.username] });
  await waitForPushes(service, bob.subscription, 1);
  const root = await alice.client.request('send_message', { conversation_id: group.id, content: 'the root' });
  await waitForPushes(service, bob.subscription, 2);
  const { client } = await socket(server, bob.token);
  await client.request('follow_thread', { message_id: root.id });
  await client.request('mark_read', { conversation_id: group.id, message_id: root.id });
  client.close();
  await client.closed;
  await alice.client.request('send_message', { conversation_id: group.id, content: 'first reply', thread_id: root.id });
  const first = said((await waitForPushes(service, bob.subscription, 3))[2]!);
  assert.deepEqual([first.preview, first.thread_id, first.unread], ['first reply', root.id, 1]);
  // Held by the thread's hold; read on another device meanwhile.
  await alice.client.request('send_message', { conversation_id: group.id, content: 'second reply', thread_id: root.id });
  const again = await socket(server, bob.token);
  await again.client.request('mark_thread_read', { message_id: root.id });
  again.client.close();
  await again.client.closed;
  await drained(server, 20_000);
  assert.deepEqual(receivedBy(service, bob.subscription).map((item) => said(item).preview ?? said(item).kind), ['added', 'the root', 'first reply'], 'the second reply was read before it went');
  // The conversation's own messages are not held back by its thread's, nor counted with them.
  await alice.client.request('send_message', { conversation_id: group.id, content: 'in the main list' });
  const main = said((await waitForPushes(service, bob.subscription, 4))[3]!);
  assert.deepEqual([main.preview, main.thread_id, main.unread], ['in the main list', undefined, 1]);
});
