// The push worker draining an outbox into a real HTTPS push service and a real webhook receiver:
// retries and backoff, devices gone, coalescing, bounded concurrency, leases that outlive their worker.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { parseEndpointHosts } from '../src/push/endpoints.ts';
import { payloadOf } from '../src/push/payload.ts';
import type { RetryPolicy } from '../src/push/retry.ts';
import { createSender } from '../src/push/send.ts';
import type { ConversationRef, Device, Notification } from '../src/push/types.ts';
import { startPushWorker, type PushWorker, type WorkerOptions } from '../src/push/worker.ts';
import { installed, openssl } from './helpers/installed.ts';
import { createMemoryOutbox } from './helpers/memory-outbox.ts';
import { startPushService, startWebhookReceiver } from './helpers/push-service.ts';
import { silentLog, testVapid, webhookSecret } from './helpers/push-fixtures.ts';
import { sleep, until } from './helpers/wait.ts';

const team: ConversationRef = { id: 7, name: 'Team', direct: false };
const message = (text: string): Notification => ({ kind: 'message', conversation: team, sender: 'alice', preview: text });
const fast: RetryPolicy = { baseMs: 100, capMs: 800, giveUpMs: 60_000 };

const settle = (ms: number) => sleep(ms);

/** A push service, a webhook receiver, an outbox with no devices yet, and a worker started on demand. */
async function setUp(t: TestContext, unread: (userId: number, conversationId: number) => number = () => 1) {
  const vapid = testVapid();
  const service = await startPushService(t, vapid.publicKey);
  const receiver = await startWebhookReceiver(t, webhookSecret);
  const sender = createSender({ vapid, rules: parseEndpointHosts(service.host), webhook: { url: receiver.url, secret: webhookSecret }, ttlSeconds: 3600, sockets: 16, ca: service.ca });
  t.after(() => sender.close());
  const outbox = createMemoryOutbox([], unread);
  let nextId = 1;
  const browser = () => {
    const device: Extract<Device, { kind: 'webpush' }> = { id: nextId++, userId: 1, kind: 'webpush', subscription: service.subscribe() };
    outbox.devices.set(device.id, device);
    return device;
  };
  const start = (options: Partial<WorkerOptions> = {}): PushWorker => {
    const worker = startPushWorker({ outbox, send: sender.send, log: silentLog, policy: fast, concurrency: 4, coalesceMs: 0, leaseMs: 5000, pollMs: 20, ...options });
    t.after(() => worker.stop());
    return worker;
  };
  return { service, receiver, outbox, browser, start, nextId: () => nextId++ };
}

test('queued notifications are delivered to browsers and to the webhook, each once', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { service, receiver, outbox, browser, start, nextId } = await setUp(t, (userId) => userId * 10);
  const laptop = browser();
  const phone: Device = { id: nextId(), userId: 2, kind: 'webhook', token: 'fcm-token', platform: 'android' };
  outbox.devices.set(phone.id, phone);
  await outbox.enqueue([{ deviceId: laptop.id, notification: message('hello') }, { deviceId: phone.id, notification: message('hello') }], Date.now());
  const worker = start();
  worker.wake();
  await until('two deliveries', () => worker.stats.delivered === 2);
  assert.deepEqual(service.received.map((received) => received.payload), [payloadOf(message('hello'), 10)]);
  assert.deepEqual(receiver.calls.map((call) => call.body.notification), [payloadOf(message('hello'), 20)]);
  await settle(200);
  assert.deepEqual([service.requests.length, receiver.calls.length, outbox.pending()], [1, 1, 0]);
  assert.deepEqual(worker.stats, { delivered: 2, retried: 0, gone: 0, refused: 0, expired: 0, skipped: 0, lost: 0, failed: 0 });
});

test('429 with Retry-After is waited for, then the notification goes', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { service, outbox, browser, start } = await setUp(t);
  const laptop = browser();
  service.reply(laptop.subscription, { status: 429, retryAfter: '1' });
  await outbox.enqueue([{ deviceId: laptop.id, notification: message('patience') }], Date.now());
  const worker = start();
  await until('the delivery', () => worker.stats.delivered === 1);
  const [refused, accepted] = service.requests;
  assert.deepEqual([refused!.status, accepted!.status], [429, 201]);
  assert.ok(accepted!.at - refused!.at >= 1000, `waited ${accepted!.at - refused!.at} ms`);
  assert.deepEqual([worker.stats.retried, service.received.length], [1, 1]);
});

test('500s are retried with growing waits until the push service takes it', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { service, outbox, browser, start } = await setUp(t);
  const laptop = browser();
  service.reply(laptop.subscription, { status: 500 }, { status: 502 }, { status: 503 });
  await outbox.enqueue([{ deviceId: laptop.id, notification: message('persist') }], Date.now());
  const worker = start();
  await until('the delivery', () => worker.stats.delivered === 1);
  assert.deepEqual(service.requests.map((request) => request.status), [500, 502, 503, 201]);
  const gaps = service.requests.slice(1).map((request, i) => request.at - service.requests[i]!.at);
  // Half to all of 100, 200 and 400 ms (and up to a poll later).
  assert.ok(gaps[0]! >= 50 && gaps[1]! >= 100 && gaps[2]! >= 200, `gaps ${gaps.join(', ')} ms`);
  assert.ok(gaps[2]! > gaps[0]!, `gaps ${gaps.join(', ')} ms`);
  assert.deepEqual([worker.stats.retried, service.received.length], [3, 1]);
});

test('a notification that keeps failing is given up after the give-up time', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { service, outbox, browser, start } = await setUp(t);
  const laptop = browser();
  service.reply(laptop.subscription, ...Array.from({ length: 50 }, () => ({ status: 500 })));
  await outbox.enqueue([{ deviceId: laptop.id, notification: message('doomed') }], Date.now());
  const worker = start({ policy: { baseMs: 50, capMs: 100, giveUpMs: 1000 } });
  await until('giving up', () => worker.stats.expired === 1);
  const attempts = service.requests.length;
  // Waits of 25–50 ms, then 50–100 ms (half to all of the step, at random): at most 21 attempts in the second
  // (a loaded machine makes fewer, each taking longer).
  assert.ok(attempts >= 2 && attempts <= 21, `${attempts} attempts in 1,000 ms`);
  await settle(300);
  assert.deepEqual([service.requests.length, outbox.pending(), service.received.length], [attempts, 0, 0]);
});

test('410 removes the device and whatever was queued for it', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { service, outbox, browser, start } = await setUp(t);
  const gone = browser();
  const kept = browser();
  service.reply(gone.subscription, { status: 410 });
  await outbox.enqueue([{ deviceId: gone.id, notification: message('bye') }, { deviceId: kept.id, notification: message('hi') }], Date.now());
  await outbox.enqueue([{ deviceId: gone.id, notification: { kind: 'notice', id: 1, title: 'later', body: 'queued' } }], Date.now() + 500);
  const worker = start();
  await until('the 410 and the delivery', () => worker.stats.gone === 1 && worker.stats.delivered === 1);
  assert.deepEqual([outbox.devices.has(gone.id), outbox.devices.has(kept.id), outbox.pending()], [false, true, 0]);
  await settle(700);
  assert.deepEqual(service.requests.map((request) => request.status).sort(), [201, 410]);
});

test('a burst in one conversation is one notification now and one after PUSH_COALESCE_SECONDS, with the unread count', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  let unread = 1;
  const { service, outbox, browser, start } = await setUp(t, () => unread);
  const laptop = browser();
  const worker = start({ coalesceMs: 800 });
  await outbox.enqueue([{ deviceId: laptop.id, notification: message('one') }], Date.now());
  worker.wake();
  await until('the first notification', () => service.received.length === 1);
  for (const text of ['two', 'three', 'four', 'five']) {
    unread++;
    await outbox.enqueue([{ deviceId: laptop.id, notification: message(text) }], Date.now());
    worker.wake();
    await settle(20);
  }
  await settle(300);
  assert.equal(service.received.length, 1, 'held while within the window');
  await until('the coalesced notification', () => service.received.length === 2);
  const [first, second] = service.received;
  assert.deepEqual([first!.payload, second!.payload], [payloadOf(message('one'), 1), payloadOf(message('five'), 5)]);
  assert.ok(second!.at - first!.at >= 800, `${second!.at - first!.at} ms apart`);
  assert.equal(second!.topic, first!.topic, 'the same Topic: the push service replaces an undelivered first one');
  await settle(1000);
  assert.equal(service.received.length, 2);
});

test('no more than PUSH_CONCURRENCY notifications are in flight at once', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { service, outbox, browser, start } = await setUp(t);
  service.delayMs = 100;
  const devices = Array.from({ length: 12 }, browser);
  await outbox.enqueue(devices.map((device) => ({ deviceId: device.id, notification: message('to everyone') })), Date.now());
  const worker = start({ concurrency: 3 });
  await until('twelve deliveries', () => worker.stats.delivered === 12);
  assert.equal(service.maxInFlight, 3);
});

test('what a dead worker had claimed goes out once its lease ends, exactly once; a delivered one never again', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { service, outbox, browser, start } = await setUp(t);
  const laptop = browser();
  await outbox.enqueue([{ deviceId: laptop.id, notification: message('orphan') }], Date.now());
  const claimedAt = Date.now();
  const [orphan] = await outbox.claim(claimedAt, 10, 700); // a worker that then died
  const worker = start({ leaseMs: 700 });
  await settle(300);
  assert.deepEqual(service.requests, [], 'not while the lease lasts');
  await until('the delivery after the lease', () => worker.stats.delivered === 1);
  assert.ok(service.received[0]!.at - claimedAt >= 700, `${service.received[0]!.at - claimedAt} ms after the claim`);
  assert.equal(await outbox.complete(orphan!, Date.now(), Date.now()), false, 'the dead worker cannot settle it any more');
  await worker.stop();
  const restarted = start({ leaseMs: 700 });
  await settle(1000);
  assert.deepEqual([service.requests.length, restarted.stats.delivered], [1, 0]);
});

test('when the outbox fails to record a delivery, the claim runs out and the notification goes again', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { service, outbox, browser, start } = await setUp(t);
  const laptop = browser();
  await outbox.enqueue([{ deviceId: laptop.id, notification: message('twice') }], Date.now());
  const complete = outbox.complete;
  let failures = 1;
  outbox.complete = (...args) => (failures-- > 0 ? Promise.reject(new Error('database is locked')) : complete(...args));
  const worker = start({ leaseMs: 400 });
  await until('the second delivery', () => worker.stats.delivered === 1);
  assert.deepEqual([worker.stats.failed, service.received.length, outbox.pending()], [1, 2, 0]);
});

test('a message read elsewhere before it is sent is not sent; a notice is', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { service, outbox, browser, start } = await setUp(t, () => 0);
  const laptop = browser();
  const notice: Notification = { kind: 'notice', id: 3, title: 'Upgrade', body: 'done' };
  await outbox.enqueue([{ deviceId: laptop.id, notification: message('seen') }, { deviceId: laptop.id, notification: notice }], Date.now());
  const worker = start();
  await until('the skip and the notice', () => worker.stats.skipped === 1 && worker.stats.delivered === 1);
  assert.deepEqual(service.received.map((received) => received.payload), [payloadOf(notice, null)]);
});

test('a damaged notification is refused, not retried for ever', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { service, outbox, browser, start } = await setUp(t);
  const laptop = browser();
  // As a row whose JSON lost the conversation's name: building the payload throws.
  const damaged = { kind: 'message', conversation: { id: 9, name: null, direct: false }, sender: 'x', preview: null } as unknown as Notification;
  await outbox.enqueue([{ deviceId: laptop.id, notification: damaged }], Date.now());
  const worker = start();
  await until('the refusal', () => worker.stats.refused === 1);
  await settle(200);
  assert.deepEqual([service.requests.length, outbox.pending(), worker.stats.retried], [0, 0, 0]);
});

test('stop waits for the notifications in flight', async (t) => {
  if (!installed(t, openssl, 'openssl')) return;
  const { service, outbox, browser, start } = await setUp(t);
  service.delayMs = 300;
  const laptop = browser();
  await outbox.enqueue([{ deviceId: laptop.id, notification: message('last words') }], Date.now());
  const worker = start();
  await until('the request in flight', () => service.maxInFlight === 1);
  await worker.stop();
  assert.deepEqual([worker.stats.delivered, service.received.length, outbox.pending()], [1, 1, 0]);
});
