// The reconnecting client and the login session: short-lived tokens refreshed before they expire or
// after a refusal, with nothing the app can see; and every close that ends the session signs out for good.
import { test } from 'node:test';
import { openStore } from './helpers/store.ts';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { login, open, password, person } from './helpers/clients.ts';
import { http } from './helpers/http.ts';
import { startProxy } from './helpers/proxy.ts';
import { live, opened, said, seesLog, signIn, type Live } from './helpers/connected.ts';
import { sleep, until } from './helpers/wait.ts';
import { createCookieJar, Disconnected, type CookieJar } from '../protocol/connect.ts';

const token = (cookies: CookieJar) => cookies.header('/ws');


// Eight-second tokens: the client renews at three quarters of a token's life, 2 s before it ends; with 4-second
// tokens that margin was 1 s, which a loaded machine's timers overran once (a reconnect carried a token just ended).
test('a long session with 8-second login tokens: refreshed ahead of time, across reconnects, unseen by the app', async (t) => {
  const server = await startServer(t, { LOGIN_TOKEN_SECONDS: '8' });
  const proxy = await startProxy(t, server.port);
  const bob = await person(server, 'bob');
  const alice = await signIn(server, proxy.url, 'alice');
  assert.equal(alice.cookies.tokenLifetime, 8); // the cookie's Max-Age, and the JWT's own lifetime:
  const claims = JSON.parse(Buffer.from(token(alice.cookies).split('.')[1]!, 'base64url').toString()) as { iat: number; exp: number };
  assert.equal(claims.exp - claims.iat, 8);
  const app = live(proxy.url, alice.cookies);
  t.after(() => app.client.close());
  const room = await app.client.request('create_conversation', { members: [bob.username] });
  const tokens = new Set([token(alice.cookies)]);
  const sent: Promise<unknown>[] = [];
  const expected: string[] = [];
  const started = Date.now();
  for (let tick = 0; Date.now() - started < 20_000; tick++) {
    await sleep(100);
    tokens.add(token(alice.cookies));
    await bob.client.request('send_message', { conversation_id: room.id, content: `bob ${tick}` });
    expected.push(`bob ${tick}`);
    if (tick % 3 === 0) {
      sent.push(app.client.request('send_message', { conversation_id: room.id, content: `alice ${tick}` }));
      expected.push(`alice ${tick}`);
    }
    if (tick % 6 === 5) proxy.cut(/^GET \/ws /);
  }
  await Promise.all(sent);
  await until(() => app.states, () => said(app).length >= expected.length);
  assert.deepEqual([...said(app)].sort(), [...expected].sort(), 'every message once');
  // Twenty seconds of eight-second tokens, refreshed at three quarters of their life: at least three refreshes.
  assert.ok(tokens.size >= 4, `${tokens.size} tokens`);
  assert.equal(server.logs.filter((line) => line.msg === 'token refused').length, 0, 'every reconnect had a live token');
  assert.ok(app.states.filter((state) => state.status === 'open').length >= 10, JSON.stringify(app.states));
  assert.ok(app.states.every((state) => state.status !== 'signed_out'));
  await seesLog(app, server, alice.cookies);
});

test('a refresh whose answer is lost: the retry comes within the grace and gets a usable refresh token, and the session lives on through the next renewal', async (t) => {
  // Renewals every 6 s (three quarters of 8); the grace is 3 s: the client's first retry (1 s) must come
  // well inside it, and the token it is given must still be good at the next renewal, past the grace.
  const server = await startServer(t, { LOGIN_TOKEN_SECONDS: '8', REFRESH_GRACE_SECONDS: '3' });
  const proxy = await startProxy(t, server.port);
  const alice = await signIn(server, proxy.url, 'alice');
  const refreshToken = () => alice.cookies.header('/auth').match(/refresh-token=([^;]+)/)?.[1];
  const lost = proxy.loseAnswer(/^POST \/auth\/refresh /);
  const app = live(proxy.url, alice.cookies);
  t.after(() => app.client.close());
  const before = refreshToken();
  await lost; // the server rotated the token and committed; the client never heard
  assert.equal(refreshToken(), before, 'the client still holds the token the server has just rotated');
  const held = new Set([before]);
  // The retry's token, then the next renewal's, made from it.
  await until(() => app.states, () => (held.add(refreshToken()), held.size >= 3 || app.client.state.status === 'signed_out'), 60_000);
  assert.notEqual(app.client.state.status, 'signed_out', JSON.stringify(app.states));
  assert.equal(await app.client.request('ping'), 'pong');
  assert.equal(server.logs.filter((line) => line.msg === 'refresh token reused: session revoked').length, 0);
});

test('an expired login token refused at a reconnect is refreshed, and the client goes on', async (t) => {
  // Three seconds: long enough that the refreshed token is still good when the slow machine reconnects with it.
  const server = await startServer(t, { LOGIN_TOKEN_SECONDS: '3' });
  const proxy = await startProxy(t, server.port);
  const bob = await person(server, 'bob');
  const alice = await signIn(server, proxy.url, 'alice');
  // A jar that cannot tell the token's lifetime: the client assumes an hour and never refreshes ahead.
  const cookies = createCookieJar();
  cookies.take([token(alice.cookies), `${alice.cookies.header('/auth')}; Path=/auth`.replace(/^login-token=[^;]*; /, '')]);
  assert.equal(cookies.tokenLifetime, undefined);
  const app = live(proxy.url, cookies);
  t.after(() => app.client.close());
  const room = await app.client.request('create_conversation', { members: [bob.username] });
  await sleep(4100);
  const before = token(cookies);
  proxy.cut(/^GET \/ws /);
  await bob.client.request('send_message', { conversation_id: room.id, content: 'while away' });
  await until(() => app.states, () => said(app).includes('while away'));
  assert.equal(server.logs.filter((line) => line.msg === 'token refused').length, 1);
  assert.notEqual(token(cookies), before);
  assert.deepEqual(app.states.map((state) => state.status), ['open', 'reconnecting', 'connecting', 'reconnecting', 'connecting', 'open']);
  assert.deepEqual(await app.client.request('ping'), 'pong');
});

test('every close that ends the session signs the client out for good', async (t) => {
  // No grace for a just-rotated refresh token here: the 4010 case replays one at once.
  const server = await startServer(t, { REFRESH_GRACE_SECONDS: '0' });
  const proxy = await startProxy(t, server.port);
  const { driver: db } = await openStore(server);
  t.after(() => db.close());
  const now = () => Math.floor(Date.now() / 1000);
  const expire = db.prepare('UPDATE sessions SET expires_at = $1, refresh_expires_at = $2 WHERE user_id = (SELECT id FROM users WHERE username = $3)');

  /** Connects a new user, runs `end`, and checks the client signs out with this close and tries nothing more. */
  async function signsOut(code: number, reason: (username: string) => string, end: (user: { username: string; cookies: CookieJar; app: Live }) => Promise<unknown>) {
    const user = await signIn(server, proxy.url, 'leaving');
    const app = live(proxy.url, user.cookies);
    t.after(() => app.client.close());
    await opened(app);
    await end({ ...user, app });
    await until(() => app.states, () => app.client.state.status === 'signed_out');
    assert.deepEqual(app.client.state, { status: 'signed_out', code, reason: reason(user.username) });
    const accepted = proxy.accepted;
    await sleep(500); // a reconnect would have come within 200 ms
    assert.equal(proxy.accepted, accepted, 'no connection after signing out');
    assert.equal(app.states.at(-1), app.client.state);
    const refused = await app.client.request('self').then(() => undefined, (error: unknown) => error);
    assert.ok(refused instanceof Disconnected);
    assert.deepEqual([refused.message, refused.sent], ['self: not sent, the client is signed out', false]);
  }

  await t.test('4005: logged out', () =>
    signsOut(4005, () => 'session logged out', ({ cookies }) => http(server.http, 'POST', '/auth/logout', { headers: { cookie: cookies.header('/auth/logout') } })));

  await t.test('4006: the session expired', () =>
    signsOut(4006, () => 'session expired: log in again', async ({ username }) => {
      await expire.run(now() + 2, now() + 2, username);
      proxy.cut(); // the next socket is told its session ends in two seconds
    }));

  await t.test('4008: the password changed', () =>
    signsOut(4008, () => 'password changed: log in again', async ({ username }) => {
      const other = open(server, `login-token=${await login(server, username)}`);
      await other.opened;
      await other.request('change_password', { old_password: password, new_password: 'another good password' });
    }));

  await t.test('4009: suspended', () =>
    signsOut(4009, () => 'account suspended', async ({ username }) => {
      const admin = await person(server, 'admin');
      await db.prepare("UPDATE users SET role = 'admin' WHERE username = $1").run(admin.username);
      const fresh = open(server, `login-token=${admin.token}`); // the role is read when a socket opens
      await fresh.opened;
      await fresh.request('admin_set_user_status', { username, status: 'suspended' });
    }));

  await t.test('4010: a refresh token replayed', () =>
    signsOut(4010, () => 'session revoked: its refresh token was used twice', async ({ cookies }) => {
      const first = cookies.header('/auth').split('; ').find((cookie) => cookie.startsWith('refresh-token='))!;
      const second = await http(server.http, 'POST', '/auth/refresh', { headers: { cookie: first } });
      const rotated = ([] as string[]).concat(second.headers['set-cookie'] ?? []).find((line) => line.startsWith('refresh-token='))!.split(';')[0]!;
      assert.equal((await http(server.http, 'POST', '/auth/refresh', { headers: { cookie: rotated } })).status, 200);
      const replayed = await http(server.http, 'POST', '/auth/refresh', { headers: { cookie: first } });
      assert.deepEqual([replayed.status, replayed.body], [401, 'refresh-token already used: the session is revoked, log in again']);
    }));

  await t.test('4003: the account was deleted', () =>
    signsOut(4003, (username) => `'${username}' doesn't exists`, ({ app }) => app.client.request('delete_account', { password })));

  await t.test('4002 and a refused refresh: the session ended while the client was away', () =>
    signsOut(4002, () => 'invalid refresh-token', async ({ username }) => {
      expire.run(now() - 1, now() - 1, username);
      proxy.cut();
    }));
});
