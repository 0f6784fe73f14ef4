// Channels: finding and joining them, and bans that keep people out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { expectError, person, pushed, syncAll, waitFor } from './helpers/clients.ts';

test('channels and bans', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const carol = await person(server, 'carol');
  const news = await alice.client.request('create_conversation', { kind: 'channel', name: 'Release news', description: 'what ships when', members: [] });
  const cooking = await alice.client.request('create_conversation', { kind: 'channel', name: 'cooking', description: 'recipes 100% tested_here', members: [] });
  const group = await alice.client.request('create_conversation', { name: 'private news', members: [] });

  await t.test('list_channels finds channels by name or description, newest first, in pages', async () => {
    const all = await bob.client.request('list_channels');
    assert.deepEqual(all.channels.map((channel) => channel.id), [cooking.id, news.id], 'groups are never listed');
    assert.deepEqual({ ...all.channels[1], created_at: 0 }, { id: news.id, name: 'Release news', description: 'what ships when', member_count: 1, created_at: 0, joined: false, avatar_url: null });
    assert.equal(all.has_more, false);
    assert.deepEqual((await bob.client.request('list_channels', { query: 'NEWS' })).channels.map((channel) => channel.id), [news.id], 'case ignored');
    assert.deepEqual((await bob.client.request('list_channels', { query: 'ships' })).channels.map((channel) => channel.id), [news.id], 'descriptions too');
    assert.deepEqual((await bob.client.request('list_channels', { query: '100%' })).channels.map((channel) => channel.id), [cooking.id], '% is a character, not a wildcard');
    assert.deepEqual((await bob.client.request('list_channels', { query: 'st_d' })).channels, [], '_ is a character, not a wildcard');
    const first = await bob.client.request('list_channels', { limit: 1 });
    assert.deepEqual([first.channels.map((channel) => channel.id), first.has_more], [[cooking.id], true]);
    const second = await bob.client.request('list_channels', { limit: 1, before: cooking.id });
    assert.deepEqual([second.channels.map((channel) => channel.id), second.has_more], [[news.id], false]);
    await expectError(bob.client, { type: 'list_channels', limit: 0 }, 'limit must be a whole number from 1 to 100', 'bad_request');
    await expectError(bob.client, { type: 'list_channels', query: 7 }, 'query must be a string', 'bad_request');
  });

  await t.test('join_channel: anyone may join a channel; a group is no channel to an outsider', async () => {
    await expectError(bob.client, { type: 'join_channel', conversation_id: group.id }, `no channel with id ${group.id}`, 'not_found');
    await expectError(bob.client, { type: 'join_channel', conversation_id: 999999 }, 'no channel with id 999999', 'not_found');
    const joined = await bob.client.request('join_channel', { conversation_id: news.id });
    assert.deepEqual([joined.added, joined.by, joined.conversation.members], [[bob.username], bob.username, [alice.username, bob.username]]);
    await waitFor(alice.pushes, (push) => push.type === 'join_channel');
    await expectError(bob.client, { type: 'join_channel', conversation_id: news.id }, `you are already a member of channel ${news.id}`, 'conflict');
    assert.equal((await bob.client.request('list_channels', { query: 'release' })).channels[0]!.joined, true);
    await alice.client.request('send_message', { conversation_id: news.id, content: 'v2 is out' });
    await waitFor(bob.pushes, (push) => push.type === 'send_message' && push.data.content === 'v2 is out');
  });

  await t.test('ban_member removes and keeps out; unban lets back in; admins only', async () => {
    await carol.client.request('join_channel', { conversation_id: news.id });
    await expectError(carol.client, { type: 'ban_member', conversation_id: news.id, username: bob.username }, `only the owner or an admin of conversation ${news.id} can ban members`, 'forbidden');
    await expectError(carol.client, { type: 'get_banned', conversation_id: news.id }, `only the owner or an admin of conversation ${news.id} can see who is banned`, 'forbidden');
    await expectError(bob.client, { type: 'ban_member', conversation_id: cooking.id, username: carol.username }, `${bob.username} not part of conversation with ${cooking.id} id`, 'not_found');
    await expectError(alice.client, { type: 'ban_member', conversation_id: news.id, username: alice.username }, 'you cannot ban yourself: use leave_conversation', 'bad_request');
    await expectError(alice.client, { type: 'ban_member', conversation_id: news.id, username: 'nobody_here' }, "no such user 'nobody_here' exists", 'not_found');
    const banned = await alice.client.request('ban_member', { conversation_id: news.id, username: bob.username });
    assert.deepEqual(banned, { conversation_id: news.id, username: bob.username, by: alice.username });
    await waitFor(bob.pushes, (push) => push.type === 'ban_member');
    await waitFor(carol.pushes, (push) => push.type === 'ban_member');
    await expectError(alice.client, { type: 'ban_member', conversation_id: news.id, username: bob.username }, `'${bob.username}' is already banned from conversation ${news.id}`, 'conflict');
    await expectError(bob.client, { type: 'get_messages', conversation_id: news.id }, `${bob.username} not part of conversation with ${news.id} id`, 'not_found');
    await expectError(bob.client, { type: 'join_channel', conversation_id: news.id }, `'${bob.username}' is banned from conversation ${news.id}`, 'forbidden');
    await expectError(alice.client, { type: 'add_members', conversation_id: news.id, members: [bob.username] }, `'${bob.username}' is banned from conversation ${news.id}`, 'forbidden');
    const list = await alice.client.request('get_banned', { conversation_id: news.id });
    assert.deepEqual(list.banned.map(({ banned_at: _, ...entry }) => entry), [{ username: bob.username, fullname: `Full ${bob.username}`, banned_by: alice.username }]);

    await expectError(alice.client, { type: 'unban_member', conversation_id: news.id, username: carol.username }, `'${carol.username}' is not banned from conversation ${news.id}`, 'not_found');
    await expectError(carol.client, { type: 'unban_member', conversation_id: news.id, username: bob.username }, `only the owner or an admin of conversation ${news.id} can unban members`, 'forbidden');
    const unbanned = await alice.client.request('unban_member', { conversation_id: news.id, username: bob.username });
    assert.deepEqual(unbanned, { conversation_id: news.id, username: bob.username, by: alice.username });
    assert.deepEqual(pushed(carol.pushes, 'unban_member'), [], 'only owners and admins are told of unbans');
    assert.deepEqual(await alice.client.request('get_banned', { conversation_id: news.id }), { banned: [], next: null });
    await bob.client.request('join_channel', { conversation_id: news.id });
    const replayed = (await syncAll(alice.client)).filter((event) => ['join_channel', 'ban_member', 'unban_member'].includes(event.type));
    assert.deepEqual(replayed.map((event) => [event.type, (event.data as { username?: string; added?: string[] }).username ?? (event.data as { added: string[] }).added[0]]), [
      ['join_channel', bob.username], ['join_channel', carol.username], ['ban_member', bob.username], ['unban_member', bob.username], ['join_channel', bob.username],
    ], 'sync replays joins, bans and unbans to the owner');
    assert.deepEqual((await syncAll(carol.client)).filter((event) => event.type === 'unban_member'), [], 'members do not sync unbans');

    // An admin cannot ban the owner or another admin; someone who is not a member can be banned ahead.
    await alice.client.request('set_member_role', { conversation_id: news.id, username: carol.username, role: 'admin' });
    await expectError(carol.client, { type: 'ban_member', conversation_id: news.id, username: alice.username }, `'${alice.username}' is the owner or an admin of conversation ${news.id}: only the owner can ban them`, 'forbidden');
    const dave = await person(server, 'dave');
    await carol.client.request('ban_member', { conversation_id: news.id, username: dave.username });
    await expectError(dave.client, { type: 'join_channel', conversation_id: news.id }, `'${dave.username}' is banned from conversation ${news.id}`, 'forbidden');
    assert.deepEqual(pushed(dave.pushes, 'ban_member'), [], 'a non-member banned ahead is not told');
  });
});

test('list_channels looks at no more than 1,000 channels a request: a query that matches few pages on with next', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const create = (name: string) => alice.client.request('create_conversation', { kind: 'channel', name, members: [] });
  const needle = await create('needle, the oldest');
  const hay = await Promise.all(Array.from({ length: 1004 }, (_, i) => create(`hay ${i}`)));
  const newestFirst = hay.map((channel) => channel.id).sort((a, b) => b - a);

  // Nothing matches among the newest 1,000: an empty page, and where to go on.
  assert.deepEqual(await alice.client.request('list_channels', { query: 'needle' }), { channels: [], has_more: true, next: newestFirst[999] });
  const found = await alice.client.request('list_channels', { query: 'needle', before: newestFirst[999] });
  assert.deepEqual([found.channels.map((channel) => channel.id), found.has_more, found.next], [[needle.id], false, null]);

  // Without a query (or with one that matches enough) pages are full, newest first, and go on after their last.
  const page = await alice.client.request('list_channels', { limit: 100 });
  assert.deepEqual([page.channels.map((channel) => channel.id), page.has_more, page.next], [newestFirst.slice(0, 100), true, newestFirst[99]]);
  const matching = await alice.client.request('list_channels', { query: 'hay', limit: 3, before: page.next });
  assert.deepEqual([matching.channels.map((channel) => channel.id), matching.has_more, matching.next], [newestFirst.slice(100, 103), true, newestFirst[102]]);
  const last = await alice.client.request('list_channels', { before: newestFirst[1002] });
  assert.deepEqual([last.channels.map((channel) => channel.id), last.has_more, last.next], [[newestFirst[1003], needle.id], false, null]);
  await expectError(alice.client, { type: 'list_channels', limit: 101 }, 'limit must be a whole number from 1 to 100', 'bad_request');
});
