// Who may add you to conversations (review 25, M1): everyone, your contacts, or nobody; anyone else's add
// is an invitation you accept or decline, told and notified like the rest. And a block that also takes
// you out of every group and channel the blocked person created.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectError, person, pushed, settle, socket, syncAll, waitFor, type Person } from './helpers/clients.ts';
import { awayWithDevice, drained, pushServer, receivedBy } from './helpers/push-server.ts';

test('who may add you, and invitations', async (t) => {
  const setup = await pushServer(t);
  const { server, service } = setup;
  const who = async (someone: Person, value: 'everyone' | 'contacts' | 'nobody') =>
    (await someone.client.request('update_profile', { who_may_add: value })).who_may_add;

  await t.test('the setting: everyone by default (the seed\'s adds, unchanged), contacts or nobody', async () => {
    const alice = await person(server, 'alice');
    const bob = await person(server, 'bob');
    assert.equal((await alice.client.request('self')).who_may_add, 'everyone');
    const room = await bob.client.request('create_conversation', { name: 'open', members: [alice.username] });
    assert.deepEqual(Object.keys(room).sort(), ['avatar_url', 'created_at', 'description', 'id', 'kind', 'members', 'name'], 'no invited field when nobody was invited');
    assert.deepEqual(room.members, [bob.username, alice.username]);
    assert.equal(await who(alice, 'contacts'), 'contacts');
    assert.equal((await alice.client.request('self')).who_may_add, 'contacts');
    assert.equal(await who(alice, 'nobody'), 'nobody');
    await expectError(alice.client, { type: 'update_profile', who_may_add: 'friends' }, 'who_may_add must be one of everyone, contacts, nobody', 'bad_request');
    await expectError(alice.client, { type: 'update_profile' }, 'nothing to update: give fullname, bio, email, avatar, notifications, notify_reactions or who_may_add', 'bad_request');
  });

  await t.test('contacts: a contact adds you, a stranger invites you; nobody: everyone invites you, and a stranger cannot tell the two apart', async () => {
    const carol = await person(server, 'carol');
    const dan = await person(server, 'dan');
    const friend = await person(server, 'friend');
    const stranger = await person(server, 'stranger');
    await who(carol, 'contacts');
    await who(dan, 'nobody');
    await carol.client.request('add_contact', { contact_username: friend.username }); // carol's own choice
    await dan.client.request('add_contact', { contact_username: friend.username });

    const byFriend = await friend.client.request('create_conversation', { name: 'friends', members: [carol.username, dan.username] });
    assert.deepEqual([byFriend.members, byFriend.invited], [[friend.username, carol.username], [dan.username]], 'a contact adds carol, not dan');

    const toCarol = await stranger.client.request('create_conversation', { name: 'x', members: [carol.username] });
    const toDan = await stranger.client.request('create_conversation', { name: 'x', members: [dan.username] });
    const shape = (made: typeof toCarol, invitee: string) => ({ ...made, id: 0, created_at: 0, invited: made.invited?.map((name) => (name === invitee ? 'them' : name)) });
    assert.deepEqual(shape(toCarol, carol.username), shape(toDan, dan.username), 'contacts and nobody answer a stranger alike');
    assert.deepEqual(toCarol.members, [stranger.username]);

    // The invitation, pushed and logged: sync replays it.
    const pushedInvitation = await waitFor(carol.pushes, (push) => push.type === 'invitation' && push.data.invitation.conversation_id === toCarol.id);
    const invitation = { id: 0, conversation_id: toCarol.id, name: 'x', kind: 'group', description: '', by: stranger.username, invited_at: toCarol.created_at };
    assert.deepEqual({ ...(pushedInvitation.data as { invitation: typeof invitation }).invitation, id: 0 }, invitation);
    const replayed = (await syncAll(carol.client)).filter((event) => event.type === 'invitation');
    assert.deepEqual(replayed.map((event) => (event.data as { invitation: { conversation_id: number } }).invitation.conversation_id), [toCarol.id]);
    const listed = await carol.client.request('get_invitations');
    assert.deepEqual([listed.invitations.map((item) => ({ ...item, id: 0 })), listed.has_more], [[invitation], false]);
    await expectError(carol.client, { type: 'get_conversation_info', id: toCarol.id }, `${carol.username} is not part of any conversation with ${toCarol.id} id`, 'not_found');
  });

  await t.test('contacts means contacts you chose: someone who made themselves your contact still only invites you, until you add them back', async () => {
    const vera = await person(server, 'vera');
    const pushy = await person(server, 'pushy');
    await who(vera, 'contacts');
    await pushy.client.request('add_contact', { contact_username: vera.username });
    assert.ok((await vera.client.request('get_contacts')).contacts.some((contact) => contact.username === pushy.username), 'a contact of hers, both ways, as the seed has it');
    const first = await pushy.client.request('create_conversation', { name: 'spam', members: [vera.username] });
    assert.deepEqual([first.members, first.invited], [[pushy.username], [vera.username]], 'invited, not added: she did not choose him');
    const back = await vera.client.request('add_contact', { contact_username: pushy.username });
    assert.equal(back.message, `'${pushy.username}' successfully added`);
    await expectError(vera.client, { type: 'add_contact', contact_username: pushy.username }, `'${pushy.username}' is already a contact`, 'conflict');
    const second = await pushy.client.request('create_conversation', { name: 'welcome now', members: [vera.username] });
    assert.deepEqual([second.members, second.invited], [[pushy.username, vera.username], undefined], 'added: she added him back');
  });

  await t.test('accepting joins you, everyone there told; declining tells nobody; neither twice', async () => {
    const erin = await person(server, 'erin');
    const owner = await person(server, 'owner');
    const member = await person(server, 'member');
    await who(erin, 'nobody');
    const room = await owner.client.request('create_conversation', { name: 'team', members: [member.username] });
    const invited = await owner.client.request('add_members', { conversation_id: room.id, members: [erin.username] });
    assert.deepEqual([invited.added, invited.invited], [[], [erin.username]]);
    await settle(member.client);
    assert.deepEqual(pushed(member.pushes, 'add_members'), [], 'an invitation alone is not the members\' news');
    await waitFor(erin.pushes, (push) => push.type === 'invitation');

    const accepted = await erin.client.request('accept_invitation', { conversation_id: room.id });
    assert.deepEqual([accepted.conversation.members, accepted.added, accepted.by], [[owner.username, member.username, erin.username], [erin.username], owner.username]);
    const told = await waitFor(member.pushes, (push) => push.type === 'accept_invitation');
    assert.deepEqual(told.data, accepted);
    assert.deepEqual((await erin.client.request('get_invitations')).invitations, []);
    await expectError(erin.client, { type: 'accept_invitation', conversation_id: room.id }, `no pending invitation of yours to conversation ${room.id}`, 'not_found');
    assert.equal((await erin.client.request('send_message', { conversation_id: room.id, content: 'hi all' })).content, 'hi all');

    const other = await owner.client.request('create_conversation', { name: 'other', members: [erin.username] });
    await settle(owner.client);
    const ownerPushes = owner.pushes.length;
    assert.deepEqual(await erin.client.request('decline_invitation', { conversation_id: other.id }), { conversation_id: other.id });
    await settle(owner.client, erin.client);
    assert.equal(owner.pushes.length, ownerPushes, 'the inviter is not told');
    assert.deepEqual((await owner.client.request('get_members', { conversation_id: other.id })).map((m) => m.username), [owner.username]);
    await expectError(erin.client, { type: 'decline_invitation', conversation_id: other.id }, `no pending invitation of yours to conversation ${other.id}`, 'not_found');
    await expectError(erin.client, { type: 'accept_invitation', conversation_id: other.id }, `no pending invitation of yours to conversation ${other.id}`, 'not_found');

    // Joining a channel one was invited to answers the invitation: leaving does not bring it back.
    const channel = await owner.client.request('create_conversation', { name: 'chan', kind: 'channel', members: [erin.username] });
    assert.deepEqual(channel.invited, [erin.username]);
    await erin.client.request('join_channel', { conversation_id: channel.id });
    await erin.client.request('leave_conversation', { conversation_id: channel.id });
    assert.deepEqual((await erin.client.request('get_invitations')).invitations, []);

    // A deleted conversation's invitation goes with it.
    const doomed = await owner.client.request('create_conversation', { name: 'doomed', members: [erin.username] });
    await owner.client.request('delete_conversation', { conversation_id: doomed.id });
    await expectError(erin.client, { type: 'accept_invitation', conversation_id: doomed.id }, `no pending invitation of yours to conversation ${doomed.id}`, 'not_found');
  });

  await t.test('a direct conversation is a request: asking back or accepting makes it the pair\'s; declined, either may start anew', async () => {
    const nina = await person(server, 'nina');
    const asker = await person(server, 'asker');
    await who(nina, 'nobody');
    const asked = await asker.client.request('create_conversation', { kind: 'direct', members: [nina.username] });
    assert.deepEqual([asked.members, asked.invited], [[asker.username], [nina.username]]);
    const back = await nina.client.request('create_conversation', { kind: 'direct', members: [asker.username] });
    assert.deepEqual([back.id, back.members], [asked.id, [asker.username, nina.username]]);
    assert.deepEqual((await nina.client.request('get_members', { conversation_id: asked.id })).map((m) => m.role), ['owner', 'owner']);
    assert.deepEqual((await nina.client.request('get_invitations')).invitations, []);

    const other = await person(server, 'other');
    const first = await other.client.request('create_conversation', { kind: 'direct', members: [nina.username] });
    await nina.client.request('decline_invitation', { conversation_id: first.id });
    const again = await other.client.request('create_conversation', { kind: 'direct', members: [nina.username] });
    assert.notEqual(again.id, first.id);
    const accepted = await nina.client.request('accept_invitation', { conversation_id: again.id });
    assert.deepEqual(accepted.conversation.members, [other.username, nina.username]);
    assert.deepEqual((await nina.client.request('get_members', { conversation_id: again.id })).map((m) => m.role), ['owner', 'owner']);
  });

  await t.test('an invitation notifies your devices unless your level is none or you are busy', async () => {
    const inviter = await person(server, 'inviter');
    const away = await awayWithDevice(setup, 'away');
    const muted = await awayWithDevice(setup, 'muted');
    for (const [someone, level] of [[away, 'all'], [muted, 'none']] as const) {
      const { client } = await socket(server, someone.token);
      await client.request('update_profile', { who_may_add: 'nobody', notifications: level });
      client.close();
      await client.closed;
    }
    const room = await inviter.client.request('create_conversation', { name: 'come', members: [away.username, muted.username] });
    assert.deepEqual(room.invited, [away.username, muted.username]);
    await drained(server);
    const got = receivedBy(service, away.subscription).map((item) => item.payload as Record<string, unknown>);
    assert.deepEqual(got.map(({ kind, conversation_id, conversation_name, sender, direct }) => ({ kind, conversation_id, conversation_name, sender, direct })),
      [{ kind: 'invited', conversation_id: room.id, conversation_name: 'come', sender: inviter.username, direct: false }]);
    assert.deepEqual(receivedBy(service, muted.subscription), []);
  });

  await t.test('an invitation goes when its inviter leaves or is removed', async () => {
    const host = await person(server, 'host');
    const guest = await person(server, 'guest');
    const owner = await person(server, 'owner');
    await who(guest, 'nobody');
    const room = await owner.client.request('create_conversation', { name: 'room', members: [host.username] });
    const other = await owner.client.request('create_conversation', { name: 'other', members: [host.username] });
    for (const id of [room.id, other.id]) await owner.client.request('set_member_role', { conversation_id: id, username: host.username, role: 'admin' });
    const byHost = await host.client.request('add_members', { conversation_id: room.id, members: [guest.username] });
    const byHost2 = await host.client.request('add_members', { conversation_id: other.id, members: [guest.username] });
    assert.deepEqual([byHost.invited, byHost2.invited], [[guest.username], [guest.username]]);
    const pendingIds = async () => (await guest.client.request('get_invitations')).invitations.map((item) => item.conversation_id).sort();
    assert.deepEqual(await pendingIds(), [room.id, other.id].sort());
    await host.client.request('leave_conversation', { conversation_id: room.id });
    await owner.client.request('remove_member', { conversation_id: other.id, username: host.username });
    assert.deepEqual(await pendingIds(), [], 'whoever invited is no longer there');
    await expectError(guest.client, { type: 'accept_invitation', conversation_id: room.id }, `no pending invitation of yours to conversation ${room.id}`, 'not_found');
    await expectError(guest.client, { type: 'accept_invitation', conversation_id: other.id }, `no pending invitation of yours to conversation ${other.id}`, 'not_found');
  });

  await t.test('a block drops their invitations, and with leave_conversations takes you out of what they created', async () => {
    const olga = await person(server, 'olga');
    const kurt = await person(server, 'kurt');
    const carl = await person(server, 'carl');
    const mine = await olga.client.request('create_conversation', { name: 'olga\'s', members: [kurt.username, carl.username] });
    const his = await kurt.client.request('create_conversation', { name: 'kurt 1', members: [olga.username, carl.username] });
    const his2 = await kurt.client.request('create_conversation', { name: 'kurt 2', kind: 'channel', members: [olga.username] });
    const direct = await kurt.client.request('create_conversation', { kind: 'direct', members: [olga.username] });
    await who(olga, 'nobody');
    const pending = await kurt.client.request('create_conversation', { name: 'kurt 3', members: [olga.username] });
    assert.deepEqual(pending.invited, [olga.username]);

    const blocked = await olga.client.request('block_user', { username: kurt.username });
    assert.deepEqual(Object.keys(blocked).sort(), ['blocked_at', 'username']);
    assert.deepEqual((await olga.client.request('get_invitations')).invitations, [], 'his invitation went');
    await expectError(olga.client, { type: 'block_user', username: kurt.username }, `'${kurt.username}' is already blocked`, 'conflict');

    const left = await olga.client.request('block_user', { username: kurt.username, leave_conversations: true });
    assert.deepEqual(left, { username: kurt.username, blocked_at: blocked.blocked_at, left: [his.id, his2.id] });
    const still = (await olga.client.request('get_conversations')).map((item) => item.id);
    assert.deepEqual(still.filter((id) => [mine.id, his.id, his2.id, direct.id].includes(id)), [mine.id, direct.id], 'hers and the direct one stay');
    const seen = await waitFor(carl.pushes, (push) => push.type === 'leave_conversation' && push.data.conversation_id === his.id);
    assert.deepEqual(seen.data, { conversation_id: his.id, username: olga.username, new_owner: null });
    await expectError(olga.client, { type: 'send_message', conversation_id: his.id, content: 'x' }, `${olga.username} not part of conversation with ${his.id} id`, 'not_found');
    await expectError(olga.client, { type: 'block_user', username: 'nobody_at_all', leave_conversations: true }, "no such user 'nobody_at_all' exists", 'not_found');
    await expectError(olga.client, { type: 'block_user', username: kurt.username, leave_conversations: 'yes' }, 'leave_conversations must be true or false', 'bad_request');
  });
});
