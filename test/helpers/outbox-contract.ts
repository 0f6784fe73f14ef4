// What every outbox must do (src/push/outbox.ts), as tests to run against each implementation: in
// memory here, SQLite and PostgreSQL once they exist. Times are given, never waited for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import type { Outbox, OutboxItem } from '../../src/push/outbox.ts';
import type { ConversationRef, Device, Notification } from '../../src/push/types.ts';

/** Devices every contract test starts with: two of user 1 (a browser and a phone), one of user 2. */
const browserKey = createECDH('prime256v1');
export const contractDevices: Device[] = [
  { id: 1, userId: 1, kind: 'webpush', subscription: { endpoint: 'https://fcm.googleapis.com/fcm/send/one', keys: { p256dh: browserKey.generateKeys('base64url'), auth: randomBytes(16).toString('base64url') } } },
  { id: 2, userId: 1, kind: 'webhook', token: 'phone-token', platform: 'ios' },
  { id: 3, userId: 2, kind: 'webhook', token: 'other-token', platform: null },
];

const team: ConversationRef = { id: 7, name: 'Team', direct: false };
const message = (text: string): Notification => ({ kind: 'message', conversation: team, sender: 'alice', preview: text });
const mention = (text: string): Notification => ({ kind: 'mention', conversation: team, sender: 'alice', preview: text });
const reaction: Notification = { kind: 'reaction', conversation: team, sender: 'bob', emoji: '👍', preview: 'my message' };
const notice: Notification = { kind: 'notice', id: 1, title: 'Maintenance', body: 'tonight' };
const lease = 60_000;

/** `make`: a fresh, empty outbox in which `contractDevices` exist. */
export function outboxContract(engine: string, make: () => Promise<Outbox>) {
  const previews = (items: OutboxItem[]) => items.map((item) => [item.device.id, item.key, 'preview' in item.notification ? item.notification.preview : null]);

  test(`${engine} outbox: a queued notification is claimed once, with its device, under a lease`, async () => {
    const outbox = await make();
    await outbox.enqueue([{ deviceId: 1, notification: message('hello') }], 1000);
    const [item, ...more] = await outbox.claim(1000, 10, lease);
    assert.deepEqual(more, []);
    assert.deepEqual(item!.device, contractDevices[0]);
    assert.deepEqual([item!.key, item!.notification, item!.version, item!.queuedAt, item!.attempts], ['conversation:7', message('hello'), 1, 1000, 1]);
    assert.equal(typeof item!.unread, 'number');
    assert.deepEqual(await outbox.claim(1000 + lease - 1, 10, lease), [], 'leased: nobody else gets it');
  });

  test(`${engine} outbox: nothing is claimed before it is due`, async () => {
    const outbox = await make();
    await outbox.enqueue([{ deviceId: 1, notification: message('later') }], 5000);
    assert.deepEqual(await outbox.claim(4999, 10, lease), []);
    assert.equal((await outbox.claim(5000, 10, lease)).length, 1);
  });

  test(`${engine} outbox: a claim whose worker died is claimable again once its lease ends, and the late worker cannot settle it`, async () => {
    const outbox = await make();
    await outbox.enqueue([{ deviceId: 1, notification: message('hello') }], 1000);
    const [dead] = await outbox.claim(1000, 10, lease);
    const [taken] = await outbox.claim(1000 + lease, 10, lease);
    assert.deepEqual([taken!.version, taken!.attempts], [1, 2]);
    assert.notEqual(taken!.lease, dead!.lease);
    assert.equal(await outbox.complete(dead!, 1000 + lease, 1000 + lease), false);
    assert.equal(await outbox.retry(dead!, 1000 + lease), false);
    assert.equal(await outbox.complete(taken!, 1000 + lease + 1, 1000 + lease + 1), true);
  });

  test(`${engine} outbox: a completed notification is never claimed again`, async () => {
    const outbox = await make();
    await outbox.enqueue([{ deviceId: 1, notification: message('once') }], 1000);
    const [item] = await outbox.claim(1000, 10, lease);
    assert.equal(await outbox.complete(item!, 1100, 1100), true);
    assert.deepEqual(await outbox.claim(10 * lease, 10, lease), []);
    assert.equal(await outbox.complete(item!, 1200, 1200), false, 'settled once only');
  });

  test(`${engine} outbox: notifications for one device and conversation merge into one; devices and keys stay apart`, async () => {
    const outbox = await make();
    await outbox.enqueue([{ deviceId: 1, notification: message('one') }, { deviceId: 2, notification: message('one') }], 1000);
    await outbox.enqueue([{ deviceId: 1, notification: message('two') }, { deviceId: 1, notification: notice }], 1001);
    await outbox.enqueue([{ deviceId: 1, notification: message('three') }], 1002);
    const items = (await outbox.claim(2000, 10, lease)).sort((a, b) => a.device.id - b.device.id || a.key.localeCompare(b.key));
    assert.deepEqual(previews(items), [[1, 'conversation:7', 'three'], [1, 'notice:1', null], [2, 'conversation:7', 'one']]);
    assert.deepEqual(items.map((item) => [item.version, item.queuedAt]), [[3, 1000], [1, 1001], [1, 1000]]);
    assert.equal(items[1]!.unread, null, 'a notice has no unread count');
  });

  test(`${engine} outbox: a pending mention is not replaced by later messages; a reaction never replaces a message`, async () => {
    const outbox = await make();
    await outbox.enqueue([{ deviceId: 1, notification: mention('@bob look') }, { deviceId: 2, notification: message('hi') }], 1000);
    await outbox.enqueue([{ deviceId: 1, notification: message('chatter') }, { deviceId: 2, notification: reaction }], 1001);
    await outbox.enqueue([{ deviceId: 2, notification: mention('@bob now') }], 1002);
    const items = (await outbox.claim(2000, 10, lease)).sort((a, b) => a.device.id - b.device.id);
    assert.deepEqual(items.map((item) => item.notification), [mention('@bob look'), mention('@bob now')]);
  });

  test(`${engine} outbox: after a delivery the next notification waits for the hold; what came in meanwhile goes next`, async () => {
    const outbox = await make();
    await outbox.enqueue([{ deviceId: 1, notification: mention('first') }], 1000);
    const [first] = await outbox.claim(1000, 10, lease);
    // Arrives while the first is being sent: taken as it is (it is what goes next), whatever its rank.
    await outbox.enqueue([{ deviceId: 1, notification: message('second') }], 1010);
    assert.equal(await outbox.complete(first!, 1020, 31_020), true);
    assert.deepEqual(await outbox.claim(31_019, 10, lease), [], 'held');
    const [second] = await outbox.claim(31_020, 10, lease);
    assert.deepEqual([second!.notification, second!.version, second!.queuedAt, second!.attempts], [message('second'), 2, 1020, 1]);
    assert.equal(await outbox.complete(second!, 31_030, 61_030), true);
    await outbox.enqueue([{ deviceId: 1, notification: message('third') }], 40_000);
    assert.deepEqual(await outbox.claim(61_029, 10, lease), [], 'a notification after a quiet spell still waits for the hold');
    const [third] = await outbox.claim(61_030, 10, lease);
    assert.deepEqual([third!.notification, third!.version, third!.queuedAt, third!.attempts], [message('third'), 3, 40_000, 1]);
  });

  test(`${engine} outbox: a retry is due again at its time, attempts counted on`, async () => {
    const outbox = await make();
    await outbox.enqueue([{ deviceId: 3, notification: message('flaky') }], 1000);
    const [item] = await outbox.claim(1000, 10, lease);
    assert.equal(await outbox.retry(item!, 3000), true);
    assert.deepEqual(await outbox.claim(2999, 10, lease), [], 'released but not yet due');
    const [again] = await outbox.claim(3000, 10, lease);
    assert.deepEqual([again!.attempts, again!.queuedAt, again!.version], [2, 1000, 1]);
  });

  test(`${engine} outbox: claims take the oldest due first, at most the limit, and never the same row twice`, async () => {
    const outbox = await make();
    for (const [deviceId, at] of [[3, 1003], [1, 1001], [2, 1002]] as const) await outbox.enqueue([{ deviceId, notification: message(`from ${at}`) }], at);
    const [first, second] = await Promise.all([outbox.claim(2000, 2, lease), outbox.claim(2000, 2, lease)]);
    const all = [...first!, ...second!];
    assert.equal(all.length, 3);
    assert.equal(new Set(all.map((item) => item.device.id)).size, 3, 'no row in two claims');
    const alone = await make();
    for (const [deviceId, at] of [[3, 1003], [1, 1001], [2, 1002]] as const) await alone.enqueue([{ deviceId, notification: message(`from ${at}`) }], at);
    assert.deepEqual((await alone.claim(2000, 2, lease)).map((item) => item.device.id), [1, 2]);
  });

  test(`${engine} outbox: removing a device removes its notifications; its claims cannot settle`, async () => {
    const outbox = await make();
    await outbox.enqueue([{ deviceId: 1, notification: message('a') }, { deviceId: 1, notification: notice }], 1000);
    await outbox.enqueue([{ deviceId: 2, notification: message('b') }], 1001);
    const [item] = await outbox.claim(1000, 1, lease);
    await outbox.removeDevice(1);
    assert.equal(await outbox.complete(item!, 1001, 1001), false);
    assert.deepEqual((await outbox.claim(2000 + lease, 10, lease)).map((left) => left.device.id), [2]);
  });

  test(`${engine} outbox: prune drops rows with nothing pending once their hold has passed`, async () => {
    const outbox = await make();
    await outbox.enqueue([{ deviceId: 1, notification: message('a') }, { deviceId: 2, notification: message('b') }, { deviceId: 3, notification: message('c') }], 1000);
    const items = (await outbox.claim(1000, 10, lease)).sort((a, b) => a.device.id - b.device.id);
    await outbox.complete(items[0]!, 1000, 5000);
    await outbox.complete(items[1]!, 1000, 9000);
    assert.equal(await outbox.prune(4999), 0);
    assert.equal(await outbox.prune(5000), 1, 'device 1 delivered, hold passed; device 3 still being sent');
    assert.equal(await outbox.prune(20_000), 1);
    await outbox.enqueue([{ deviceId: 1, notification: message('anew') }], 20_000);
    const [fresh] = await outbox.claim(20_000, 10, lease);
    assert.deepEqual([fresh!.device.id, fresh!.version, fresh!.notification], [1, 1, message('anew')], 'after a prune a notification starts a new row');
  });
}
