// One delivery attempt against a real HTTPS push service and a real webhook receiver: encrypted and
// signed as the RFCs say, decrypted and compared; every kind of answer sorted right; nothing followed,
// read or waited for beyond its bound.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import webpush from 'web-push';
import { parseEndpointHosts, type EndpointRule } from '../src/push/endpoints.ts';
import { payloadOf, topicOf } from '../src/push/payload.ts';
import { outboxKey } from '../src/push/outbox.ts';
import { createAgents, maxAnswerBytes, post } from '../src/push/request.ts';
import { createSender, type SenderOptions } from '../src/push/send.ts';
import type { Device, Notification } from '../src/push/types.ts';
import { installed, openssl } from './helpers/installed.ts';
import { startPushService, startWebhookReceiver } from './helpers/push-service.ts';
import { itemFor, testVapid, webhookSecret } from './helpers/push-fixtures.ts';

const dm: Notification = { kind: 'message', conversation: { id: 8, name: 'Bob', direct: true }, sender: 'bob', preview: 'are you there?' };
const phone = (id = 5): Device => ({ id, userId: 1, kind: 'webhook', token: 'apns-token-1', platform: 'ios' });

async function setUp(t: TestContext, options: Partial<SenderOptions> = {}) {
  const vapid = testVapid();
  const service = await startPushService(t, vapid.publicKey);
  const sender = createSender({ vapid, rules: parseEndpointHosts(service.host), ttlSeconds: 86_400, sockets: 4, ca: service.ca, ...options });
  t.after(() => sender.close());
  const device = (id = 1): Device => ({ id, userId: 1, kind: 'webpush', subscription: service.subscribe() });
  return { vapid, service, sender, device };
}

test('a notification reaches the push service encrypted, with VAPID, TTL, Urgency and Topic, and decrypts to its payload', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { vapid, service, sender, device } = await setUp(t);
  const before = Date.now() / 1000;
  assert.deepEqual(await sender.send(itemFor(device(), dm, { unread: 4, queuedAt: Date.now() - 3_600_000 })), { kind: 'delivered', status: 201 });
  const [received, ...more] = service.received;
  assert.deepEqual(more, []);
  assert.deepEqual(received!.payload, payloadOf(dm, 4));
  assert.deepEqual([received!.urgency, received!.topic], ['high', topicOf(outboxKey(dm), vapid.topicKey)]);
  assert.ok(Math.abs(Number(received!.ttl) - (86_400 - 3600)) <= 1, `the TTL left after an hour in the outbox: ${received!.ttl}`);
  assert.equal(received!.claims.aud, service.origin);
  assert.equal(received!.claims.sub, vapid.subject);
  assert.ok(received!.claims.exp > before && received!.claims.exp <= before + 86_400);
  const notice: Notification = { kind: 'notice', id: 2, title: 'Maintenance', body: 'tonight' };
  assert.deepEqual(await sender.send(itemFor(device(2), notice, { unread: null })), { kind: 'delivered', status: 201 });
  assert.deepEqual([service.received[1]!.payload, service.received[1]!.urgency, service.received[1]!.topic], [payloadOf(notice, null), 'normal', undefined]);
});

test('the push service refuses a VAPID key other than the subscription\'s, and a token its key did not sign', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { vapid, service, device } = await setUp(t);
  const stranger = createSender({ vapid: testVapid(), rules: parseEndpointHosts(service.host), ttlSeconds: 60, sockets: 1, ca: service.ca });
  t.after(() => stranger.close());
  assert.deepEqual(await stranger.send(itemFor(device(), dm)), { kind: 'refused', reason: 'answered 403', status: 403 });
  // The right key named, the token signed with another one.
  const subscription = service.subscribe();
  const details = webpush.generateRequestDetails(subscription, 'x', { vapidDetails: { subject: vapid.subject, ...webpush.generateVAPIDKeys() } });
  const forged = details.headers.Authorization!.replace(/k=[\w-]+$/, `k=${vapid.publicKey}`);
  const agents = createAgents(1, service.ca);
  t.after(() => agents.https.destroy());
  const answer = await post(new URL(subscription.endpoint), { ...details.headers, Authorization: forged }, details.body, { agents, timeoutMs: 5000 });
  assert.equal(answer.status, 401);
  assert.deepEqual(service.rejected.map((rejected) => [rejected.status, rejected.reason]), [[403, 'not the key this subscription was made with'], [401, 'bad signature']]);
  assert.deepEqual(service.received, []);
});

test('a VAPID token is signed once per push service and used for an hour, then renewed', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  let clock = Date.now();
  const { service, sender, device } = await setUp(t, { now: () => clock });
  const laptop = device();
  for (const minutes of [0, 59, 2]) {
    clock += minutes * 60_000;
    assert.deepEqual(await sender.send(itemFor(laptop, dm, { queuedAt: clock })), { kind: 'delivered', status: 201 });
  }
  const [first, second, third] = service.received.map((received) => received.claims.exp);
  assert.equal(second, first);
  assert.equal(third, Math.floor(clock / 1000) + 12 * 3600, 'a new token, for 12 hours from then');
});

test('answers are sorted: 429 and 5xx retry (Retry-After in seconds or as a date), 404 and 410 gone, other answers refused', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { service, sender, device } = await setUp(t);
  const inAMinute = new Date(Math.ceil(Date.now() / 1000) * 1000 + 60_000);
  const cases: [Parameters<typeof service.reply>[1], unknown][] = [
    [{ status: 429, retryAfter: '120' }, { kind: 'retry', reason: 'answered 429', status: 429, afterMs: 120_000 }],
    [{ status: 503, retryAfter: '7' }, { kind: 'retry', reason: 'answered 503', status: 503, afterMs: 7000 }],
    [{ status: 500 }, { kind: 'retry', reason: 'answered 500', status: 500 }],
    [{ status: 429, retryAfter: 'soon' }, { kind: 'retry', reason: 'answered 429', status: 429 }],
    [{ status: 410 }, { kind: 'gone', status: 410 }],
    [{ status: 404 }, { kind: 'gone', status: 404 }],
    [{ status: 400 }, { kind: 'refused', reason: 'answered 400', status: 400 }],
    [{ status: 413 }, { kind: 'refused', reason: 'answered 413', status: 413 }],
  ];
  for (const [reply, expected] of cases) {
    const subscriber = device();
    service.reply((subscriber as Extract<Device, { kind: 'webpush' }>).subscription, reply);
    assert.deepEqual(await sender.send(itemFor(subscriber, dm)), expected, JSON.stringify(reply));
  }
  const dated = device();
  service.reply((dated as Extract<Device, { kind: 'webpush' }>).subscription, { status: 429, retryAfter: inAMinute.toUTCString() });
  const outcome = await sender.send(itemFor(dated, dm));
  assert.ok(outcome.kind === 'retry' && outcome.afterMs! > 55_000 && outcome.afterMs! <= 61_000, JSON.stringify(outcome));
});

test('a redirect is never followed: it refuses the notification', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { service, sender, device } = await setUp(t);
  const subscriber = device() as Extract<Device, { kind: 'webpush' }>;
  const elsewhere = service.subscribe();
  service.reply(subscriber.subscription, { status: 307, location: elsewhere.endpoint });
  assert.deepEqual(await sender.send(itemFor(subscriber, dm)), { kind: 'refused', reason: 'answered 307', status: 307 });
  assert.deepEqual(service.requests.map((request) => [request.subscription, request.status]), [[subscriber.subscription.endpoint.split('/push/')[1], 307]]);
});

test('an endpoint no longer allowed, or a browser host resolving into the private network, is refused without a request', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { vapid, service, device } = await setUp(t);
  const subscriber = device() as Extract<Device, { kind: 'webpush' }>;
  const removed = createSender({ vapid, rules: parseEndpointHosts('browsers'), ttlSeconds: 60, sockets: 1, ca: service.ca });
  t.after(() => removed.close());
  assert.deepEqual(await removed.send(itemFor(subscriber, dm)), { kind: 'refused', reason: `endpoint host ${service.host} is not a push service this server sends to (PUSH_ENDPOINT_HOSTS)` });
  // As if `localhost` were one of the browsers' push services: it resolves to 127.0.0.1, so no connection is made.
  const port = service.host.split(':')[1]!;
  const rules: EndpointRule[] = [{ host: 'localhost', port, wildcard: false, publicOnly: true }];
  const guarded = createSender({ vapid, rules, ttlSeconds: 60, sockets: 1, ca: service.ca });
  t.after(() => guarded.close());
  const local: Device = { ...subscriber, subscription: { ...subscriber.subscription, endpoint: subscriber.subscription.endpoint.replace('127.0.0.1', 'localhost') } };
  assert.deepEqual(await guarded.send(itemFor(local, dm)), { kind: 'refused', reason: 'localhost resolves to 127.0.0.1, which is not a public address' });
  assert.deepEqual(service.requests, []);
});

test('the push service\'s certificate is checked: without the test\'s certificate authority nothing is sent', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { vapid, service, device } = await setUp(t);
  const untrusting = createSender({ vapid, rules: parseEndpointHosts(service.host), ttlSeconds: 60, sockets: 1 });
  t.after(() => untrusting.close());
  assert.deepEqual(await untrusting.send(itemFor(device(), dm)), { kind: 'retry', reason: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  assert.deepEqual(service.requests, []);
});

test('a push service that does not answer in time is retried later', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { service, sender, device } = await setUp(t, { timeoutMs: 300 });
  service.delayMs = 2000;
  const started = Date.now();
  assert.deepEqual(await sender.send(itemFor(device(), dm)), { kind: 'retry', reason: 'no answer within 300 ms' });
  assert.ok(Date.now() - started < 1500);
});

test('subscription keys that cannot be encrypted for (a damaged row) refuse the notification', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { service, sender, device } = await setUp(t);
  const subscriber = device() as Extract<Device, { kind: 'webpush' }>;
  const damaged: Device = { ...subscriber, subscription: { ...subscriber.subscription, keys: { ...subscriber.subscription.keys, p256dh: 'AAAA' } } };
  assert.deepEqual(await sender.send(itemFor(damaged, dm)), { kind: 'refused', reason: 'cannot encrypt for this subscription: The subscription p256dh value should be 65 bytes long.' });
  assert.deepEqual(service.requests, []);
});

test('a webhook call is a JSON POST signed with PUSH_WEBHOOK_SECRET that the bridge can check', async (t) => {
  const vapid = testVapid();
  const receiver = await startWebhookReceiver(t, webhookSecret);
  const sender = createSender({ vapid, rules: [], webhook: { url: receiver.url, secret: webhookSecret }, ttlSeconds: 600, sockets: 2 });
  t.after(() => sender.close());
  const queuedAt = Date.now() - 60_000;
  assert.deepEqual(await sender.send(itemFor(phone(), dm, { unread: 2, version: 3, queuedAt })), { kind: 'delivered', status: 200 });
  assert.deepEqual(receiver.rejected, []);
  const { delivery, ttl, ...body } = receiver.calls[0]!.body;
  assert.deepEqual(body, { device_id: 5, token: 'apns-token-1', platform: 'ios', urgency: 'high', topic: topicOf(outboxKey(dm), vapid.topicKey), notification: payloadOf(dm, 2) });
  assert.equal(delivery, `5/conversation:8/3/${queuedAt}`);
  assert.ok(Math.abs((ttl as number) - 540) <= 1, String(ttl));

  receiver.reply({ status: 410 }, { status: 429, retryAfter: '30' }, { status: 400 });
  assert.deepEqual(await sender.send(itemFor(phone(), dm)), { kind: 'gone', status: 410 });
  assert.deepEqual(await sender.send(itemFor(phone(), dm)), { kind: 'retry', reason: 'answered 429', status: 429, afterMs: 30_000 });
  assert.deepEqual(await sender.send(itemFor(phone(), dm)), { kind: 'refused', reason: 'answered 400', status: 400 });

  const wrong = createSender({ vapid, rules: [], webhook: { url: receiver.url, secret: `${webhookSecret}, but another` }, ttlSeconds: 600, sockets: 1 });
  t.after(() => wrong.close());
  assert.deepEqual(await wrong.send(itemFor(phone(), dm)), { kind: 'refused', reason: 'answered 401', status: 401 });
  assert.deepEqual(receiver.rejected, ['bad signature']);

  const none = createSender({ vapid, rules: [], ttlSeconds: 600, sockets: 1 });
  assert.deepEqual(await none.send(itemFor(phone(), dm)), { kind: 'refused', reason: 'PUSH_WEBHOOK_URL is not set' });
  assert.equal(receiver.calls.length, 1);
});

test('an endless answer is cut off after a few KiB: the outcome comes from its status', async (t) => {
  let written = 0;
  let closed: Promise<void> = Promise.resolve();
  const server = createServer((request, response) => {
    request.resume();
    response.writeHead(500);
    closed = new Promise((resolve) => response.on('close', resolve));
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const pour = () => {
      while (!response.destroyed && written < 1024 ** 3 && response.write(chunk)) written += chunk.length;
      if (!response.destroyed) response.once('drain', pour);
    };
    pour();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const sender = createSender({ vapid: testVapid(), rules: [], webhook: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, secret: webhookSecret }, ttlSeconds: 60, sockets: 1, timeoutMs: 5000 });
  t.after(() => sender.close());
  const outcome = await sender.send(itemFor(phone(), dm));
  assert.deepEqual(outcome, { kind: 'retry', reason: 'answered 500', status: 500 });
  await closed;
  assert.ok(written < 64 * 1024 * 1024, `the connection was dropped after ${written} bytes were offered (${maxAnswerBytes} read)`);
});
