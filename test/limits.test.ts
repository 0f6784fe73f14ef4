// Rate limits: the per-socket token bucket and flood close, login throttling per account and address, registrations per address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { http } from './helpers/http.ts';
import { password, person, rawSocket, register, uniqueName } from './helpers/clients.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('each socket has a token bucket; one that keeps flooding is closed with 1008', async (t) => {
  const server = await startServer(t, { RATE_LIMIT_EVENTS: '5', RATE_LIMIT_BURST: '10' });
  const alice = await person(server, 'alice'); // its opening ping took one token
  const raw = await rawSocket(server, alice.token);
  const pong = { type: 'ping', success: true, data: 'pong' };
  const limited = { type: 'root', success: false, error: 'rate limit: at most 5 events a second (bursts of 10); slow down', code: 'rate_limited' };
  for (let i = 0; i < 10; i++) assert.deepEqual(await raw.exchange('{"type":"ping"}'), pong, `burst ${i}`);
  assert.deepEqual(await raw.exchange('{"type":"ping"}'), limited);
  await sleep(450);
  assert.deepEqual(await raw.exchange('{"type":"ping"}'), pong, 'tokens come back at the set rate');
  const closed = new Promise<[number, string]>((resolve) => raw.socket.once('close', (code, reason) => resolve([code, String(reason)])));
  for (let i = 0; i < 40; i++) raw.socket.send('{"type":"ping"}');
  assert.deepEqual(await closed, [1008, 'flooding: too many events over the rate limit']);
  assert.equal(await alice.client.request('ping'), 'pong', "another socket of the same user has its own bucket");
  await server.waitForLog((line) => line.msg === 'socket closed for flooding');
});

test('failed logins wait longer and longer, per account', async (t) => {
  const server = await startServer(t);
  const username = uniqueName();
  await register(server, username);
  const login = (secret: string, name = username) => http(server.http, 'POST', '/auth/login', { body: { username: name, password: secret } });
  for (let i = 0; i < 5; i++) assert.equal((await login('wrong password')).status, 401, `failure ${i + 1}`);
  const locked = await login(password);
  assert.deepEqual([locked.status, locked.body, locked.headers['retry-after']], [429, 'too many failed logins: retry in 1 seconds', '1'], 'even the right password waits');
  assert.equal((await login(password, username.toUpperCase())).status, 429, 'the account, in any case');
  await sleep(1100);
  assert.equal((await login('wrong password')).status, 401);
  const longer = await login(password);
  assert.deepEqual([longer.status, longer.headers['retry-after']], [429, '2'], 'the wait doubles');
  await sleep(2100);
  assert.equal((await login(password)).status, 202, 'the right password after the wait');
  assert.equal((await login('wrong password')).status, 401, 'a success clears the account');
  await server.waitForLog((line) => line.msg === 'login throttled');
});

test('failed logins are throttled per address too', async (t) => {
  const server = await startServer(t, { LOGIN_MAX_FAILURES: '2' });
  for (let i = 0; i < 8; i++) {
    const result = await http(server.http, 'POST', '/auth/login', { body: { username: uniqueName('nobody'), password } });
    assert.equal(result.status, 401, `failure ${i + 1} from this address`);
  }
  const blocked = await http(server.http, 'POST', '/auth/login', { body: { username: uniqueName('other'), password } });
  assert.deepEqual([blocked.status, blocked.headers['retry-after']], [429, '1']);
});

test('registrations per address per hour', async (t) => {
  const server = await startServer(t, { REGISTRATIONS_PER_HOUR: '3' });
  for (let i = 0; i < 3; i++) await register(server, uniqueName());
  const refused = await http(server.http, 'POST', '/register', { body: { username: uniqueName(), password, fullname: 'x' } });
  assert.equal(refused.status, 429);
  assert.match(refused.body, /^too many registrations from this address: retry in (3600|3599) seconds$/);
  assert.match(String(refused.headers['retry-after']), /^(3600|3599)$/);
});
