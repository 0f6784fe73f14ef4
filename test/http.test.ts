// The HTTP routes, exactly as the seed backend answered them, plus Parley's rules, CORS and limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { startServer, testSecret } from './helpers/server.ts';
import { http, tokenFrom } from './helpers/http.ts';
import { login, password, register, uniqueName } from './helpers/clients.ts';

const textPlain = 'text/plain; charset=utf-8';

test('HTTP routes', async (t) => {
  const server = await startServer(t);
  const post = (path: string, body?: string | object, headers?: Record<string, string>) => http(server.http, 'POST', path, { body, headers });
  const expect = async (result: Promise<{ status: number; body: string }>, status: number, body: string) => {
    const { status: gotStatus, body: gotBody } = await result;
    assert.deepEqual({ status: gotStatus, body: gotBody }, { status, body });
  };

  await t.test('GET /misc/ping answers pong as plain text', async () => {
    const result = await http(server.http, 'GET', '/misc/ping');
    assert.equal(result.status, 200);
    assert.equal(result.body, 'pong');
    assert.equal(result.headers['content-type'], textPlain);
  });

  await t.test('register: the body must be a JSON object, whatever the Content-Type', async () => {
    for (const body of ['not json', '[1,2]', '42', 'null', '"text"', '']) await expect(post('/register', body), 400, 'not a valid json');
  });

  await t.test('register: presence, then type, then emptiness, each in field order', async () => {
    await expect(post('/register', {}), 400, 'username required');
    await expect(post('/register', { username: 5 }), 400, 'password required');
    await expect(post('/register', { username: 'abc', password: 'x' }), 400, 'fullname required');
    await expect(post('/register', { username: null, password: 'x', fullname: 'x' }), 400, 'username required');
    await expect(post('/register', { username: 5, password: 5, fullname: 5 }), 400, 'username should be a string');
    await expect(post('/register', { username: 'abc', password: 5, fullname: '' }), 400, 'password should be a string');
    await expect(post('/register', { username: 'abc', password: '', fullname: 5 }), 400, 'fullname should be a string');
    await expect(post('/register', { username: '', password: '', fullname: '' }), 400, 'username should not be empty');
    await expect(post('/register', { username: 'abc', password: '', fullname: '' }), 400, 'password should not be empty');
    await expect(post('/register', { username: 'abc', password: 'x', fullname: '' }), 400, 'fullname should not be empty');
  });

  await t.test("register: Parley's own rules, each with a clear message", async () => {
    const base = { username: uniqueName(), password, fullname: 'Someone' };
    await expect(post('/register', { ...base, username: 'ab' }), 400, 'username must be 3 to 32 characters long');
    await expect(post('/register', { ...base, username: 'a'.repeat(33) }), 400, 'username must be 3 to 32 characters long');
    await expect(post('/register', { ...base, username: 'has space' }), 400, "username may contain only letters, digits, '_', '.' and '-'");
    await expect(post('/register', { ...base, username: 'émile' }), 400, "username may contain only letters, digits, '_', '.' and '-'");
    await expect(post('/register', { ...base, password: 'short12' }), 400, 'password must be at least 8 characters long');
    await expect(post('/register', { ...base, password: 'p'.repeat(1025) }), 400, 'password must be at most 1024 characters long');
    await expect(post('/register', { ...base, fullname: '   ' }), 400, 'fullname should not be blank');
    await expect(post('/register', { ...base, fullname: 'f'.repeat(101) }), 400, 'fullname must be at most 100 characters long');
    await expect(post('/register', { ...base, username: 'a.b-c_9', password: 'p'.repeat(1024), fullname: 'f'.repeat(100) }), 201, 'registered');
  });

  await t.test('register: 201, then 409 for the same name in any case', async () => {
    const username = uniqueName('Case');
    await expect(post('/register', { username, password, fullname: 'Case' }), 201, 'registered');
    await expect(post('/register', { username, password, fullname: 'Case' }), 409, 'username already exists');
    await expect(post('/register', { username: username.toLowerCase(), password, fullname: 'x' }), 409, 'username already exists');
    await expect(post('/register', { username: username.toUpperCase(), password, fullname: 'x' }), 409, 'username already exists');
  });

  await t.test('register reads JSON sent as a form, or with no Content-Type', async () => {
    const body = JSON.stringify({ username: uniqueName(), password, fullname: 'Form' });
    await expect(post('/register', body, { 'content-type': 'application/x-www-form-urlencoded' }), 201, 'registered');
    const other = JSON.stringify({ username: uniqueName(), password, fullname: 'Bare' });
    await expect(post('/register', other), 201, 'registered');
  });

  await t.test('bodies over 64 KiB are refused with 413, announced or streamed', async () => {
    const big = JSON.stringify({ username: uniqueName(), password, fullname: 'x'.repeat(70 * 1024) });
    const announced = await post('/register', big);
    assert.equal(announced.status, 413);
    assert.equal(announced.body, 'request body too large: the limit is 65536 bytes');
    const chunked = await new Promise<number>((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const req = request(`${server.http}/register`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        for (let i = 0; i < 80; i++) req.write('x'.repeat(1024));
        req.end();
      }, reject);
    });
    assert.equal(chunked, 413);
    await expect(http(server.http, 'GET', '/misc/ping'), 200, 'pong');
  });

  await t.test('login: the same input checks as register, for its two fields', async () => {
    await expect(post('/auth/login', 'nope'), 400, 'not a valid json');
    await expect(post('/auth/login', {}), 400, 'username required');
    await expect(post('/auth/login', { username: 'abc' }), 400, 'password required');
    await expect(post('/auth/login', { username: 1, password: 1 }), 400, 'username should be a string');
    await expect(post('/auth/login', { username: 'abc', password: 1 }), 400, 'password should be a string');
    await expect(post('/auth/login', { username: '', password: '' }), 400, 'username should not be empty');
    await expect(post('/auth/login', { username: 'abc', password: '' }), 400, 'password should not be empty');
  });

  await t.test('login: unknown user and wrong password get the same 401', async () => {
    const username = uniqueName();
    await register(server, username);
    await expect(post('/auth/login', { username, password: 'wrong password' }), 401, 'mismatch username and password');
    await expect(post('/auth/login', { username: uniqueName('ghost'), password }), 401, 'mismatch username and password');
  });

  await t.test('login: 202, the cookie and a JWT with username, sub, sid, iat and exp', async () => {
    const username = uniqueName('Login');
    await register(server, username);
    const result = await post('/auth/login', { username: username.toLowerCase(), password });
    assert.equal(result.status, 202);
    assert.equal(result.body, 'login successful');
    const cookie = ([] as string[]).concat(result.headers['set-cookie'] ?? [])[0]!;
    assert.match(cookie, /^login-token=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=3600; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    const token = tokenFrom(result);
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'HS256', typ: 'JWT' });
    const { payload } = await jwtVerify(token, new TextEncoder().encode(testSecret));
    assert.equal(payload.username, username);
    assert.match(String(payload.sub), /^\d+$/);
    assert.equal(typeof payload.sid, 'string');
    assert.equal(payload.exp, payload.iat! + 3600);
    assert.ok(Math.abs(payload.iat! - Date.now() / 1000) < 60);
  });

  await t.test('verify: 401 without a cookie or with a bad one, 200 with a good one', async () => {
    await expect(http(server.http, 'GET', '/auth/verify'), 401, 'login-token required');
    await expect(http(server.http, 'GET', '/auth/verify', { headers: { cookie: 'other=1' } }), 401, 'login-token required');
    await expect(http(server.http, 'GET', '/auth/verify', { headers: { cookie: 'login-token=garbage' } }), 401, 'invalid login-token');
    const username = uniqueName();
    await register(server, username);
    const token = await login(server, username);
    await expect(http(server.http, 'GET', '/auth/verify', { headers: { cookie: `login-token=${token}` } }), 200, `Hello, ${username}`);
    const claims = decodeJwt(token);
    assert.equal(claims.username, username);
  });

  await t.test('logout: 204, clears the cookie, and the token stops working', async () => {
    const username = uniqueName();
    await register(server, username);
    const token = await login(server, username);
    const other = await login(server, username);
    const result = await post('/auth/logout', undefined, { cookie: `login-token=${token}` });
    assert.equal(result.status, 204);
    assert.equal(result.body, '');
    assert.deepEqual(result.headers['set-cookie'], [
      'login-token=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax',
      'refresh-token=; Max-Age=0; Path=/auth; HttpOnly; Secure; SameSite=Lax',
    ]);
    await expect(http(server.http, 'GET', '/auth/verify', { headers: { cookie: `login-token=${token}` } }), 401, 'invalid login-token');
    await expect(http(server.http, 'GET', '/auth/verify', { headers: { cookie: `login-token=${other}` } }), 200, `Hello, ${username}`);
    const anonymous = await post('/auth/logout');
    assert.equal(anonymous.status, 204);
  });

  await t.test('unknown routes answer 404, wrong methods 405 with Allow', async () => {
    const missing = await http(server.http, 'GET', '/nowhere');
    assert.deepEqual([missing.status, missing.body, missing.headers['content-type']], [404, 'not found: GET /nowhere', textPlain]);
    const wrong = await http(server.http, 'GET', '/register');
    assert.deepEqual([wrong.status, wrong.body, wrong.headers.allow], [405, 'method not allowed: use POST, OPTIONS', 'POST, OPTIONS']);
    const wrongPing = await http(server.http, 'POST', '/misc/ping', { body: '{}' });
    assert.deepEqual([wrongPing.status, wrongPing.headers.allow], [405, 'GET, OPTIONS']);
    const plainWs = await http(server.http, 'GET', '/ws');
    assert.deepEqual([plainWs.status, plainWs.body], [426, 'this route takes WebSocket upgrades only']);
  });

  await t.test('CORS: allowlisted origins get credentials on every route, others nothing', async () => {
    const allowed = { origin: 'http://localhost:5173' };
    for (const [method, path] of [['GET', '/misc/ping'], ['GET', '/nowhere'], ['GET', '/register'], ['POST', '/auth/login']] as const) {
      const result = await http(server.http, method, path, { headers: allowed, body: method === 'POST' ? '{}' : undefined });
      assert.equal(result.headers['access-control-allow-origin'], 'http://localhost:5173', `${method} ${path}`);
      assert.equal(result.headers['access-control-allow-credentials'], 'true', `${method} ${path}`);
      assert.equal(result.headers.vary, 'Origin');
    }
    const foreign = await http(server.http, 'GET', '/misc/ping', { headers: { origin: 'http://evil.example' } });
    assert.equal(foreign.status, 200);
    assert.equal(foreign.headers['access-control-allow-origin'], undefined);
  });

  await t.test('CORS preflight: 204 with methods and the requested headers', async () => {
    const result = await http(server.http, 'OPTIONS', '/register', {
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    assert.equal(result.status, 204);
    assert.equal(result.headers['access-control-allow-origin'], 'http://localhost:5173');
    assert.equal(result.headers['access-control-allow-credentials'], 'true');
    assert.equal(result.headers['access-control-allow-methods'], 'POST, OPTIONS');
    assert.equal(result.headers['access-control-allow-headers'], 'content-type');
    const foreign = await http(server.http, 'OPTIONS', '/register', { headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(foreign.status, 204);
    assert.equal(foreign.headers['access-control-allow-origin'], undefined);
    assert.equal(foreign.headers['access-control-allow-methods'], undefined);
  });

  await t.test('a POST from a foreign page is refused before it changes anything', async () => {
    const username = uniqueName();
    await expect(post('/register', { username, password, fullname: 'x' }, { origin: 'http://evil.example' }), 403, 'origin not allowed');
    await expect(post('/auth/login', { username, password }), 401, 'mismatch username and password');
    await expect(post('/register', { username, password, fullname: 'x' }, { origin: `http://127.0.0.1:${server.port}` }), 201, 'registered');
  });

  await t.test('logs name events but never passwords or tokens', async () => {
    const output = server.output();
    assert.match(output, /"msg":"login failed"/);
    assert.match(output, /"msg":"logged in"/);
    assert.doesNotMatch(output, new RegExp(password));
    assert.doesNotMatch(output, /wrong password/);
    assert.doesNotMatch(output, /eyJ[\w-]+\./);
  });
});

test('cookie settings shape the cookie', async (t) => {
  const server = await startServer(t, { COOKIE_SECURE: 'false', COOKIE_SAMESITE: 'strict' });
  const username = uniqueName();
  await register(server, username);
  const result = await http(server.http, 'POST', '/auth/login', { body: { username, password } });
  const [login, refresh, ...more] = result.headers['set-cookie'] as string[];
  assert.match(login!, /^login-token=[^;]+; Max-Age=3600; Path=\/; HttpOnly; SameSite=Strict$/);
  assert.match(refresh!, /^refresh-token=[^;]+; Max-Age=2592000; Path=\/auth; HttpOnly; SameSite=Strict$/);
  assert.deepEqual(more, []);
});
