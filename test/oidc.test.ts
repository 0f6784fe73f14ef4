// Single sign-on against a real OpenID provider (oidc-provider) in this process: the whole redirect dance in
// Chromium ending with a working socket and a logout of both, and every check that must refuse an answer.
import { test } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, startServer, type TestServer } from './helpers/server.ts';
import { launchChromium } from './helpers/chromium.ts';
import { authorize, clientId, clientSecret, people, startProvider } from './helpers/oidc-provider.ts';
import { http } from './helpers/http.ts';
import { connect, expectError, password, person, register } from './helpers/clients.ts';
import { until } from './helpers/wait.ts';
import { built } from './helpers/built.ts';
import { createStore, openDatabase, sqliteDriver } from '../src/storage/index.ts';
import { accountFor } from '../src/auth/oidc-accounts.ts';
import { readSettings } from '../src/config.ts';
import type { InJob } from '../src/context.ts';

/** `npm run admin -- <args>` against the server's database. */
const adminCommand = (server: TestServer, ...args: string[]) => promisify(execFile)(process.execPath, [built('src/admin.ts'), ...args], { env: { ...process.env, ...server.env } });

/** Sets out for the provider as a browser would: the provider's authorization URL, and the state cookie Parley set. */
async function begin(server: TestServer, name = 'test', query = ''): Promise<{ authorization: string; state: string }> {
  const response = await fetch(`${server.http}/auth/oidc/${name}${query}`, { redirect: 'manual' });
  assert.equal(response.status, 303, await response.text());
  const state = /^oidc-state=([^;]+); Max-Age=600; Path=\/auth\/oidc; HttpOnly; Secure; SameSite=Lax$/.exec(response.headers.getSetCookie()[0]!)?.[1];
  assert.ok(state, response.headers.getSetCookie()[0]);
  return { authorization: response.headers.get('location')!, state };
}

/** Brings the provider's answer back to Parley with this state cookie. */
function answer(server: TestServer, callback: URL, state: string): Promise<Response> {
  return fetch(`${server.http}${callback.pathname}${callback.search}`, { redirect: 'manual', headers: { cookie: `oidc-state=${state}` } });
}

/** What a refused answer says, and that it set no session cookie. */
async function refusal(response: Response): Promise<[number, string]> {
  assert.ok(!response.headers.getSetCookie().some((cookie) => cookie.startsWith('login-token=')));
  return [response.status, await response.text()];
}

/** Who the login-token cookie of a successful answer belongs to (and where it sent the browser). */
async function whoseSession(server: TestServer, response: Response): Promise<[number, string | null, string]> {
  const token = response.headers.getSetCookie().find((cookie) => cookie.startsWith('login-token='))?.split(';')[0];
  assert.ok(response.headers.getSetCookie().some((cookie) => cookie.startsWith('refresh-token=')));
  const verified = await http(server.http, 'GET', '/auth/verify', { headers: { cookie: token ?? '' } });
  return [response.status, response.headers.get('location'), verified.body];
}

async function signIn(server: TestServer, login: string, name = 'test'): Promise<Response> {
  const { authorization, state } = await begin(server, name);
  return answer(server, await authorize(authorization, login), state);
}

test('single sign-on with a real OpenID provider', async (t) => {
  const [portA, portB] = [await freePort(), await freePort()];
  const [publicA, publicB] = [`http://localhost:${portA}`, `http://localhost:${portB}`];
  const op = await startProvider(t, [{ origin: publicA, names: ['test', 'wrong'] }, { origin: publicB, names: ['test'] }]);
  const dir = mkdtempSync(join(tmpdir(), 'parley-oidc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const secretFile = join(dir, 'client-secret');
  writeFileSync(secretFile, `${clientSecret}\n`);
  const test = { name: 'test', issuer: op.issuer, client_id: clientId, client_secret_file: secretFile };
  // The second names the provider by another address than the one it calls itself by: its issuer does not match.
  const wrong = { ...test, name: 'wrong', issuer: `http://127.0.0.1:${op.port}` };
  const server = await startServer(t, {
    PORT: String(portA),
    PUBLIC_URL: publicA,
    OIDC_PROVIDERS: JSON.stringify([{ ...test, email_domains: ['example.com'], link_by_email: true }, wrong]),
    PASSWORD_LOGIN: 'unlinked',
  });

  await t.test('the whole dance in Chromium ends with a working socket, and logging out ends both sessions', async (t) => {
    const browser = await launchChromium(t);
    if (!browser) return;
    const page = await browser.newPage();
    // The provider's pages import a web font: no network here.
    await page.route('https://fonts.googleapis.com/**', (route) => route.abort());
    await page.goto(`${publicA}/auth/oidc/test`);
    assert.ok(page.url().startsWith(`${op.issuer}/interaction/`), page.url());
    await page.fill('input[name=login]', 'alice');
    await page.fill('input[name=password]', 'anything');
    await Promise.all([page.waitForURL(`${publicA}/`), page.click('button[type=submit]')]);
    assert.match(await page.textContent('body') ?? '', /^Parley chat server/);
    const self = await page.evaluate(() => new Promise((resolve, reject) => {
      const socket = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws`);
      socket.onopen = () => socket.send(JSON.stringify({ type: 'self', ref: 'me' }));
      socket.onmessage = (event) => {
        const frame = JSON.parse(event.data as string) as { ref?: string; data?: { username: string; fullname: string; email: string | null } };
        if (frame.ref === 'me') resolve([frame.data?.username, frame.data?.fullname, frame.data?.email]);
      };
      socket.onclose = (event) => reject(new Error(`closed ${event.code} ${event.reason}`));
    }));
    assert.deepEqual(self, ['alice', 'Alice Liddell', 'alice@example.com']);
    assert.ok(server.logs.some((line) => line.msg === 'logged in with single sign-on' && line.user === 'alice' && line.account === 'created'));

    // Logging out through Parley goes on to the provider's end_session_endpoint, which asks, then comes back.
    await page.evaluate(() => {
      const form = document.createElement('form');
      form.method = 'post';
      form.action = '/auth/oidc/logout';
      document.body.append(form);
      form.submit();
    });
    await page.waitForURL(`${op.issuer}/**`);
    await Promise.all([page.waitForURL(`${publicA}/`), page.click('button[value=yes]')]);
    assert.deepEqual((await page.context().cookies(publicA)).map(({ name }) => name), []);
    assert.equal(await page.evaluate(() => fetch('/auth/verify').then((response) => response.status)), 401);
    // The provider's session ended too: the next single sign-on asks for the login again.
    await page.goto(`${publicA}/auth/oidc/test`);
    assert.ok(await page.isVisible('input[name=login]'), page.url());
  });

  await t.test('a state that is not the browser\'s is refused', async () => {
    const { authorization, state } = await begin(server);
    const callback = await authorize(authorization, 'alice');
    assert.deepEqual(await refusal(await answer(server, callback, 'another-state')), [400, 'single sign-on failed: this answer is not for a login this browser started']);
    const forged = new URL(callback);
    forged.searchParams.set('state', 'forged');
    assert.deepEqual(await refusal(await answer(server, forged, 'forged')), [400, 'single sign-on failed: this login is unknown, used or expired: start again']);
    // The refusals did not spend the login: the real answer still works.
    assert.deepEqual(await whoseSession(server, await answer(server, callback, state)), [303, `${publicA}/`, 'Hello, alice']);
  });

  await t.test('a code is taken once', async () => {
    const { authorization, state } = await begin(server);
    const callback = await authorize(authorization, 'alice');
    assert.deepEqual(await whoseSession(server, await answer(server, callback, state)), [303, `${publicA}/`, 'Hello, alice']);
    assert.deepEqual(await refusal(await answer(server, callback, state)), [400, 'single sign-on failed: this login is unknown, used or expired: start again']);
    // The same code brought to a login of its own: the provider refuses it.
    const again = await begin(server);
    const replayed = new URL(callback);
    replayed.searchParams.set('state', again.state);
    assert.deepEqual(await refusal(await answer(server, replayed, again.state)), [401, 'single sign-on failed: the provider refused the code (invalid_grant)']);
  });

  await t.test('an expired ID token is refused', async (t) => {
    const { authorization, state } = await begin(server);
    const callback = await authorize(authorization, 'alice');
    // The provider's clock two hours behind while it issues the tokens: the ID token expired an hour ago.
    const now = Date.now;
    t.mock.method(Date, 'now', () => now() - 2 * 3600_000);
    const response = await answer(server, callback, state);
    t.mock.restoreAll();
    assert.deepEqual(await refusal(response), [401, 'single sign-on failed: the ID token has expired']);
  });

  await t.test('an ID token with another nonce is refused', async () => {
    const { authorization, state } = await begin(server);
    const tampered = new URL(authorization);
    tampered.searchParams.set('nonce', 'not-the-one-parley-chose');
    assert.deepEqual(await refusal(await answer(server, await authorize(tampered.href, 'alice'), state)), [401, 'single sign-on failed: the ID token\'s "nonce" claim does not match this login']);
  });

  await t.test('an email outside the allowed domains is refused', async () => {
    assert.deepEqual(await refusal(await signIn(server, 'mallory')), [403, 'single sign-on failed: your email domain may not log in here']);
    assert.ok(server.logs.some((line) => line.msg === 'single sign-on refused' && line.email === 'mallory@elsewhere.test'));
  });

  await t.test('a login ends on this server or a trusted origin, nowhere else', async () => {
    for (const elsewhere of ['https://evil.example/', '//evil.example/', '/\\evil.example/', 'javascript:alert(1)']) {
      const response = await fetch(`${server.http}/auth/oidc/test?return_to=${encodeURIComponent(elsewhere)}`, { redirect: 'manual' });
      assert.deepEqual([response.status, await response.text()], [400, 'return_to must be a path on this server or an address on an origin of CORS_ALLOW_ORIGIN'], elsewhere);
    }
    const { authorization, state } = await begin(server, 'test', '?return_to=%2Fapp%3Froom%3D1');
    assert.deepEqual(await whoseSession(server, await answer(server, await authorize(authorization, 'alice'), state)), [303, `${publicA}/app?room=1`, 'Hello, alice']);
    const spa = await begin(server, 'test', `?return_to=${encodeURIComponent('http://localhost:5173/chat')}`);
    assert.equal((await answer(server, await authorize(spa.authorization, 'alice'), spa.state)).headers.get('location'), 'http://localhost:5173/chat');
  });

  await t.test('the provider saying no is passed on', async () => {
    const { state } = await begin(server);
    const response = await answer(server, new URL(`${publicA}/auth/oidc/test/callback?error=access_denied&state=${state}`), state);
    assert.deepEqual(await refusal(response), [401, 'single sign-on failed: the provider answered access_denied']);
  });

  await t.test('a provider whose issuer is not the one configured is not used', async () => {
    const response = await fetch(`${server.http}/auth/oidc/wrong`, { redirect: 'manual' });
    assert.deepEqual([response.status, await response.text()], [502, 'the identity provider wrong cannot be used now: the server log says why']);
    await server.waitForLog((line) => line.msg === 'identity provider unusable' && line.provider === 'wrong');
  });

  await t.test('a taken username is numbered; a verified email links the account that has it; a linked account has no password login', async () => {
    people.alicia = { preferred_username: 'alice', email: 'alicia@example.com', email_verified: true };
    assert.deepEqual(await whoseSession(server, await signIn(server, 'alicia')), [303, `${publicA}/`, 'Hello, alice-2']);

    const carol = await person(server, 'carol');
    await carol.client.request('update_profile', { email: 'carol@example.com' });
    const outbox = join(dirname(server.dbPath), 'outbox');
    let code = '';
    await until('the verification mail', () => {
      const mail = existsSync(outbox) ? readdirSync(outbox).map((name) => readFileSync(join(outbox, name), 'utf8')).find((text) => text.includes('carol@example.com')) : undefined;
      code = /is (\d{6})\./.exec(mail ?? '')?.[1] ?? '';
      return code !== '';
    });
    await carol.client.request('verify_email', { code });
    assert.equal((await http(server.http, 'POST', '/auth/login', { body: { username: carol.username, password } })).status, 202);
    people['carol-at-corp'] = { preferred_username: 'carol.corp', email: 'Carol@example.com', email_verified: true };
    assert.deepEqual(await whoseSession(server, await signIn(server, 'carol-at-corp')), [303, `${publicA}/`, `Hello, ${carol.username}`]);
    const login = await http(server.http, 'POST', '/auth/login', { body: { username: carol.username, password } });
    assert.deepEqual([login.status, login.body], [403, 'this account logs in with single sign-on']);
  });

  await t.test('an admin unlinks an account: the sessions its provider started end, its password works again, the provider\'s account no longer opens it', async () => {
    // carol's account was linked by email to carol-at-corp's provider account just above: wrongly, say.
    const linked = await signIn(server, 'carol-at-corp');
    const token = linked.headers.getSetCookie().find((cookie) => cookie.startsWith('login-token='))!.split(';')[0]!.slice('login-token='.length);
    const carol = (await whoseSession(server, linked))[2].slice('Hello, '.length);
    const sso = await connect(server, token);
    const boss = await person(server, 'boss');
    await expectError(boss.client, { type: 'admin_unlink_sso', username: carol }, 'only admins can use admin_unlink_sso', 'forbidden');
    await adminCommand(server, 'grant-admin', boss.username);
    await expectError(boss.client, { type: 'admin_unlink_sso', username: carol, provider: 'wrong' }, `'${carol}' has no single sign-on link to wrong`, 'not_found');
    await expectError(boss.client, { type: 'admin_unlink_sso', username: boss.username }, 'you cannot unlink the single sign-on of yourself', 'bad_request');
    await expectError(boss.client, { type: 'admin_unlink_sso', username: 'nobody_at_all' }, "no such user 'nobody_at_all' exists", 'not_found');
    // Two sessions came from the provider: this one and the one of the test above.
    assert.deepEqual(await boss.client.request('admin_unlink_sso', { username: carol }), { username: carol, providers: ['test'], sessions_ended: 2 });
    assert.deepEqual(await sso.closed, { code: 4005, reason: 'session logged out' });
    assert.equal((await http(server.http, 'GET', '/auth/verify', { headers: { cookie: `login-token=${token}` } })).status, 401);
    assert.ok(server.logs.some((line) => line.msg === 'single sign-on unlinked' && line.user === carol && line.by === boss.username));
    // PASSWORD_LOGIN=unlinked: her password opens her account again.
    assert.deepEqual(await http(server.http, 'POST', '/auth/login', { body: { username: carol, password } }).then(({ status, body }) => [status, body]), [202, 'login successful']);
    await expectError(boss.client, { type: 'admin_unlink_sso', username: carol }, `'${carol}' has no single sign-on link`, 'not_found');
    // The provider's account is not linked to her again by the same verified email: it gets an account of its own.
    assert.deepEqual(await whoseSession(server, await signIn(server, 'carol-at-corp')), [303, `${publicA}/`, 'Hello, carol.corp']);

    // The command line does the same on the database (the server running): the session is revoked at once.
    const again = await signIn(server, 'carol-at-corp');
    const cookie = again.headers.getSetCookie().find((header) => header.startsWith('login-token='))!.split(';')[0]!;
    assert.equal((await adminCommand(server, 'unlink-sso', 'carol.corp')).stdout, 'carol.corp is no longer linked to test; 2 sessions ended\n');
    assert.deepEqual(await http(server.http, 'GET', '/auth/verify', { headers: { cookie } }).then(({ status, body }) => [status, body]), [401, 'invalid login-token']);
    await assert.rejects(adminCommand(server, 'unlink-sso', 'carol.corp'), /'carol\.corp' has no single sign-on link/);
  });

  await t.test('PASSWORD_LOGIN=off: no password logins or registrations, single sign-on only; TWO_FACTOR_REQUIRED does not hold its sessions', async (t) => {
    const closed = await startServer(t, {
      PORT: String(portB),
      PUBLIC_URL: publicB,
      OIDC_PROVIDERS: JSON.stringify([test]),
      PASSWORD_LOGIN: 'off',
      TWO_FACTOR_REQUIRED: 'everyone',
    });
    const login = await http(closed.http, 'POST', '/auth/login', { body: { username: 'mallory', password } });
    assert.deepEqual([login.status, login.body], [403, 'password login is off: log in with single sign-on']);
    await assert.rejects(register(closed, 'mallory'), /403 registration is off: accounts come from single sign-on/);
    // Without email_domains, anyone the provider knows comes in; without link_by_email, a new account each.
    const signedIn = await signIn(closed, 'mallory');
    assert.deepEqual(await whoseSession(closed, signedIn), [303, `${publicB}/`, 'Hello, mallory']);
    // The account has no password to set a second factor up with; the provider checked who logged in.
    const token = signedIn.headers.getSetCookie().find((cookie) => cookie.startsWith('login-token='))!.split(';')[0]!.slice('login-token='.length);
    const socket = await connect(closed, token);
    t.after(() => socket.close());
    assert.deepEqual((await socket.request('get_contacts')).contacts, []);
  });
});

test('a first login that another node linked meanwhile opens that account and makes none', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-oidc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'secret'), clientSecret);
  const [provider] = readSettings({ PUBLIC_URL: 'https://chat.example.com', OIDC_PROVIDERS: JSON.stringify([{ name: 'corp', issuer: 'https://id.example.com', client_id: clientId, client_secret_file: join(dir, 'secret') }]) }).OIDC_PROVIDERS;
  const store = createStore(sqliteDriver(openDatabase(':memory:')));
  t.after(() => store.driver.close());
  const other = (await store.users.insert({ username: 'alice', fullname: 'Alice', passwordHash: '!', now: 1 }))!;
  await store.oidc.link('corp', 'alice-sub', other, 1);
  // This node looked before the other's link was committed: it saw none, and goes on to make an account.
  let looked = false;
  const oidc = { ...store.oidc, linked: (name: string, subject: string) => (looked ? store.oidc.linked(name, subject) : ((looked = true), Promise.resolve(undefined))) };
  const app = { store: { ...store, oidc }, now: () => 2 } as unknown as InJob;
  const found = await accountFor(app, provider!, { sub: 'alice-sub', preferred_username: 'alice' });
  assert.deepEqual([found?.how, found?.user.id], ['returning', other]);
  assert.deepEqual(await store.driver.prepare('SELECT username FROM users').values(), ['alice']);
});
