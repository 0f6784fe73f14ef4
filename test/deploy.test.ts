// The deployment examples, run for real: deploy/nginx/parley.conf in front of Parley with TLS, and deploy/parley.service checked.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import { createClient } from '../protocol/client.ts';
import { readSettings } from '../src/config.ts';
import { follow, freePort, startServer } from './helpers/server.ts';
import { password, uniqueName } from './helpers/clients.ts';
import { http, tokenFrom } from './helpers/http.ts';
import { installed } from './helpers/installed.ts';

const root = new URL('..', import.meta.url).pathname;
const nginx = '/usr/sbin/nginx';
const systemdAnalyze = '/usr/bin/systemd-analyze';

/** deploy/nginx/parley.conf with only its ports and certificate paths changed; each must be found exactly once. */
function siteFrom(ports: { http: number; https: number; parley: number }, dir: string): string {
  let site = readFileSync(join(root, 'deploy/nginx/parley.conf'), 'utf8');
  const replace = (from: string, to: string) => {
    assert.equal(site.split(from).length - 1, 1, `deploy/nginx/parley.conf has "${from}" once`);
    site = site.replace(from, to);
  };
  replace('listen 80;', `listen 127.0.0.1:${ports.http};`);
  replace('listen [::]:80;', '');
  replace('listen 443 ssl;', `listen 127.0.0.1:${ports.https} ssl;`);
  replace('listen [::]:443 ssl;', '');
  replace('server 127.0.0.1:8000;', `server 127.0.0.1:${ports.parley};`);
  replace('/etc/letsencrypt/live/chat.example.com/fullchain.pem', join(dir, 'cert.pem'));
  replace('/etc/letsencrypt/live/chat.example.com/privkey.pem', join(dir, 'key.pem'));
  return site;
}

/** nginx as this test's own process: its own prefix, pid, logs and temporary files, in the foreground. */
async function startNginx(t: TestContext, site: string, dir: string, port: number, ca: string) {
  writeFileSync(join(dir, 'parley.conf'), site);
  writeFileSync(join(dir, 'nginx.conf'), [
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    'events { worker_connections 256; }',
    'http {',
    `  access_log ${dir}/access.log;`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${dir}/${kind}_temp;`),
    `  include ${dir}/parley.conf;`,
    '}',
  ].join('\n'));
  const args = ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')];
  const check = spawnSync(nginx, [...args, '-t'], { encoding: 'utf8' });
  assert.equal(check.status, 0, `nginx -t:\n${check.stderr}`);
  const child = spawn(nginx, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const { exited, text } = follow(child);
  t.after(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  for (let tries = 0; ; tries++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ca }, () => resolve(true)).once('error', () => resolve(false));
      socket.once('secureConnect', () => socket.end());
    });
    if (up) return;
    if (tries > 100 || child.exitCode !== null) assert.fail(`nginx did not start:\n${text.join('\n')}\n${readFileSync(join(dir, 'error.log'), 'utf8')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('through the example nginx site, over https and wss, Parley sees each client\'s own address', async (t) => {
  if (!installed(t, nginx, 'nginx') || !installed(t, '/usr/bin/openssl', 'openssl')) return;
  const dir = mkdtempSync(join(tmpdir(), 'parley-nginx-'));
  chmodSync(dir, 0o755); // nginx's workers run as nobody when the test runs as root
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  const ca = readFileSync(join(dir, 'cert.pem'), 'utf8');

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
  assert.deepEqual(await http(site, 'GET', '/readyz', from(2)).then((r) => [r.status, r.body]), [200, 'ready']);
  assert.equal((await http(site, 'GET', '/metrics', from(2))).status, 404, 'metrics are not served to the public');
  const plain = await http(`http://127.0.0.1:${ports.http}`, 'GET', '/auth/verify', { localAddress: '127.0.0.2' });
  assert.deepEqual([plain.status, plain.headers.location], [301, 'https://127.0.0.1/auth/verify'], 'plain http only redirects');

  // Registrations: REGISTRATIONS_PER_HOUR counts per client, not for nginx as a whole.
  const alice = uniqueName('alice');
  const bob = uniqueName('bob');
  assert.equal((await post('/register', { username: alice, password, fullname: 'Alice' }, 2)).status, 201);
  assert.equal((await post('/register', { username: uniqueName(), password, fullname: 'Two' }, 2)).status, 201);
  const third = await post('/register', { username: uniqueName(), password, fullname: 'Three' }, 2);
  assert.deepEqual([third.status, third.body], [429, 'too many registrations from this address: retry in 3600 seconds']);
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
  assert.deepEqual(args, ['--import', 'tsx', 'src/main.ts'], 'node itself, as the tests run it, so signals reach the server');
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

  if (!installed(t, systemdAnalyze, 'systemd')) return;
  // systemd-analyze wants the ExecStart program to exist: this machine's node stands in for /usr/bin/node.
  const dir = mkdtempSync(join(tmpdir(), 'parley-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'parley.service');
  writeFileSync(file, unit.replace(`ExecStart=${node} `, `ExecStart=${process.execPath} `));
  const verify = spawnSync(systemdAnalyze, ['verify', file], { encoding: 'utf8' });
  assert.deepEqual([verify.status, verify.stdout + verify.stderr], [0, ''], 'systemd-analyze verify finds nothing to say');
  const security = spawnSync(systemdAnalyze, ['security', '--offline=yes', '--threshold=20', file], { encoding: 'utf8' });
  const score = /Overall exposure level for parley.service: ([\d.]+)/.exec(security.stdout)?.[1];
  assert.equal(security.status, 0, `exposure ${score} is above 2.0:\n${security.stdout}`);
  assert.ok(Number(score) <= 2, String(score));
});
