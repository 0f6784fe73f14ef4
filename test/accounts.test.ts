// Accounts: password reset through a real SMTP server, deleting an account, and administration (CLI and events).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SMTPServer } from 'smtp-server';
import { built } from './helpers/built.ts';
import { startServer } from './helpers/server.ts';
import { http } from './helpers/http.ts';
import { connect, expectError, login, password, person, syncAll, waitFor } from './helpers/clients.ts';
import { sleep } from './helpers/wait.ts';
import { withStore } from './helpers/store.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real SMTP server on a free port that keeps every message it receives. */
async function mailServer(t: { after(fn: () => unknown): void }) {
  const received: { to: string[]; raw: string }[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((rcpt) => rcpt.address), raw: Buffer.concat(chunks).toString() });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => smtp.close(() => resolve(undefined))));
  const port = (smtp.server.address() as { port: number }).port;
  return { url: `smtp://127.0.0.1:${port}`, received };
}

async function mailTo(received: { to: string[]; raw: string }[], address: string, count = 1): Promise<string> {
  for (let tries = 0; tries < 250; tries++) {
    const mails = received.filter((mail) => mail.to.includes(address));
    if (mails.length >= count) return mails[count - 1]!.raw;
    await sleep(20);
  }
  throw new Error(`no mail to ${address}`);
}

const codeIn = (raw: string) => /is (\d{6})\./.exec(raw)![1]!;

test('password reset through a real SMTP server', async (t) => {
  const smtp = await mailServer(t);
  const server = await startServer(t, { SMTP_URL: smtp.url, MAIL_FROM: 'Parley Test <noreply@parley.test>' });
  const alice = await person(server, 'alice');
  await alice.client.request('update_profile', { email: 'alice@parley.test' });
  await alice.client.request('verify_email', { code: codeIn(await mailTo(smtp.received, 'alice@parley.test')) });
  const post = (path: string, body: object) => http(server.http, 'POST', path, { body });

  const unknown = await post('/auth/forgot-password', { username: 'nobody_at_all' });
  const known = await post('/auth/forgot-password', { username: alice.username });
  assert.deepEqual([unknown.status, unknown.body], [202, 'if the account has a verified email, a code is on its way']);
  assert.deepEqual([known.status, known.body], [unknown.status, unknown.body], 'the same answer whether or not the account exists');
  assert.deepEqual([(await post('/auth/forgot-password', {})).status, (await post('/auth/forgot-password', {})).body], [400, 'username required']);
  const mail = await mailTo(smtp.received, 'alice@parley.test', 2);
  assert.match(mail, /^From: Parley Test <noreply@parley\.test>$/m);
  assert.match(mail, /^Subject: Your Parley password reset code$/m);
  const code = codeIn(mail);

  const wrong = code === '000000' ? '000001' : '000000';
  assert.deepEqual(
    [(await post('/auth/reset-password', { username: alice.username, code: wrong, new_password: 'brand new secret' })).body],
    ['invalid or expired code'],
  );
  assert.equal((await post('/auth/reset-password', { username: alice.username, code, new_password: 'short' })).body, 'password must be at least 8 characters long');
  const reset = await post('/auth/reset-password', { username: alice.username, code, new_password: 'brand new secret' });
  assert.deepEqual([reset.status, reset.body], [200, 'password reset: log in with the new password']);
  assert.deepEqual(await alice.client.closed, { code: 4008, reason: 'password changed: log in again' }, 'every session ends');
  assert.equal((await post('/auth/reset-password', { username: alice.username, code, new_password: 'another secret' })).status, 400, 'a code works once');
  assert.equal((await post('/auth/login', { username: alice.username, password })).status, 401);
  assert.equal((await post('/auth/login', { username: alice.username, password: 'brand new secret' })).status, 202);

  // Without a verified email nothing is sent, and the answer is the same.
  const bob = await person(server, 'bob');
  await bob.client.request('update_profile', { email: 'bob@parley.test' });
  await mailTo(smtp.received, 'bob@parley.test');
  assert.equal((await post('/auth/forgot-password', { username: bob.username })).status, 202);
  await sleep(300);
  assert.equal(smtp.received.filter((received) => received.to.includes('bob@parley.test')).length, 1, 'only the verification mail');

  // Five wrong codes and even the right one is refused.
  await post('/auth/forgot-password', { username: alice.username });
  const fresh = codeIn(await mailTo(smtp.received, 'alice@parley.test', 3));
  for (let i = 1; i <= 5; i++) await post('/auth/reset-password', { username: alice.username, code: String((Number(fresh) + i) % 1_000_000).padStart(6, '0'), new_password: 'x'.repeat(10) });
  assert.equal((await post('/auth/reset-password', { username: alice.username, code: fresh, new_password: 'x'.repeat(10) })).body, 'invalid or expired code');
});

test('delete_account', async (t) => {
  const server = await startServer(t, { USERNAME_HOLD_DAYS: '30' });
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  await alice.client.request('add_contact', { contact_username: bob.username });
  const room = await alice.client.request('create_conversation', { name: 'room', members: [bob.username] });
  const said = await alice.client.request('send_message', { conversation_id: room.id, content: 'remember me' });
  await expectError(alice.client, { type: 'delete_account', password: 'not my password' }, 'the password is wrong', 'forbidden');
  assert.deepEqual(await alice.client.request('delete_account', { password }), { username: alice.username });
  assert.deepEqual(await alice.client.closed, { code: 4003, reason: `'${alice.username}' doesn't exists` });
  const left = await waitFor(bob.pushes, (push) => push.type === 'leave_conversation');
  assert.deepEqual(left.data, { conversation_id: room.id, username: alice.username, new_owner: bob.username });
  await waitFor(bob.pushes, (push) => push.type === 'contact_removed' && push.data.username === alice.username);
  const history = await bob.client.request('get_messages', { conversation_id: room.id });
  assert.deepEqual(history.messages.map((message) => [message.id, message.sender_username, message.content]), [[said.id, 'deleted user', 'remember me']]);
  assert.deepEqual((await bob.client.request('get_contacts')).contacts, []);
  assert.deepEqual((await bob.client.request('get_members', { conversation_id: room.id })).map((member) => [member.username, member.role]), [[bob.username, 'owner']]);
  assert.equal((await http(server.http, 'POST', '/auth/login', { body: { username: alice.username, password } })).status, 401);
  const again = await http(server.http, 'POST', '/register', { body: { username: alice.username, password, fullname: 'Someone Else' } });
  assert.deepEqual([again.status, again.body], [409, 'username already exists'], 'the username is held');
  assert.ok((await syncAll(bob.client)).some((event) => event.type === 'leave_conversation'));
});

test('with USERNAME_HOLD_DAYS=0 a deleted account\'s username is free at once', async (t) => {
  const server = await startServer(t, { USERNAME_HOLD_DAYS: '0' });
  const carol = await person(server, 'carol');
  await carol.client.request('delete_account', { password });
  const again = await http(server.http, 'POST', '/register', { body: { username: carol.username, password, fullname: 'Another Carol' } });
  assert.deepEqual([again.status, again.body], [201, 'registered']);
});

test('administration: the CLI grants the role; admin events; suspension closes sockets', async (t) => {
  const server = await startServer(t);
  const boss = await person(server, 'boss');
  const eve = await person(server, 'eve');
  await expectError(boss.client, { type: 'admin_stats' }, 'only admins can use admin_stats', 'forbidden');
  const cli = (...args: string[]) => promisify(execFile)(process.execPath, [built('src/admin.ts'), ...args], { env: { ...process.env, ...server.env } });
  assert.equal((await cli('grant-admin', boss.username)).stdout.trim(), `${boss.username} is now an admin`);
  await assert.rejects(cli('grant-admin', 'nobody_at_all'), /no such user 'nobody_at_all'/);
  await assert.rejects(cli('make-king', boss.username), /usage: npm run admin -- <command>\n {2}grant-admin <username> {4}gives an account the admin role/);
  assert.equal((await boss.client.request('self')).role, 'admin');

  const room = await eve.client.request('create_conversation', { kind: 'channel', name: 'news', members: [] });
  await eve.client.request('send_message', { conversation_id: room.id, content: 'one' });
  const stats = await boss.client.request('admin_stats');
  assert.deepEqual([stats.users.total, stats.users.online, stats.users.suspended], [2, 2, 0]);
  assert.equal(stats.messages_per_day.length, 30);
  assert.equal(stats.messages_per_day.at(-1)!.count, 1, 'today\'s message');
  assert.equal(stats.messages_per_day.at(-1)!.day, new Date().toISOString().slice(0, 10));
  assert.deepEqual(stats.conversations, { group: 0, direct: 0, channel: 1 });

  const listed = await boss.client.request('admin_list_users', { limit: 1 });
  assert.deepEqual([listed.users.length, listed.next], [1, listed.users[0]!.username]);
  const all = await boss.client.request('admin_list_users', {});
  assert.deepEqual(all.users.map((user) => [user.username, user.role, user.status]), [[boss.username, 'admin', 'active'], [eve.username, 'user', 'active']].sort());

  const eveLogin = await http(server.http, 'POST', '/auth/login', { body: { username: eve.username, password } });
  await expectError(boss.client, { type: 'admin_set_role', username: boss.username, role: 'user' }, 'you cannot change the role of yourself', 'bad_request');
  await expectError(boss.client, { type: 'admin_set_role', username: eve.username, role: 'root' }, 'role must be one of user, admin', 'bad_request');
  await expectError(eve.client, { type: 'admin_set_user_status', username: boss.username, status: 'suspended' }, 'only admins can use admin_set_user_status', 'forbidden');
  await expectError(boss.client, { type: 'admin_set_user_status', username: boss.username, status: 'suspended' }, 'you cannot suspend yourself', 'bad_request');
  await expectError(boss.client, { type: 'admin_set_user_status', username: 'nobody_at_all', status: 'suspended' }, "no such user 'nobody_at_all' exists", 'not_found');
  assert.deepEqual(await boss.client.request('admin_set_user_status', { username: eve.username, status: 'suspended' }), { username: eve.username, status: 'suspended' });
  assert.deepEqual(await eve.client.closed, { code: 4009, reason: 'account suspended' });
  const refused = await http(server.http, 'POST', '/auth/login', { body: { username: eve.username, password } });
  assert.deepEqual([refused.status, refused.body], [403, 'account suspended']);
  const cookie = ([] as string[]).concat(eveLogin.headers['set-cookie'] ?? []).find((line) => line.startsWith('refresh-token='))!.split(';')[0]!;
  assert.deepEqual((await http(server.http, 'POST', '/auth/refresh', { headers: { cookie } })).status, 401, 'nor refresh');
  assert.deepEqual((await boss.client.request('admin_list_users', { status: 'suspended' })).users.map((user) => user.username), [eve.username]);
  await boss.client.request('admin_set_user_status', { username: eve.username, status: 'active' });
  const back = await connect(server, await login(server, eve.username));
  assert.equal(await back.request('ping'), 'pong');

  assert.deepEqual(await boss.client.request('admin_set_role', { username: eve.username, role: 'admin' }), { username: eve.username, role: 'admin' });
  assert.equal((await back.request('admin_stats')).users.total, 2, 'the new admin may use the admin events at once');
  await back.request('admin_set_role', { username: boss.username, role: 'user' });
  await expectError(boss.client, { type: 'admin_stats' }, 'only admins can use admin_stats', 'forbidden');
  assert.equal((await cli('revoke-admin', eve.username)).stdout.trim(), `${eve.username} is now a plain user`);
  await expectError(back, { type: 'admin_list_users' }, 'only admins can use admin_list_users', 'forbidden');
});

test('admin_list_users looks at 1,000 accounts at most per request: a filter few match pages on from where it stopped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-admin-list-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startServer(t, {}, dir);
  const boss = await person(first, 'boss');
  await first.stop();
  // 1,100 accounts after the boss in username order, written straight into the database; one of them is the needle.
  await withStore(first, async (store) => {
    await store.users.setRole((await store.users.byUsername(boss.username))!.id, 'admin');
    for (let i = 0; i < 1100; i++) await store.users.insert({ username: `walk_${String(i).padStart(4, '0')}`, fullname: i === 1050 ? 'Needle Person' : 'Crowd', passwordHash: 'x', now: 1 });
  });
  const server = await startServer(t, {}, dir);
  const client = await connect(server, await login(server, boss.username));
  const start = await client.request('admin_list_users', { query: 'needle' });
  // The boss and walk_0000 … walk_0998 were looked at: none matches, and the next page goes on after the last of them.
  assert.deepEqual(start, { users: [], next: 'walk_0998' });
  const rest = await client.request('admin_list_users', { query: 'needle', after: start.next });
  assert.deepEqual([rest.users.map((user) => user.username), rest.next], [['walk_1050'], null]);
  // Without a filter pages are full, as before.
  const page = await client.request('admin_list_users', { after: 'walk_0100', limit: 3 });
  assert.deepEqual([page.users.map((user) => user.username), page.next], [['walk_0101', 'walk_0102', 'walk_0103'], 'walk_0103']);
});
