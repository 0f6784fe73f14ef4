// Who may open /ws: the cookie, forged and revoked tokens, foreign origins, the socket cap, and logout.
import { test } from 'node:test';
import { onDatabase } from './helpers/store.ts';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { SignJWT, decodeJwt, base64url } from 'jose';
import { startServer, testSecret, type TestServer } from './helpers/server.ts';
import { http } from './helpers/http.ts';
import { connect, login, open, person, register, uniqueName } from './helpers/clients.ts';
import { sleep } from './helpers/wait.ts';

async function closedWith(server: TestServer, cookie: string | undefined) {
  const client = open(server, cookie);
  await client.opened; // the upgrade is accepted; the reason comes as a close
  return client.closed;
}

/** The status of a refused upgrade. */
function upgradeStatus(server: TestServer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(server.ws, { headers });
    socket.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode!);
      socket.terminate();
    });
    socket.on('open', () => {
      socket.close();
      resolve(101);
    });
    socket.on('error', (error) => {
      if (!String(error).includes('Unexpected server response')) reject(error);
    });
  });
}

test('WebSocket authentication', async (t) => {
  const server = await startServer(t);
  const key = new TextEncoder().encode(testSecret);

  await t.test('no cookie: accepted, then closed with 4001 login-token required', async () => {
    assert.deepEqual(await closedWith(server, undefined), { code: 4001, reason: 'login-token required' });
    assert.deepEqual(await closedWith(server, 'unrelated=1'), { code: 4001, reason: 'login-token required' });
  });

  await t.test('a bad, forged or expired token: closed with 4002 invalid login-token', async () => {
    const username = uniqueName();
    await register(server, username);
    const claims = decodeJwt(await login(server, username));
    const someoneElse = uniqueName();
    await register(server, someoneElse);
    const otherClaims = decodeJwt(await login(server, someoneElse));
    const now = Math.floor(Date.now() / 1000);
    const sign = (payload: object, secret = key) => new SignJWT({ ...payload }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
    const forged = {
      garbage: 'not-a-jwt',
      wrongKey: await sign(claims, new TextEncoder().encode('some other secret that is long enough')),
      expired: await sign({ ...claims, iat: now - 7200, exp: now - 3600 }),
      algNone: `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${base64url.encode(JSON.stringify(claims))}.`,
      seedStyle: await sign({ username, exp: now + 3600 }),
      unknownSession: await sign({ ...claims, sid: 'no-such-session' }),
      otherUsersSession: await sign({ ...claims, sub: otherClaims.sub }),
      // A token that never expires is not one Parley issues; nor is a `sub` that only parses as the user's id.
      noExpiry: await sign({ ...claims, exp: undefined }),
      spacedSub: await sign({ ...claims, sub: ` ${claims.sub}` }),
      hexSub: await sign({ ...claims, sub: `0x${Number(claims.sub).toString(16)}` }),
      decimalSub: await sign({ ...claims, sub: `${claims.sub}.0` }),
      paddedSub: await sign({ ...claims, sub: `0${claims.sub}` }),
    };
    const control = open(server, `login-token=${await sign(claims)}`);
    await control.opened;
    assert.equal(await control.request('ping'), 'pong', 'the same claims, signed the same way, are good: only the changes above spoil them');
    control.close();
    for (const [name, token] of Object.entries(forged)) {
      assert.deepEqual(await closedWith(server, `login-token=${token}`), { code: 4002, reason: 'invalid login-token' }, name);
      const verify = await http(server.http, 'GET', '/auth/verify', { headers: { cookie: `login-token=${token}` } });
      assert.deepEqual([verify.status, verify.body], [401, 'invalid login-token'], name);
    }
    await server.waitForLog((line) => line.msg === 'token refused' && line.route === '/ws');
  });

  await t.test("a token whose user is gone: closed with 4003 '<username>' doesn't exists", async () => {
    const username = uniqueName();
    await register(server, username);
    const token = await login(server, username);
    await onDatabase(server, (db) => db.prepare('DELETE FROM users WHERE username = $1').run(username));
    assert.deepEqual(await closedWith(server, `login-token=${token}`), { code: 4003, reason: `'${username}' doesn't exists` });
    const verify = await http(server.http, 'GET', '/auth/verify', { headers: { cookie: `login-token=${token}` } });
    assert.deepEqual([verify.status, verify.body], [401, 'invalid login-token']);
  });

  await t.test('a foreign Origin is refused with 403; allowlisted, same-origin and absent ones are not', async () => {
    const token = (await person(server)).token;
    const cookie = `login-token=${token}`;
    assert.equal(await upgradeStatus(server, { cookie, origin: 'http://evil.example' }), 403);
    assert.equal(await upgradeStatus(server, { origin: 'http://evil.example' }), 403);
    assert.equal(await upgradeStatus(server, { cookie, origin: 'http://localhost:5173' }), 101);
    assert.equal(await upgradeStatus(server, { cookie, origin: `http://127.0.0.1:${server.port}` }), 101);
    assert.equal(await upgradeStatus(server, { cookie }), 101);
    await server.waitForLog((line) => line.msg === 'websocket from a foreign origin refused');
  });

  await t.test('frames sent before the token is checked wait and are answered in order', async () => {
    const { token } = await person(server);
    const socket = new WebSocket(server.ws, { headers: { cookie: `login-token=${token}` } });
    const replies: unknown[] = [];
    socket.on('message', (data) => replies.push(JSON.parse(String(data))));
    await new Promise((resolve) => socket.once('open', resolve));
    for (let ref = 1; ref <= 5; ref++) socket.send(JSON.stringify({ type: 'ping', ref }));
    socket.send('{"type":"self","ref":6}');
    for (let i = 0; i < 200 && replies.length < 6; i++) await sleep(10);
    assert.deepEqual(replies.map((reply) => (reply as { ref: number }).ref), [1, 2, 3, 4, 5, 6]);
    socket.close();
  });

  await t.test('logout closes every socket of that session, and only those', async () => {
    const alice = await person(server);
    const second = await connect(server, alice.token);
    const otherSession = await connect(server, await login(server, alice.username));
    const result = await http(server.http, 'POST', '/auth/logout', { headers: { cookie: `login-token=${alice.token}` } });
    assert.equal(result.status, 204);
    assert.deepEqual(await alice.client.closed, { code: 4005, reason: 'session logged out' });
    assert.deepEqual(await second.closed, { code: 4005, reason: 'session logged out' });
    assert.equal(await otherSession.request('ping'), 'pong');
    assert.deepEqual(await closedWith(server, `login-token=${alice.token}`), { code: 4002, reason: 'invalid login-token' });
  });

  await t.test('a bot\'s token opens a socket as a Bearer header only; a login token is no Bearer token', async () => {
    const alice = await person(server);
    const bot = await alice.client.request('create_bot', { username: uniqueName('bot'), fullname: 'Bot' });
    const withHeaders = async (headers: Record<string, string>) => {
      const client = open(server, undefined, headers);
      await client.opened;
      return client;
    };
    const opened = await withHeaders({ authorization: `Bearer ${bot.token}` });
    assert.equal((await opened.request('self')).username, bot.username);
    assert.deepEqual(await closedWith(server, `login-token=${bot.token}`), { code: 4002, reason: 'invalid login-token' }, 'not as a cookie');
    assert.deepEqual(await (await withHeaders({ authorization: `Bearer ${alice.token}` })).closed, { code: 4002, reason: 'invalid login-token' }, 'a person\'s login token is not a bot\'s');
    assert.deepEqual(await (await withHeaders({ authorization: `Basic ${bot.token}` })).closed, { code: 4001, reason: 'login-token required' });
    // A Bearer header wins over a cookie: the socket is the bot's, never the person's.
    const both = await withHeaders({ authorization: `Bearer ${bot.token}`, cookie: `login-token=${alice.token}` });
    assert.equal((await both.request('self')).username, bot.username);
  });
});

test('MAX_SOCKETS_PER_USER caps the sockets of one user', async (t) => {
  const server = await startServer(t, { MAX_SOCKETS_PER_USER: '2' });
  const alice = await person(server);
  const second = await connect(server, alice.token);
  assert.equal(await second.request('ping'), 'pong', 'the second socket is in (its token checked)');
  assert.deepEqual(await closedWith(server, `login-token=${alice.token}`), { code: 4004, reason: 'too many connections for this user (limit 2)' });
  const bob = await person(server);
  assert.equal(await bob.client.request('ping'), 'pong', 'other users are not affected');
  second.close();
  await second.closed;
  const again = await connect(server, alice.token);
  assert.equal(await again.request('ping'), 'pong', 'a freed place can be used again');
});
