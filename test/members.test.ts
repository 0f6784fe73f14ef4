// Members and roles: listing, adding, removing, promoting, handing over and leaving; who is told what.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { expectError, person, pushed, settle, syncAll, waitFor, type Person } from './helpers/clients.ts';

test('members and roles', async (t) => {
  const server = await startServer(t);
  const [owner, admin, member, outsider, newcomer] = await Promise.all(['owner', 'admin', 'member', 'outsider', 'newcomer'].map((name) => person(server, name))) as Person[] as [Person, Person, Person, Person, Person];
  const room = await owner.client.request('create_conversation', { name: 'team', members: [admin.username, member.username] });
  const id = room.id;
  const notIn = (who: Person) => `${who.username} not part of conversation with ${id} id`;

  await t.test('get_members lists everyone with role, presence, read point and joining time', async () => {
    const members = await member.client.request('get_members', { conversation_id: id });
    assert.deepEqual(members.map(({ username, fullname, role, is_online, last_read_id }) => ({ username, fullname, role, is_online, last_read_id })), [
      { username: owner.username, fullname: `Full ${owner.username}`, role: 'owner', is_online: true, last_read_id: 0 },
      { username: admin.username, fullname: `Full ${admin.username}`, role: 'member', is_online: true, last_read_id: 0 },
      { username: member.username, fullname: `Full ${member.username}`, role: 'member', is_online: true, last_read_id: 0 },
    ]);
    assert.ok(members.every((entry) => Math.abs(entry.joined_at - Date.now() / 1000) < 60));
    await expectError(outsider.client, { type: 'get_members', conversation_id: id }, notIn(outsider), 'not_found');
    await expectError(outsider.client, { type: 'get_members', conversation_id: 'x' }, 'expected conversation_id as integer', 'bad_request');
  });

  await t.test('set_member_role: the owner promotes; members cannot; nobody changes their own', async () => {
    await expectError(member.client, { type: 'set_member_role', conversation_id: id, username: admin.username, role: 'admin' }, `only the owner or an admin of conversation ${id} can change roles`, 'forbidden');
    await expectError(outsider.client, { type: 'set_member_role', conversation_id: id, username: admin.username, role: 'admin' }, notIn(outsider), 'not_found');
    await expectError(owner.client, { type: 'set_member_role', conversation_id: id, username: admin.username, role: 'king' }, 'role must be one of owner, admin, member', 'bad_request');
    await expectError(owner.client, { type: 'set_member_role', conversation_id: id, username: owner.username, role: 'member' }, 'you cannot change the role of yourself', 'bad_request');
    await expectError(owner.client, { type: 'set_member_role', conversation_id: id, username: outsider.username, role: 'admin' }, `'${outsider.username}' is not a member of conversation ${id}`, 'not_found');
    const promoted = await owner.client.request('set_member_role', { conversation_id: id, username: admin.username, role: 'admin' });
    assert.deepEqual(promoted, { conversation_id: id, username: admin.username, role: 'admin', by: owner.username });
    await waitFor(member.pushes, (push) => push.type === 'set_member_role');
    assert.deepEqual(pushed(member.pushes, 'set_member_role'), [promoted], 'every member is told');
    assert.deepEqual(pushed(outsider.pushes, 'set_member_role'), [], 'nobody else');
    await expectError(admin.client, { type: 'set_member_role', conversation_id: id, username: owner.username, role: 'member' }, `'${owner.username}' is the owner or an admin of conversation ${id}: only the owner can change the role of them`, 'forbidden');
    await expectError(admin.client, { type: 'set_member_role', conversation_id: id, username: member.username, role: 'owner' }, `only the owner of conversation ${id} can hand over ownership`, 'forbidden');
  });

  await t.test('add_members: owners and admins; banned, unknown and existing people are refused', async () => {
    await expectError(member.client, { type: 'add_members', conversation_id: id, members: [newcomer.username] }, `only the owner or an admin of conversation ${id} can add members`, 'forbidden');
    await expectError(outsider.client, { type: 'add_members', conversation_id: id, members: [newcomer.username] }, notIn(outsider), 'not_found');
    await expectError(admin.client, { type: 'add_members', conversation_id: id, members: [] }, 'members must list at least one username', 'bad_request');
    await expectError(admin.client, { type: 'add_members', conversation_id: id, members: 'x' }, 'members value expected a list', 'bad_request');
    await expectError(admin.client, { type: 'add_members', conversation_id: id, members: ['nobody_at_all'] }, "'nobody_at_all' is not a valid username", 'not_found');
    await expectError(admin.client, { type: 'add_members', conversation_id: id, members: [member.username] }, `everyone listed is already a member of conversation ${id}`, 'conflict');
    const before = await syncAll(newcomer.client);
    const added = await admin.client.request('add_members', { conversation_id: id, members: [newcomer.username, member.username] });
    assert.deepEqual({ ...added, conversation: { ...added.conversation, created_at: 0 } }, {
      conversation: { id, name: 'team', members: [owner.username, admin.username, member.username, newcomer.username], kind: 'group', description: '', created_at: 0, avatar_url: null },
      added: [newcomer.username],
      by: admin.username,
    });
    await waitFor(newcomer.pushes, (push) => push.type === 'add_members');
    await waitFor(owner.pushes, (push) => push.type === 'add_members');
    const synced = (await syncAll(newcomer.client)).slice(before.length);
    assert.deepEqual(synced.map((event) => event.type), ['add_members'], 'the newcomer\'s log of it starts with being added: nothing from before');
    await member.client.request('send_message', { conversation_id: id, content: 'welcome' });
    await waitFor(newcomer.pushes, (push) => push.type === 'send_message' && push.data.content === 'welcome');
    const history = await newcomer.client.request('get_messages', { conversation_id: id });
    assert.deepEqual(history.messages.map((message) => message.content), ['welcome']);
  });

  await t.test('remove_member: admins remove members, only the owner removes admins; the removed one hears it last', async () => {
    await expectError(member.client, { type: 'remove_member', conversation_id: id, username: newcomer.username }, `only the owner or an admin of conversation ${id} can remove members`, 'forbidden');
    await expectError(admin.client, { type: 'remove_member', conversation_id: id, username: admin.username }, 'you cannot remove yourself: use leave_conversation', 'bad_request');
    await expectError(admin.client, { type: 'remove_member', conversation_id: id, username: outsider.username }, `'${outsider.username}' is not a member of conversation ${id}`, 'not_found');
    await expectError(admin.client, { type: 'remove_member', conversation_id: id, username: owner.username }, `'${owner.username}' is the owner or an admin of conversation ${id}: only the owner can remove them`, 'forbidden');
    const removed = await admin.client.request('remove_member', { conversation_id: id, username: newcomer.username });
    assert.deepEqual(removed, { conversation_id: id, username: newcomer.username, by: admin.username });
    await waitFor(newcomer.pushes, (push) => push.type === 'remove_member');
    await member.client.request('send_message', { conversation_id: id, content: 'after you left' });
    await settle(newcomer.client, member.client, owner.client);
    await waitFor(owner.pushes, (push) => push.type === 'send_message' && push.data.content === 'after you left');
    assert.ok(!newcomer.pushes.some((push) => push.type === 'send_message' && push.data.content === 'after you left'), 'no pushes after removal');
    const log = await syncAll(newcomer.client);
    assert.equal(log.at(-1)!.type, 'remove_member', 'the removal is the last thing they may sync');
    assert.ok(!log.some((event) => JSON.stringify(event.data).includes('after you left')));
    await expectError(newcomer.client, { type: 'get_messages', conversation_id: id }, notIn(newcomer), 'not_found');
  });

  await t.test('leave_conversation: an owner who leaves hands over to the longest-standing admin', async () => {
    await expectError(outsider.client, { type: 'leave_conversation', conversation_id: id }, notIn(outsider), 'not_found');
    const left = await owner.client.request('leave_conversation', { conversation_id: id });
    assert.deepEqual(left, { conversation_id: id, username: owner.username, new_owner: admin.username });
    await waitFor(member.pushes, (push) => push.type === 'leave_conversation');
    const members = await admin.client.request('get_members', { conversation_id: id });
    assert.deepEqual(members.map((entry) => [entry.username, entry.role]), [[admin.username, 'owner'], [member.username, 'member']]);
    const transfer = await admin.client.request('set_member_role', { conversation_id: id, username: member.username, role: 'owner' });
    assert.deepEqual(transfer.role, 'owner');
    const after = await member.client.request('get_members', { conversation_id: id });
    assert.deepEqual(after.map((entry) => [entry.username, entry.role]), [[admin.username, 'admin'], [member.username, 'owner']], 'the old owner becomes an admin');
    await member.client.request('leave_conversation', { conversation_id: id });
    assert.deepEqual((await admin.client.request('get_members', { conversation_id: id })).map((entry) => entry.role), ['owner'], 'with no admin left, the longest-standing member inherits');
    const last = await admin.client.request('leave_conversation', { conversation_id: id });
    assert.deepEqual(last, { conversation_id: id, username: admin.username, new_owner: null });
    await expectError(admin.client, { type: 'get_conversation_info', id }, `${admin.username} is not part of any conversation with ${id} id`, 'not_found');
  });
});
