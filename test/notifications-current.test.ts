// Notifications are built from what is true when they go (review 25, M3): a message deleted or edited
// while its notification waits (coalescing, retries) is not shown as it was, on a real server sending
// to the local push service.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { person, type Person } from './helpers/clients.ts';
import { awayWithDevice, drained, pushServer, receivedBy, waitForPushes, type Away, type PushSetup } from './helpers/push-server.ts';
import { sleep } from './helpers/wait.ts';

/** Seconds a notification about a conversation holds the next one back: what each case does meanwhile must take less. */
const coalesceSeconds = 3;

type Case = { setup: PushSetup; alice: Person; bob: Away; group: { id: number }; name: string };

/** Alice adds Bob (away, with a device) to a new group, and Bob's device is told so: the next notification about it waits for the hold. */
async function held(setup: PushSetup, name: string): Promise<Case> {
  const alice = await person(setup.server, 'alice');
  const bob = await awayWithDevice(setup, 'bob');
  const group = await alice.client.request('create_conversation', { name, members: [bob.username] });
  await waitForPushes(setup.service, bob.subscription, 1);
  return { setup, alice, bob, group, name };
}

/** Fails plainly when the machine was too slow for the case: the held notification went before the change it is about. */
function stillHeld({ setup, bob }: Case): void {
  assert.equal(receivedBy(setup.service, bob.subscription).length, 1, `the second notification went within ${coalesceSeconds} s, before the change: the machine was too slow for this case`);
}

const payloadOf = async ({ setup, bob }: Case): Promise<unknown> => (await waitForPushes(setup.service, bob.subscription, 2, 15_000))[1]!.payload;

test('notifications show messages as they are when sent', { concurrency: true }, async (t) => {
  const setup = await pushServer(t, { PUSH_COALESCE_SECONDS: String(coalesceSeconds) });
  const message = (c: Case, preview: string, unread: number, kind = 'message') =>
    ({ kind, conversation_id: c.group.id, conversation_name: c.name, direct: false, sender: c.alice.username, unread, preview });

  await Promise.all([
    t.test('a message deleted while its notification waits is not shown: the newest unread one is', async () => {
      const c = await held(setup, 'deleted');
      await c.alice.client.request('send_message', { conversation_id: c.group.id, content: 'still here' });
      const secret = await c.alice.client.request('send_message', { conversation_id: c.group.id, content: 'SECRET-DELETED-TEXT' });
      await c.alice.client.request('delete_message', { message_id: secret.id });
      stillHeld(c);
      assert.deepEqual(await payloadOf(c), message(c, 'still here', 1));
    }),
    t.test('a message edited while its notification waits shows its new words', async () => {
      const c = await held(setup, 'edited');
      const sent = await c.alice.client.request('send_message', { conversation_id: c.group.id, content: 'the pre-edit SECRET' });
      await c.alice.client.request('edit_message', { message_id: sent.id, content: '[redacted]' });
      stillHeld(c);
      assert.deepEqual(await payloadOf(c), message(c, '[redacted]', 1));
    }),
    t.test('the only message deleted: nothing is sent', async () => {
      const c = await held(setup, 'only');
      const secret = await c.alice.client.request('send_message', { conversation_id: c.group.id, content: 'SECRET-ONLY-TEXT' });
      await c.alice.client.request('delete_message', { message_id: secret.id });
      stillHeld(c);
      await drained(setup.server, 15_000);
      assert.deepEqual(receivedBy(setup.service, c.bob.subscription).map((got) => (got.payload as { kind: string }).kind), ['added']);
    }),
    t.test('a mention deleted loses its priority: the chatter after it is notified as a message', async () => {
      const c = await held(setup, 'mention');
      const mention = await c.alice.client.request('send_message', { conversation_id: c.group.id, content: `@${c.bob.username} SECRET-MENTION` });
      await c.alice.client.request('send_message', { conversation_id: c.group.id, content: 'chatter' });
      await c.alice.client.request('delete_message', { message_id: mention.id });
      stillHeld(c);
      assert.deepEqual(await payloadOf(c), message(c, 'chatter', 1));
    }),
    t.test('a mention deleted, to someone notified of mentions only: nothing is sent (not the chatter after it)', async () => {
      const alice = await person(setup.server, 'alice');
      const bob = await person(setup.server, 'bob');
      await bob.client.request('update_profile', { notifications: 'mentions' });
      const subscription = setup.service.subscribe();
      await bob.client.request('register_device', { kind: 'webpush', subscription });
      bob.client.close();
      await bob.client.closed;
      const group = await alice.client.request('create_conversation', { name: 'mentions only', members: [bob.username] });
      await waitForPushes(setup.service, subscription, 1);
      const mention = await alice.client.request('send_message', { conversation_id: group.id, content: `@${bob.username} SECRET-MENTION` });
      await alice.client.request('send_message', { conversation_id: group.id, content: 'chatter' });
      await alice.client.request('delete_message', { message_id: mention.id });
      assert.equal(receivedBy(setup.service, subscription).length, 1, `the mention went within ${coalesceSeconds} s, before its delete: the machine was too slow for this case`);
      await drained(setup.server, 15_000);
      assert.deepEqual(receivedBy(setup.service, subscription).map((got) => (got.payload as { kind: string }).kind), ['added']);
    }),
    t.test('a retry is built again: a message edited between two attempts goes with its new words', async () => {
      const c = await held(setup, 'retried');
      const { service } = setup;
      const endpoint = c.bob.subscription.endpoint.split('/push/')[1];
      const refused = () => service.requests.filter((request) => request.subscription === endpoint && request.status === 503).length;
      service.reply(c.bob.subscription, { status: 503, retryAfter: String(coalesceSeconds) });
      const sent = await c.alice.client.request('send_message', { conversation_id: c.group.id, content: 'the draft SECRET' });
      const deadline = Date.now() + 15_000;
      while (refused() === 0) {
        if (Date.now() > deadline) throw new Error('the first attempt never came');
        await sleep(20);
      }
      await c.alice.client.request('edit_message', { message_id: sent.id, content: 'the final words' });
      stillHeld(c);
      assert.deepEqual(await payloadOf(c), message(c, 'the final words', 1));
    }),
  ]);
});
