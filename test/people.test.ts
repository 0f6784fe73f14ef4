// People: profiles, the directory, status, contacts removed, and blocking across contacts, presence and direct messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startServer } from './helpers/server.ts';
import { expectError, person, pushed, settle, socket, syncAll, waitFor } from './helpers/clients.ts';
import { sleep } from './helpers/wait.ts';

test('people', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const stranger = await person(server, 'stranger');
  await alice.client.request('add_contact', { contact_username: bob.username });

  await t.test('update_profile: fullname, bio and email; contacts and your other sockets are told', async () => {
    await expectError(alice.client, { type: 'update_profile' }, 'nothing to update: give fullname, bio, email, avatar, notifications, notify_reactions or who_may_add', 'bad_request');
    await expectError(alice.client, { type: 'update_profile', fullname: '  ' }, 'fullname should not be blank', 'bad_request');
    await expectError(alice.client, { type: 'update_profile', bio: 'b'.repeat(501) }, 'bio may be at most 500 characters', 'bad_request');
    await expectError(alice.client, { type: 'update_profile', email: 'not an address' }, 'email must be an email address', 'bad_request');
    const other = await socket(server, alice.token);
    const me = await alice.client.request('update_profile', { fullname: 'Alice Liddell', bio: 'curious' });
    assert.deepEqual([me.fullname, me.bio, me.email, me.email_verified, me.role], ['Alice Liddell', 'curious', null, false, 'user']);
    const seen = await waitFor(bob.pushes, (push) => push.type === 'user_updated');
    assert.deepEqual(seen.data, { user: { ...(await bob.client.request('get_user', { username: alice.username })), is_online: true } });
    assert.equal((seen.data as { user: Record<string, unknown> }).user.email, undefined, 'the email is private');
    await waitFor(other.pushes, (push) => push.type === 'user_updated');
    await settle(stranger.client);
    assert.deepEqual(pushed(stranger.pushes, 'user_updated'), [], 'non-contacts are not told');
    assert.ok((await syncAll(bob.client)).some((event) => event.type === 'user_updated'), 'sync replays it');
    other.client.close();
  });

  await t.test('email verification: a code goes to the outbox; verify_email confirms it', async () => {
    const outbox = join(dirname(server.dbPath), 'outbox');
    const me = await alice.client.request('update_profile', { email: 'alice@example.com' });
    assert.deepEqual([me.email, me.email_verified], ['alice@example.com', false]);
    const file = await waitForFile(outbox);
    const mail = readFileSync(join(outbox, file), 'utf8');
    assert.match(mail, /^To: alice@example\.com$/m);
    assert.match(mail, /^Subject: Confirm your email address for Parley$/m);
    const code = /is (\d{6})\./.exec(mail)![1]!;
    await server.waitForLog((line) => line.msg === 'mail written to the outbox (no SMTP_URL set)' && line.to === 'alice@example.com');
    await expectError(alice.client, { type: 'verify_email', code: '12345' }, 'code must be the 6 digits from the mail', 'bad_request');
    const wrong = code === '000000' ? '000001' : '000000';
    await expectError(alice.client, { type: 'verify_email', code: wrong }, 'that code is wrong, used up or expired: ask for a new one', 'bad_request');
    const verified = await alice.client.request('verify_email', { code });
    assert.deepEqual([verified.email, verified.email_verified], ['alice@example.com', true]);
    await expectError(alice.client, { type: 'verify_email', code }, 'that code is wrong, used up or expired: ask for a new one', 'bad_request');
  });

  await t.test('a code allows 5 tries, even when they all come at once', async () => {
    await bob.client.request('update_profile', { email: 'bob@example.com' });
    const outbox = join(dirname(server.dbPath), 'outbox');
    let mail = '';
    for (let tries = 0; !mail.includes('bob@example.com'); tries++) {
      assert.ok(tries < 100, 'the mail arrives');
      await sleep(20);
      mail = readdirSync(outbox).map((name) => readFileSync(join(outbox, name), 'utf8')).find((text) => text.includes('bob@example.com')) ?? '';
    }
    const code = /is (\d{6})\./.exec(mail)![1]!;
    const wrong = (n: number) => String((Number(code) + n) % 1_000_000).padStart(6, '0');
    const replies = await Promise.all([1, 2, 3, 4, 5].map((n) => bob.client.call({ type: 'verify_email', code: wrong(n) })));
    assert.ok(replies.every((reply) => !reply.success));
    await expectError(bob.client, { type: 'verify_email', code }, 'that code is wrong, used up or expired: ask for a new one', 'bad_request');
    assert.equal((await bob.client.request('self')).email_verified, false);
  });

  await t.test('get_user and search_users', async () => {
    const profile = await stranger.client.request('get_user', { username: alice.username.toUpperCase() });
    assert.deepEqual([profile.username, profile.fullname, profile.bio, profile.status], [alice.username, 'Alice Liddell', 'curious', 'online']);
    await expectError(stranger.client, { type: 'get_user', username: 'nobody_here' }, "no such user 'nobody_here' exists", 'not_found');
    const prefix = alice.username.slice(0, 5);
    const found = await stranger.client.request('search_users', { query: prefix });
    assert.ok(found.users.some((user) => user.username === alice.username));
    assert.deepEqual((await stranger.client.request('search_users', { query: 'alice liddell' })).users.map((user) => user.username), [alice.username], 'by full name too');
    assert.deepEqual((await stranger.client.request('search_users', { query: '%' })).users, [], '% is a character');
    const names = (await stranger.client.request('search_users', { query: 'Full ' })).users.map((user) => user.username);
    assert.deepEqual(names, [bob.username, stranger.username].sort((a, b) => a.localeCompare(b)));
    const page = await stranger.client.request('search_users', { query: 'Full ', limit: 1 });
    assert.deepEqual([page.users.length, page.next], [1, page.users[0]!.username]);
    const rest = await stranger.client.request('search_users', { query: 'Full ', limit: 1, after: page.next });
    assert.deepEqual([rest.users.map((user) => user.username), rest.next], [names.slice(1), null]);
    await expectError(stranger.client, { type: 'search_users', query: '' }, 'query must not be empty', 'bad_request');
  });

  await t.test('set_status: away and busy are shown; invisible looks offline to everyone else', async () => {
    await expectError(alice.client, { type: 'set_status', status: 'asleep' }, 'status must be one of online, away, busy, invisible', 'bad_request');
    await expectError(alice.client, { type: 'set_status', status: 'away', text: 't'.repeat(101) }, 'text may be at most 100 characters', 'bad_request');
    const other = await socket(server, alice.token);
    assert.deepEqual(await alice.client.request('set_status', { status: 'away', text: 'lunch' }), { status: 'away', status_text: 'lunch' });
    await waitFor(bob.pushes, (push) => push.type === 'user_status' && push.data.status === 'away');
    assert.deepEqual(pushed(bob.pushes, 'user_status').at(-1), { username: alice.username, is_online: true, status: 'away', status_text: 'lunch' });
    await waitFor(other.pushes, (push) => push.type === 'set_status');
    await alice.client.request('set_status', { status: 'invisible' });
    await waitFor(bob.pushes, (push) => push.type === 'user_status' && !push.data.is_online);
    assert.deepEqual(pushed(bob.pushes, 'user_status').at(-1), { username: alice.username, is_online: false, status: 'offline', status_text: '' });
    const seen = (await bob.client.request('get_contacts')).contacts.find((contact) => contact.username === alice.username)!;
    assert.deepEqual([seen.is_online, seen.status], [false, 'offline']);
    const mine = await alice.client.request('self');
    assert.deepEqual([mine.is_online, mine.status], [true, 'invisible'], 'you see yourself as you are');
    const group = await alice.client.request('create_conversation', { name: 'who is here', members: [stranger.username] });
    const members = await stranger.client.request('get_members', { conversation_id: group.id });
    assert.deepEqual(members.map((member) => member.is_online), [false, true], 'invisible in member lists too');
    assert.deepEqual((await alice.client.request('get_members', { conversation_id: group.id })).map((member) => member.is_online), [true, true]);
    await alice.client.request('set_status', { status: 'online' });
    await waitFor(bob.pushes, (push) => push.type === 'user_status' && push.data.is_online && push.data.status === 'online');
    other.client.close();
  });

  await t.test('remove_contact ends it both ways', async () => {
    await expectError(stranger.client, { type: 'remove_contact', contact_username: alice.username }, `'${alice.username}' is not a contact`, 'not_found');
    await expectError(stranger.client, { type: 'remove_contact', contact_username: 'nobody_here' }, "no such user 'nobody_here' exists", 'not_found');
    await stranger.client.request('add_contact', { contact_username: alice.username });
    assert.deepEqual(await stranger.client.request('remove_contact', { contact_username: alice.username }), { username: alice.username });
    await waitFor(alice.pushes, (push) => push.type === 'contact_removed' && push.data.username === stranger.username);
    assert.ok(!(await alice.client.request('get_contacts')).contacts.some((contact) => contact.username === stranger.username));
  });

  await t.test('blocking: no contact, no direct conversation, no presence, either way', async () => {
    const direct = await bob.client.request('create_conversation', { kind: 'direct', members: [alice.username] });
    await expectError(alice.client, { type: 'block_user', username: alice.username }, 'cannot block yourself', 'bad_request');
    await expectError(alice.client, { type: 'block_user', username: 'nobody_here' }, "no such user 'nobody_here' exists", 'not_found');
    const blocked = await alice.client.request('block_user', { username: bob.username });
    assert.equal(blocked.username, bob.username);
    await expectError(alice.client, { type: 'block_user', username: bob.username }, `'${bob.username}' is already blocked`, 'conflict');
    await waitFor(bob.pushes, (push) => push.type === 'contact_removed' && push.data.username === alice.username);
    assert.deepEqual(pushed(bob.pushes, 'block_user'), [], 'the blocked one is not told of the block');
    assert.deepEqual((await alice.client.request('get_blocked')).blocked.map((entry) => entry.username), [bob.username]);
    // Bob cannot see alice or reach her; alice cannot reach bob either.
    await expectError(bob.client, { type: 'get_user', username: alice.username }, `no such user '${alice.username}' exists`, 'not_found');
    await expectError(bob.client, { type: 'add_contact', contact_username: alice.username }, `no such user '${alice.username}' exists`, 'not_found');
    assert.ok(!(await bob.client.request('search_users', { query: alice.username })).users.some((user) => user.username === alice.username));
    await expectError(alice.client, { type: 'add_contact', contact_username: bob.username }, `'${bob.username}' is already blocked`, 'conflict');
    // Bob may still write in their direct conversation, but alice is never shown it (test/blocking.test.ts);
    // alice must unblock bob to write to him; to bob, alice is nobody he can start a conversation with.
    const unseen = await bob.client.request('send_message', { conversation_id: direct.id, content: 'hello?' });
    await settle(alice.client, bob.client);
    assert.ok(!alice.pushes.some((push) => push.type === 'send_message' && push.data.id === unseen.id), 'alice is not shown what bob writes');
    await expectError(alice.client, { type: 'send_message', conversation_id: direct.id, content: 'hi' }, `you blocked '${bob.username}': unblock them first`, 'forbidden');
    await expectError(bob.client, { type: 'create_conversation', kind: 'direct', members: [alice.username] }, `'${alice.username}' is not a valid username`, 'not_found');
    assert.equal((await alice.client.request('get_user', { username: bob.username })).is_online, false, 'the blocker does not see the blocked one online');
    // Presence: bob's comings and goings are not pushed to alice, even once they are contacts again after the unblock.
    await alice.client.request('unblock_user', { username: bob.username });
    await expectError(alice.client, { type: 'unblock_user', username: bob.username }, `'${bob.username}' is not blocked`, 'not_found');
    assert.deepEqual(await alice.client.request('get_blocked'), { blocked: [], next: null });
    await bob.client.request('send_message', { conversation_id: direct.id, content: 'friends again' });
    assert.equal((await alice.client.request('get_user', { username: bob.username })).is_online, true);
  });
});

async function waitForFile(dir: string): Promise<string> {
  for (let tries = 0; tries < 200; tries++) {
    try {
      const files = readdirSync(dir).filter((name) => name.endsWith('.eml'));
      if (files.length) return files.sort()[0]!;
    } catch {
      // not made yet
    }
    await sleep(20);
  }
  throw new Error(`no mail in ${dir}`);
}
