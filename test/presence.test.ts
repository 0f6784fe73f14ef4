// Who receives what: presence across several sockets, contact_added, and conversation and message fan-out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { person, settle, socket, waitFor, type Recorded } from './helpers/clients.ts';

const of = (recorded: Recorded[], type: Recorded['type']) => recorded.filter((push) => push.type === type).map((push) => push.data);

test('presence and fan-out', async (t) => {
  const server = await startServer(t);
  /** Alice and Bob, each with a second socket (another tab). */
  const twoWithTabs = async () => {
    const alice = await person(server, 'alice');
    const bob = await person(server, 'bob');
    return { alice, aliceTab: await socket(server, alice.token), bob, bobTab: await socket(server, bob.token) };
  };

  await t.test('user_status: online with the first socket, offline after the last, to online contacts only', async () => {
    const alice = await person(server, 'alice');
    const stranger = await person(server, 'stranger');
    const bob = await person(server, 'bob');
    await alice.client.request('add_contact', { contact_username: bob.username });
    bob.client.close();
    await bob.client.closed;
    await waitFor(alice.pushes, (push) => push.type === 'user_status' && !push.data.is_online);
    const before = (await alice.client.request('get_contacts')).contacts[0]!;
    assert.equal(before.is_online, false);
    alice.pushes.length = 0;

    const first = await socket(server, bob.token);
    await settle(alice.client);
    assert.deepEqual(of(alice.pushes, 'user_status'), [{ username: bob.username, is_online: true, status: 'online', status_text: '' }]);
    const second = await socket(server, bob.token);
    await settle(alice.client);
    assert.equal(of(alice.pushes, 'user_status').length, 1, 'a second socket is not a second arrival');
    assert.equal((await alice.client.request('get_contacts')).contacts[0]!.is_online, true);

    first.client.close();
    await first.client.closed;
    await settle(alice.client, second.client);
    assert.equal(of(alice.pushes, 'user_status').length, 1, 'still online while one socket remains');
    assert.equal((await alice.client.request('get_contacts')).contacts[0]!.is_online, true);

    second.client.close();
    await second.client.closed;
    await waitFor(alice.pushes, (push) => push.type === 'user_status' && !push.data.is_online);
    assert.deepEqual(of(alice.pushes, 'user_status'), [
      { username: bob.username, is_online: true, status: 'online', status_text: '' },
      { username: bob.username, is_online: false, status: 'offline', status_text: '' },
    ]);
    const after = (await alice.client.request('get_contacts')).contacts[0]!;
    assert.equal(after.is_online, false);
    assert.ok(after.last_online >= before.last_online);
    assert.deepEqual(of(first.pushes, 'user_status'), [], 'nobody hears their own status');
    assert.deepEqual(of(second.pushes, 'user_status'), []);
    await settle(stranger.client);
    assert.deepEqual(of(stranger.pushes, 'user_status'), [], 'non-contacts hear nothing');
  });

  await t.test('user_status reaches every socket of a contact', async () => {
    const alice = await person(server, 'alice');
    const aliceTab = await socket(server, alice.token);
    const bob = await person(server, 'bob');
    await bob.client.request('add_contact', { contact_username: alice.username });
    bob.client.close();
    for (const tab of [alice, aliceTab]) await waitFor(tab.pushes, (push) => push.type === 'user_status' && push.data.username === bob.username && !push.data.is_online);
    for (const tab of [alice, aliceTab]) assert.equal(of(tab.pushes, 'user_status').length, 1);
  });

  await t.test('add_contact tells the added user on every socket, and the adder\'s other sockets', async () => {
    const { alice, aliceTab, bob, bobTab } = await twoWithTabs();
    const stranger = await person(server, 'stranger');
    await alice.client.request('add_contact', { contact_username: bob.username });
    await settle(bob.client, bobTab.client, aliceTab.client, stranger.client);
    for (const tab of [bob, bobTab]) {
      const [push] = of(tab.pushes, 'contact_added') as { contact: { username: string; is_online: boolean } }[];
      assert.equal(of(tab.pushes, 'contact_added').length, 1);
      assert.deepEqual([push!.contact.username, push!.contact.is_online], [alice.username, true]);
    }
    assert.deepEqual(of(aliceTab.pushes, 'contact_added').map((data) => (data as { contact: { username: string } }).contact.username), [bob.username]);
    assert.deepEqual(of(alice.pushes, 'contact_added'), [], 'the requesting socket has its reply instead');
    assert.deepEqual(of(stranger.pushes, 'contact_added'), []);
  });

  await t.test('create_conversation reaches every socket of every member once', async () => {
    const { alice, aliceTab, bob, bobTab } = await twoWithTabs();
    const carol = await person(server, 'carol');
    const made = await alice.client.request('create_conversation', { name: 'team', members: [bob.username] });
    await settle(aliceTab.client, bob.client, bobTab.client, carol.client);
    for (const tab of [aliceTab, bob, bobTab]) assert.deepEqual(of(tab.pushes, 'create_conversation'), [made]);
    assert.deepEqual(of(alice.pushes, 'create_conversation'), [], 'the creator\'s requesting socket gets only its reply');
    assert.deepEqual(of(carol.pushes, 'create_conversation'), []);
  });

  await t.test('send_message reaches every socket of every member once, the sender\'s other sockets included', async () => {
    const { alice, aliceTab, bob, bobTab } = await twoWithTabs();
    const carol = await person(server, 'carol');
    const room = await alice.client.request('create_conversation', { name: 'room', members: [bob.username] });
    const sent = await alice.client.request('send_message', { conversation_id: room.id, content: 'to all of you' });
    const answer = await bobTab.client.request('send_message', { conversation_id: room.id, content: 'back', reply_id: sent.id });
    await settle(alice.client, aliceTab.client, bob.client, bobTab.client, carol.client);
    assert.deepEqual(of(aliceTab.pushes, 'send_message'), [sent, answer]);
    assert.deepEqual(of(bob.pushes, 'send_message'), [sent, answer]);
    assert.deepEqual(of(alice.pushes, 'send_message'), [answer]);
    assert.deepEqual(of(bobTab.pushes, 'send_message'), [sent]);
    assert.deepEqual(of(carol.pushes, 'send_message'), []);
  });

  await t.test('pushes carry the seed envelope and a growing seq, without ref', async () => {
    const alice = await person(server, 'alice');
    const bob = await person(server, 'bob');
    const frames: unknown[] = [];
    const raw = await import('ws').then(({ default: WebSocket }) => new WebSocket(server.ws, { headers: { cookie: `login-token=${bob.token}` } }));
    await new Promise((resolve) => raw.once('open', resolve));
    // In once its token is checked and it is registered (the ping waits for that): pushes committed
    // before then are not its to receive live (sync has them), as with the seed.
    const registered = new Promise((resolve) => raw.once('message', resolve));
    raw.send('{"type":"ping"}');
    await registered;
    raw.on('message', (data) => frames.push(JSON.parse(String(data))));
    const room = await alice.client.request('create_conversation', { name: 'raw', members: [bob.username] });
    const sent = await alice.client.request('send_message', { conversation_id: room.id, content: 'raw' });
    const pong = new Promise((resolve) => raw.on('message', (data) => String(data).includes('"pong"') && resolve(undefined)));
    raw.send('{"type":"ping"}');
    await pong;
    const [first, second] = frames as { seq: number }[];
    assert.ok(Number.isInteger(first!.seq) && second!.seq > first!.seq, 'seq grows');
    assert.deepEqual(frames, [
      { type: 'create_conversation', success: true, data: room, seq: first!.seq },
      { type: 'send_message', success: true, data: sent, seq: second!.seq },
      { type: 'ping', success: true, data: 'pong' },
    ]);
    raw.close();
  });
});
