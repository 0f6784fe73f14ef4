// Conversations: kinds, the richer list, renaming, deleting, and each member's favorites, pins and clear_chat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { expectError, person, pushed, settle, socket, syncAll, waitFor } from './helpers/clients.ts';

test('conversations', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const carol = await person(server, 'carol');

  await t.test('direct: exactly one other person, and one conversation per pair', async () => {
    await expectError(alice.client, { type: 'create_conversation', kind: 'direct', members: [] }, 'a direct conversation is with exactly one other person: list one username in members', 'bad_request');
    await expectError(alice.client, { type: 'create_conversation', kind: 'direct', members: [bob.username, carol.username] }, 'a direct conversation is with exactly one other person: list one username in members', 'bad_request');
    await expectError(alice.client, { type: 'create_conversation', kind: 'direct', members: ['nobody_here'] }, "'nobody_here' is not a valid username", 'not_found');
    await expectError(alice.client, { type: 'create_conversation', kind: 'secret', members: [] }, 'kind must be one of group, direct, channel', 'bad_request');
    const direct = await alice.client.request('create_conversation', { kind: 'direct', members: [bob.username] });
    assert.deepEqual([direct.kind, direct.name, direct.members], ['direct', `${alice.username}, ${bob.username}`, [alice.username, bob.username]]);
    await settle(bob.client);
    const pushes = bob.pushes.length;
    const again = await bob.client.request('create_conversation', { kind: 'direct', members: [alice.username.toUpperCase(), bob.username] });
    assert.deepEqual(again, direct, 'the same conversation, from either side');
    await settle(alice.client, bob.client);
    assert.equal(bob.pushes.length, pushes, 'nothing new is pushed');
    const roles = await alice.client.request('get_members', { conversation_id: direct.id });
    assert.deepEqual(roles.map((member) => member.role), ['owner', 'owner'], 'neither can lock the other out');
    await expectError(alice.client, { type: 'add_members', conversation_id: direct.id, members: [carol.username] }, 'a direct conversation always has exactly its two people: cannot add members', 'bad_request');
    await expectError(alice.client, { type: 'leave_conversation', conversation_id: direct.id }, 'a direct conversation always has exactly its two people: cannot leave it (delete it instead)', 'bad_request');
  });

  await t.test('create_conversation takes a description; the limits answer with their own messages', async () => {
    const made = await alice.client.request('create_conversation', { name: 'plans', description: 'what we do next', members: [bob.username] });
    assert.deepEqual([made.kind, made.description], ['group', 'what we do next']);
    await expectError(alice.client, { type: 'create_conversation', members: [], description: 'd'.repeat(1001) }, 'description may be at most 1000 characters', 'bad_request');
    await expectError(alice.client, { type: 'create_conversation', members: [], description: 5 }, 'description must be a string', 'bad_request');
  });

  await t.test('get_conversations: role, counts, last message, favorites, pins, filter and sort', async () => {
    const dave = await person(server, 'dave');
    const older = await alice.client.request('create_conversation', { name: 'older', members: [dave.username] });
    const newer = await dave.client.request('create_conversation', { name: 'newer', members: [alice.username, bob.username] });
    const first = await alice.client.request('send_message', { conversation_id: older.id, content: 'one' });
    await alice.client.request('send_message', { conversation_id: older.id, content: 'two' });
    await dave.client.request('send_message', { conversation_id: older.id, content: 'mine' });
    let list = await dave.client.request('get_conversations');
    assert.deepEqual(list.map((item) => item.id), [older.id, newer.id], 'creation order by default');
    const [olderItem, newerItem] = list;
    assert.deepEqual(
      { ...olderItem, created_at: 0, last_message: olderItem!.last_message?.content },
      { id: older.id, name: 'older', kind: 'group', description: '', role: 'member', member_count: 2, unread_count: 0, last_message: 'mine', favorite: false, pinned: false, created_at: 0, notifications: null, avatar_url: null },
      'sending marks everything before it read',
    );
    assert.deepEqual([newerItem!.role, newerItem!.member_count, newerItem!.last_message], ['owner', 3, null]);
    await alice.client.request('send_message', { conversation_id: older.id, content: 'three' });
    await alice.client.request('send_message', { conversation_id: older.id, content: 'four', reply_id: first.id });
    list = await dave.client.request('get_conversations', { sort: 'recent' });
    assert.deepEqual(list.map((item) => [item.id, item.unread_count]), [[older.id, 2], [newer.id, 0]], 'latest activity first');
    assert.deepEqual(list[0]!.last_message?.reply_to, { id: first.id, sender_username: alice.username, content: 'one', deleted: false, attachments: [] });
    await dave.client.request('send_message', { conversation_id: newer.id, content: 'bump' });
    assert.deepEqual((await dave.client.request('get_conversations', { sort: 'recent' })).map((item) => item.id), [newer.id, older.id]);

    const daveAgain = await socket(server, dave.token);
    assert.deepEqual(await dave.client.request('set_favorite', { conversation_id: older.id, favorite: true }), { conversation_id: older.id, favorite: true });
    assert.deepEqual(await dave.client.request('set_pinned', { conversation_id: newer.id, pinned: true }), { conversation_id: newer.id, pinned: true });
    await waitFor(daveAgain.pushes, (push) => push.type === 'set_pinned');
    assert.deepEqual(pushed(daveAgain.pushes, 'set_favorite'), [{ conversation_id: older.id, favorite: true }], "the user's other sockets are told");
    assert.deepEqual(pushed(alice.pushes, 'set_favorite'), [], 'nobody else is');
    assert.deepEqual((await dave.client.request('get_conversations', { filter: 'favorites' })).map((item) => [item.id, item.favorite]), [[older.id, true]]);
    assert.deepEqual((await dave.client.request('get_conversations', { filter: 'pinned' })).map((item) => [item.id, item.pinned]), [[newer.id, true]]);
    assert.deepEqual((await dave.client.request('get_conversations', { filter: 'all' })).length, 2);
    assert.deepEqual((await alice.client.request('get_conversations', { filter: 'favorites' })), [], 'favorites are per person');
    await dave.client.request('set_favorite', { conversation_id: older.id, favorite: false });
    assert.deepEqual(await dave.client.request('get_conversations', { filter: 'favorites' }), []);
    await expectError(dave.client, { type: 'get_conversations', filter: 'starred' }, 'filter must be one of all, favorites, pinned', 'bad_request');
    await expectError(dave.client, { type: 'get_conversations', sort: 'name' }, 'sort must be one of created, recent', 'bad_request');
    await expectError(dave.client, { type: 'set_favorite', conversation_id: older.id, favorite: 'yes' }, 'expected favorite as boolean', 'bad_request');
    await expectError(carol.client, { type: 'set_pinned', conversation_id: older.id, pinned: 'x' }, `${carol.username} not part of conversation with ${older.id} id`, 'not_found');
    const logged = (await syncAll(daveAgain.client)).filter((event) => event.type === 'set_favorite' || event.type === 'set_pinned');
    assert.deepEqual(logged.map((event) => [event.type, event.data]), [
      ['set_favorite', { conversation_id: older.id, favorite: true }],
      ['set_pinned', { conversation_id: newer.id, pinned: true }],
      ['set_favorite', { conversation_id: older.id, favorite: false }],
    ], 'sync replays them');
    daveAgain.client.close();
  });

  await t.test('clear_chat hides the history for the caller alone', async () => {
    const room = await alice.client.request('create_conversation', { name: 'clearing', members: [bob.username] });
    const old = await alice.client.request('send_message', { conversation_id: room.id, content: 'before the clear' });
    const other = await socket(server, bob.token);
    assert.deepEqual(await bob.client.request('clear_chat', { conversation_id: room.id }), { conversation_id: room.id, cleared_id: old.id });
    await waitFor(other.pushes, (push) => push.type === 'clear_chat');
    const after = await alice.client.request('send_message', { conversation_id: room.id, content: 'after the clear' });
    const mine = await bob.client.request('get_messages', { conversation_id: room.id });
    assert.deepEqual(mine.messages.map((message) => message.id), [after.id]);
    assert.deepEqual((await bob.client.request('get_messages', { conversation_id: room.id, after: 0 })).messages.map((message) => message.id), [after.id]);
    const theirs = await alice.client.request('get_messages', { conversation_id: room.id });
    assert.deepEqual(theirs.messages.map((message) => message.id), [after.id, old.id], 'the others keep theirs');
    await expectError(bob.client, { type: 'react', message_id: old.id, emoji: '👍' }, `no message with id ${old.id}`, 'not_found');
    const item = (await bob.client.request('get_conversations')).find((entry) => entry.id === room.id)!;
    assert.deepEqual([item.last_message?.id, item.unread_count], [after.id, 1]);
    assert.deepEqual(pushed(alice.pushes, 'clear_chat'), [], 'only the caller\'s sockets hear of it');
    other.client.close();
  });

  await t.test('update_conversation: owners and admins rename; every member is told', async () => {
    const room = await alice.client.request('create_conversation', { name: 'before', members: [bob.username] });
    await expectError(carol.client, { type: 'update_conversation', conversation_id: room.id, name: 'x' }, `${carol.username} not part of conversation with ${room.id} id`, 'not_found');
    await expectError(bob.client, { type: 'update_conversation', conversation_id: room.id }, 'nothing to update: give name, description, avatar or several', 'bad_request');
    await expectError(bob.client, { type: 'update_conversation', conversation_id: room.id, name: '' }, 'name value expected as a non zero string', 'bad_request');
    await expectError(bob.client, { type: 'update_conversation', conversation_id: room.id, name: 'x'.repeat(101) }, 'name may be at most 100 characters', 'bad_request');
    await expectError(bob.client, { type: 'update_conversation', conversation_id: room.id, name: 'mine now' }, `only the owner or an admin of conversation ${room.id} can change its name, description or picture`, 'forbidden');
    const changed = await alice.client.request('update_conversation', { conversation_id: room.id, description: 'about things' });
    assert.deepEqual(changed, { conversation_id: room.id, name: 'before', description: 'about things', avatar_url: null, by: alice.username });
    await alice.client.request('set_member_role', { conversation_id: room.id, username: bob.username, role: 'admin' });
    const renamed = await bob.client.request('update_conversation', { conversation_id: room.id, name: 'after' });
    assert.deepEqual(renamed, { conversation_id: room.id, name: 'after', description: 'about things', avatar_url: null, by: bob.username });
    await waitFor(alice.pushes, (push) => push.type === 'update_conversation' && push.data.name === 'after');
    assert.equal((await alice.client.request('get_conversation_info', { id: room.id })).name, 'after');
    assert.ok(!carol.pushes.some((push) => push.type === 'update_conversation'), 'non-members hear nothing');
  });

  await t.test('delete_conversation: the owner only; gone for everyone, messages and log included', async () => {
    const room = await alice.client.request('create_conversation', { name: 'doomed', members: [bob.username] });
    const message = await alice.client.request('send_message', { conversation_id: room.id, content: 'searchable zebra' });
    assert.equal((await bob.client.request('search_messages', { query: 'zebra' })).messages.length, 1);
    const before = (await syncAll(bob.client)).filter((event) => (event.data as { conversation_id?: number }).conversation_id === room.id);
    assert.ok(before.length >= 1);
    await expectError(bob.client, { type: 'delete_conversation', conversation_id: room.id }, `only the owner of conversation ${room.id} can delete it`, 'forbidden');
    await expectError(carol.client, { type: 'delete_conversation', conversation_id: room.id }, `${carol.username} not part of conversation with ${room.id} id`, 'not_found');
    assert.deepEqual(await alice.client.request('delete_conversation', { conversation_id: room.id }), { conversation_id: room.id, by: alice.username });
    await waitFor(bob.pushes, (push) => push.type === 'delete_conversation' && push.data.conversation_id === room.id);
    await expectError(bob.client, { type: 'get_messages', conversation_id: room.id }, `${bob.username} not part of conversation with ${room.id} id`, 'not_found');
    await expectError(alice.client, { type: 'get_conversation_info', id: room.id }, `${alice.username} is not part of any conversation with ${room.id} id`, 'not_found');
    await expectError(bob.client, { type: 'get_receipts', message_id: message.id }, `no message with id ${message.id}`, 'not_found');
    assert.deepEqual((await bob.client.request('search_messages', { query: 'zebra' })).messages, [], 'no longer searchable');
    assert.ok(!(await bob.client.request('get_conversations')).some((item) => item.id === room.id));
    const after = await syncAll(bob.client);
    assert.deepEqual(after.filter((event) => JSON.stringify(event.data).includes('zebra')), [], 'the log forgot its messages');
    assert.deepEqual(after.filter((event) => event.type === 'delete_conversation').map((event) => event.data), [{ conversation_id: room.id, by: alice.username }]);
    await expectError(alice.client, { type: 'send_message', conversation_id: room.id, content: 'hello?' }, `${alice.username} not part of conversation with ${room.id} id`, 'not_found');
    // A direct conversation can be started again once its old one is deleted.
    const direct = await alice.client.request('create_conversation', { kind: 'direct', members: [carol.username] });
    await carol.client.request('delete_conversation', { conversation_id: direct.id });
    const fresh = await alice.client.request('create_conversation', { kind: 'direct', members: [carol.username] });
    assert.notEqual(fresh.id, direct.id);
  });
});
