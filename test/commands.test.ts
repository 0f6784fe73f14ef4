// Slash commands: registered by a conversation's admins, run by members against a real local https server;
// signed calls, no redirect followed, a deadline, and every failure told to the sender.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { built } from './helpers/built.ts';
import { startServer } from './helpers/server.ts';
import { selfSignedCertificate } from './helpers/installed.ts';
import { connect, expectError, person, pushed, settle, socket, syncAll, waitFor } from './helpers/clients.ts';
import { withStore } from './helpers/store.ts';
import { http } from './helpers/http.ts';

type Call = { path: string; body: Record<string, unknown>; signature: string; attempt: string; raw: string };

/** A command server on 127.0.0.1 over https: each path answers its own way; every call is kept. */
async function commandServer(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-commands-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files = selfSignedCertificate(dir);
  const calls: Call[] = [];
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const read = async (request: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString();
  };
  const server = createServer({ key: readFileSync(files.key), cert: readFileSync(files.cert) }, async (request, response) => {
    const raw = await read(request);
    const body = JSON.parse(raw) as Record<string, unknown>;
    const path = request.url ?? '';
    calls.push({ path, body, signature: String(request.headers['parley-signature']), attempt: String(request.headers['parley-attempt']), raw });
    const seen = calls.filter((call) => call.path === path).length;
    const json = (value: unknown) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (path === '/echo') return json({ text: `you said: ${body.text}` });
    if (path === '/announce') return json({ response_type: 'in_channel', text: `${body.username} announces: ${body.text}` });
    if (path === '/quiet') return response.writeHead(204).end();
    if (path === '/loop') return json({ response_type: 'in_channel', text: '/echo from the loop' });
    if (path === '/redirect') return response.writeHead(302, { location: `https://127.0.0.1:${port}/echo` }).end();
    if (path === '/broken') return response.writeHead(500).end('oops');
    // Fails twice (a 503, then no answer in time), then answers: each run of it takes three tries.
    if (path === '/flaky' && seen % 3 === 1) return response.writeHead(503).end('busy');
    if (path === '/flaky' && seen % 3 === 2) await held;
    if (path === '/flaky') return json({ text: `third time lucky: ${body.text}` });
    if (path === '/forbidden') return response.writeHead(403).end('no');
    if (path === '/garbage') return response.writeHead(200).end('<html>');
    if (path === '/slow') await held;
    response.writeHead(200).end('{"text":"too late"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  t.after(() => {
    release();
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { base: `https://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, ca: files.cert, calls };
}

test('slash commands: answered to the sender or posted as the command, every failure told', async (t) => {
  const commands = await commandServer(t);
  const server = await startServer(t, { COMMAND_HOSTS: commands.host, COMMAND_TIMEOUT_MS: '500', NODE_EXTRA_CA_CERTS: commands.ca });
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const eve = await person(server, 'eve');
  const team = await alice.client.request('create_conversation', { kind: 'group', name: 'team', members: [bob.username] });
  const url = (path: string) => `${commands.base}${path}`;

  // Registering: the owner or an admin, an allowed https URL, one name once.
  await expectError(bob.client, { type: 'create_command', conversation_id: team.id, command: 'echo', url: url('/echo') }, `only the owner or an admin of conversation ${team.id} can add slash commands`, 'forbidden');
  await expectError(alice.client, { type: 'create_command', conversation_id: team.id, command: 'echo', url: `http://${commands.host}/echo` }, 'url must be an https URL', 'bad_request');
  await expectError(alice.client, { type: 'create_command', conversation_id: team.id, command: 'echo', url: 'https://example.com/echo' }, 'url host example.com is not one this server sends commands to (COMMAND_HOSTS)', 'bad_request');
  await expectError(alice.client, { type: 'create_command', conversation_id: team.id, command: 'Echo!', url: url('/echo') }, "command must be 1 to 32 lower-case letters, digits, '_' or '-' (a leading slash is dropped)", 'bad_request');
  const direct = await alice.client.request('create_conversation', { kind: 'direct', members: [bob.username] });
  await expectError(alice.client, { type: 'create_command', conversation_id: direct.id, command: 'echo', url: url('/echo') }, 'a direct conversation always has exactly its two people: cannot add a slash command', 'bad_request');
  const echo = await alice.client.request('create_command', { conversation_id: team.id, command: '/echo', url: url('/echo') });
  assert.deepEqual([echo.command, typeof echo.secret], ['echo', 'string']);
  await waitFor(bob.pushes, (push) => push.type === 'add_members' && push.data.added[0] === echo.username);
  await expectError(alice.client, { type: 'create_command', conversation_id: team.id, command: 'echo', url: url('/echo') }, `conversation ${team.id} already has a command /echo`, 'conflict');
  const made: Record<string, { id: number; username: string; secret: string }> = { echo };
  for (const name of ['announce', 'quiet', 'redirect', 'broken', 'garbage', 'slow', 'flaky', 'forbidden']) {
    made[name] = await alice.client.request('create_command', { conversation_id: team.id, command: name, url: url(`/${name}`) });
  }
  const listed = await bob.client.request('get_commands', { conversation_id: team.id });
  assert.deepEqual(listed.map((command) => command.command), ['announce', 'broken', 'echo', 'flaky', 'forbidden', 'garbage', 'quiet', 'redirect', 'slow']);
  assert.deepEqual({ ...listed[2], created_at: 0 }, {
    id: echo.id, conversation_id: team.id, scope: 'conversation', overridden: false, command: 'echo', url: url('/echo'), username: echo.username, creator: alice.username, created_at: 0,
  });

  // Ephemeral: the answer is the sender's alone; the call is signed with the command's secret.
  const before = pushed(bob.pushes, 'send_message').length;
  assert.deepEqual(await bob.client.request('run_command', { conversation_id: team.id, text: '/echo  hello world ' }), { command: 'echo', response_type: 'ephemeral', text: 'you said: hello world', message: null, attempts: 1 });
  const [call] = commands.calls;
  assert.deepEqual(call!.body, { command: 'echo', text: 'hello world', conversation_id: team.id, username: bob.username, command_id: echo.id });
  const [, seconds, mac] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(call!.signature)!;
  assert.equal(mac, createHmac('sha256', echo.secret).update(`${seconds}.${call!.raw}`).digest('hex'));
  assert.ok(Math.abs(Number(seconds) - Date.now() / 1000) < 60);
  assert.deepEqual(await bob.client.request('run_command', { conversation_id: team.id, text: '/quiet' }), { command: 'quiet', response_type: 'ephemeral', text: '', message: null, attempts: 1 });

  // In the channel: posted as the command's account, pushed to every member.
  const shown = await bob.client.request('run_command', { conversation_id: team.id, text: '/announce release 2.0' });
  assert.deepEqual([shown.response_type, shown.text, shown.message?.sender_username, shown.message?.content], ['in_channel', `${bob.username} announces: release 2.0`, made.announce!.username, `${bob.username} announces: release 2.0`]);
  await waitFor(alice.pushes, (push) => push.type === 'send_message' && push.data.id === shown.message!.id);
  await settle(bob.client);
  assert.deepEqual(pushed(bob.pushes, 'send_message').slice(before).map((message) => message.sender_username), [made.announce!.username], 'the ephemeral answers pushed nothing');

  // A message that starts with a command runs it, never posted by mistake; any other slash is words.
  assert.deepEqual(await bob.client.request('send_message', { conversation_id: team.id, content: '/echo hi' }), { command: 'echo', response_type: 'ephemeral', text: 'you said: hi', message: null, attempts: 1 });
  assert.equal((await bob.client.request('send_message', { conversation_id: team.id, content: '/shrug' })).content, '/shrug');

  // Failures that may pass are tried again: a 503, then no answer in time, then the answer (three tries, each saying which it is).
  const lucky = await bob.client.request('run_command', { conversation_id: team.id, text: '/flaky deploy' });
  assert.deepEqual(lucky, { command: 'flaky', response_type: 'ephemeral', text: 'third time lucky: deploy', message: null, attempts: 3 });
  assert.deepEqual(commands.calls.filter((one) => one.path === '/flaky').map((one) => one.attempt), ['1', '2', '3']);

  // Failures, each told to the sender as the error and as a command_failed push to every socket of theirs: a redirect is
  // not followed, a 4xx and an answer that is no JSON are final, a server error and no answer in time are tried three times.
  const other = await socket(server, bob.token);
  const failed = async (command: string, problem: string, attempts: number) => {
    const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
    await expectError(bob.client, { type: 'run_command', conversation_id: team.id, text: `/${command}` }, `/${command} failed: ${problem} (${tries})`, 'upstream');
    const told = { command, conversation_id: team.id, reason: problem, attempts };
    for (const pushes of [bob.pushes, other.pushes]) assert.deepEqual((await waitFor(pushes, (one) => one.type === 'command_failed' && one.data.command === command)).data, told);
    assert.equal(commands.calls.filter((one) => one.path === `/${command}`).length, attempts);
  };
  await failed('redirect', 'its server answered 302', 1);
  await failed('forbidden', 'its server answered 403', 1);
  await failed('broken', 'its server answered 500', 3);
  await failed('garbage', 'its server answered something other than JSON {"text": "...", "response_type"?: "ephemeral" | "in_channel"}', 1);
  await failed('slow', 'no answer within 500 ms', 3);
  assert.deepEqual(commands.calls.map((one) => one.path).filter((path) => path === '/echo').length, 2, 'the redirect was not followed');
  assert.ok(!(await syncAll(bob.client)).some((event) => event.type === 'command_failed'), 'not logged: sync does not replay it');

  await expectError(bob.client, { type: 'run_command', conversation_id: team.id, text: 'hello' }, 'text must start with /command', 'bad_request');
  await expectError(bob.client, { type: 'run_command', conversation_id: team.id, text: '/nope' }, `conversation ${team.id} has no command /nope`, 'not_found');
  await expectError(eve.client, { type: 'run_command', conversation_id: team.id, text: '/echo' }, `${eve.username} not part of conversation with ${team.id} id`, 'not_found');

  // Deleted by its creator (or an admin), not by a plain member: its account leaves.
  await expectError(bob.client, { type: 'delete_command', command_id: echo.id }, `no slash command ${echo.id} that you may manage`, 'not_found');
  assert.deepEqual(await alice.client.request('delete_command', { command_id: echo.id }), { command_id: echo.id });
  await waitFor(bob.pushes, (push) => push.type === 'leave_conversation' && push.data.username === echo.username);
  await expectError(bob.client, { type: 'run_command', conversation_id: team.id, text: '/echo' }, `conversation ${team.id} has no command /echo`, 'not_found');
  assert.equal((await bob.client.request('send_message', { conversation_id: team.id, content: '/echo is words again' })).content, '/echo is words again');
});

test('server-wide slash commands: a server administrator registers them, every group and channel offers them, a conversation\'s own stands before one', async (t) => {
  const commands = await commandServer(t);
  const server = await startServer(t, { COMMAND_HOSTS: commands.host, COMMAND_TIMEOUT_MS: '500', NODE_EXTRA_CA_CERTS: commands.ca });
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const carol = await person(server, 'carol');
  await promisify(execFile)(process.execPath, [built('src/admin.ts'), 'grant-admin', alice.username], { env: { ...process.env, ...server.env } });
  const team = await bob.client.request('create_conversation', { kind: 'group', name: 'team', members: [carol.username] });
  const url = (path: string) => `${commands.base}${path}`;

  // Only a server administrator, even the owner of every conversation there is: not bob.
  await expectError(bob.client, { type: 'create_command', command: 'echo', url: url('/echo') }, 'only admins can use create_command without conversation_id', 'forbidden');
  await expectError(alice.client, { type: 'create_command', command: 'echo', url: 'https://example.com/echo' }, 'url host example.com is not one this server sends commands to (COMMAND_HOSTS)', 'bad_request');
  const echo = await alice.client.request('create_command', { command: 'echo', url: url('/echo') });
  await expectError(alice.client, { type: 'create_command', command: '/echo', url: url('/echo') }, 'the server already has a server-wide command /echo', 'conflict');
  const serverEcho = { id: echo.id, conversation_id: null, scope: 'server', overridden: false, command: 'echo', url: url('/echo'), username: echo.username, creator: alice.username, created_at: 0 };
  const listed = async (who: typeof bob, conversationId?: number) =>
    (await who.client.request('get_commands', conversationId === undefined ? {} : { conversation_id: conversationId })).map((command) => ({ ...command, created_at: 0 }));
  assert.deepEqual(await listed(carol, team.id), [serverEcho], 'offered in a group its administrator is not in');
  assert.deepEqual(await listed(carol), [serverEcho]);

  // Run as any command: the call names the conversation it is run in; a message starting with it runs it too.
  assert.deepEqual(await carol.client.request('run_command', { conversation_id: team.id, text: '/echo hi' }), { command: 'echo', response_type: 'ephemeral', text: 'you said: hi', message: null, attempts: 1 });
  assert.deepEqual(commands.calls.at(-1)!.body, { command: 'echo', text: 'hi', conversation_id: team.id, username: carol.username, command_id: echo.id });
  assert.deepEqual(await carol.client.request('send_message', { conversation_id: team.id, content: '/echo there' }), { command: 'echo', response_type: 'ephemeral', text: 'you said: there', message: null, attempts: 1 });
  assert.deepEqual(commands.calls.at(-1)!.body, { command: 'echo', text: 'there', conversation_id: team.id, username: carol.username, command_id: echo.id });
  // Posting its answer, its account joins the conversation (the members are told), then posts.
  const announce = await alice.client.request('create_command', { command: 'announce', url: url('/announce') });
  const shown = await carol.client.request('run_command', { conversation_id: team.id, text: '/announce release' });
  assert.equal(shown.message?.sender_username, announce.username);
  await waitFor(bob.pushes, (push) => push.type === 'add_members' && push.data.added[0] === announce.username);
  await waitFor(bob.pushes, (push) => push.type === 'send_message' && push.data.id === shown.message!.id);
  assert.equal((await carol.client.request('run_command', { conversation_id: team.id, text: '/announce again' })).message?.sender_username, announce.username, 'once a member, it stays');

  // Banned from a conversation, it does not join to post there: the sender is told its answer could not be posted.
  const other = await bob.client.request('create_conversation', { kind: 'group', name: 'other', members: [carol.username] });
  await bob.client.request('ban_member', { conversation_id: other.id, username: announce.username });
  const problem = `its answer could not be posted: ${announce.username} not part of conversation with ${other.id} id`;
  await expectError(carol.client, { type: 'run_command', conversation_id: other.id, text: '/announce here' }, `/announce failed: ${problem} (1 attempt)`, 'upstream');
  const told = await waitFor(carol.pushes, (push) => push.type === 'command_failed' && push.data.conversation_id === other.id);
  assert.deepEqual(told.data, { command: 'announce', conversation_id: other.id, reason: problem, attempts: 1 });

  // Not in direct conversations: there the words are words.
  const direct = await bob.client.request('create_conversation', { kind: 'direct', members: [carol.username] });
  await expectError(carol.client, { type: 'run_command', conversation_id: direct.id, text: '/echo' }, `conversation ${direct.id} has no command /echo`, 'not_found');
  assert.equal((await carol.client.request('send_message', { conversation_id: direct.id, content: '/echo x' })).content, '/echo x');
  assert.deepEqual(await listed(carol, direct.id), []);

  // A conversation's own command of the same name stands before the server's, which is listed as overridden.
  const own = await bob.client.request('create_command', { conversation_id: team.id, command: 'echo', url: url('/quiet') });
  assert.deepEqual((await listed(carol, team.id)).map((command) => [command.command, command.scope, command.overridden, command.id]),
    [['echo', 'conversation', false, own.id], ['announce', 'server', false, announce.id], ['echo', 'server', true, echo.id]]);
  assert.deepEqual(await carol.client.request('run_command', { conversation_id: team.id, text: '/echo hi' }), { command: 'echo', response_type: 'ephemeral', text: '', message: null, attempts: 1 });

  // Deleted by a server administrator only: its account leaves every conversation it posted in.
  await expectError(bob.client, { type: 'delete_command', command_id: announce.id }, `no slash command ${announce.id} that you may manage`, 'not_found');
  assert.deepEqual(await alice.client.request('delete_command', { command_id: announce.id }), { command_id: announce.id });
  await waitFor(bob.pushes, (push) => push.type === 'leave_conversation' && push.data.username === announce.username);
  await bob.client.request('delete_command', { command_id: own.id });
  assert.deepEqual(await carol.client.request('run_command', { conversation_id: team.id, text: '/echo back' }), { command: 'echo', response_type: 'ephemeral', text: 'you said: back', message: null, attempts: 1 });
  assert.deepEqual(await listed(carol, team.id), [serverEcho]);
});

test('a message that starts with a slash command runs it as run_command does and is not stored; other slashes are words', async (t) => {
  const commands = await commandServer(t);
  const server = await startServer(t, { COMMAND_HOSTS: commands.host, COMMAND_TIMEOUT_MS: '500', NODE_EXTRA_CA_CERTS: commands.ca });
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const team = await alice.client.request('create_conversation', { kind: 'group', name: 'team', members: [bob.username] });
  const url = (path: string) => `${commands.base}${path}`;
  const made: Record<string, { id: number; username: string }> = {};
  for (const name of ['echo', 'announce', 'broken', 'loop']) made[name] = await alice.client.request('create_command', { conversation_id: team.id, command: name, url: url(`/${name}`) });
  const other = await socket(server, bob.token);

  // Ephemeral: the reply is run_command's, the call is the one run_command makes; nobody is pushed anything.
  const before = pushed(alice.pushes, 'send_message').length;
  assert.deepEqual(await bob.client.request('send_message', { conversation_id: team.id, content: '/echo  hello world ', client_id: 'first' }),
    { command: 'echo', response_type: 'ephemeral', text: 'you said: hello world', message: null, attempts: 1 });
  assert.deepEqual(commands.calls.at(-1)!.body, { command: 'echo', text: 'hello world', conversation_id: team.id, username: bob.username, command_id: made.echo!.id });

  // In the channel: posted as the command's account, pushed to every member; the sender's words are not.
  const shown = await bob.client.request('send_message', { conversation_id: team.id, content: '/announce v2' }) as unknown as { response_type: string; message: { id: number; sender_username: string; content: string } };
  assert.deepEqual([shown.response_type, shown.message.sender_username, shown.message.content], ['in_channel', made.announce!.username, `${bob.username} announces: v2`]);
  await waitFor(alice.pushes, (push) => push.type === 'send_message' && push.data.id === shown.message.id);
  await settle(alice.client);
  assert.deepEqual(pushed(alice.pushes, 'send_message').slice(before).map((message) => message.content), [`${bob.username} announces: v2`]);

  // A failure is the send's error and a command_failed push to every socket of the sender, after the same three tries.
  await expectError(bob.client, { type: 'send_message', conversation_id: team.id, content: '/broken now' }, '/broken failed: its server answered 500 (3 attempts)', 'upstream');
  for (const pushes of [bob.pushes, other.pushes]) {
    assert.deepEqual((await waitFor(pushes, (one) => one.type === 'command_failed')).data, { command: 'broken', conversation_id: team.id, reason: 'its server answered 500', attempts: 3 });
  }
  assert.equal(commands.calls.filter((one) => one.path === '/broken').length, 3);

  // An answer that is itself a command is neither run (a command does not call commands) nor posted.
  const looped = `its answer could not be posted: it starts with the slash command /echo`;
  await expectError(bob.client, { type: 'send_message', conversation_id: team.id, content: '/loop' }, `/loop failed: ${looped} (1 attempt)`, 'upstream');
  assert.deepEqual((await waitFor(bob.pushes, (one) => one.type === 'command_failed' && one.data.command === 'loop')).data, { command: 'loop', conversation_id: team.id, reason: looped, attempts: 1 });

  // Authorized as run_command is: not a member, not run; a command takes no files, reply or thread along.
  const eve = await person(server, 'eve');
  await expectError(eve.client, { type: 'send_message', conversation_id: team.id, content: '/echo hi' }, `${eve.username} not part of conversation with ${team.id} id`, 'not_found');
  const plain = await bob.client.request('send_message', { conversation_id: team.id, content: 'plain words' });
  await expectError(bob.client, { type: 'send_message', conversation_id: team.id, content: '/echo hi', reply_id: plain.id }, '/echo is a slash command: it runs from a message with no attachments, reply_id or thread_id', 'bad_request');
  await expectError(bob.client, { type: 'send_message', conversation_id: team.id, content: '/echo hi', thread_id: plain.id }, '/echo is a slash command: it runs from a message with no attachments, reply_id or thread_id', 'bad_request');

  // A bot cannot run commands, so neither can an incoming webhook's post (its account's send_message): refused, not posted.
  const hook = await alice.client.request('create_webhook', { conversation_id: team.id, name: 'CI' });
  const posted = await http(server.http, 'POST', hook.url, { body: { content: '/echo from CI' }, headers: { 'content-type': 'application/json' } });
  assert.deepEqual([posted.status, JSON.parse(posted.body)], [403, { type: 'send_message', success: false, error: 'a bot cannot run slash commands', code: 'forbidden' }]);

  // Any other slash is words, as before: an unknown command, a "//" escape, a slash later in the text.
  for (const content of ['/shrug', '//echo hi', ' /echo hi', 'x /echo']) {
    assert.equal((await bob.client.request('send_message', { conversation_id: team.id, content })).content, content);
  }
  const { messages } = await alice.client.request('get_messages', { conversation_id: team.id });
  assert.deepEqual(messages.map((message) => message.content).reverse(), [`${bob.username} announces: v2`, 'plain words', '/shrug', '//echo hi', ' /echo hi', 'x /echo'], 'no command was stored');
  assert.ok(!(await syncAll(bob.client)).some((event) => event.type === 'send_message' && (event.data as { content: string }).content.startsWith('/echo ')), 'nor logged');
});

test('a server-wide command\'s account joins no conversation past the member cap, and a host no longer allowed fails with no try', async (t) => {
  const commands = await commandServer(t);
  const dir = mkdtempSync(join(tmpdir(), 'parley-commands-home-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const allowed = { COMMAND_HOSTS: commands.host, COMMAND_TIMEOUT_MS: '500', NODE_EXTRA_CA_CERTS: commands.ca };
  const first = await startServer(t, allowed, dir);
  const owner = await person(first, 'owner');
  await promisify(execFile)(process.execPath, [built('src/admin.ts'), 'grant-admin', owner.username], { env: { ...process.env, ...first.env } });
  const announce = await owner.client.request('create_command', { command: 'announce', url: `${commands.base}/announce` });
  const team = await owner.client.request('create_conversation', { kind: 'group', name: 'team', members: [] });
  await owner.client.request('create_command', { conversation_id: team.id, command: 'echo', url: `${commands.base}/echo` });
  await first.stop();
  // 999 more people, written straight into the database, fill a group to the cap of 1,000.
  const full = await withStore(first, async (store) => {
    const ownerId = (await store.users.byUsername(owner.username))!.id;
    const crowd: number[] = [];
    for (let i = 0; i < 999; i++) crowd.push((await store.users.insert({ username: `crowd_${i}`, fullname: 'Crowd', passwordHash: 'x', now: 1 }))!);
    return store.conversations.create({ name: 'full group', creatorId: ownerId, memberIds: [ownerId, ...crowd], now: 1 });
  });

  const second = await startServer(t, allowed, dir);
  const client = await connect(second, owner.token);
  const pushes: { type: string; data: unknown }[] = [];
  client.on('command_failed', (data) => pushes.push({ type: 'command_failed', data }));
  const reason = `its answer could not be posted: its account ${announce.username} cannot join, a conversation may have at most 1000 members`;
  await expectError(client, { type: 'send_message', conversation_id: full, content: '/announce hi' }, `/announce failed: ${reason} (1 attempt)`, 'upstream');
  await expectError(client, { type: 'run_command', conversation_id: full, text: '/announce hi' }, `/announce failed: ${reason} (1 attempt)`, 'upstream');
  while (pushes.length < 2) await settle(client);
  assert.deepEqual(pushes.map((push) => push.data), [1, 2].map(() => ({ command: 'announce', conversation_id: full, reason, attempts: 1 })));
  assert.equal((await client.request('get_members', { conversation_id: full })).length, 1000, 'it did not join');
  await second.stop();

  // Restarted with COMMAND_HOSTS no longer allowing the commands' host: not sent at all, and told so.
  const third = await startServer(t, { ...allowed, COMMAND_HOSTS: 'example.com' }, dir);
  const again = await connect(third, owner.token);
  const told: unknown[] = [];
  again.on('command_failed', (data) => told.push(data));
  const calls = commands.calls.length;
  const problem = `url host ${commands.host} is not one this server sends commands to (COMMAND_HOSTS)`;
  await expectError(again, { type: 'run_command', conversation_id: team.id, text: '/echo hi' }, `/echo failed: ${problem} (not sent)`, 'upstream');
  await expectError(again, { type: 'send_message', conversation_id: team.id, content: '/echo hi' }, `/echo failed: ${problem} (not sent)`, 'upstream');
  while (told.length < 2) await settle(again);
  assert.deepEqual(told, [1, 2].map(() => ({ command: 'echo', conversation_id: team.id, reason: problem, attempts: 0 })));
  assert.equal(commands.calls.length, calls, 'no call was made');
});
