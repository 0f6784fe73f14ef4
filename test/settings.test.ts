// Settings are validated at start: a bad value stops the server with a message naming it.
import { test } from 'node:test';
import { availableParallelism } from 'node:os';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runServerExpectingExit, startServer } from './helpers/server.ts';
import { http } from './helpers/http.ts';
import { password, uniqueName } from './helpers/clients.ts';
import { readSettings } from '../src/config.ts';
import { parseEndpointHosts } from '../src/push/endpoints.ts';

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
    [{ HOST: '999.1.1.1' }, 'HOST must be an IP address of this machine (such as 0.0.0.0, 127.0.0.1 or ::) or a host name that resolves to one'],
    [{ HOST: '' }, 'HOST must be an IP address of this machine'],
    [{ HOST: 'bad host' }, 'HOST must be an IP address of this machine'],
    [{ LOGIN_TOKEN_SECONDS: '0' }, 'LOGIN_TOKEN_SECONDS must be a whole number from 1 to 86400'],
    [{ TRUST_PROXY: '127.0.0.1,nginx' }, 'TRUST_PROXY must list proxy addresses or CIDR ranges such as 127.0.0.1, 10.0.0.0/8 or fd00::/8 (not "nginx")'],
    [{ SHUTDOWN_DRAIN: '301' }, 'SHUTDOWN_DRAIN must be a whole number from 0 to 300'],
    [{ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN must be at least 16 characters'],
    [{ FILES_DIR: '' }, 'FILES_DIR must not be empty'],
    [{ MAX_UPLOAD_BYTES: '0' }, 'MAX_UPLOAD_BYTES must be a whole number from 1 to 10737418240'],
    [{ MAX_UPLOAD_BYTES: '25MiB' }, 'MAX_UPLOAD_BYTES must be a whole number from 1 to 10737418240'],
    [{ UPLOAD_QUOTA_BYTES: '0' }, 'UPLOAD_QUOTA_BYTES must be a whole number from 1 to 1125899906842624'],
    [{ UPLOADS_PER_HOUR: 'many' }, 'UPLOADS_PER_HOUR must be a whole number from 1 to 1000000'],
    [{ UNATTACHED_FILE_HOURS: '0' }, 'UNATTACHED_FILE_HOURS must be a number of hours from 0.001 to 8760 (such as 24 or 0.5)'],
    [{ UNATTACHED_FILE_HOURS: '1h' }, 'UNATTACHED_FILE_HOURS must be a number of hours from 0.001 to 8760 (such as 24 or 0.5)'],
    [{ UNATTACHED_BYTES_PER_ADDRESS: '0' }, 'UNATTACHED_BYTES_PER_ADDRESS must be a whole number from 1 to 1125899906842624'],
    [{ UNATTACHED_BYTES_TOTAL: '4GiB' }, 'UNATTACHED_BYTES_TOTAL must be a whole number from 1 to 1125899906842624'],
    [{ FREE_SPACE_RESERVE_BYTES: '-1' }, 'FREE_SPACE_RESERVE_BYTES must be a whole number from 0 to 1125899906842624'],
    [{ OIDC_PROVIDERS: '[{"name": "corp"' }, 'OIDC_PROVIDERS must be a JSON array of providers (or the path of a file holding one)'],
    [{ PASSWORD_LOGIN: 'off' }, 'PASSWORD_LOGIN=off needs OIDC_PROVIDERS: otherwise nobody could log in'],
    [{ RETENTION_DAYS: '-1' }, 'RETENTION_DAYS must be a whole number from 0 to 36500'],
    [{ RETENTION_ROUND_SECONDS: '0' }, 'RETENTION_ROUND_SECONDS must be a whole number from 1 to 86400'],
  ];
  for (const [env, message] of cases) {
    const { code, output } = await runServerExpectingExit({ DBPATH: join(dir, 'parley.db'), ...env });
    assert.equal(code, 1, JSON.stringify(env));
    assert.ok(output.includes(message), `${JSON.stringify(env)}: ${output}`);
    assert.ok(!output.includes('"msg":"listening"'));
  }
});

test('defaults are those docs/configuration.md documents', () => {
  assert.deepEqual(readSettings({}), {
    PORT: 8000,
    HOST: '0.0.0.0',
    DBPATH: 'data/parley.db',
    FILES_DIR: 'data/files',
    MAX_UPLOAD_BYTES: 26214400,
    UPLOAD_QUOTA_BYTES: 1073741824,
    UPLOADS_PER_HOUR: 100,
    UNATTACHED_FILE_HOURS: 6,
    UNATTACHED_BYTES_PER_ADDRESS: 536870912,
    UNATTACHED_BYTES_TOTAL: 4294967296,
    FREE_SPACE_RESERVE_BYTES: 1073741824,
    UNSTRIPPED_IMAGES: 'refuse',
    CORS_ALLOW_ORIGIN: ['http://localhost:5173'],
    COOKIE_SECURE: true,
    COOKIE_SAMESITE: 'Lax',
    PASSWORD_MIN_LENGTH: 8,
    LOG_LEVEL: 'info',
    MAX_SOCKETS_PER_USER: 16,
    SQLITE_SYNCHRONOUS: 'NORMAL',
    SQLITE_READERS: Math.min(4, Math.max(1, availableParallelism() - 1)),
    MAX_BACKPRESSURE: 1048576,
    RATE_LIMIT_EVENTS: 50,
    RATE_LIMIT_BURST: 200,
    RATE_LIMIT_WORK_MS: 100,
    RATE_LIMIT_WORK_BURST_MS: 250,
    LOGIN_MAX_FAILURES: 5,
    TWO_FACTOR_REQUIRED: 'nobody',
    PASSWORD_HASHES_AT_ONCE: Math.max(1, availableParallelism() - 1),
    REFRESH_GRACE_SECONDS: 30,
    DATABASE_POOL: 10,
    REGISTRATIONS_PER_HOUR: 20,
    CONVERSATIONS_PER_HOUR: 60,
    CHANNELS_PER_HOUR: 10,
    ADDS_PER_HOUR: 500,
    CONTACTS_PER_HOUR: 100,
    WEBHOOK_POSTS_PER_MINUTE: 60,
    COMMAND_HOSTS: [],
    COMMAND_TIMEOUT_MS: 3000,
    IDLE_TIMEOUT: 120,
    EVENT_LOG_DAYS: 30,
    RETENTION_DAYS: 0,
    RETENTION_ROUND_SECONDS: 3600,
    LOGIN_TOKEN_SECONDS: 3600,
    OIDC_PROVIDERS: [],
    PASSWORD_LOGIN: 'on',
    MAX_MESSAGE_LENGTH: 4000,
    MAIL_FROM: 'Parley <parley@localhost>',
    USERNAME_HOLD_DAYS: 30,
    TRUST_PROXY: [],
    TRUST_PROXY_HEADER: 'X-Forwarded-For',
    SHUTDOWN_DRAIN: 0,
    VAPID_SUBJECT: 'mailto:parley@localhost',
    PUSH_ENDPOINT_HOSTS: parseEndpointHosts('browsers'),
    PUSH_PREVIEW: true,
    PUSH_COALESCE_SECONDS: 30,
    PUSH_TTL_SECONDS: 86_400,
    PUSH_CONCURRENCY: 32,
    NODE_TIMEOUT: 10,
  });
  assert.throws(() => readSettings({ SMTP_URL: 'http://mail.example' }), /SMTP_URL must be an smtp:\/\/ or smtps:\/\/ URL/);
  assert.equal(readSettings({ SMTP_URL: 'smtp://u:p@mail.example:587' }).SMTP_URL, 'smtp://u:p@mail.example:587');
  assert.deepEqual(readSettings({ CORS_ALLOW_ORIGIN: 'http://a.example, https://b.example:8443' }).CORS_ALLOW_ORIGIN, ['http://a.example', 'https://b.example:8443']);
  // Several nodes (src/cluster/).
  for (const bad of ['127.0.0.1:6379', 'http://redis.example', 'redis://']) {
    assert.throws(() => readSettings({ REDIS_URL: bad }), /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/, bad);
  }
  const database = 'postgres://parley@db.example/parley';
  assert.equal(readSettings({ REDIS_URL: 'rediss://u:p@redis.example:6380/2', DATABASE_URL: database }).REDIS_URL, 'rediss://u:p@redis.example:6380/2');
  assert.throws(() => readSettings({ REDIS_URL: 'redis://redis.example' }), /^Error: invalid settings: REDIS_URL needs DATABASE_URL: the nodes of a cluster share one PostgreSQL database \(a SQLite file belongs to one node\)$/);
  for (const bad of ['', '-a', 'a b', 'a:b', 'x'.repeat(65)]) {
    assert.throws(() => readSettings({ NODE_ID: bad }), /NODE_ID must be 1 to 64 letters, digits, "\.", "_" or "-", starting with a letter or digit/, bad);
  }
  assert.equal(readSettings({ NODE_ID: 'eu-1.node_2' }).NODE_ID, 'eu-1.node_2');
  assert.throws(() => readSettings({ NODE_TIMEOUT: '1' }), /NODE_TIMEOUT must be a whole number from 2 to 300/);
});

test('OIDC_PROVIDERS: each provider is checked, its secret read from its file, and a problem named', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-settings-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const secret = join(dir, 'secret');
  writeFileSync(secret, 'the client secret\n');
  const corp = { name: 'corp', issuer: 'https://id.example.com', client_id: 'parley', client_secret_file: secret };
  const read = (providers: unknown, more: Record<string, string> = { PUBLIC_URL: 'https://chat.example.com/' }) => readSettings({ OIDC_PROVIDERS: JSON.stringify(providers), ...more });
  const settings = read([corp]);
  assert.equal(settings.PUBLIC_URL, 'https://chat.example.com');
  assert.deepEqual(settings.OIDC_PROVIDERS, [{
    ...corp, scopes: ['openid', 'email', 'profile'], username_claim: 'preferred_username', email_domains: [], link_by_email: false, client_secret: 'the client secret',
  }]);
  const file = join(dir, 'providers.json');
  writeFileSync(file, JSON.stringify([{ ...corp, email_domains: ['Example.COM'], link_by_email: true }]));
  assert.deepEqual(readSettings({ OIDC_PROVIDERS: file, PUBLIC_URL: 'https://chat.example.com' }).OIDC_PROVIDERS.map((p) => [p.email_domains, p.link_by_email]), [[['example.com'], true]]);
  const problems: [unknown, string, Record<string, string>?][] = [
    [[corp], 'OIDC_PROVIDERS needs PUBLIC_URL', {}],
    [[{ ...corp, name: 'Corp' }], 'OIDC_PROVIDERS: a provider\'s "name" must be 1 to 32 lower-case letters'],
    [[corp, corp], 'OIDC_PROVIDERS: two providers have the same "name"'],
    [[{ ...corp, issuer: 'http://id.example.com' }], 'OIDC_PROVIDERS: a provider\'s "issuer" must be an https:// URL (http:// only on localhost)'],
    [[{ ...corp, client_secret_file: join(dir, 'missing') }], `OIDC_PROVIDERS: provider corp's client_secret_file ${join(dir, 'missing')} cannot be read (ENOENT)`],
    [[{ ...corp, scopes: ['email'] }], 'OIDC_PROVIDERS: a provider\'s "scopes" must include openid'],
    [[{ ...corp, link_by_email: 'yes' }], 'OIDC_PROVIDERS: 0.link_by_email: Invalid type'],
    [[{ ...corp, colour: 'blue' }], 'OIDC_PROVIDERS: 0.colour: Invalid key'],
    [[corp], 'PUBLIC_URL must be the http:// or https:// origin browsers reach Parley at', { PUBLIC_URL: 'https://chat.example.com/app' }],
  ];
  for (const [providers, message, more] of problems) {
    assert.throws(() => read(providers, more), (error: Error) => error.message.includes(message), message);
  }
  assert.throws(() => readSettings({ OIDC_PROVIDERS: join(dir, 'none.json') }), new Error(`invalid settings: OIDC_PROVIDERS: the file ${join(dir, 'none.json')} cannot be read (ENOENT)`));
  assert.throws(() => readSettings({ PASSWORD_LOGIN: 'sometimes' }), /PASSWORD_LOGIN must be one of on, unlinked, off/);
  assert.equal(read([corp], { PUBLIC_URL: 'https://chat.example.com', PASSWORD_LOGIN: 'Unlinked' }).PASSWORD_LOGIN, 'unlinked');
});

test('a port in use stops the server with a clear message', async (t) => {
  const running = await startServer(t);
  const { code, output } = await runServerExpectingExit({ DBPATH: join(running.dir, 'other.db'), PORT: String(running.port), JWTSECRET: 'x'.repeat(32) });
  assert.equal(code, 1);
  assert.ok(output.includes(`cannot listen on 127.0.0.1:${running.port}: PORT=${running.port} is in use by another program (stop it, or choose another PORT)`), output);
});

test('a HOST that is not an address of this machine, or does not resolve, is named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-settings-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const base = { DBPATH: join(dir, 'parley.db'), JWTSECRET: 'x'.repeat(32) };
  // 192.0.2.1 is TEST-NET-1 (RFC 5737): a valid address no machine of ours has; binding to it sends nothing.
  const foreign = await runServerExpectingExit({ ...base, HOST: '192.0.2.1' });
  assert.equal(foreign.code, 1);
  assert.ok(foreign.output.includes('cannot listen on 192.0.2.1:0: HOST=192.0.2.1 is not an address of this machine (0.0.0.0 listens on all of them)'), foreign.output);
  const unknown = await runServerExpectingExit({ ...base, HOST: 'no-such-host.invalid' });
  assert.equal(unknown.code, 1);
  assert.ok(unknown.output.includes('cannot listen on no-such-host.invalid:0: HOST=no-such-host.invalid does not resolve to an address'), unknown.output);
});

test('a bad DBPATH is named, and nothing is written there', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-settings-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'root:x:0:0:root:/root:/bin/bash\n');
  const cases: [string, string][] = [
    [text, `DBPATH=${text} is not a SQLite database (it does not begin with the SQLite header); it was left untouched`],
    [join(text, 'x.db'), `DBPATH=${join(text, 'x.db')}: ${text} is not a folder`],
    // Node's own recursive mkdir spins at full CPU here, for ever: /proc answers ENOENT for a child of a folder that exists.
    ['/proc/nope/x.db', 'DBPATH=/proc/nope/x.db: cannot create the folder /proc/nope (ENOENT: no such file or directory)'],
    [dir, `DBPATH=${dir} is a folder: name a file in it, such as ${join(dir, 'parley.db')}`],
  ];
  for (const [path, message] of cases) {
    const { code, output } = await runServerExpectingExit({ DBPATH: path, JWTSECRET: 'x'.repeat(32) });
    assert.equal(code, 1, path);
    assert.ok(output.includes(message), `${path}: ${output}`);
  }
  assert.deepEqual(readdirSync(dir), ['notes.txt'], 'no lock file, journal or database was made');
  assert.equal(readFileSync(text, 'utf8'), 'root:x:0:0:root:/root:/bin/bash\n');
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
