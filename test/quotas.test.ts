// Hourly caps per account (review 25, M1, L8, H1): conversations and channels created, people added
// or invited, contacts added; the exact errors, and the notifications they bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../src/log.ts';
import { createLimits } from '../src/cluster/limits.ts';
import { createWindowLimit } from '../src/throttle.ts';
import { expectError, person } from './helpers/clients.ts';
import { awayWithDevice, drained, pushServer, receivedBy } from './helpers/push-server.ts';
import { needs } from './helpers/installed.ts';
import { startRedis } from './helpers/redis.ts';
import { linkTo, member, startNodes, tapped } from './helpers/cluster.ts';

test('a window counts several events at once, and takes some back, in Redis as on one node', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  const nodes = await Promise.all([0, 1].map(async () => createLimits({ link: (await linkTo(t, redis.url)).link, log: createLogger('silent', () => {}) })));
  const [onA, onB] = nodes.map((limits) => limits.window('adds', 5, 3600_000));
  const local = createWindowLimit(5, 3600_000);
  const both = async (on: typeof onA, count: number) => [(await on!('mallory', count)) > 0, local('mallory', Date.now(), count) > 0];
  assert.deepEqual(await both(onA, 3), [false, false], '3 of 5');
  assert.deepEqual(await both(onB, 3), [true, true], '6 of 5: refused, nothing counted');
  assert.deepEqual(await both(onB, 2), [false, false], '5 of 5');
  assert.deepEqual(await both(onA, -2), [false, false], 'two given back');
  assert.deepEqual(await both(onB, 2), [false, false], '5 of 5 again');
  assert.deepEqual(await both(onA, 1), [true, true]);
  assert.deepEqual(await both(onA, -9), [false, false], 'never below nothing');
  assert.deepEqual(await both(onB, 5), [false, false]);
  assert.deepEqual(await both(onB, 1), [true, true]);
});

test('hourly caps on conversations, channels, adds and contacts', async (t) => {
  const setup = await pushServer(t, { CONVERSATIONS_PER_HOUR: '3', CHANNELS_PER_HOUR: '2', ADDS_PER_HOUR: '5', CONTACTS_PER_HOUR: '2' });
  const { server, service } = setup;

  await t.test('conversations and channels created: each its own cap; an existing direct conversation is not counted', async () => {
    const alice = await person(server, 'alice');
    const bob = await person(server, 'bob');
    const direct = await alice.client.request('create_conversation', { kind: 'direct', members: [bob.username] });
    await alice.client.request('create_conversation', { name: 'one', kind: 'group' });
    await alice.client.request('create_conversation', { name: 'two', members: [] });
    await expectError(alice.client, { type: 'create_conversation', name: 'three', members: [] },
      'at most 3 new conversations an hour per account (CONVERSATIONS_PER_HOUR): retry in 60 min', 'rate_limited');
    assert.deepEqual(await alice.client.request('create_conversation', { kind: 'direct', members: [bob.username] }), direct, 'asking again is not creating');
    await alice.client.request('create_conversation', { name: 'c1', kind: 'channel' });
    await alice.client.request('create_conversation', { name: 'c2', kind: 'channel' });
    await expectError(alice.client, { type: 'create_conversation', name: 'c3', kind: 'channel' },
      'at most 2 new channels an hour per account (CHANNELS_PER_HOUR): retry in 60 min', 'rate_limited');
    assert.equal((await alice.client.request('get_conversations')).length, 5, 'nothing was created by the refused requests');
    // Another account has its own allowance.
    await bob.client.request('create_conversation', { name: 'bob\'s', members: [] });
  });

  await t.test('adds: everyone listed counts, all or none; the notifications stay within the cap', async () => {
    const mallory = await person(server, 'mallory');
    const strangers = [];
    for (let i = 0; i < 7; i++) strangers.push(await awayWithDevice(setup, 'stranger'));
    const names = strangers.map((stranger) => stranger.username);
    await expectError(mallory.client, { type: 'create_conversation', name: 'too many', members: names.slice(0, 6) },
      'at most 5 people may be added or invited to conversations in an hour (ADDS_PER_HOUR): 6 at once is more than that', 'bad_request');
    const room = await mallory.client.request('create_conversation', { name: 'spam', members: names.slice(0, 3) });
    assert.equal(room.members.length, 4);
    await expectError(mallory.client, { type: 'add_members', conversation_id: room.id, members: names.slice(3, 6) },
      'at most 5 people added or invited to conversations an hour per account (ADDS_PER_HOUR): 3 more is too many now, retry in 60 min', 'rate_limited');
    assert.equal((await mallory.client.request('get_members', { conversation_id: room.id })).length, 4, 'nobody of a refused request joined');
    const added = await mallory.client.request('add_members', { conversation_id: room.id, members: names.slice(3, 5) });
    assert.deepEqual(added.added, names.slice(3, 5));
    for (let i = 0; i < 3; i++) {
      await expectError(mallory.client, { type: 'create_conversation', name: `spam ${i}`, members: [names[6]!] },
        'at most 5 people added or invited to conversations an hour per account (ADDS_PER_HOUR): 1 more is too many now, retry in 60 min', 'rate_limited');
    }
    // Refused for its people, a conversation is not counted: two more fit within CONVERSATIONS_PER_HOUR=3.
    await mallory.client.request('create_conversation', { name: 'alone', members: [] });
    await mallory.client.request('create_conversation', { name: 'alone too', members: [] });
    await drained(server);
    const notified = strangers.map((stranger) => receivedBy(service, stranger.subscription).length);
    assert.deepEqual(notified, [1, 1, 1, 1, 1, 0, 0], 'one notification per person added, none past the cap');
  });

  await t.test('contacts added: adding writes the other side, so each account has an hourly allowance; removing gives none back', async () => {
    const mallory = await person(server, 'mallory');
    const [victim, other, third] = [await person(server, 'victim'), await person(server, 'other'), await person(server, 'third')];
    const contact = (who: { username: string }) => ({ type: 'add_contact', contact_username: who.username });
    await mallory.client.request('add_contact', { contact_username: victim.username });
    // A refused add is not counted.
    await expectError(mallory.client, contact(victim), `'${victim.username}' is already a contact`, 'conflict');
    await mallory.client.request('add_contact', { contact_username: other.username });
    await expectError(mallory.client, contact(third), 'at most 2 contacts added an hour per account (CONTACTS_PER_HOUR): retry in 60 min', 'rate_limited');
    await mallory.client.request('remove_contact', { contact_username: victim.username });
    await expectError(mallory.client, contact(victim), 'at most 2 contacts added an hour per account (CONTACTS_PER_HOUR): retry in 60 min', 'rate_limited');
    assert.deepEqual((await mallory.client.request('get_contacts')).contacts.map((user) => user.username), [other.username]);
    assert.deepEqual((await third.client.request('get_contacts')).contacts, [], 'nothing was written by the refused add');
    assert.equal(third.pushes.filter((push) => push.type === 'contact_added').length, 0, 'nor anyone told');
    // Another account has its own allowance.
    await third.client.request('add_contact', { contact_username: mallory.username });
  });
});

test('the caps hold over the nodes of a cluster: spreading requests over them gets no more', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const [a, b] = await startNodes(t, 2, { CONVERSATIONS_PER_HOUR: '2', ADDS_PER_HOUR: '3', CONTACTS_PER_HOUR: '2' });
  const mallory = await member(a!);
  const others = await Promise.all([1, 2, 3, 4].map(() => member(a!)));
  const [onA, onB] = [(await tapped(a!, mallory)).client, (await tapped(b!, mallory)).client];
  await onA.request('create_conversation', { name: 'on a', members: [others[0]!.username, others[1]!.username] });
  await expectError(onB, { type: 'create_conversation', name: 'on b', members: [others[2]!.username, others[3]!.username] },
    'at most 3 people added or invited to conversations an hour per account (ADDS_PER_HOUR): 2 more is too many now, retry in 60 min', 'rate_limited');
  await onB.request('create_conversation', { name: 'alone on b', members: [] });
  await expectError(onA, { type: 'create_conversation', name: 'third', members: [] },
    'at most 2 new conversations an hour per account (CONVERSATIONS_PER_HOUR): retry in 60 min', 'rate_limited');
  await onA.request('add_contact', { contact_username: others[0]!.username });
  await onB.request('add_contact', { contact_username: others[1]!.username });
  await expectError(onA, { type: 'add_contact', contact_username: others[2]!.username },
    'at most 2 contacts added an hour per account (CONTACTS_PER_HOUR): retry in 60 min', 'rate_limited');
});
