// Two-factor login end to end: setting it up, logging in with a code or a recovery code, codes used once
// and throttled, the socket events that ask for a code, turning it off, an admin's reset, TWO_FACTOR_REQUIRED.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Secret, TOTP } from 'otpauth';
import { built } from './helpers/built.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { http, tokenFrom } from './helpers/http.ts';
import { connect, expectError, open, password, person } from './helpers/clients.ts';
import { sleep, until } from './helpers/wait.ts';
import type { Client } from '../protocol/client.ts';

const period = 30;
const stepNow = () => Math.floor(Date.now() / 1000 / period);
const codeAt = (secret: string, step: number) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: step * period * 1000 });

/** An account's authenticator: each code it hands out is of a step after the last one it handed out (the server takes each step once). */
function authenticator(secret: string) {
  let last = 0;
  return {
    secret,
    /** The code of the next unused step the server takes now (this one or the next); waits for the clock when both are used. */
    async next(): Promise<string> {
      await until('a time step not used yet', () => Math.max(last + 1, stepNow()) <= stepNow() + 1, 2 * period * 1000);
      last = Math.max(last + 1, stepNow());
      return codeAt(secret, last);
    },
    /** A code no step near now has. */
    wrong(): string {
      const near = [-1, 0, 1, 2].map((delta) => codeAt(secret, stepNow() + delta));
      return ['000000', '111111', '222222', '333333', '444444'].find((code) => !near.includes(code))!;
    },
  };
}

type Authenticator = ReturnType<typeof authenticator>;

/** Turns two-factor login on for a person: their authenticator and recovery codes. */
async function turnOn(client: Client): Promise<{ app: Authenticator; recovery: string[] }> {
  const { secret } = await client.request('enable_2fa', { password });
  const app = authenticator(secret);
  const { recovery_codes: recovery } = await client.request('confirm_2fa', { code: await app.next() });
  return { app, recovery };
}

const logIn = (server: TestServer, body: object) => http(server.http, 'POST', '/auth/login', { body });
const answer = (result: { status: number; body: string }) => [result.status, result.body];
const admin = (server: TestServer, ...args: string[]) => promisify(execFile)(process.execPath, [built('src/admin.ts'), ...args], { env: { ...process.env, ...server.env } });

test('login with a second factor: missing, wrong, right and replayed codes, recovery codes once; others see no change', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');

  await expectError(alice.client, { type: 'enable_2fa', password: 'not the password' }, 'the password is wrong', 'forbidden');
  await expectError(alice.client, { type: 'confirm_2fa', code: '123456' }, 'no two-factor set-up to confirm: send enable_2fa first', 'conflict');
  const first = await alice.client.request('enable_2fa', { password });
  const { secret, uri } = await alice.client.request('enable_2fa', { password });
  assert.notEqual(secret, first.secret, 'asking again replaces a set-up not yet confirmed');
  assert.match(secret, /^[A-Z2-7]{32}$/);
  assert.equal(uri, `otpauth://totp/Parley:${alice.username}?issuer=Parley&secret=${secret}&algorithm=SHA1&digits=6&period=30`);
  assert.deepEqual(answer(await logIn(server, { username: alice.username, password })), [202, 'login successful'], 'pending until confirmed');
  const app = authenticator(secret);
  await expectError(alice.client, { type: 'confirm_2fa', code: app.wrong() }, 'invalid code', 'forbidden');
  await expectError(alice.client, { type: 'confirm_2fa', code: codeAt(first.secret, stepNow()) }, 'invalid code', 'forbidden');
  const { recovery_codes: recovery } = await alice.client.request('confirm_2fa', { code: await app.next() });
  assert.equal(recovery.length, 10);
  assert.equal(new Set(recovery).size, 10);
  for (const code of recovery) assert.match(code, /^[a-z2-9]{5}-[a-z2-9]{5}$/);
  await expectError(alice.client, { type: 'confirm_2fa', code: app.wrong() }, 'two-factor login is already on: turn it off with disable_2fa first', 'conflict');
  await expectError(alice.client, { type: 'enable_2fa', password }, 'two-factor login is already on: turn it off with disable_2fa first', 'conflict');
  const { two_factor, two_factor_required } = await alice.client.request('self');
  assert.deepEqual({ two_factor, two_factor_required }, { two_factor: true, two_factor_required: false });
  assert.equal((await bob.client.request('self')).two_factor, false);

  // The password is checked first: a wrong one says so whatever the code.
  assert.deepEqual(answer(await logIn(server, { username: alice.username, password: 'not the password', code: app.wrong() })), [401, 'mismatch username and password']);
  assert.deepEqual(answer(await logIn(server, { username: alice.username, password })), [401, 'second factor required']);
  assert.deepEqual(answer(await logIn(server, { username: alice.username, password, code: null })), [401, 'second factor required']);
  assert.deepEqual(answer(await logIn(server, { username: alice.username, password, code: 123456 })), [400, 'code should be a string']);
  assert.deepEqual(answer(await logIn(server, { username: alice.username, password, code: '' })), [400, 'code should not be empty']);
  assert.deepEqual(answer(await logIn(server, { username: alice.username, password, code: app.wrong() })), [401, 'invalid code']);
  const code = await app.next();
  const right = await logIn(server, { username: alice.username, password, code });
  assert.deepEqual(answer(right), [202, 'login successful']);
  assert.equal(await (await connect(server, tokenFrom(right))).request('ping'), 'pong');
  assert.deepEqual(answer(await logIn(server, { username: alice.username, password, code })), [401, 'invalid code'], 'a code works once');

  // A recovery code works once in place of a code, typed in any case, with or without its hyphen.
  const [spare, other] = recovery as [string, string];
  assert.deepEqual(answer(await logIn(server, { username: alice.username, password, code: spare.toUpperCase().replace('-', ' ') })), [202, 'login successful']);
  assert.deepEqual(answer(await logIn(server, { username: alice.username, password, code: spare })), [401, 'invalid code']);
  assert.deepEqual(answer(await logIn(server, { username: alice.username, password, code: other })), [202, 'login successful']);

  // An account without two-factor login: the seed's exchange, unchanged; a code it is given is not looked at.
  assert.deepEqual(answer(await logIn(server, { username: bob.username, password })), [202, 'login successful']);
  assert.deepEqual(answer(await logIn(server, { username: bob.username, password, code: '123456' })), [202, 'login successful']);
  assert.deepEqual(answer(await logIn(server, { username: bob.username, password: 'not the password' })), [401, 'mismatch username and password']);
  assert.deepEqual(answer(await logIn(server, { username: bob.username })), [400, 'password required']);
});

test('wrong codes are throttled like wrong passwords, on counts of their own; over the socket too', async (t) => {
  const server = await startServer(t, { LOGIN_MAX_FAILURES: '3' });
  const carol = await person(server, 'carol');
  const { app } = await turnOn(carol.client);
  const wrong = () => logIn(server, { username: carol.username, password, code: app.wrong() });
  for (let i = 0; i < 3; i++) assert.deepEqual(answer(await wrong()), [401, 'invalid code']);
  // The wait is 1 s after the third, doubling with each further failure: a slow machine may see one more refusal first.
  let throttled = await wrong();
  for (let i = 0; throttled.status === 401 && i < 5; i++) throttled = await wrong();
  assert.equal(throttled.status, 429, throttled.body);
  assert.match(throttled.body, /^too many wrong codes: retry in \d+ seconds?$/);
  assert.equal(throttled.headers['retry-after'], /(\d+)/.exec(throttled.body)![1]);
  // The passwords' counts are apart: the password is still taken, and the answer asks for the code.
  assert.deepEqual(answer(await logIn(server, { username: carol.username, password })), [401, 'second factor required']);
  // The socket events' codes are counted the same way.
  const change = { type: 'change_password', old_password: password, new_password: 'another long secret', code: app.wrong() };
  let refused = await carol.client.call(change);
  for (let i = 0; refused.success === false && refused.code === 'forbidden' && i < 5; i++) refused = await carol.client.call(change);
  assert.equal(refused.success, false);
  assert.match(refused.success === false ? refused.error : '', /^too many wrong codes: retry in \d+ seconds?$/);
  assert.equal(refused.success === false && refused.code, 'rate_limited');
  // Once the wait is over, the right code is taken: refused meanwhile, it was not used up.
  const code = await app.next();
  let late = await logIn(server, { username: carol.username, password, code });
  for (const deadline = Date.now() + 30_000; late.status === 429 && Date.now() < deadline; late = await logIn(server, { username: carol.username, password, code })) {
    await sleep(Number(late.headers['retry-after']) * 1000);
  }
  assert.deepEqual(answer(late), [202, 'login successful']);
});

test('change_password and delete_account ask for a code when two-factor login is on', async (t) => {
  const server = await startServer(t);
  const dave = await person(server, 'dave');
  const { app, recovery } = await turnOn(dave.client);
  const change = { type: 'change_password', old_password: password, new_password: 'another long secret' };
  await expectError(dave.client, change, 'second factor required', 'forbidden');
  await expectError(dave.client, { ...change, old_password: 'not the password' }, 'the password is wrong', 'forbidden');
  await expectError(dave.client, { ...change, code: app.wrong() }, 'invalid code', 'forbidden');
  assert.deepEqual(await dave.client.request('change_password', { old_password: password, new_password: 'another long secret', code: await app.next() }), { sessions_ended: 0 });

  await expectError(dave.client, { type: 'delete_account', password: 'another long secret' }, 'second factor required', 'forbidden');
  await expectError(dave.client, { type: 'delete_account', password: 'another long secret', code: app.wrong() }, 'invalid code', 'forbidden');
  assert.deepEqual(await dave.client.request('delete_account', { password: 'another long secret', code: recovery[0]! }), { username: dave.username });
  assert.deepEqual(await dave.client.closed, { code: 4003, reason: `'${dave.username}' doesn't exists` });

  // Without two-factor login they ask for nothing more than before.
  const erin = await person(server, 'erin');
  assert.deepEqual(await erin.client.request('change_password', { old_password: password, new_password: 'another long secret' }), { sessions_ended: 0 });
});

test('disable_2fa takes the password and a code; an admin can reset it, by event or command line', async (t) => {
  const server = await startServer(t);
  const frank = await person(server, 'frank');
  await expectError(frank.client, { type: 'disable_2fa', password, code: '123456' }, 'two-factor login is not on for your account', 'conflict');
  const { app } = await turnOn(frank.client);
  await expectError(frank.client, { type: 'disable_2fa', password }, 'code must be a string', 'bad_request');
  await expectError(frank.client, { type: 'disable_2fa', password: 'not the password', code: app.wrong() }, 'the password is wrong', 'forbidden');
  await expectError(frank.client, { type: 'disable_2fa', password, code: app.wrong() }, 'invalid code', 'forbidden');
  assert.deepEqual(await frank.client.request('disable_2fa', { password, code: await app.next() }), { two_factor: false });
  assert.deepEqual(answer(await logIn(server, { username: frank.username, password })), [202, 'login successful']);
  await turnOn(frank.client);

  const boss = await person(server, 'boss');
  await expectError(boss.client, { type: 'admin_reset_2fa', username: frank.username }, 'only admins can use admin_reset_2fa', 'forbidden');
  await admin(server, 'grant-admin', boss.username);
  await expectError(boss.client, { type: 'admin_reset_2fa', username: boss.username }, 'you cannot reset the two-factor login of yourself', 'bad_request');
  await expectError(boss.client, { type: 'admin_reset_2fa', username: 'nobody_at_all' }, "no such user 'nobody_at_all' exists", 'not_found');
  assert.deepEqual(await boss.client.request('admin_reset_2fa', { username: frank.username }), { username: frank.username, two_factor: false });
  assert.deepEqual(await frank.client.closed, { code: 4005, reason: 'session logged out' }, 'their sessions end');
  assert.deepEqual(answer(await logIn(server, { username: frank.username, password })), [202, 'login successful'], 'the password alone again');
  await expectError(boss.client, { type: 'admin_reset_2fa', username: frank.username }, `'${frank.username}' has no two-factor login`, 'not_found');

  // The command line does the same, for when no admin can (the server running).
  await turnOn(await connect(server, tokenFrom(await logIn(server, { username: frank.username, password }))));
  assert.deepEqual(answer(await logIn(server, { username: frank.username, password })), [401, 'second factor required']);
  assert.equal((await admin(server, 'reset-2fa', frank.username)).stdout, `${frank.username} logs in with their password alone now\n`);
  await assert.rejects(admin(server, 'reset-2fa', frank.username), new RegExp(`'${frank.username}' has no two-factor login`));
  assert.deepEqual(answer(await logIn(server, { username: frank.username, password })), [202, 'login successful']);
});

/** Sends an event and checks that it is held back for want of a second factor. */
const held = (client: Client, type: string) =>
  expectError(client, { type }, 'this server requires two-factor login for your account: set it up with enable_2fa and confirm_2fa first', 'forbidden');

test('TWO_FACTOR_REQUIRED=admins: an admin without it logs in but may only set it up; plain users see no change', async (t) => {
  const server = await startServer(t, { TWO_FACTOR_REQUIRED: 'admins' });
  const gina = await person(server, 'gina');
  const plain = await person(server, 'plain');
  await admin(server, 'grant-admin', gina.username);
  const login = await logIn(server, { username: gina.username, password });
  assert.deepEqual(answer(login), [202, 'login successful']);
  const [first, second] = [await connect(server, tokenFrom(login)), await connect(server, tokenFrom(login))];
  await held(first, 'get_contacts');
  await held(first, 'admin_stats');
  await held(first, 'change_password');
  assert.equal(await first.request('ping'), 'pong');
  const self = await first.request('self');
  assert.deepEqual([self.username, self.two_factor, self.two_factor_required], [gina.username, false, true]);
  assert.equal((await plain.client.request('self')).two_factor_required, false);
  assert.deepEqual(await plain.client.request('get_contacts'), { message: 'got all the contacts', contacts: [], next: null });

  const { secret } = await first.request('enable_2fa', { password });
  const app = authenticator(secret);
  await held(second, 'get_contacts');
  await first.request('confirm_2fa', { code: await app.next() });
  assert.equal((await first.request('get_contacts')).contacts.length, 0, 'the confirming socket at once');
  assert.equal((await second.request('get_contacts')).contacts.length, 0, 'and the others');
  assert.equal((await second.request('self')).two_factor, true);
  await expectError(first, { type: 'disable_2fa', password, code: await app.next() }, 'this server requires two-factor login for your account: it cannot be turned off (an admin can reset it with admin_reset_2fa)', 'forbidden');
  assert.deepEqual(answer(await logIn(server, { username: gina.username, password })), [401, 'second factor required']);
});

test('TWO_FACTOR_REQUIRED=everyone does not hold bots: they have no password, and log in with their token', async (t) => {
  const server = await startServer(t, { TWO_FACTOR_REQUIRED: 'everyone' });
  const owner = await person(server, 'owner');
  await held(owner.client, 'create_bot');
  await turnOn(owner.client);
  const bot = await owner.client.request('create_bot', { username: `helper_${process.pid}`, fullname: 'Helper' });
  const socket = open(server, undefined, { authorization: `Bearer ${bot.token}` });
  t.after(() => socket.close());
  await socket.opened;
  assert.deepEqual(await socket.request('get_contacts'), { message: 'got all the contacts', contacts: [], next: null });
  assert.equal((await socket.request('self')).two_factor_required, false);
});
