// Settings are validated at start: a bad value stops the server with a message naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runServerExpectingExit, startServer } from './helpers/server.ts';
import { http } from './helpers/http.ts';
import { password, uniqueName } from './helpers/clients.ts';
import { readSettings } from '../src/config.ts';

test('bad settings stop the server with a clear message', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-settings-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cases: [Record<string, string>, string][] = [
    [{ PORT: 'eighty' }, 'PORT must be a whole number from 0 to 65535'],
    [{ PORT: '70000' }, 'PORT must be a whole number from 0 to 65535'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of debug, info, warn, error, silent'],
    [{ CORS_ALLOW_ORIGIN: 'localhost:5173' }, 'CORS_ALLOW_ORIGIN must list origins such as http://localhost:5173'],
    [{ CORS_ALLOW_ORIGIN: 'http://localhost:5173/app' }, 'CORS_ALLOW_ORIGIN must list origins such as http://localhost:5173'],
    [{ COOKIE_SECURE: 'yes' }, 'COOKIE_SECURE must be one of true, false'],
    [{ COOKIE_SAMESITE: 'sometimes' }, 'COOKIE_SAMESITE must be one of Strict, Lax, None'],
    [{ COOKIE_SAMESITE: 'None', COOKIE_SECURE: 'false' }, 'COOKIE_SAMESITE=None needs COOKIE_SECURE=true'],
    [{ PASSWORD_MIN_LENGTH: '0' }, 'PASSWORD_MIN_LENGTH must be a whole number from 1 to 1024'],
    [{ MAX_SOCKETS_PER_USER: '-1' }, 'MAX_SOCKETS_PER_USER must be a whole number from 1 to 10000'],
    [{ JWTSECRET: '' }, 'JWTSECRET must not be empty when set'],
    [{ SQLITE_SYNCHRONOUS: 'OFF' }, 'SQLITE_SYNCHRONOUS must be one of NORMAL, FULL'],
    [{ TRUST_PROXY: '127.0.0.1,nginx' }, 'TRUST_PROXY must list proxy addresses or CIDR ranges such as 127.0.0.1, 10.0.0.0/8 or fd00::/8 (not "nginx")'],
    [{ SHUTDOWN_DRAIN: '301' }, 'SHUTDOWN_DRAIN must be a whole number from 0 to 300'],
    [{ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN must be at least 16 characters'],
  ];
  for (const [env, message] of cases) {
    const { code, output } = await runServerExpectingExit({ DBPATH: join(dir, 'parley.db'), ...env });
    assert.equal(code, 1, JSON.stringify(env));
    assert.ok(output.includes(message), `${JSON.stringify(env)}: ${output}`);
    assert.ok(!output.includes('"msg":"listening"'));
  }
});

test('defaults are those the README documents', () => {
  assert.deepEqual(readSettings({}), {
    PORT: 8000,
    HOST: '0.0.0.0',
    DBPATH: 'data/parley.db',
    CORS_ALLOW_ORIGIN: ['http://localhost:5173'],
    COOKIE_SECURE: true,
    COOKIE_SAMESITE: 'Lax',
    PASSWORD_MIN_LENGTH: 8,
    LOG_LEVEL: 'info',
    MAX_SOCKETS_PER_USER: 16,
    SQLITE_SYNCHRONOUS: 'NORMAL',
    MAX_BACKPRESSURE: 1048576,
    RATE_LIMIT_EVENTS: 50,
    RATE_LIMIT_BURST: 200,
    LOGIN_MAX_FAILURES: 5,
    REGISTRATIONS_PER_HOUR: 20,
    IDLE_TIMEOUT: 120,
    EVENT_LOG_DAYS: 30,
    MAX_MESSAGE_LENGTH: 4000,
    MAIL_FROM: 'Parley <parley@localhost>',
    USERNAME_HOLD_DAYS: 30,
    TRUST_PROXY: [],
    TRUST_PROXY_HEADER: 'X-Forwarded-For',
    SHUTDOWN_DRAIN: 0,
  });
  assert.throws(() => readSettings({ SMTP_URL: 'http://mail.example' }), /SMTP_URL must be an smtp:\/\/ or smtps:\/\/ URL/);
  assert.equal(readSettings({ SMTP_URL: 'smtp://u:p@mail.example:587' }).SMTP_URL, 'smtp://u:p@mail.example:587');
  assert.deepEqual(readSettings({ CORS_ALLOW_ORIGIN: 'http://a.example, https://b.example:8443' }).CORS_ALLOW_ORIGIN, ['http://a.example', 'https://b.example:8443']);
});

test('a port in use stops the server with a clear message', async (t) => {
  const running = await startServer(t);
  const { code, output } = await runServerExpectingExit({ DBPATH: join(running.dir, 'other.db'), PORT: String(running.port), JWTSECRET: 'x'.repeat(32) });
  assert.equal(code, 1);
  assert.ok(output.includes(`cannot listen on 127.0.0.1:${running.port} (is the port in use?)`), output);
});

test('PASSWORD_MIN_LENGTH and CORS_ALLOW_ORIGIN take effect', async (t) => {
  const server = await startServer(t, { PASSWORD_MIN_LENGTH: '30', CORS_ALLOW_ORIGIN: 'http://one.example,http://two.example' });
  const short = await http(server.http, 'POST', '/register', { body: { username: uniqueName(), password, fullname: 'x' } });
  assert.deepEqual([short.status, short.body], [400, 'password must be at least 30 characters long']);
  const two = await http(server.http, 'GET', '/misc/ping', { headers: { origin: 'http://two.example' } });
  assert.equal(two.headers['access-control-allow-origin'], 'http://two.example');
  const old = await http(server.http, 'GET', '/misc/ping', { headers: { origin: 'http://localhost:5173' } });
  assert.equal(old.headers['access-control-allow-origin'], undefined);
});

test('SQLITE_SYNCHRONOUS reaches the database connection', async (t) => {
  const server = await startServer(t, { SQLITE_SYNCHRONOUS: 'full' });
  assert.equal((await server.waitForLog((line) => line.msg === 'listening')).synchronous, 'FULL');
});

test('LOG_LEVEL=warn keeps info lines out', async (t) => {
  const server = await startServer(t, { LOG_LEVEL: 'warn' });
  await http(server.http, 'POST', '/auth/login', { body: { username: 'nobody_here', password } });
  await server.waitForLog((line) => line.msg === 'login failed');
  assert.ok(server.logs.every((line) => line.level !== 'info' && line.level !== 'debug'));
});
