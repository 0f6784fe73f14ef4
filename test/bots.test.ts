// Bots: made by a person, they open sockets and use the file routes with an API token, join conversations
// only when added, and their owner (or an admin) rotates their token, lists, suspends and deletes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { built } from './helpers/built.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { http } from './helpers/http.ts';
import { connect, expectError, login, open, password, person, uniqueName, waitFor, type Recorded } from './helpers/clients.ts';
import { pushes, type PushType } from '../protocol/index.ts';
import type { Client } from '../protocol/client.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A bot's socket, opened with its API token, recording its pushes. */
async function botSocket(server: TestServer, token: string): Promise<{ client: Client; pushes: Recorded[] }> {
  const client = open(server, undefined, bearer(token));
  await client.opened;
  const recorded: Recorded[] = [];
  for (const type of Object.keys(pushes) as PushType[]) client.on(type, (data) => recorded.push({ type, data } as Recorded));
  await client.request('ping');
  return { client, pushes: recorded };
}

/** How a socket opened with these headers is closed. */
async function refused(server: TestServer, headers: Record<string, string>) {
  const client = open(server, undefined, headers);
  return client.closed;
}

test('a bot: made by its owner, signed in by its token alone, added by its owner or invited by others', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const name = uniqueName('helper');
  const made = await alice.client.request('create_bot', { username: name, fullname: 'Helper Bot' });
  assert.equal(made.username, name);
  assert.match(made.token, /^parley_bot_[A-Za-z0-9_-]{43}$/);
  const [listed] = await alice.client.request('get_bots', {});
  assert.deepEqual({ ...listed, created_at: 0 }, { username: name, fullname: 'Helper Bot', avatar_url: null, owner: alice.username, status: 'active', created_at: 0 });
  assert.deepEqual(await bob.client.request('get_bots', {}), [], 'only the owner\'s');

  await expectError(alice.client, { type: 'create_bot', username: 'no', fullname: 'x' }, 'username must be 3 to 32 characters long', 'bad_request');
  await expectError(alice.client, { type: 'create_bot', username: 'bad name', fullname: 'x' }, "username may contain only letters, digits, '_', '.' and '-'", 'bad_request');
  await expectError(alice.client, { type: 'create_bot', username: bob.username.toUpperCase(), fullname: 'x' }, 'username already exists', 'conflict');
  await expectError(alice.client, { type: 'create_bot', username: uniqueName('x'), fullname: ' ' }, 'fullname should not be blank', 'bad_request');

  // No password, no cookie: the token, as a Bearer header, on the socket and the file routes.
  const login = await http(server.http, 'POST', '/auth/login', { body: { username: name, password: '!' } });
  assert.deepEqual([login.status, login.body], [401, 'mismatch username and password']);
  assert.deepEqual(await refused(server, bearer(`${made.token}x`)), { code: 4002, reason: 'invalid login-token' });
  assert.deepEqual(await refused(server, bearer('parley_bot_guess')), { code: 4002, reason: 'invalid login-token' });
  assert.deepEqual(await refused(server, { authorization: made.token }), { code: 4001, reason: 'login-token required' }, 'Bearer, or nothing');
  const bot = await botSocket(server, made.token);
  assert.equal((await bot.client.request('self')).username, name);

  const uploaded = await http(server.http, 'POST', '/files?filename=report.txt', { body: 'all green', headers: bearer(made.token) });
  assert.equal(uploaded.status, 201, uploaded.body);
  const file = JSON.parse(uploaded.body) as { id: string };
  const downloaded = await http(server.http, 'GET', `/files/${file.id}`, { headers: bearer(made.token) });
  assert.deepEqual([downloaded.status, downloaded.body], [200, 'all green']);
  assert.equal((await http(server.http, 'POST', '/files?filename=x.txt', { body: 'x', headers: bearer('parley_bot_nope') })).status, 401);

  // What a bot may not do.
  await expectError(bot.client, { type: 'create_conversation', kind: 'group', name: 'mine', members: [alice.username] }, 'a bot cannot make conversations: it joins those it is added to', 'forbidden');
  const channel = await bob.client.request('create_conversation', { kind: 'channel', name: 'open to all', members: [] });
  await expectError(bot.client, { type: 'join_channel', conversation_id: channel.id }, 'a bot cannot join channels: it joins those it is added to', 'forbidden');
  await expectError(bot.client, { type: 'create_bot', username: uniqueName('sub'), fullname: 'Sub' }, 'a bot cannot make bots', 'forbidden');
  await expectError(bot.client, { type: 'get_bots' }, 'a bot cannot list bots', 'forbidden');
  await expectError(bot.client, { type: 'change_password', old_password: '!', new_password: 'something long' }, 'a bot cannot use a password: it has none', 'forbidden');
  await expectError(bot.client, { type: 'delete_account', password: '!' }, 'a bot cannot use a password: it has none', 'forbidden');

  // Its owner adds it; anyone else invites it, and the bot answers.
  const team = await alice.client.request('create_conversation', { kind: 'group', name: 'team', members: [bob.username] });
  const added = await alice.client.request('add_members', { conversation_id: team.id, members: [name] });
  assert.deepEqual([added.added, added.invited], [[name], undefined]);
  const other = await bob.client.request('create_conversation', { kind: 'group', name: 'bob\'s', members: [] });
  const asked = await bob.client.request('add_members', { conversation_id: other.id, members: [name] });
  assert.deepEqual([asked.added, asked.invited], [[], [name]]);
  await waitFor(bot.pushes, (push) => push.type === 'invitation');
  await bot.client.request('accept_invitation', { conversation_id: other.id });

  // It hears what a member hears, and speaks as one.
  await bob.client.request('send_message', { conversation_id: team.id, content: 'hello bot' });
  const heard = await waitFor(bot.pushes, (push) => push.type === 'send_message' && push.data.content === 'hello bot');
  assert.equal(heard.type === 'send_message' && heard.data.sender_username, bob.username);
  await bot.client.request('send_message', { conversation_id: team.id, content: 'hello bob', attachments: [file.id] });
  await waitFor(bob.pushes, (push) => push.type === 'send_message' && push.data.sender_username === name && push.data.content === 'hello bob' && push.data.attachments.length === 1);

  // Only its owner manages it.
  await expectError(bob.client, { type: 'rotate_bot_token', username: name }, `no bot '${name}' of yours`, 'not_found');
  await expectError(bob.client, { type: 'delete_bot', username: name }, `no bot '${name}' of yours`, 'not_found');
  await expectError(alice.client, { type: 'delete_bot', username: bob.username }, `no bot '${bob.username}' of yours`, 'not_found');

  // A new token: the old one's sockets close and it opens nothing more.
  const rotated = await alice.client.request('rotate_bot_token', { username: name });
  assert.notEqual(rotated.token, made.token);
  assert.deepEqual(await bot.client.closed, { code: 4005, reason: 'session logged out' });
  assert.deepEqual(await refused(server, bearer(made.token)), { code: 4002, reason: 'invalid login-token' });
  const again = await botSocket(server, rotated.token);
  assert.equal(await again.client.request('ping'), 'pong');

  // Deleted: it leaves its conversations (its messages stay), its sockets close, its token opens nothing.
  assert.deepEqual(await alice.client.request('delete_bot', { username: name }), { username: name });
  assert.deepEqual(await again.client.closed, { code: 4003, reason: `'${name}' doesn't exists` });
  await waitFor(bob.pushes, (push) => push.type === 'leave_conversation' && push.data.username === name && push.data.conversation_id === team.id);
  assert.deepEqual(await refused(server, bearer(rotated.token)), { code: 4002, reason: 'invalid login-token' });
  assert.deepEqual(await alice.client.request('get_bots', {}), []);
  const history = await bob.client.request('get_messages', { conversation_id: team.id });
  assert.deepEqual(history.messages.map((message) => [message.sender_username, message.content]), [['deleted user', 'hello bob'], [bob.username, 'hello bot']], 'its messages stay, as a deleted person\'s do');
});

test('bots per owner are capped; admins list, suspend and delete anyone\'s; a deleted owner takes their bots along', async (t) => {
  const server = await startServer(t);
  const boss = await person(server, 'boss');
  const carol = await person(server, 'carol');
  const cli = (...args: string[]) => promisify(execFile)(process.execPath, [built('src/admin.ts'), ...args], { env: { ...process.env, ...server.env } });
  await cli('grant-admin', boss.username);

  const names = Array.from({ length: 25 }, () => uniqueName('b'));
  const tokens = [];
  for (const username of names) tokens.push((await carol.client.request('create_bot', { username, fullname: 'Bot' })).token);
  await expectError(carol.client, { type: 'create_bot', username: uniqueName('b'), fullname: 'Bot' }, 'at most 25 bots per account: delete one first', 'bad_request');
  await expectError(carol.client, { type: 'get_bots', all: true }, 'only admins can use get_bots with all', 'forbidden');

  const everyBot = await boss.client.request('get_bots', { all: true });
  assert.deepEqual(everyBot.map((bot) => [bot.username, bot.owner]), names.map((name) => [name, carol.username]));
  assert.deepEqual(await boss.client.request('get_bots', {}), [], 'without all: their own');
  const users = await boss.client.request('admin_list_users', { query: names[0]! });
  assert.deepEqual(users.users.map((user) => [user.username, user.kind, user.role]), [[names[0], 'bot', 'user']]);
  await expectError(boss.client, { type: 'admin_set_role', username: names[0], role: 'admin' }, `'${names[0]}' is not a person: only people can be admins`, 'bad_request');

  // Suspended: its sockets close and its token opens nothing; active again, its owner gives it a new token.
  const bot = await botSocket(server, tokens[0]!);
  await boss.client.request('admin_set_user_status', { username: names[0]!, status: 'suspended' });
  assert.deepEqual(await bot.client.closed, { code: 4009, reason: 'account suspended' });
  assert.deepEqual((await boss.client.request('get_bots', { all: true }))[0]!.status, 'suspended');
  await boss.client.request('admin_set_user_status', { username: names[0]!, status: 'active' });
  assert.deepEqual(await refused(server, bearer(tokens[0]!)), { code: 4002, reason: 'invalid login-token' });
  const fresh = await carol.client.request('rotate_bot_token', { username: names[0]! });
  assert.equal(await (await botSocket(server, fresh.token)).client.request('ping'), 'pong');

  // An admin deletes anyone's bot, or rotates its token.
  await boss.client.request('rotate_bot_token', { username: names[1]! });
  assert.deepEqual(await boss.client.request('delete_bot', { username: names[1]! }), { username: names[1] });
  assert.equal((await carol.client.request('get_bots', {})).length, 24);

  // A suspended owner's bots are cut off with them; active again, the owner gives them new tokens.
  const other = await botSocket(server, tokens[3]!);
  await boss.client.request('admin_set_user_status', { username: carol.username, status: 'suspended' });
  assert.deepEqual(await other.client.closed, { code: 4009, reason: 'account suspended' });
  assert.deepEqual(await refused(server, bearer(tokens[3]!)), { code: 4002, reason: 'invalid login-token' });
  await boss.client.request('admin_set_user_status', { username: carol.username, status: 'active' });
  const carolAgain = await connect(server, await login(server, carol.username));
  assert.deepEqual(await refused(server, bearer(tokens[3]!)), { code: 4002, reason: 'invalid login-token' });
  const renewed = await carolAgain.request('rotate_bot_token', { username: names[3]! });
  const last = await botSocket(server, renewed.token);
  assert.equal(await last.client.request('ping'), 'pong');

  // Their owner deleted, the bots go too.
  await carolAgain.request('delete_account', { password });
  assert.deepEqual(await last.client.closed, { code: 4003, reason: `'${names[3]}' doesn't exists` });
  assert.deepEqual(await boss.client.request('get_bots', { all: true }), []);
});
