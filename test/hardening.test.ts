// What an attack run and a newcomer's first hour found: each case here failed before its fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from './helpers/server.ts';
import { http, tokenFrom, type HttpResult } from './helpers/http.ts';
import { connect, expectError, login, person, pushed, register, settle, socket, uniqueName, waitFor } from './helpers/clients.ts';
import { sleep, until } from './helpers/wait.ts';

const cookieOf = (result: HttpResult, name: string) => ([] as string[]).concat(result.headers['set-cookie'] ?? []).find((line) => line.startsWith(`${name}=`))!.split(';')[0]!;

test('hardening', async (t) => {
  const server = await startServer(t);

  await t.test('logout with only the refresh-token cookie (the login cookie has expired) ends that session', async () => {
    const username = uniqueName('leaver');
    await register(server, username);
    const loggedIn = await http(server.http, 'POST', '/auth/login', { body: { username, password: 'correct horse battery' } });
    const refresh = cookieOf(loggedIn, 'refresh-token');
    const client = await connect(server, tokenFrom(loggedIn));
    assert.equal(await client.request('ping'), 'pong', 'the socket is in (its token checked) before the logout');
    const out = await http(server.http, 'POST', '/auth/logout', { headers: { cookie: refresh } });
    assert.equal(out.status, 204);
    assert.deepEqual(await client.closed, { code: 4005, reason: 'session logged out' });
    const again = await http(server.http, 'POST', '/auth/refresh', { headers: { cookie: refresh } });
    assert.deepEqual([again.status, again.body], [401, 'invalid refresh-token'], 'the refresh token no longer refreshes');
  });

  await t.test('a repeated client_id shows nothing its sender may no longer see', async () => {
    const owner = await person(server, 'owner');
    const kept = await person(server, 'kept');
    const group = await owner.client.request('create_conversation', { name: 'g', members: [kept.username] });
    const other = await owner.client.request('create_conversation', { name: 'other', members: [kept.username] });
    const original = await kept.client.request('send_message', { conversation_id: group.id, content: 'secret plan', client_id: 'c-1' });
    await owner.client.request('edit_message', { message_id: original.id, content: 'x' }).catch(() => {}); // not hers to edit
    assert.deepEqual(await kept.client.request('send_message', { conversation_id: group.id, content: 'secret plan', client_id: 'c-1' }), original, 'a true retry still returns it');
    await owner.client.request('react', { message_id: original.id, emoji: '👍' });
    await owner.client.request('remove_member', { conversation_id: group.id, username: kept.username });
    await expectError(kept.client, { type: 'send_message', conversation_id: other.id, content: 'anything', client_id: 'c-1' }, "client_id 'c-1' was already used for another message", 'conflict');
    await expectError(kept.client, { type: 'send_message', conversation_id: group.id, content: 'anything', client_id: 'c-1' }, `${kept.username} not part of conversation with ${group.id} id`, 'not_found');
    // After clear_chat the message is hidden from its sender too.
    const mine = await kept.client.request('send_message', { conversation_id: other.id, content: 'mine', client_id: 'c-2' });
    await kept.client.request('clear_chat', { conversation_id: other.id });
    await expectError(kept.client, { type: 'send_message', conversation_id: other.id, content: 'mine', client_id: 'c-2' }, "client_id 'c-2' was already used for another message", 'conflict');
    assert.ok(mine.id > 0);
  });

  await t.test('invisible shows nothing of being online: no last_online moving, no typing, no delivered receipts', async () => {
    const ghost = await person(server, 'ghost');
    const watcher = await person(server, 'watcher');
    await watcher.client.request('add_contact', { contact_username: ghost.username });
    const room = await watcher.client.request('create_conversation', { name: 'r', members: [ghost.username] });
    await ghost.client.request('set_status', { status: 'invisible' });
    const seen = (await watcher.client.request('get_user', { username: ghost.username })).last_online;
    await sleep(1100);
    const again = await socket(server, ghost.token); // connecting while invisible
    again.client.close();
    await again.client.closed;
    await settle(watcher.client);
    assert.equal((await watcher.client.request('get_user', { username: ghost.username })).last_online, seen, 'last_online does not move');
    await ghost.client.request('typing', { conversation_id: room.id, is_typing: true });
    const message = await watcher.client.request('send_message', { conversation_id: room.id, content: 'are you there?' });
    await sleep(700); // receipts go out after 0.5 s
    await settle(watcher.client, ghost.client);
    assert.deepEqual(pushed(watcher.pushes, 'typing'), []);
    assert.ok(!pushed(watcher.pushes, 'receipt').some((receipt) => receipt.username === ghost.username), 'no delivered receipt from an invisible socket');
    assert.deepEqual((await watcher.client.request('get_receipts', { message_id: message.id })).delivered, []);
    assert.ok(!pushed(watcher.pushes, 'user_status').some((status) => status.username === ghost.username && status.is_online));
  });

  await t.test('a read receipt reaches the sender when the reader answers (sending moves their read point)', async () => {
    const nora = await person(server, 'nora');
    const owen = await person(server, 'owen');
    const room = await nora.client.request('create_conversation', { name: 'chat', members: [owen.username] });
    const question = await nora.client.request('send_message', { conversation_id: room.id, content: 'lunch?' });
    const answer = await owen.client.request('send_message', { conversation_id: room.id, content: 'yes', reply_id: question.id });
    const receipt = await waitFor(nora.pushes, (push) => push.type === 'receipt' && push.data.username === owen.username && push.data.read_id !== undefined);
    assert.deepEqual(receipt.data, { conversation_id: room.id, username: owen.username, delivered_id: answer.id, read_id: answer.id });
    assert.deepEqual(await owen.client.request('mark_read', { conversation_id: room.id, message_id: question.id }), { conversation_id: room.id, read_id: answer.id });
  });

  await t.test('verification mails are limited per user and per address, and new codes bring no new guesses', async () => {
    const outbox = join(server.dir, 'outbox');
    // Mails are written after the reply, the outbox folder with the first of them.
    const mails = () => (existsSync(outbox) ? readdirSync(outbox, { withFileTypes: true }).filter((entry) => entry.name.endsWith('.eml')).length : 0);
    const toggler = await person(server, 'toggler');
    const before = mails();
    for (let i = 0; i < 5; i++) await toggler.client.request('update_profile', { email: `${toggler.username}.${i % 2 ? 'b' : 'a'}@example.com` });
    await expectError(toggler.client, { type: 'update_profile', email: `${toggler.username}.c@example.com` }, 'too many verification mails to you or to that address this hour: retry in 60 min', 'rate_limited');
    assert.equal((await toggler.client.request('self')).email, `${toggler.username}.a@example.com`, 'the refused change did not happen');
    await until(() => ({ mails: mails(), before }), () => mails() >= before + 5);
    assert.equal(mails(), before + 5);
    // Three mails to one address an hour, whoever asks.
    const shared = `${uniqueName('shared')}@example.com`;
    for (let i = 0; i < 3; i++) await (await person(server, 'sharer')).client.request('update_profile', { email: shared });
    await expectError((await person(server, 'sharer')).client, { type: 'update_profile', email: shared }, 'too many verification mails to you or to that address this hour: retry in 60 min', 'rate_limited');
    // Ten wrong codes an hour, however many codes were mailed: then even the right one is refused.
    const guesser = await person(server, 'guesser');
    for (let round = 0; round < 3; round++) {
      await guesser.client.request('update_profile', { email: `${guesser.username}.${round}@example.com` });
      for (let i = 0; i < 5; i++) await guesser.client.call({ type: 'verify_email', code: '000000' });
    }
    assert.equal((await guesser.client.request('self')).email_verified, false);
  });

  await t.test('create_conversation: 1,000 listed names and the creator are too many; groups and channels need no members list', async () => {
    const creator = await person(server, 'creator');
    const names = Array.from({ length: 1000 }, (_, i) => `n${i}`);
    await expectError(creator.client, { type: 'create_conversation', members: names }, "'n0' is not a valid username", 'not_found');
    const channel = await creator.client.request('create_conversation', { kind: 'channel', name: 'news' });
    assert.deepEqual([channel.kind, channel.members], ['channel', [creator.username]]);
    const group = await creator.client.request('create_conversation', { kind: 'group', name: 'solo' });
    assert.deepEqual(group.members, [creator.username]);
    await expectError(creator.client, { type: 'create_conversation', name: 'seed style' }, 'members value expected a list', 'bad_request');
    await expectError(creator.client, { type: 'create_conversation', kind: 'direct' }, 'members value expected a list', 'bad_request');
  });

  await t.test('get_messages refuses before and after together; user listings page with after', async () => {
    const reader = await person(server, 'reader');
    const room = await reader.client.request('create_conversation', { name: 'r', members: [] });
    await expectError(reader.client, { type: 'get_messages', conversation_id: room.id, before: 10, after: 1 }, 'give before or after, not both', 'bad_request');
    await expectError(reader.client, { type: 'search_users', query: 'x', before: 'a' }, 'before is now called after: users are listed in username order, after the given name', 'bad_request');
  });

  await t.test('sync beyond the newest seq answers reset', async () => {
    const client = (await person(server, 'restored')).client;
    const far = await client.request('sync', { since: 1_000_000_000 });
    assert.deepEqual({ ...far, next: 0 }, { events: [], next: 0, has_more: false, reset: true });
    assert.ok(far.next > 0, 'next is the newest seq');
    assert.equal((await client.request('sync', { since: far.next })).reset, false, 'from the newest seq on there is nothing to reload');
  });

  await t.test('GET / says what this is; GET /protocol is the reference', async () => {
    const home = await http(server.http, 'GET', '/');
    assert.equal(home.status, 200);
    assert.match(home.body, /^Parley chat server\n/);
    assert.match(home.body, /GET {2}\/protocol +the protocol reference/);
    const reference = await http(server.http, 'GET', '/protocol');
    assert.equal(reference.status, 200);
    assert.match(reference.body, /^# Parley protocol reference\n/);
  });

  await t.test('search snippets stay balanced whatever the content holds', async () => {
    const writer = await person(server, 'marks');
    const room = await writer.client.request('create_conversation', { name: 'r', members: [] });
    await writer.client.request('send_message', { conversation_id: room.id, content: 'odd \u0002 bytes \u0003 around the needle \u0002 here' });
    const [hit] = (await writer.client.request('search_messages', { query: 'needle', conversation_id: room.id })).messages;
    assert.equal(hit!.snippet.split('<mark>').length, 2);
    assert.equal(hit!.snippet.split('</mark>').length, 2);
    assert.match(hit!.snippet, /<mark>needle<\/mark>/);
  });
});

test('unread counts are capped; expensive reads cost more of the rate limit; sync pages are bounded in bytes', async (t) => {
  const server = await startServer(t, { RATE_LIMIT_EVENTS: '1', RATE_LIMIT_BURST: '25', MAX_BACKPRESSURE: '65536' });
  const writer = await person(server, 'writer');
  const reader = await person(server, 'reader');
  const room = await writer.client.request('create_conversation', { name: 'busy', members: [reader.username] });

  // The reader's socket: 25 tokens. Two searches (10 each), then a third finds 4 tokens left.
  const search = () => reader.client.call({ type: 'search_messages', query: 'anything' });
  assert.equal((await search()).success, true);
  assert.equal((await search()).success, true);
  const { ref: _, ...refused } = await search();
  assert.deepEqual(refused, { type: 'search_messages', success: false, error: 'rate limit: search_messages counts as 10 events, at most 1 events a second (bursts of 25); slow down', code: 'rate_limited' });
  assert.equal(await reader.client.request('ping'), 'pong', 'a cheap event still goes through');

  // The writer fills the room past the cap, with big messages for the sync check below.
  // Each socket has its own 25 tokens: six of them send 20 messages each.
  const writers = await Promise.all(Array.from({ length: 6 }, () => login(server, writer.username).then((token) => connect(server, token))));
  for (let i = 0; i < 120; i++) await writers[i % 6]!.request('send_message', { conversation_id: room.id, content: `${i} ${'x'.repeat(3000)}` });
  const fresh = await connect(server, await login(server, reader.username));
  const item = (await fresh.request('get_conversations')).find((entry) => entry.id === room.id)!;
  assert.equal(item.unread_count, 100, 'counted up to 100');

  const page = await fresh.request('sync', { since: 0, limit: 500 });
  assert.equal(page.has_more, true);
  const bytes = page.events.reduce((sum, event) => sum + JSON.stringify(event.data).length, 0);
  assert.ok(bytes <= 16 * 1024 && page.events.length >= 4, `${page.events.length} events, ${bytes} bytes: a quarter of MAX_BACKPRESSURE at most`);
});
