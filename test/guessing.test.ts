// Password guessing and name probing: parallel bursts, strangers locking owners out, wrong passwords
// over the socket, and registrations counted before the name is looked at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { assertRegistrationsWait, http, tokenFrom, type HttpResult } from './helpers/http.ts';
import { connect, expectError, password, register, uniqueName } from './helpers/clients.ts';
import { createPasswordGuard, localGuardCounts } from '../src/auth/attempts.ts';
import { createThrottle } from '../src/throttle.ts';
import { sleep } from './helpers/wait.ts';

const statuses = (results: HttpResult[]) => {
  const counts: Record<number, number> = {};
  for (const { status } of results) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
};

test("a failure's wait runs from when the password was found wrong, not from when its check began", async (t) => {
  const throttle = createThrottle({ limit: 1, baseMs: 1000, maxMs: 60_000 });
  throttle.fail('key', 0); // counted as the check begins
  assert.equal(throttle.wait('key', 1500), 0, 'a hash of 1.5 s (a loaded machine) outlasts the wait as counted');
  throttle.confirm('key', 1500); // the hash is done: the password was wrong
  assert.deepEqual([throttle.wait('key', 1500), throttle.wait('key', 2400), throttle.wait('key', 2500)], [1000, 100, 0]);
  throttle.confirm('nothing counted', 1500);
  assert.equal(throttle.wait('nothing counted', 1500), 0, 'confirms only what was counted');

  // The guard: one wrong password (LOGIN_MAX_FAILURES 1), its check ended 1.2 s after it began.
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const guard = createPasswordGuard({ LOGIN_MAX_FAILURES: 1 }, localGuardCounts(1));
  const attempt = await guard.begin('owner', '192.0.2.1', false);
  assert.ok('wrong' in attempt);
  t.mock.timers.tick(1200);
  attempt.wrong();
  assert.deepEqual(await guard.begin('owner', '192.0.2.1', false), { waitMs: 1000, why: 'throttled' });
});

test('a burst of logins sent at once gets no more tries than logins sent one by one', async (t) => {
  const server = await startServer(t);
  const username = uniqueName('target');
  await register(server, username);
  const login = (secret: string) => http(server.http, 'POST', '/auth/login', { body: { username, password: secret } });
  // 60 at once, the right password among them: each attempt is counted before its hash runs.
  const burst = await Promise.all(Array.from({ length: 60 }, (_, i) => login(i === 30 ? password : `guess ${i}`)));
  assert.equal(burst.filter((result) => result.status === 202).length, 0, 'the right password did not slip through either');
  assert.deepEqual(statuses(burst), { 401: 5, 429: 55 }, 'LOGIN_MAX_FAILURES (5) hashed, the rest refused at once');
  const refused = burst.filter((result) => result.status === 429).map((result) => result.body);
  assert.ok(refused.every((body) => /^too many (failed logins|logins at once from this address): retry in \d+ seconds?$/.test(body)), refused[0]);
});

test("a flood of logins for unknown names from one address neither runs unbounded hashes nor starves another address's login", async (t) => {
  const server = await startServer(t);
  const username = uniqueName('bystander');
  await register(server, username);
  const flood = Array.from({ length: 100 }, () => http(server.http, 'POST', '/auth/login', { body: { username: uniqueName('nobody'), password } }));
  const elsewhere = await http(server.http, 'POST', '/auth/login', { body: { username, password }, localAddress: '127.0.0.2' });
  assert.equal(elsewhere.status, 202, elsewhere.body);
  const results = await Promise.all(flood);
  const counts = statuses(results);
  // At most 8 checks under way per address: the other 92 are answered 429 without hashing.
  assert.ok((counts[401] ?? 0) <= 8 && (counts[429] ?? 0) >= 92, JSON.stringify(counts));
  assert.ok(results.some((result) => result.body === 'too many logins at once from this address: retry in 1 second'));
});

test("strangers guessing from many addresses do not lock the owner out on the owner's own address", async (t) => {
  const server = await startServer(t, { LOGIN_MAX_FAILURES: '1' });
  const username = uniqueName('owner');
  await register(server, username);
  const login = (secret: string, localAddress: string) => http(server.http, 'POST', '/auth/login', { body: { username, password: secret }, localAddress });
  assert.equal((await login(password, '127.0.0.1')).status, 202, 'the owner has logged in from here before');
  // One failure per address is the per-address limit here; the account-wide ceiling is 20 × that.
  for (let i = 0; i < 20; i++) assert.equal((await login('guess', `127.0.1.${i + 1}`)).status, 401, `stranger ${i + 1}`);
  const newcomer = await login(password, '127.0.2.1');
  assert.deepEqual([newcomer.status, newcomer.body], [429, 'too many failed logins: retry in 1 second'], 'a new address waits once the account has failed 20 times');
  const owner = await login(password, '127.0.0.1');
  assert.equal(owner.status, 202, 'the owner, on an address that has held a session, is not locked out');
  // A device that holds a refresh token of the account counts as the owner's, from any address.
  const refresh = ([] as string[]).concat(owner.headers['set-cookie'] ?? []).find((line) => line.startsWith('refresh-token='))!.split(';')[0]!;
  const device = await http(server.http, 'POST', '/auth/login', { body: { username, password }, localAddress: '127.0.3.1', headers: { cookie: refresh } });
  assert.equal(device.status, 202, device.body);
});

test('wrong passwords given over the socket are counted like failed logins', async (t) => {
  const server = await startServer(t, { LOGIN_MAX_FAILURES: '3' });
  const username = uniqueName('stolen');
  await register(server, username);
  const client = await connect(server, tokenFrom(await http(server.http, 'POST', '/auth/login', { body: { username, password } })));
  for (let i = 0; i < 2; i++) await expectError(client, { type: 'delete_account', password: `guess ${i}` }, 'the password is wrong', 'forbidden');
  await expectError(client, { type: 'change_password', old_password: 'guess 2', new_password: 'a new password' }, 'the password is wrong', 'forbidden');
  await expectError(client, { type: 'delete_account', password }, 'too many wrong passwords: retry in 1 second', 'rate_limited');
  await expectError(client, { type: 'change_password', old_password: password, new_password: 'a new password' }, 'too many wrong passwords: retry in 1 second', 'rate_limited');
  const login = await http(server.http, 'POST', '/auth/login', { body: { username, password } });
  assert.deepEqual([login.status, login.body], [429, 'too many failed logins: retry in 1 second'], 'the same count as logins from this address');
  await sleep(1100);
  assert.deepEqual(await client.request('change_password', { old_password: password, new_password: 'a new password' }), { sessions_ended: 0 });
});

test('registrations from one address are counted before the name is looked at', async (t) => {
  const server = await startServer(t, { REGISTRATIONS_PER_HOUR: '3' });
  const taken = uniqueName('taken');
  const first = Date.now();
  await register(server, taken);
  const attempt = () => http(server.http, 'POST', '/register', { body: { username: taken, password, fullname: 'Prober' } });
  assert.deepEqual([(await attempt()).status, (await attempt()).status], [409, 409]);
  const probe = await attempt();
  assertRegistrationsWait(probe, first);
});

test('text with a lone surrogate or a NUL is refused at the edge, so what is acknowledged is what is stored', async (t) => {
  const server = await startServer(t);
  const lone = '\ud800'.repeat(8);
  const registered = await http(server.http, 'POST', '/register', { body: `{"username":"${uniqueName('u')}","password":"${'\\ud800'.repeat(8)}","fullname":"x"}` });
  assert.deepEqual([registered.status, registered.body], [400, 'password should be well-formed Unicode text (it holds a lone surrogate)']);
  const username = uniqueName('writer');
  await register(server, username);
  const other = await http(server.http, 'POST', '/auth/login', { body: { username, password: lone } });
  assert.deepEqual([other.status, other.body], [400, 'password should be well-formed Unicode text (it holds a lone surrogate)'], 'not taken for another password');
  const client = await connect(server, tokenFrom(await http(server.http, 'POST', '/auth/login', { body: { username, password } })));
  const room = await client.request('create_conversation', { name: 'r', members: [] });
  await expectError(client, { type: 'send_message', conversation_id: room.id, content: '\ud800x' }, 'text must be well-formed Unicode: a lone surrogate (\\ud800) has no pair', 'bad_request');
  await expectError(client, { type: 'update_profile', bio: 'ok \udfff' }, 'text must be well-formed Unicode: a lone surrogate (\\udfff) has no pair', 'bad_request');
  // NUL: PostgreSQL's text cannot hold it, so no engine takes it (a key counts as well as a value).
  await expectError(client, { type: 'send_message', conversation_id: room.id, content: 'a\u0000b' }, 'text must not contain the NUL character (\\u0000)', 'bad_request');
  await expectError(client, { type: 'update_profile', bio: 'fine', ['x\u0000']: 1 }, 'text must not contain the NUL character (\\u0000)', 'bad_request');
  const nul = await http(server.http, 'POST', '/register', { body: { username: uniqueName('n'), password: 'pass\u0000word', fullname: 'x' } });
  assert.deepEqual([nul.status, nul.body], [400, 'password should not contain the NUL character']);
  assert.equal((await client.request('get_messages', { conversation_id: room.id })).messages.length, 0, 'nothing refused was stored');
  const paired = await client.request('send_message', { conversation_id: room.id, content: 'a pair: \ud83d\ude00' });
  assert.equal(paired.content, 'a pair: 😀');
  assert.equal((await client.request('get_messages', { conversation_id: room.id })).messages[0]!.content, 'a pair: 😀');
});

test('logins with the right password sent at once from one address all succeed', async (t) => {
  const server = await startServer(t);
  const username = uniqueName('tabs');
  await register(server, username);
  const results = await Promise.all(Array.from({ length: 6 }, () => http(server.http, 'POST', '/auth/login', { body: { username, password } })));
  assert.deepEqual(statuses(results), { 202: 6 });
});
