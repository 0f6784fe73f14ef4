// TRUST_PROXY: the client's address from X-Forwarded-For or Forwarded, believed only from trusted proxies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createClient } from '../protocol/client.ts';
import { canonicalAddress, clientFrom, parseForwarded, parseForwardedFor } from '../src/transport/proxy.ts';
import { readSettings } from '../src/config.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { password, register, uniqueName } from './helpers/clients.ts';
import { assertRegistrationsWait, http, tokenFrom } from './helpers/http.ts';

test('addresses are spelt one way: IPv6 compressed and lower-case, IPv4-mapped IPv6 as IPv4', () => {
  assert.equal(canonicalAddress('203.0.113.7'), '203.0.113.7');
  assert.equal(canonicalAddress('0000:0000:0000:0000:0000:ffff:7f00:0002'), '127.0.0.2', 'how a dual-stack uWS listener reports an IPv4 client');
  assert.equal(canonicalAddress('::FFFF:192.0.2.1'), '192.0.2.1');
  assert.equal(canonicalAddress('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(canonicalAddress('0000:0000:0000:0000:0000:0000:0000:0001'), '::1');
  for (const bad of ['', 'localhost', '1.2.3', '01.2.3.4', '1.2.3.4.5', 'fe80::1%eth0', '2001:db8::1::2', '[::1]']) assert.equal(canonicalAddress(bad), undefined, bad);
});

test('X-Forwarded-For and Forwarded are read into hops, oldest first; what is not an address is marked', () => {
  assert.deepEqual(parseForwardedFor('203.0.113.7, 10.0.0.2,10.0.0.3'), ['203.0.113.7', '10.0.0.2', '10.0.0.3']);
  assert.deepEqual(parseForwardedFor(' 203.0.113.7:5555 , [2001:DB8::1]:443, 2001:db8::2, [2001:db8::3]'), ['203.0.113.7', '2001:db8::1', '2001:db8::2', '2001:db8::3']);
  assert.deepEqual(parseForwardedFor('unknown, 203.0.113.7'), [undefined, '203.0.113.7']);
  assert.deepEqual(parseForwardedFor(',, '), []);
  assert.deepEqual(parseForwardedFor('[203.0.113.7]'), [undefined], 'brackets are for IPv6');

  assert.deepEqual(parseForwarded('for=192.0.2.43, for="[2001:db8:cafe::17]:4711"'), ['192.0.2.43', '2001:db8:cafe::17']);
  assert.deepEqual(parseForwarded('proto=https;For="192.0.2.60:80";by=203.0.113.43'), ['192.0.2.60'], 'names are case-insensitive, any order');
  assert.deepEqual(parseForwarded('for=unknown, for="_gazonk", by=10.0.0.1, for=198.51.100.17'), [undefined, undefined, undefined, '198.51.100.17']);
  assert.deepEqual(parseForwarded('for="198.51.100.1";host="a,b;c", for=198.51.100.2'), ['198.51.100.1', '198.51.100.2'], 'separators inside quotes do not split');
  assert.deepEqual(parseForwarded('for="198.51.100.1'), [undefined], 'an unterminated quote makes the header malformed');
  assert.deepEqual(parseForwarded('for=2001:db8::1'), ['2001:db8::1']);
});

test('the walk starts at the peer and stops at the first address that is not a trusted proxy', () => {
  const trusted = (address: string) => address === '127.0.0.1' || address.startsWith('10.');
  assert.equal(clientFrom('203.0.113.9', ['198.51.100.1'], trusted), '203.0.113.9', 'an untrusted peer is the client, whatever it claims');
  assert.equal(clientFrom('127.0.0.1', ['198.51.100.1'], trusted), '198.51.100.1');
  assert.equal(clientFrom('127.0.0.1', ['6.6.6.6', '198.51.100.1', '10.0.0.2'], trusted), '198.51.100.1', 'a forged hop left of the client is never reached');
  assert.equal(clientFrom('127.0.0.1', ['10.0.0.3', '10.0.0.2'], trusted), '10.0.0.3', 'all trusted: the leftmost');
  assert.equal(clientFrom('127.0.0.1', [], trusted), '127.0.0.1', 'no header: the peer');
  assert.equal(clientFrom('127.0.0.1', ['198.51.100.1', undefined], trusted), '127.0.0.1', 'a malformed hop: the peer');
  assert.equal(clientFrom('127.0.0.1', ['10.0.0.2', undefined, '198.51.100.1'], trusted), '198.51.100.1', 'malformed hops left of the client do not matter');
});

test('TRUST_PROXY takes addresses and CIDR ranges, IPv4 and IPv6, and refuses anything else by name', () => {
  assert.deepEqual(readSettings({ TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,fd00::/8 , ::1' }).TRUST_PROXY, [
    { address: '127.0.0.1', prefix: undefined, family: 'ipv4' },
    { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
    { address: 'fd00::', prefix: 8, family: 'ipv6' },
    { address: '::1', prefix: undefined, family: 'ipv6' },
  ]);
  assert.deepEqual(readSettings({}).TRUST_PROXY, []);
  for (const bad of ['localhost', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/8/8', '10.0.0.0/', '10.0.0.0/x', '*']) {
    assert.throws(() => readSettings({ TRUST_PROXY: `127.0.0.1,${bad}` }), { message: `invalid settings: TRUST_PROXY must list proxy addresses or CIDR ranges such as 127.0.0.1, 10.0.0.0/8 or fd00::/8 (not ${JSON.stringify(bad)})` });
  }
  assert.equal(readSettings({ TRUST_PROXY_HEADER: 'forwarded' }).TRUST_PROXY_HEADER, 'Forwarded');
  assert.throws(() => readSettings({ TRUST_PROXY_HEADER: 'X-Real-IP' }), /TRUST_PROXY_HEADER must be one of X-Forwarded-For, Forwarded/);
});

async function loginFrom(server: TestServer, username: string, headers: Record<string, string | string[]>, localAddress?: string) {
  return http(server.http, 'POST', '/auth/login', { body: { username, password }, headers, localAddress });
}

/** The address the server recorded for a login: the session's, as get_sessions shows it over a socket. */
async function sessionAddress(server: TestServer, token: string, headers: Record<string, string> = {}, localAddress?: string): Promise<string> {
  const client = createClient(new WebSocket(server.ws, { headers: { ...headers, cookie: `login-token=${token}` }, localAddress }));
  await client.opened;
  const sessions = await client.request('get_sessions');
  client.close();
  return sessions.find((session) => session.current)!.ip;
}

test('TRUST_PROXY off (the default): forwarded headers are ignored', async (t) => {
  const server = await startServer(t, { LOGIN_MAX_FAILURES: '1' });
  const username = uniqueName();
  await register(server, username);
  const login = await loginFrom(server, username, { 'x-forwarded-for': '198.51.100.1', forwarded: 'for=198.51.100.2' });
  assert.equal(login.status, 202);
  assert.equal(await sessionAddress(server, tokenFrom(login)), '127.0.0.1');
  // One address may fail 4 × LOGIN_MAX_FAILURES times; claiming to be someone else each time does not help.
  for (let i = 0; i < 4; i++) {
    const failed = await http(server.http, 'POST', '/auth/login', { body: { username: uniqueName(), password }, headers: { 'x-forwarded-for': `198.51.100.${10 + i}` } });
    assert.equal(failed.status, 401);
  }
  const throttled = await http(server.http, 'POST', '/auth/login', { body: { username: uniqueName(), password }, headers: { 'x-forwarded-for': '198.51.100.99' } });
  assert.equal(throttled.status, 429);
  const logged = await server.waitForLog((line) => line.msg === 'login throttled');
  assert.equal(logged.ip, '127.0.0.1');
});

test('TRUST_PROXY: from a trusted proxy, the client named in X-Forwarded-For is throttled, registered, logged and recorded', async (t) => {
  const server = await startServer(t, { TRUST_PROXY: '127.0.0.1, 10.0.0.0/8', LOGIN_MAX_FAILURES: '1', REGISTRATIONS_PER_HOUR: '1' });
  const as = (client: string) => ({ 'x-forwarded-for': `6.6.6.6, ${client}` }); // the first hop is the client's own forgery

  const alice = uniqueName('alice');
  const first = Date.now();
  const registered = await http(server.http, 'POST', '/register', { body: { username: alice, password, fullname: 'Alice' }, headers: as('198.51.100.1') });
  assert.equal(registered.status, 201);
  const again = await http(server.http, 'POST', '/register', { body: { username: uniqueName(), password, fullname: 'Again' }, headers: as('198.51.100.1') });
  assertRegistrationsWait(again, first);
  const other = uniqueName('bob');
  const fromOther = await http(server.http, 'POST', '/register', { body: { username: other, password, fullname: 'Bob' }, headers: as('198.51.100.2') });
  assert.equal(fromOther.status, 201, 'another client behind the same proxy may register');
  assert.equal((await server.waitForLog((line) => line.msg === 'user registered' && line.user === alice)).ip, '198.51.100.1');

  const login = await loginFrom(server, alice, { 'x-forwarded-for': '198.51.100.3, 10.1.2.3' });
  assert.equal(login.status, 202);
  assert.equal((await server.waitForLog((line) => line.msg === 'logged in' && line.user === alice)).ip, '198.51.100.3', 'trusted hops are walked through');
  assert.equal(await sessionAddress(server, tokenFrom(login), { 'x-forwarded-for': '198.51.100.4' }), '198.51.100.3');
  const connected = server.logs.filter((line) => line.msg === 'connected' && line.user === alice);
  assert.deepEqual(connected.map((line) => line.ip), ['198.51.100.4'], 'the WebSocket upgrade reads the same header');

  for (let i = 0; i < 4; i++) assert.equal((await http(server.http, 'POST', '/auth/login', { body: { username: uniqueName(), password }, headers: as('198.51.100.5') })).status, 401);
  const throttled = await http(server.http, 'POST', '/auth/login', { body: { username: alice, password }, headers: as('198.51.100.5') });
  assert.equal(throttled.status, 429, 'the client that failed waits');
  assert.equal((await server.waitForLog((line) => line.msg === 'login throttled')).ip, '198.51.100.5');
  assert.equal((await loginFrom(server, alice, as('198.51.100.6'))).status, 202, 'another client behind the same proxy does not');

  const malformed = await loginFrom(server, alice, { 'x-forwarded-for': '198.51.100.7, not-an-address' });
  assert.equal(await sessionAddress(server, tokenFrom(malformed)), '127.0.0.1', 'a malformed header leaves the peer');
  const plain = await loginFrom(server, alice, { 'x-forwarded-for': '198.51.100.8' }).then(tokenFrom);
  assert.equal(await sessionAddress(server, plain), '198.51.100.8');
  const twoLines = await loginFrom(server, alice, { 'x-forwarded-for': ['6.6.6.6', '198.51.100.9'] }).then(tokenFrom);
  assert.equal(await sessionAddress(server, twoLines), '198.51.100.9', 'a header in two lines is one list');
});

test('TRUST_PROXY: a peer that is not a trusted proxy is the client, whatever it forwards', async (t) => {
  const server = await startServer(t, { TRUST_PROXY: '127.0.0.1' });
  const username = uniqueName();
  await register(server, username);
  const login = await loginFrom(server, username, { 'x-forwarded-for': '198.51.100.1' }, '127.0.0.2');
  assert.equal(login.status, 202);
  assert.equal(await sessionAddress(server, tokenFrom(login), { 'x-forwarded-for': '198.51.100.2' }, '127.0.0.2'), '127.0.0.2');
  assert.equal(server.logs.find((line) => line.msg === 'connected')!.ip, '127.0.0.2');
});

test('TRUST_PROXY_HEADER=Forwarded reads RFC 7239 and ignores X-Forwarded-For; IPv6 proxies and clients on a dual-stack listener', async (t) => {
  const server = await startServer(t, { HOST: '::', TRUST_PROXY: '::1', TRUST_PROXY_HEADER: 'Forwarded' });
  const username = uniqueName();
  await register(server, username);
  const v6 = `http://[::1]:${server.port}`;
  const login = await http(v6, 'POST', '/auth/login', { body: { username, password }, headers: { forwarded: 'for=192.0.2.1, for="[2001:DB8::9]:4711";proto=https', 'x-forwarded-for': '198.51.100.1' } });
  assert.equal(login.status, 202);
  assert.equal((await server.waitForLog((line) => line.msg === 'logged in')).ip, '2001:db8::9');
  const onlyXff = await http(v6, 'POST', '/auth/login', { body: { username, password }, headers: { 'x-forwarded-for': '198.51.100.1' } });
  assert.equal(await sessionAddress(server, tokenFrom(onlyXff)), '::1', 'X-Forwarded-For is not read in this mode');
  const fromV4 = await http(server.http, 'POST', '/auth/login', { body: { username, password }, headers: { forwarded: 'for=198.51.100.2' } });
  assert.equal(await sessionAddress(server, tokenFrom(fromV4)), '127.0.0.1', 'an IPv4 client of the dual-stack listener, spelt as IPv4; and not the trusted ::1');
  const loggedIn = server.logs.filter((line) => line.msg === 'logged in').map((line) => line.ip);
  assert.deepEqual(loggedIn, ['2001:db8::9', '::1', '127.0.0.1']);
});
