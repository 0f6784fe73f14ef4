// Incoming webhooks: made by members, their secret URL posts into one conversation through send_message's own
// path (seq, sync, pushes, client_id), rate limited; a wrong, rotated or deleted secret gets 404.
import { test } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { built } from './helpers/built.ts';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from './helpers/server.ts';
import { http } from './helpers/http.ts';
import { exchange } from './helpers/bytes.ts';
import { expectError, open, person, pushed, settle, syncAll, waitFor } from './helpers/clients.ts';
import { needs } from './helpers/installed.ts';
import { member, startNodes, tapped } from './helpers/cluster.ts';
import { until } from './helpers/wait.ts';

/** The URL with its secret's last character changed. */
const wrongSecret = (url: string) => url.replace(/.$/, (last) => (last === 'A' ? 'B' : 'A'));

const post = (server: TestServer, url: string, body: string | object, headers: Record<string, string> = {}) =>
  http(server.http, 'POST', url, { body, headers: { 'content-type': 'application/json', ...headers } });

test('a webhook posts into its conversation as a member would, once per client_id', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const eve = await person(server, 'eve');
  const team = await alice.client.request('create_conversation', { kind: 'group', name: 'team', members: [bob.username] });

  const hook = await alice.client.request('create_webhook', { conversation_id: team.id, name: 'CI' });
  assert.match(hook.username, /^hook_[0-9a-f]{12}$/);
  assert.match(hook.url, new RegExp(`^/hooks/${hook.id}/[A-Za-z0-9_-]{43}$`));
  // The members hear of a new member; the URL stays the creator's.
  const joined = await waitFor(bob.pushes, (push) => push.type === 'add_members');
  assert.deepEqual(joined.type === 'add_members' && [joined.data.added, joined.data.by], [[hook.username], alice.username]);
  assert.ok(!JSON.stringify(bob.pushes).includes(hook.url.split('/')[3]!), 'the secret is told to nobody else');
  const [listed] = await bob.client.request('get_webhooks', { conversation_id: team.id });
  assert.deepEqual({ ...listed, created_at: 0 }, { id: hook.id, conversation_id: team.id, name: 'CI', username: hook.username, creator: alice.username, created_at: 0 });

  const sent = await post(server, hook.url, { content: 'build 42 passed' });
  assert.equal(sent.status, 200, sent.body);
  assert.equal(sent.headers['content-type'], 'application/json');
  const reply = JSON.parse(sent.body);
  assert.deepEqual({ ...reply, data: { ...reply.data, sent_at: 0 }, seq: typeof reply.seq }, {
    type: 'send_message', success: true, seq: 'number',
    data: { id: reply.data.id, sender_username: hook.username, conversation_id: team.id, reply_id: null, content: 'build 42 passed', sent_at: 0, edited_at: null, deleted: false, reactions: [], reply_to: null, mentions: [], attachments: [], thread_id: null, also_to_conversation: false, thread: null },
  });
  const pushedMessage = await waitFor(bob.pushes, (push) => push.type === 'send_message' && push.data.id === reply.data.id);
  assert.equal(pushedMessage.type === 'send_message' && pushedMessage.data.content, 'build 42 passed');
  assert.ok((await syncAll(bob.client)).some((event) => event.type === 'send_message' && event.seq === reply.seq), 'sync replays it at its seq');
  const [info] = (await bob.client.request('get_members', { conversation_id: team.id })).filter((member) => member.username === hook.username);
  assert.deepEqual([info!.fullname, info!.role], ['CI', 'member']);

  // A client_id makes a retried post one message.
  const first = JSON.parse((await post(server, hook.url, { content: 'deployed', client_id: 'deploy-7' })).body);
  const retried = await post(server, hook.url, { content: 'deployed', client_id: 'deploy-7' });
  assert.equal(retried.status, 200);
  assert.equal(JSON.parse(retried.body).data.id, first.data.id);
  await settle(bob.client);
  assert.equal(pushed(bob.pushes, 'send_message').filter((message) => message.content === 'deployed').length, 1);

  // Refusals: send_message's own, as JSON with the matching status; the body must be a JSON object.
  const empty = await post(server, hook.url, { content: '  ' });
  assert.deepEqual([empty.status, JSON.parse(empty.body)], [400, { type: 'send_message', success: false, error: 'message content should be non empty string', code: 'bad_request' }]);
  const missing = await post(server, hook.url, { text: 'hi' });
  assert.deepEqual([missing.status, JSON.parse(missing.body).error], [400, 'expected content as string']);
  const notYours = await post(server, hook.url, { content: 'x', attachments: ['0123456789abcdef0123456789abcdef'] });
  assert.deepEqual([notYours.status, JSON.parse(notYours.body).code], [404, 'not_found']);
  const garbage = await post(server, hook.url, 'not json');
  assert.deepEqual([garbage.status, garbage.body], [400, 'the body must be a JSON object: {"content": "...", "attachments"?: [...], "client_id"?: "..."}']);
  const large = await post(server, hook.url, { content: 'x'.repeat(70 * 1024) });
  assert.equal(large.status, 413);

  // A wrong secret, an unknown id, or no id at all: 404, all alike.
  const [, , id, secret] = hook.url.split('/');
  for (const url of [wrongSecret(hook.url), `/hooks/${id}/x`, `/hooks/987654/${secret}`, `/hooks/0${id}/${secret}`, `/hooks/abc/${secret}`]) {
    const wrong = await post(server, url, { content: 'let me in' });
    assert.deepEqual([wrong.status, wrong.body], [404, 'no such webhook'], url);
  }

  // A browser page elsewhere cannot post (a foreign Origin), and the secret stays out of the log.
  const foreign = await post(server, hook.url, { content: 'from a page' }, { origin: 'https://elsewhere.example' });
  assert.deepEqual([foreign.status, foreign.body], [403, 'origin not allowed']);
  const refusal = await server.waitForLog((line) => line.msg === 'request from a foreign origin refused');
  assert.equal(refusal.path, `/hooks/${id}/…`);
  assert.ok(!server.output().includes(secret!), 'no log line holds the secret');

  // Its account is nobody's to add elsewhere; a direct conversation has no room for one; a non-member sees nothing.
  const other = await bob.client.request('create_conversation', { kind: 'group', name: 'other', members: [] });
  await expectError(bob.client, { type: 'add_members', conversation_id: other.id, members: [hook.username] }, `'${hook.username}' is not a valid username`, 'not_found');
  const direct = await alice.client.request('create_conversation', { kind: 'direct', members: [bob.username] });
  await expectError(alice.client, { type: 'create_webhook', conversation_id: direct.id, name: 'x' }, 'a direct conversation always has exactly its two people: cannot add a webhook', 'bad_request');
  await expectError(eve.client, { type: 'get_webhooks', conversation_id: team.id }, `${eve.username} not part of conversation with ${team.id} id`, 'not_found');

  // Its creator or an admin of the conversation manages it; a plain member does not.
  await expectError(bob.client, { type: 'rotate_webhook_secret', webhook_id: hook.id }, `no webhook ${hook.id} that you may manage`, 'not_found');
  await expectError(bob.client, { type: 'delete_webhook', webhook_id: hook.id }, `no webhook ${hook.id} that you may manage`, 'not_found');
  const rotated = await alice.client.request('rotate_webhook_secret', { webhook_id: hook.id });
  assert.deepEqual([rotated.id, rotated.username], [hook.id, hook.username]);
  assert.equal((await post(server, hook.url, { content: 'old secret' })).status, 404);
  assert.equal((await post(server, rotated.url, { content: 'new secret' })).status, 200);

  // Deleted: the URL is gone, its account leaves, its messages stay under its name.
  assert.deepEqual(await alice.client.request('delete_webhook', { webhook_id: hook.id }), { webhook_id: hook.id });
  await waitFor(bob.pushes, (push) => push.type === 'leave_conversation' && push.data.username === hook.username);
  assert.deepEqual([(await post(server, rotated.url, { content: 'gone' })).status], [404]);
  assert.deepEqual(await bob.client.request('get_webhooks', { conversation_id: team.id }), []);
  const history = await bob.client.request('get_messages', { conversation_id: team.id });
  assert.deepEqual(history.messages.map((message) => [message.sender_username, message.content]).slice(0, 2), [[hook.username, 'new secret'], [hook.username, 'deployed']]);
  await expectError(alice.client, { type: 'delete_webhook', webhook_id: hook.id }, `no webhook ${hook.id} that you may manage`, 'not_found');
});

test('a webhook uploads files to its own URL and posts them: the limits of POST /files, a quota of its own, its own files only', async (t) => {
  const server = await startServer(t, { MAX_UPLOAD_BYTES: '2000', UPLOAD_QUOTA_BYTES: '3000' });
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const team = await alice.client.request('create_conversation', { kind: 'group', name: 'team', members: [bob.username] });
  const hook = await alice.client.request('create_webhook', { conversation_id: team.id, name: 'CI' });
  const upload = (url: string, data: string | Buffer, headers: Record<string, string> = {}) =>
    exchange(server.http, 'POST', `${url}/files?filename=build.log`, { body: data, headers: { 'content-type': 'application/octet-stream', ...headers } });
  const log = 'build 43: all green\n';

  const uploaded = await upload(hook.url, log);
  assert.equal(uploaded.status, 201, uploaded.body.toString());
  const file = JSON.parse(uploaded.body.toString()) as { id: string; name: string; size: number; type: string };
  assert.deepEqual([file.name, file.size, file.type, uploaded.headers.location], ['build.log', log.length, 'text/plain', `/files/${file.id}`]);
  const sent = await post(server, hook.url, { content: 'build 43', attachments: [file.id] });
  assert.equal(sent.status, 200, sent.body);
  const message = JSON.parse(sent.body).data as { sender_username: string; attachments: { id: string; name: string }[] };
  assert.deepEqual([message.sender_username, message.attachments.map((attachment) => [attachment.id, attachment.name])], [hook.username, [[file.id, 'build.log']]]);
  const fetched = await exchange(server.http, 'GET', `/files/${file.id}`, { headers: { cookie: `login-token=${bob.token}` } });
  assert.deepEqual([fetched.status, fetched.body.toString()], [200, log], 'a member downloads it as any attachment');

  // Whose file it is still counts: not someone else's, and the webhook's own is nobody else's to attach.
  const alices = await exchange(server.http, 'POST', '/files?filename=mine.txt', { body: 'mine', headers: { cookie: `login-token=${alice.token}` } });
  const alicesId = (JSON.parse(alices.body.toString()) as { id: string }).id;
  const notYours = await post(server, hook.url, { content: 'x', attachments: [alicesId] });
  assert.deepEqual([notYours.status, JSON.parse(notYours.body).error], [404, `no file ${alicesId} of yours: upload it first (POST /files; a webhook: POST <its url>/files)`]);
  const hooks = JSON.parse((await upload(hook.url, 'second')).body.toString()) as { id: string };
  await expectError(alice.client, { type: 'send_message', conversation_id: team.id, content: 'x', attachments: [hooks.id] },
    `no file ${hooks.id} of yours: upload it first (POST /files; a webhook: POST <its url>/files)`, 'not_found');

  // A wrong secret is refused before a byte is kept; the limits are POST /files' own, the quota the webhook's account's.
  const [, , id] = hook.url.split('/');
  for (const url of [wrongSecret(hook.url), `/hooks/987654/${hook.url.split('/')[3]}`]) {
    const wrong = await upload(url, 'let me in');
    assert.deepEqual([wrong.status, wrong.body.toString()], [404, 'no such webhook'], url);
  }
  const big = await upload(hook.url, Buffer.alloc(2001, 0x61));
  assert.deepEqual([big.status, big.body.toString()], [413, 'file too large: the limit is 2000 bytes']);
  assert.equal((await upload(hook.url, Buffer.alloc(1500, 0x62))).status, 201);
  const over = await upload(hook.url, Buffer.alloc(1500, 0x63));
  assert.equal(over.status, 413);
  assert.match(over.body.toString(), /^upload quota exceeded: \d+ of your 3000 bytes are left \(UPLOAD_QUOTA_BYTES\)/);
  assert.equal((await exchange(server.http, 'POST', '/files?filename=b.txt', { body: Buffer.alloc(1500, 0x64), headers: { cookie: `login-token=${alice.token}` } })).status, 201,
    'its creator\'s quota is their own');
  // Gone with the webhook: its URL uploads nothing more.
  await alice.client.request('delete_webhook', { webhook_id: Number(id) });
  assert.equal((await upload(hook.url, 'late')).status, 404);
});

test('webhooks are rate limited each, capped per conversation, and not for bots', async (t) => {
  const server = await startServer(t, { WEBHOOK_POSTS_PER_MINUTE: '3' });
  const alice = await person(server, 'alice');
  const room = await alice.client.request('create_conversation', { kind: 'channel', name: 'alerts', members: [] });
  const hooks = [];
  for (let i = 0; i < 10; i++) hooks.push(await alice.client.request('create_webhook', { conversation_id: room.id, name: `hook ${i}` }));
  await expectError(alice.client, { type: 'create_webhook', conversation_id: room.id, name: 'one more' }, 'at most 10 webhooks per conversation: delete one first', 'bad_request');

  for (let i = 0; i < 3; i++) assert.equal((await post(server, hooks[0]!.url, { content: `alert ${i}` })).status, 200);
  const flooded = await post(server, hooks[0]!.url, { content: 'alert 3' });
  assert.equal(flooded.status, 429);
  assert.match(flooded.body, /^too many posts to this webhook \(WEBHOOK_POSTS_PER_MINUTE\): retry in \d+ s$/);
  assert.match(String(flooded.headers['retry-after']), /^\d+$/);
  const uploadFlooded = await exchange(server.http, 'POST', `${hooks[0]!.url}/files?filename=a.txt`, { body: 'x' });
  assert.deepEqual([uploadFlooded.status, String(uploadFlooded.body).startsWith('too many posts to this webhook')], [429, true], 'its uploads count with its posts');
  assert.equal((await post(server, hooks[1]!.url, { content: 'another hook' })).status, 200, 'each webhook has its own');
  // Counted per URL: a wrong secret's flood is refused without a lookup, and uses up nothing of the real URL's.
  const wrong = wrongSecret(hooks[2]!.url);
  assert.deepEqual(await Promise.all([1, 2, 3, 4].map(async () => (await post(server, wrong, { content: 'guess' })).status)).then((statuses) => statuses.sort()), [404, 404, 404, 429]);
  assert.equal((await post(server, hooks[2]!.url, { content: 'the real one' })).status, 200);

  // An administrator may suspend a webhook's account as anyone's: its URL is then refused.
  const cli = (...args: string[]) => promisify(execFile)(process.execPath, [built('src/admin.ts'), ...args], { env: { ...process.env, ...server.env } });
  await cli('grant-admin', alice.username);
  await alice.client.request('admin_set_user_status', { username: hooks[3]!.username, status: 'suspended' });
  const suspended = await post(server, hooks[3]!.url, { content: 'still there?' });
  assert.deepEqual([suspended.status, suspended.body], [403, 'account suspended']);

  const made = await alice.client.request('create_bot', { username: `bot_${room.id}_${process.pid % 1000}`, fullname: 'Bot' });
  await alice.client.request('add_members', { conversation_id: room.id, members: [made.username] });
  const bot = open(server, undefined, { authorization: `Bearer ${made.token}` });
  await bot.opened;
  await expectError(bot, { type: 'create_webhook', conversation_id: room.id, name: 'mine' }, 'a bot cannot make webhooks', 'forbidden');
  await expectError(bot, { type: 'delete_webhook', webhook_id: hooks[0]!.id }, 'a bot cannot delete webhooks', 'forbidden');
  assert.equal((await bot.request('get_webhooks', { conversation_id: room.id })).length, 10, 'a member bot may list them');
});

test('across two nodes: a post to either reaches every member\'s sockets, the rate limit is the cluster\'s, a bot on the other node hears it', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const [a, b] = (await startNodes(t, 2, { WEBHOOK_POSTS_PER_MINUTE: '3' })) as unknown as [TestServer, TestServer];
  const alice = await member(a);
  const bob = await member(b);
  const aliceOnA = await tapped(a, alice);
  const bobOnB = await tapped(b, bob);
  const room = await aliceOnA.client.request('create_conversation', { kind: 'group', name: 'ops', members: [bob.username] });
  const hook = await aliceOnA.client.request('create_webhook', { conversation_id: room.id, name: 'Pager' });
  const made = await aliceOnA.client.request('create_bot', { username: `${alice.username}_bot`, fullname: 'Helper' });
  await aliceOnA.client.request('add_members', { conversation_id: room.id, members: [made.username] });
  const heard: string[] = [];
  const bot = open(b, undefined, { authorization: `Bearer ${made.token}` });
  bot.on('send_message', (message) => heard.push(message.content));
  await bot.opened;

  const seqs: number[] = [];
  for (const [node, content] of [[a, 'from node1'], [b, 'from node2'], [a, 'node1 again']] as const) {
    const sent = await post(node, hook.url, { content });
    assert.equal(sent.status, 200, sent.body);
    seqs.push(JSON.parse(sent.body).seq);
  }
  await until('both nodes\' posts on both nodes', () => seqs.every((seq) => bobOnB.seqs.includes(seq) && aliceOnA.seqs.includes(seq)));
  await until('the bot on node2 heard them', () => heard.length === 3);
  assert.deepEqual(heard, ['from node1', 'from node2', 'node1 again']);
  const flooded = await post(b, hook.url, { content: 'one too many' });
  assert.equal(flooded.status, 429, 'three a minute, whichever node they reach');

  // A token rotated on node1 closes the bot's socket on node2.
  await aliceOnA.client.request('rotate_bot_token', { username: made.username });
  assert.deepEqual(await bot.closed, { code: 4005, reason: 'session logged out' });
});
