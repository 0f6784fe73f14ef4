// Receipts and typing: delivered and read points pushed in coalesced receipts; typing pushed, expiring, never stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import postgres from 'postgres';
import { connect, expectError, login, person, pushed, register, settle, socket, syncAll, uniqueName, waitFor } from './helpers/clients.ts';
import { testEngine } from './helpers/postgres.ts';

test('receipts', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const eve = await person(server, 'eve');
  const carolName = uniqueName('carol');
  await register(server, carolName);
  const room = await alice.client.request('create_conversation', { name: 'receipts', members: [bob.username, carolName] });
  const id = room.id;

  await t.test('a burst of messages gives one delivered receipt per online member, not one per message', async () => {
    const sent: number[] = [];
    for (let i = 0; i < 30; i++) sent.push((await alice.client.request('send_message', { conversation_id: id, content: `burst ${i}` })).id);
    const last = sent.at(-1)!;
    await waitFor(alice.pushes, (push) => push.type === 'receipt' && push.data.username === bob.username && push.data.delivered_id === last);
    const bobs = pushed(alice.pushes, 'receipt').filter((receipt) => receipt.username === bob.username);
    assert.ok(bobs.length <= 3, `coalesced: ${bobs.length} receipts for 30 messages`);
    assert.deepEqual(pushed(alice.pushes, 'receipt').filter((receipt) => receipt.username === carolName), [], 'carol is offline: nothing reached her');
    // Sending shows the sender read everything before: their read point moves, once per batch too.
    const alices = await waitFor(alice.pushes, (push) => push.type === 'receipt' && push.data.username === alice.username && push.data.read_id === last);
    assert.deepEqual(alices.data, { conversation_id: id, username: alice.username, delivered_id: last, read_id: last });
    assert.ok(pushed(alice.pushes, 'receipt').filter((receipt) => receipt.username === alice.username).length <= 3, 'coalesced for the sender too');
    assert.deepEqual(pushed(eve.pushes, 'receipt'), [], 'non-members hear nothing');
    const receipts = await alice.client.request('get_receipts', { message_id: last });
    assert.deepEqual(receipts, { message_id: last, delivered: [bob.username], read: [] });

    // Carol fetches the history: that hands the messages to her socket, so they are delivered.
    const carol = await connect(server, await login(server, carolName));
    const history = await carol.request('get_messages', { conversation_id: id, limit: 5 });
    assert.equal(history.messages[0]!.id, last);
    await waitFor(alice.pushes, (push) => push.type === 'receipt' && push.data.username === carolName && push.data.delivered_id === last);
    assert.deepEqual((await alice.client.request('get_receipts', { message_id: last })).delivered, [bob.username, carolName]);
    carol.close();
  });

  await t.test('mark_read moves the read point forward only; members are told', async () => {
    const message = await alice.client.request('send_message', { conversation_id: id, content: 'read me' });
    const elsewhere = await eve.client.request('create_conversation', { name: 'eve', members: [] });
    const hers = await eve.client.request('send_message', { conversation_id: elsewhere.id, content: 'not yours' });
    await expectError(eve.client, { type: 'mark_read', conversation_id: id, message_id: message.id }, `${eve.username} not part of conversation with ${id} id`, 'not_found');
    await expectError(bob.client, { type: 'mark_read', conversation_id: id, message_id: hers.id }, `no message with id ${hers.id}`, 'not_found');
    await expectError(bob.client, { type: 'mark_read', conversation_id: id, message_id: 'x' }, 'expected message_id as integer', 'bad_request');
    assert.deepEqual(await bob.client.request('mark_read', { conversation_id: id, message_id: message.id }), { conversation_id: id, read_id: message.id });
    const receipt = await waitFor(alice.pushes, (push) => push.type === 'receipt' && push.data.username === bob.username && push.data.read_id === message.id);
    assert.deepEqual(receipt.data, { conversation_id: id, username: bob.username, delivered_id: message.id, read_id: message.id });
    const older = (await bob.client.request('get_messages', { conversation_id: id, limit: 3 })).messages[2]!.id;
    assert.deepEqual(await bob.client.request('mark_read', { conversation_id: id, message_id: older }), { conversation_id: id, read_id: message.id }, 'never backwards');
    assert.deepEqual(await alice.client.request('get_receipts', { message_id: message.id }), { message_id: message.id, delivered: [bob.username], read: [bob.username] });
    const members = await alice.client.request('get_members', { conversation_id: id });
    assert.deepEqual(members.map((member) => member.last_read_id), [message.id, message.id, 0]);
    const item = (await bob.client.request('get_conversations')).find((entry) => entry.id === id)!;
    assert.equal(item.unread_count, 0);
    const logged = (await syncAll(alice.client)).filter((event) => event.type === 'receipt' && (event.data as { username: string; read_id?: number }).username === bob.username && (event.data as { read_id?: number }).read_id === message.id);
    assert.deepEqual(logged.map((event) => event.data), [receipt.data], 'receipts are logged: sync replays them');
    await expectError(eve.client, { type: 'get_receipts', message_id: message.id }, `no message with id ${message.id}`, 'not_found');
  });
});

test('a round of receipts locks only the members whose points it moves', { skip: testEngine() === 'postgres' ? false : 'row locks of PostgreSQL: runs in the PostgreSQL pass' }, async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const carolName = uniqueName('carol');
  await register(server, carolName);
  const room = await alice.client.request('create_conversation', { name: 'locks', members: [bob.username, carolName] });
  // Another transaction holds offline carol's member row (as another node's batch would) while alice sends: her
  // points do not move, so the round goes on without her row (it used to lock every member's row first, and waited).
  const sql = postgres(server.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
  t.after(() => sql.end());
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const held = new Promise<void>((locked) => {
    void sql.begin(async (tx) => {
      await tx`SELECT 1 FROM members WHERE conversation_id = ${room.id} AND user_id = (SELECT id FROM users WHERE username = ${carolName}) FOR NO KEY UPDATE`;
      locked();
      await released;
    });
  });
  await held;
  try {
    const message = await alice.client.request('send_message', { conversation_id: room.id, content: 'while carol\'s row is held' });
    const receipt = await waitFor(alice.pushes, (push) => push.type === 'receipt' && push.data.username === bob.username && push.data.delivered_id === message.id);
    assert.deepEqual(receipt.data, { conversation_id: room.id, username: bob.username, delivered_id: message.id });
    const own = await waitFor(alice.pushes, (push) => push.type === 'receipt' && push.data.username === alice.username && push.data.read_id === message.id);
    assert.deepEqual(own.data, { conversation_id: room.id, username: alice.username, delivered_id: message.id, read_id: message.id });
  } finally {
    release();
  }
  assert.deepEqual(pushed(alice.pushes, 'receipt').filter((receipt) => receipt.username === carolName), [], 'carol is offline: nothing moved for her');
});

test('typing', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const eve = await person(server, 'eve');
  const room = await alice.client.request('create_conversation', { name: 'typing', members: [bob.username] });
  const id = room.id;
  const aliceOther = await socket(server, alice.token);
  const typing = () => pushed(bob.pushes, 'typing');

  await expectError(eve.client, { type: 'typing', conversation_id: id, is_typing: true }, `${eve.username} not part of conversation with ${id} id`, 'not_found');
  await expectError(alice.client, { type: 'typing', conversation_id: id, is_typing: 'yes' }, 'expected is_typing as boolean', 'bad_request');
  assert.deepEqual(await alice.client.request('typing', { conversation_id: id, is_typing: true }), { conversation_id: id, is_typing: true });
  await waitFor(bob.pushes, (push) => push.type === 'typing');
  assert.deepEqual(typing(), [{ conversation_id: id, username: alice.username, is_typing: true }]);
  await alice.client.request('typing', { conversation_id: id, is_typing: true });
  await alice.client.request('typing', { conversation_id: id, is_typing: false });
  await waitFor(bob.pushes, (push) => push.type === 'typing' && !push.data.is_typing);
  assert.deepEqual(typing().map((push) => push.is_typing), [true, false], 'a repeat only keeps it alive');
  await settle(aliceOther.client, eve.client);
  assert.deepEqual(pushed(aliceOther.pushes, 'typing'), [], 'the typist\'s own sockets are not told');
  assert.deepEqual(pushed(eve.pushes, 'typing'), []);

  await t.test('it ends by itself after 6 s without a repeat', async () => {
    await alice.client.request('typing', { conversation_id: id, is_typing: true });
    await waitFor(bob.pushes, (push) => push.type === 'typing' && push.data.is_typing && typing().length === 3);
    const started = Date.now();
    await waitFor(bob.pushes, () => typing().length === 4, 9000);
    assert.deepEqual(typing().at(-1), { conversation_id: id, username: alice.username, is_typing: false });
    assert.ok(Date.now() - started >= 5000, 'not before its time');
  });

  await t.test('sending a message ends its sender\'s typing', async () => {
    await alice.client.request('typing', { conversation_id: id, is_typing: true });
    await waitFor(bob.pushes, () => typing().length === 5);
    await alice.client.request('send_message', { conversation_id: id, content: 'done typing' });
    await waitFor(bob.pushes, () => typing().length === 6);
    assert.deepEqual(typing().at(-1), { conversation_id: id, username: alice.username, is_typing: false });
    const order = bob.pushes.filter((push) => push.type === 'typing' || push.type === 'send_message').slice(-2).map((push) => push.type);
    assert.deepEqual(order, ['send_message', 'typing'], 'the message first, then the end of typing');
  });

  await t.test('it is rate limited, not stored, and ends when the typist\'s last socket closes', async () => {
    const fresh = await alice.client.request('create_conversation', { name: 'fresh window', members: [bob.username] });
    for (let i = 0; i < 10; i++) await alice.client.request('typing', { conversation_id: fresh.id, is_typing: i % 2 === 0 });
    await expectError(alice.client, { type: 'typing', conversation_id: fresh.id, is_typing: true }, 'typing: at most 10 events per conversation every 5 seconds', 'rate_limited');
    assert.deepEqual((await syncAll(bob.client)).filter((event) => event.type === 'typing'), [], 'not in sync');
    await bob.client.request('typing', { conversation_id: id, is_typing: true });
    await waitFor(alice.pushes, (push) => push.type === 'typing' && push.data.username === bob.username);
    bob.client.close();
    await waitFor(alice.pushes, (push) => push.type === 'typing' && push.data.username === bob.username && !push.data.is_typing);
  });
  aliceOther.client.close();
});
