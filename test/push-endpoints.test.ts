// Push endpoints are URLs clients hand over: only the browsers' push services (or hosts the operator
// lists) are accepted, so a device cannot point Parley at its own network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { checkEndpoint, checkSubscription, isPublicAddress, parseEndpointHosts, publicOnlyLookup } from '../src/push/endpoints.ts';

const browsers = parseEndpointHosts('browsers');
const refusal = (endpoint: string, rules = browsers) => {
  const checked = checkEndpoint(endpoint, rules);
  return checked.ok ? 'accepted' : checked.error;
};

test('the endpoints browsers hand out are accepted by default', () => {
  for (const endpoint of [
    'https://fcm.googleapis.com/fcm/send/dXwYz1:APA91bF0_x-Y2',
    'https://fcm.googleapis.com/wp/e3bZ0:APA91bHq',
    'https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk-3_x',
    'https://web.push.apple.com/QGuQyavXutnMHL0aW_1oKA',
    'https://wns2-bn3p.notify.windows.com/w/?token=BQYAAAD%2bX1%3d',
  ]) assert.equal(refusal(endpoint), 'accepted', endpoint);
});

test('anything else is refused, with the reason', () => {
  const notAllowed = (host: string) => `endpoint host ${host} is not a push service this server sends to (PUSH_ENDPOINT_HOSTS)`;
  const cases: [string, string][] = [
    ['http://127.0.0.1:8443/push', 'endpoint must be an https URL'],
    ['http://fcm.googleapis.com/fcm/send/x', 'endpoint must be an https URL'],
    ['ftp://fcm.googleapis.com/x', 'endpoint must be an https URL'],
    ['not a url', 'endpoint must be an https URL'],
    ['https://127.0.0.1:8443/push', notAllowed('127.0.0.1:8443')],
    ['https://10.0.0.1/', notAllowed('10.0.0.1')],
    ['https://[::1]/push', notAllowed('[::1]')],
    ['https://169.254.169.254/latest/meta-data', notAllowed('169.254.169.254')],
    // Written in other ways, IP addresses are still IP addresses.
    ['https://167772161/', notAllowed('10.0.0.1')],
    ['https://0x7f.1/', notAllowed('127.0.0.1')],
    ['https://localhost/push', notAllowed('localhost')],
    ['https://fcm.googleapis.com.evil.example/fcm/send/x', notAllowed('fcm.googleapis.com.evil.example')],
    ['https://evil.example/fcm.googleapis.com/fcm/send/x', notAllowed('evil.example')],
    ['https://fcm.googleapis.com.:443/fcm/send/x', notAllowed('fcm.googleapis.com.')],
    ['https://fcm.googleapis.com:8443/fcm/send/x', notAllowed('fcm.googleapis.com:8443')],
    ['https://evilfcm.googleapis.com/x', notAllowed('evilfcm.googleapis.com')],
    ['https://push.apple.com/x', notAllowed('push.apple.com')],
    ['https://a.b.push.apple.com/x', notAllowed('a.b.push.apple.com')],
    ['https://notify.windows.com.evil.example/w/', notAllowed('notify.windows.com.evil.example')],
    // A look-alike in Cyrillic is another host (its punycode), never Google's.
    ['https://fcm.googleаpis.com/fcm/send/x', notAllowed('fcm.xn--googlepis-5yh.com')],
    ['https://user@fcm.googleapis.com/fcm/send/x', 'endpoint must not hold a user name or password'],
    ['https://fcm.googleapis.com:pass@evil.example/x', 'endpoint must not hold a user name or password'],
    ['https://fcm.googleapis.com/fcm/send/x#frag', 'endpoint must not have a fragment'],
    ['https://fcm.googleapis.com/fcm/send/x#', 'endpoint must not have a fragment'],
    // The host is Google's once parsed, but what was written is not what would be sent.
    ['https://FCM.googleapis.com/fcm/send/x', 'endpoint must be written as a URL parser writes it ("https://fcm.googleapis.com/fcm/send/x")'],
    ['https://ｆｃｍ.googleapis.com/fcm/send/x', 'endpoint must be written as a URL parser writes it ("https://fcm.googleapis.com/fcm/send/x")'],
    ['https://fcm.googleapis.com:443/fcm/send/x', 'endpoint must be written as a URL parser writes it ("https://fcm.googleapis.com/fcm/send/x")'],
    ['https://fcm.googleapis.com/fcm/send/a b', 'endpoint must be written as a URL parser writes it ("https://fcm.googleapis.com/fcm/send/a%20b")'],
    ['https://fcm.googleapis.com/fcm/send/x\n', 'endpoint must be written as a URL parser writes it ("https://fcm.googleapis.com/fcm/send/x")'],
    ['https://fcm.googleapis.com\\fcm/send/x', 'endpoint must be written as a URL parser writes it ("https://fcm.googleapis.com/fcm/send/x")'],
    [`https://fcm.googleapis.com/${'x'.repeat(2048)}`, 'endpoint may be at most 2048 characters'],
  ];
  for (const [endpoint, error] of cases) assert.equal(refusal(endpoint), error, endpoint);
});

test('PUSH_ENDPOINT_HOSTS adds the operator\'s own hosts, with their ports, exactly', () => {
  const rules = parseEndpointHosts('browsers, 127.0.0.1:8443, push.internal.example, *.push.example.org, [::1]:9443');
  assert.equal(refusal('https://127.0.0.1:8443/push/x', rules), 'accepted');
  assert.equal(refusal('https://[::1]:9443/push/x', rules), 'accepted');
  assert.equal(refusal('https://push.internal.example/x', rules), 'accepted');
  assert.equal(refusal('https://eu.push.example.org/x', rules), 'accepted');
  assert.equal(refusal('https://fcm.googleapis.com/fcm/send/x', rules), 'accepted');
  assert.equal(refusal('https://127.0.0.1:8444/push/x', rules), 'endpoint host 127.0.0.1:8444 is not a push service this server sends to (PUSH_ENDPOINT_HOSTS)');
  assert.equal(refusal('https://127.0.0.1/push/x', rules), 'endpoint host 127.0.0.1 is not a push service this server sends to (PUSH_ENDPOINT_HOSTS)');
  assert.equal(refusal('https://push.internal.example:8443/x', rules), 'endpoint host push.internal.example:8443 is not a push service this server sends to (PUSH_ENDPOINT_HOSTS)');
  assert.equal(refusal('https://push.example.org/x', rules), 'endpoint host push.example.org is not a push service this server sends to (PUSH_ENDPOINT_HOSTS)');
  // Without `browsers`, only the hosts listed.
  assert.equal(refusal('https://fcm.googleapis.com/fcm/send/x', parseEndpointHosts('127.0.0.1:8443')), 'endpoint host fcm.googleapis.com is not a push service this server sends to (PUSH_ENDPOINT_HOSTS)');
  assert.deepEqual(parseEndpointHosts('FCM.googleapis.com:443'), [{ host: 'fcm.googleapis.com', port: '', wildcard: false, publicOnly: false }]);
  assert.deepEqual(parseEndpointHosts('browsers').map((rule) => [rule.wildcard ? `*.${rule.host}` : rule.host, rule.publicOnly]), [
    ['fcm.googleapis.com', true], ['updates.push.services.mozilla.com', true], ['*.push.apple.com', true], ['*.notify.windows.com', true],
  ]);
});

test('PUSH_ENDPOINT_HOSTS entries that are not hosts are refused, naming the entry', () => {
  for (const entry of ['https://fcm.googleapis.com', 'fcm.googleapis.com/fcm', 'user@host', '*.com', '*.10.0.0.1', '*.[::1]', 'bad host', 'host:99999', 'a..b', '-a.example', '0x7f.1', '*']) {
    assert.throws(() => parseEndpointHosts(`browsers,${entry}`), {
      message: `PUSH_ENDPOINT_HOSTS must list browsers, host names, host:port, *.domain or IP addresses with a port (not ${JSON.stringify(entry)})`,
    }, entry);
  }
});

test('a subscription needs a P-256 public key on the curve and a 16-byte auth secret; keys come back unpadded', () => {
  const ecdh = createECDH('prime256v1');
  const p256dh = ecdh.generateKeys('base64url');
  const auth = randomBytes(16).toString('base64url');
  const endpoint = 'https://fcm.googleapis.com/fcm/send/x';
  const check = (keys: { p256dh: string; auth: string }) => {
    const checked = checkSubscription({ endpoint, keys }, browsers);
    return checked.ok ? checked.value : checked.error;
  };
  assert.deepEqual(check({ p256dh, auth }), { endpoint, keys: { p256dh, auth } });
  assert.deepEqual(check({ p256dh: `${p256dh}=`, auth: `${auth}==` }), { endpoint, keys: { p256dh, auth } }, 'padding is tolerated');
  const offCurve = Buffer.from(p256dh, 'base64url');
  offCurve[64] = offCurve[64]! ^ 1;
  const compressed = ecdh.getPublicKey('base64url', 'compressed');
  const keyError = 'keys.p256dh must be a P-256 public key: 65 bytes, uncompressed, in base64url';
  for (const bad of [offCurve.toString('base64url'), compressed, p256dh.slice(1), p256dh.replace(/^./, '+'), '', Buffer.alloc(65).toString('base64url')]) {
    assert.equal(check({ p256dh: bad, auth }), keyError, bad);
  }
  for (const bad of [randomBytes(15).toString('base64url'), randomBytes(17).toString('base64url'), 'not/base64url+', '']) {
    assert.equal(check({ p256dh, auth: bad }), 'keys.auth must be 16 bytes in base64url', bad);
  }
  assert.equal(checkSubscription({ endpoint: 'https://10.0.0.1/', keys: { p256dh, auth } }, browsers).ok, false);
});

test('addresses outside the public internet are told apart', () => {
  for (const address of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:10.0.0.1', '64:ff9b::a00:1', '2001:db8::1']) {
    assert.equal(isPublicAddress(address), false, address);
  }
  for (const address of ['142.250.74.42', '8.8.8.8', '2a00:1450:4007:80e::200a', '2606:4700::1111']) assert.equal(isPublicAddress(address), true, address);
});

test('a browser push host that resolves into a private network is refused at the connection', async () => {
  const lookup = (options: { all?: boolean }) => new Promise<unknown>((resolve) => {
    publicOnlyLookup('localhost', { ...options, family: 4 }, (error, address) => resolve(error ? `${(error as NodeJS.ErrnoException).code}: ${error.message}` : address));
  });
  assert.equal(await lookup({}), 'ENOTPUBLIC: localhost resolves to 127.0.0.1, which is not a public address');
  assert.equal(await lookup({ all: true }), 'ENOTPUBLIC: localhost resolves to 127.0.0.1, which is not a public address');
});
