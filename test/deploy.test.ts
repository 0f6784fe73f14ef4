// The deployment examples, run for real: deploy/nginx/parley.conf in front of Parley with TLS, deploy/parley.service
// checked, and the examples for several nodes (deploy/nginx/parley-nodes.conf, deploy/parley@.service) checked.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import { createClient } from '../protocol/client.ts';
import { readSettings } from '../src/config.ts';
import { freePort, startServer } from './helpers/server.ts';
import { password, uniqueName } from './helpers/clients.ts';
import { http, tokenFrom } from './helpers/http.ts';
import { exchange } from './helpers/bytes.ts';
import { installed, openssl, selfSignedCertificate } from './helpers/installed.ts';
import { checkNginx, nginx, nodesSiteFrom, siteFrom, startNginx } from './helpers/nginx.ts';

const root = new URL('..', import.meta.url).pathname;
const systemdAnalyze = '/usr/bin/systemd-analyze';

test('through the example nginx site, over https and wss, Parley sees each client\'s own address', async (t) => {
  if (!installed(t, nginx, 'nginx') || !installed(t, openssl, 'openssl')) return;
  const dir = mkdtempSync(join(tmpdir(), 'parley-nginx-'));
  chmodSync(dir, 0o755); // nginx's workers run as nobody when the test runs as root
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = readFileSync(selfSignedCertificate(dir).cert, 'utf8');

  // Parley as deploy/parley.service runs it: TRUST_PROXY names nginx, which talks to it from 127.0.0.1.
  const parley = await startServer(t, { TRUST_PROXY: '127.0.0.1', COOKIE_SECURE: 'true', LOGIN_MAX_FAILURES: '1', REGISTRATIONS_PER_HOUR: '2' });
  const ports = { http: await freePort(), https: await freePort(), parley: parley.port };
  await startNginx(t, siteFrom(ports, dir), dir, ports.https, ca);
  const site = `https://127.0.0.1:${ports.https}`;
  const origin = { origin: site }; // a page served from the public origin, which is not Parley's listen address
  // Each client its own loopback address (all of 127.0.0.0/8 is local), nginx's is 127.0.0.1.
  const from = (client: number) => ({ ca, localAddress: `127.0.0.${client}` });
  const post = (path: string, body: object, client: number, headers: Record<string, string> = origin) => http(site, 'POST', path, { body, headers, ...from(client) });

  assert.deepEqual(await http(site, 'GET', '/misc/ping', from(2)).then((r) => [r.status, r.body]), [200, 'pong']);
  assert.equal((await http(site, 'GET', '/readyz', from(2))).status, 404, 'readiness is not served to the public');
  assert.equal((await http(site, 'GET', '/metrics', from(2))).status, 404, 'metrics are not served to the public');
  assert.deepEqual(await http(parley.http, 'GET', '/readyz').then((r) => [r.status, r.body]), [200, 'ready'], 'Parley answers it on its own address');
  const plain = await http(`http://127.0.0.1:${ports.http}`, 'GET', '/auth/verify', { localAddress: '127.0.0.2' });
  assert.deepEqual([plain.status, plain.headers.location], [301, 'https://127.0.0.1/auth/verify'], 'plain http only redirects');

  // Registrations: REGISTRATIONS_PER_HOUR counts per client, not for nginx as a whole.
  const alice = uniqueName('alice');
  const bob = uniqueName('bob');
  const first = Date.now();
  assert.equal((await post('/register', { username: alice, password, fullname: 'Alice' }, 2)).status, 201);
  assert.equal((await post('/register', { username: uniqueName(), password, fullname: 'Two' }, 2)).status, 201);
  const third = await post('/register', { username: uniqueName(), password, fullname: 'Three' }, 2);
  // An hour from the first registration: less the time the three took (over a second on a loaded machine).
  const waited = Math.ceil((Date.now() - first) / 1000);
  const retry = /^too many registrations from this address: retry in (\d+) seconds$/.exec(third.body);
  assert.equal(third.status, 429, third.body);
  assert.ok(retry && Number(retry[1]) <= 3600 && Number(retry[1]) >= 3600 - waited, `${third.body} (${waited} s after the first)`);
  assert.equal((await post('/register', { username: bob, password, fullname: 'Bob' }, 3)).status, 201, 'another client is not held back');
  const foreign = await post('/register', { username: uniqueName(), password, fullname: 'X' }, 3, { origin: 'https://evil.example' });
  assert.deepEqual([foreign.status, foreign.body], [403, 'origin not allowed']);

  // Login over https: the cookie is Secure; what a client writes into X-Forwarded-For itself is ignored.
  const login = await post('/auth/login', { username: alice, password }, 4, { ...origin, 'x-forwarded-for': '6.6.6.6' });
  assert.equal(login.status, 202);
  assert.match(String(login.headers['set-cookie']), /login-token=[^;]+; Max-Age=3600; Path=\/; HttpOnly; Secure; SameSite=Lax/);
  assert.equal((await parley.waitForLog((line) => line.msg === 'logged in' && line.user === alice)).ip, '127.0.0.4');

  // wss through nginx, with the cookie; the upgrade sees the client's address too.
  const open = (token: string, client: number, headers: Record<string, string> = origin) =>
    createClient(new WebSocket(`wss://127.0.0.1:${ports.https}/ws`, { ...from(client), headers: { ...headers, cookie: `login-token=${token}` } }));
  const aliceSocket = open(tokenFrom(login), 5);
  await aliceSocket.opened;
  const sessions = await aliceSocket.request('get_sessions');
  assert.deepEqual(sessions.map((session) => [session.ip, session.current]), [['127.0.0.4', true]]);
  assert.equal((await parley.waitForLog((line) => line.msg === 'connected' && line.user === alice)).ip, '127.0.0.5');
  const bobSocket = open(tokenFrom(await post('/auth/login', { username: bob, password }, 6)), 6);
  await bobSocket.opened;
  const room = await aliceSocket.request('create_conversation', { members: [bob] });
  const heard = new Promise<string>((resolve) => bobSocket.on('send_message', (message) => resolve(message.content)));
  await aliceSocket.request('send_message', { conversation_id: room.id, content: 'through nginx' });
  assert.equal(await heard, 'through nginx');
  const refused = new WebSocket(`wss://127.0.0.1:${ports.https}/ws`, { ...from(5), headers: { origin: 'https://evil.example', cookie: `login-token=${tokenFrom(login)}` } });
  refused.on('error', () => {}); // ws reports the refused upgrade as an error too
  const answer = await new Promise<number>((resolve) => refused.once('unexpected-response', (request, response) => {
    resolve(response.statusCode!);
    request.destroy();
  }));
  assert.equal(answer, 403, 'a page on a foreign site may not open a socket with the cookie');

  // The login throttle holds back the client that failed (4 × LOGIN_MAX_FAILURES from one address), not nginx.
  for (let i = 0; i < 4; i++) assert.equal((await post('/auth/login', { username: uniqueName(), password }, 7)).status, 401);
  const throttled = await post('/auth/login', { username: alice, password }, 7);
  assert.deepEqual([throttled.status, throttled.body], [429, 'too many failed logins: retry in 1 second']);
  assert.equal((await parley.waitForLog((line) => line.msg === 'login throttled')).ip, '127.0.0.7');
  assert.equal((await post('/auth/login', { username: alice, password }, 8)).status, 202, 'another client behind the same nginx logs in');
  aliceSocket.close();
  bobSocket.close();

  // Uploads pass nginx up to Parley's own limit, not the 64 KiB of other requests.
  const upload = await exchange(site, 'POST', '/files?filename=notes.bin', { body: Buffer.alloc(200 * 1024, 0x61), headers: { ...origin, cookie: `login-token=${tokenFrom(login)}` }, ca });
  assert.equal(upload.status, 201, upload.body.toString());
  assert.equal((JSON.parse(upload.body.toString()) as { size: number }).size, 200 * 1024);
});

/** The unit's `Key=value` lines of a section, in order (a key may repeat). */
function unitLines(unit: string, section: string): [string, string][] {
  const body = unit.split(/^\[/m).find((part) => part.startsWith(`${section}]`)) ?? '';
  return body.split('\n').slice(1).filter((line) => /^\w+=/.test(line)).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]);
}

test('the example systemd unit is valid, hardened, consistent with the nginx site, and its settings start Parley', async (t) => {
  const unit = readFileSync(join(root, 'deploy/parley.service'), 'utf8');
  const service = unitLines(unit, 'Service');
  const get = (key: string) => service.filter(([name]) => name === key).map(([, value]) => value);
  const env = Object.fromEntries(get('Environment').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));

  const [node, ...args] = get('ExecStart')[0]!.split(' ');
  assert.equal(node, '/usr/bin/node', "Debian's node");
  assert.deepEqual(args, ['dist/src/main.js'], 'node itself on the build npm ci made, as npm start and the tests run it, so signals reach the server');
  assert.deepEqual(get('KillMode'), ['mixed']);
  for (const option of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'PrivateDevices=yes', 'CapabilityBoundingSet=']) {
    assert.ok(service.some(([key, value]) => `${key}=${value}` === option), option);
  }
  const settings = readSettings(env);
  assert.equal(dirname(settings.DBPATH), '/var/lib/parley');
  assert.deepEqual(get('ReadWritePaths'), ['/var/lib/parley'], 'the database folder is the one writable place');
  assert.deepEqual(get('StateDirectory'), ['parley']);
  const site = readFileSync(join(root, 'deploy/nginx/parley.conf'), 'utf8');
  assert.ok(site.includes(`server ${settings.HOST}:${settings.PORT};`), 'nginx proxies to where the unit listens');
  assert.deepEqual(settings.TRUST_PROXY.map((proxy) => proxy.address), ['127.0.0.1'], 'and trusts nginx on loopback');
  assert.equal(settings.COOKIE_SECURE, true);

  // The unit's own settings start Parley (only the database and port moved to this test's).
  const server = await startServer(t, { ...env, PORT: '0', DBPATH: join(mkdtempSync(join(tmpdir(), 'parley-unit-')), 'parley.db') });
  assert.deepEqual(await http(server.http, 'GET', '/readyz').then((r) => [r.status, r.body]), [200, 'ready']);
  await server.stop();
  rmSync(dirname(server.dbPath), { recursive: true, force: true });

  analyze(t, unit, 'parley.service');
});

/**
 * systemd-analyze on a unit as the file `name`: verify finds nothing to say, and security rates its
 * exposure 2.0 at most. Skipped without systemd (except in CI).
 */
function analyze(t: TestContext, unit: string, name: string): void {
  if (!installed(t, systemdAnalyze, 'systemd')) return;
  // systemd-analyze wants the ExecStart program to exist: this machine's node stands in for /usr/bin/node.
  const dir = mkdtempSync(join(tmpdir(), 'parley-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, name);
  writeFileSync(file, unit.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `));
  const verify = spawnSync(systemdAnalyze, ['verify', file], { encoding: 'utf8' });
  assert.deepEqual([verify.status, verify.stdout + verify.stderr], [0, ''], 'systemd-analyze verify finds nothing to say');
  const security = spawnSync(systemdAnalyze, ['security', '--offline=yes', '--threshold=20', file], { encoding: 'utf8' });
  const score = new RegExp(`Overall exposure level for ${name.replace('.', '\\.')}: ([\\d.]+)`).exec(security.stdout)?.[1];
  assert.equal(security.status, 0, `exposure ${score} is above 2.0:\n${security.stdout}`);
  assert.ok(Number(score) <= 2, String(score));
}

test('several nodes on one machine: parley@.service is parley.service but for the port, the node id and the shared settings, and valid', (t) => {
  const single = readFileSync(join(root, 'deploy/parley.service'), 'utf8');
  const template = readFileSync(join(root, 'deploy/parley@.service'), 'utf8');
  const lines = (unit: string, section: string, leaving: string[]) =>
    unitLines(unit, section).map(([key, value]) => `${key}=${value}`).filter((line) => !leaving.includes(line));
  // Every setting, the hardening included, is the single unit's but for these (so the two cannot drift apart).
  assert.deepEqual(
    lines(template, 'Unit', ['Description=Parley chat server, the node on port %i', 'After=network.target postgresql.service redis-server.service']),
    lines(single, 'Unit', ['Description=Parley chat server', 'After=network.target']),
  );
  assert.deepEqual(
    lines(template, 'Service', ['Environment=PORT=%i', 'Environment=NODE_ID=%H-%i', 'EnvironmentFile=/etc/parley/parley.env']),
    lines(single, 'Service', ['Environment=PORT=8000', 'EnvironmentFile=-/etc/parley/parley.env']),
  );
  assert.deepEqual(lines(template, 'Install', []), lines(single, 'Install', []));

  // Instance parley@8001 on this machine: its settings are valid, and nginx's nodes site points at it.
  const instance = template.replaceAll('%i', '8001').replaceAll('%H', hostname());
  const env = Object.fromEntries(unitLines(instance, 'Service').filter(([key]) => key === 'Environment').map(([, pair]) => pair.split(/=(.*)/s).slice(0, 2)));
  const settings = readSettings(env);
  assert.deepEqual([settings.HOST, settings.PORT, settings.NODE_ID], ['127.0.0.1', 8001, `${hostname()}-8001`]);
  const nodes = readFileSync(join(root, 'deploy/nginx/parley-nodes.conf'), 'utf8');
  for (const port of [8001, 8002, 8003]) assert.match(nodes, new RegExp(`^ +server ${settings.HOST}:${port} `, 'm'));
  analyze(t, template, 'parley@8001.service');
});

test('several nodes behind nginx: the site with deploy/nginx/parley-nodes.conf\'s upstream passes nginx -t, with no sticky sessions', (t) => {
  if (!installed(t, nginx, 'nginx')) return;
  const dir = mkdtempSync(join(tmpdir(), 'parley-nginx-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  const site = nodesSiteFrom({ http: 18080, https: 18443, nodes: [18001, 18002, 18003, 18004] }, dir);
  const upstream = /^upstream parley \{[^}]*\}/m.exec(site)![0];
  assert.deepEqual([...upstream.matchAll(/^ +server (\S+) max_fails=1 fail_timeout=5s;$/gm)].map((line) => line[1]), ['127.0.0.1:18001', '127.0.0.1:18002', '127.0.0.1:18003', '127.0.0.1:18004']);
  assert.match(upstream, /^ +least_conn;$/m);
  assert.doesNotMatch(upstream, /ip_hash|\bhash\b|sticky/, 'any node may take any socket');
  assert.match(site, /location = \/ws \{\n +proxy_pass http:\/\/parley;\n +proxy_http_version 1\.1;\n +proxy_set_header Upgrade \$http_upgrade;\n +proxy_set_header Connection "upgrade";/, 'the upgrade goes through to the nodes');
  checkNginx(site, dir);
});
