// Limits: the per-socket token bucket and flood close, login throttling per account and address,
// registrations per address, members per conversation (also when two nodes add at once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { assertRegistrationsWait, http } from './helpers/http.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, expectError, password, person, rawSocket, register, uniqueName } from './helpers/clients.ts';
import { withStore } from './helpers/store.ts';
import { sleep } from './helpers/wait.ts';
import { testEngine } from './helpers/postgres.ts';
import postgres from 'postgres';
import { heldBy, holdMs, refusedSend } from '../src/send-order.ts';
import type { Connection } from '../src/connection.ts';


test('each socket has a token bucket; one that keeps flooding is closed with 1008', async (t) => {
  const server = await startServer(t, { RATE_LIMIT_EVENTS: '5', RATE_LIMIT_BURST: '10' });
  const alice = await person(server, 'alice'); // its opening ping took one token
  const raw = await rawSocket(server, alice.token);
  const pong = { type: 'ping', success: true, data: 'pong' };
  const limited = { type: 'ping', success: false, error: 'rate limit: at most 5 events a second (bursts of 10); slow down', code: 'rate_limited' };
  // Sent at once: one at a time, a loaded machine's round trips let tokens come back within the burst.
  // Refusals are answered at once and pongs once their unit is committed, so the answers' order is not the frames'.
  const frames = [...Array.from({ length: 11 }, () => '{"type":"ping"}'), '{"type":"ping","ref":"r9"}', 'nonsense'];
  const answers = await Promise.all(frames.map((frame) => raw.exchange(frame)));
  const sorted = (replies: unknown[]) => replies.map((reply) => JSON.stringify(reply)).sort();
  // The refusals name the type and the ref (so the client knows what to retry); a frame that cannot be read is refused as root.
  assert.deepEqual(sorted(answers), sorted([...Array.from({ length: 10 }, () => pong), limited, { ...limited, ref: 'r9' }, { ...limited, type: 'root' }]));
  await sleep(650);
  assert.deepEqual(await raw.exchange('{"type":"ping"}'), pong, 'tokens come back at the set rate');
  const closed = new Promise<[number, string]>((resolve) => raw.socket.once('close', (code, reason) => resolve([code, String(reason)])));
  for (let i = 0; i < 40; i++) raw.socket.send('{"type":"ping"}');
  assert.deepEqual(await closed, [1008, 'flooding: too many events over the rate limit']);
  assert.equal(await alice.client.request('ping'), 'pong', "another socket of the same user has its own bucket");
  await server.waitForLog((line) => line.msg === 'socket closed for flooding');
});

test('failed logins wait longer and longer, per account', async (t) => {
  const server = await startServer(t);
  const username = uniqueName();
  await register(server, username);
  const login = (secret: string, name = username) => http(server.http, 'POST', '/auth/login', { body: { username: name, password: secret } });
  for (let i = 0; i < 5; i++) assert.equal((await login('wrong password')).status, 401, `failure ${i + 1}`);
  const locked = await login(password);
  assert.deepEqual([locked.status, locked.body, locked.headers['retry-after']], [429, 'too many failed logins: retry in 1 second', '1'], 'even the right password waits');
  assert.equal((await login(password, username.toUpperCase())).status, 429, 'the account, in any case');
  await sleep(1100);
  assert.equal((await login('wrong password')).status, 401);
  const longer = await login(password);
  assert.deepEqual([longer.status, longer.headers['retry-after']], [429, '2'], 'the wait doubles');
  await sleep(2100);
  assert.equal((await login(password)).status, 202, 'the right password after the wait');
  assert.equal((await login('wrong password')).status, 401, 'a success clears the account');
  await server.waitForLog((line) => line.msg === 'login throttled');
});

test('failed logins are throttled per address too', async (t) => {
  const server = await startServer(t, { LOGIN_MAX_FAILURES: '2' });
  for (let i = 0; i < 8; i++) {
    const result = await http(server.http, 'POST', '/auth/login', { body: { username: uniqueName('nobody'), password } });
    assert.equal(result.status, 401, `failure ${i + 1} from this address`);
  }
  const blocked = await http(server.http, 'POST', '/auth/login', { body: { username: uniqueName('other'), password } });
  assert.deepEqual([blocked.status, blocked.headers['retry-after']], [429, '1']);
});

test('registrations per address per hour', async (t) => {
  const server = await startServer(t, { REGISTRATIONS_PER_HOUR: '3' });
  const first = Date.now();
  for (let i = 0; i < 3; i++) await register(server, uniqueName());
  const refused = await http(server.http, 'POST', '/register', { body: { username: uniqueName(), password, fullname: 'x' } });
  assertRegistrationsWait(refused, first);
});

test('a conversation holds at most 1,000 members, however they come in', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-members-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startServer(t, {}, dir);
  const owner = await person(first, 'owner');
  const latecomer = await person(first, 'late');
  await first.stop();
  // 998 more people, written straight into the database: registering them one by one would take minutes.
  const { group, channel } = await withStore(first, async (store) => {
    const ownerId = (await store.users.byUsername(owner.username))!.id;
    const crowd: number[] = [];
    for (let i = 0; i < 998; i++) crowd.push((await store.users.insert({ username: `crowd_${i}`, fullname: 'Crowd', passwordHash: 'x', now: 1 }))!);
    return {
      group: await store.conversations.create({ name: 'full group', creatorId: ownerId, memberIds: [ownerId, ...crowd], now: 1 }),
      channel: await store.conversations.create({ name: 'full channel', kind: 'channel', creatorId: ownerId, memberIds: [ownerId, ...crowd], now: 1 }),
    };
  });

  const server = await startServer(t, {}, dir);
  const client = await connect(server, owner.token);
  const late = await connect(server, latecomer.token);
  await client.request('add_members', { conversation_id: group, members: [latecomer.username] });
  assert.equal((await client.request('get_members', { conversation_id: group })).length, 1000);
  await expectError(client, { type: 'add_members', conversation_id: group, members: [(await person(server, 'extra')).username] }, 'a conversation may have at most 1000 members', 'bad_request');
  // Past 100 members, delivered points are kept but not pushed: 1,000 receipts per message would flood everyone.
  const receipts: unknown[] = [];
  client.on('receipt', (receipt) => receipts.push(receipt));
  const message = await client.request('send_message', { conversation_id: group, content: 'hello, crowd' });
  for (let tries = 0; (await client.request('get_receipts', { message_id: message.id })).delivered.length === 0; tries++) {
    assert.ok(tries < 100, 'the online member\'s delivered point moves');
    await sleep(50);
  }
  assert.deepEqual((await client.request('get_receipts', { message_id: message.id })).delivered, [latecomer.username]);
  await late.request('mark_read', { conversation_id: group, message_id: message.id });
  for (let tries = 0; receipts.length < 2; tries++) {
    assert.ok(tries < 200, 'read points are still pushed');
    await sleep(50);
  }
  // Sending moved the owner's own read point; marking it read moved the latecomer's.
  assert.deepEqual(receipts, [
    { conversation_id: group, username: owner.username, delivered_id: message.id, read_id: message.id },
    { conversation_id: group, username: latecomer.username, delivered_id: message.id, read_id: message.id },
  ]);
  await late.request('join_channel', { conversation_id: channel });
  await expectError((await person(server, 'another')).client, { type: 'join_channel', conversation_id: channel }, 'a conversation may have at most 1000 members', 'bad_request');
  await expectError(client, { type: 'create_conversation', members: Array.from({ length: 1001 }, (_, i) => `crowd_${i}`) }, 'members may list at most 1000 usernames', 'bad_request');
});

test('the member cap holds while another node adds at the same moment', { skip: testEngine() === 'postgres' ? false : 'two transactions at once: SQLite writes one at a time, PostgreSQL runs this in its pass' }, async (t) => {
  const server = await startServer(t);
  const owner = await person(server, 'owner');
  const latecomer = await person(server, 'late');
  // 998 people and the owner in a channel: one more fills it.
  const { channel, last } = await withStore(server, async (store) => {
    const ownerId = (await store.users.byUsername(owner.username))!.id;
    const crowd: number[] = [];
    for (let i = 0; i < 999; i++) crowd.push((await store.users.insert({ username: uniqueName('crowd'), fullname: 'Crowd', passwordHash: 'x', now: 1 }))!);
    const last = crowd.pop()!;
    return { channel: await store.conversations.create({ name: 'nearly full', kind: 'channel', creatorId: ownerId, memberIds: [ownerId, ...crowd], now: 1 }), last };
  });
  // Another node adds the thousandth member: it took the conversation's cap lock (members: 1), counted 999, and
  // has not committed yet. A join counted now would see 999 too, and make 1,001.
  const sql = postgres(server.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
  t.after(() => sql.end());
  let commit!: () => void;
  const committing = new Promise<void>((resolve) => (commit = resolve));
  const held = new Promise<void>((locked) => {
    void sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(1, ${channel})`;
      await tx`INSERT INTO members (conversation_id, user_id, position, joined_at, role) VALUES (${channel}, ${last}, 1000, 1, 'member')`;
      locked();
      await committing;
    });
  });
  await held;
  const answer = latecomer.client.call({ type: 'join_channel', conversation_id: channel });
  const watcher = postgres(server.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
  t.after(() => watcher.end());
  const waiting = async () => (await watcher`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)[0]!.n as number;
  // The join waits for the lock (or, without it, is answered at once: the race below is lost either way).
  const first = await Promise.race([answer.then(() => 'answered'), (async () => { while ((await waiting()) === 0) await sleep(10); return 'waiting'; })()]);
  commit();
  const reply = await answer;
  assert.equal(first, 'waiting', `the join went on without waiting for the other node's add (success: ${reply.success})`);
  assert.deepEqual([reply.success, (reply as { error?: string }).error], [false, 'a conversation may have at most 1000 members']);
  assert.equal((await watcher`SELECT count(*)::int AS n FROM members WHERE conversation_id = ${channel}`)[0]!.n, 1000);
});

test('a message refused by the rate limit holds its conversation on that socket until it comes again, so messages keep their order', async (t) => {
  const server = await startServer(t, { RATE_LIMIT_EVENTS: '4', RATE_LIMIT_BURST: '4' });
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const room = await alice.client.request('create_conversation', { name: 'order', members: [bob.username] });
  const other = await alice.client.request('create_conversation', { name: 'elsewhere', members: [bob.username] });
  const client = await connect(server, alice.token); // a bucket of its own, full
  const frame = (index: number | string, conversation = room.id) => ({ type: 'send_message', conversation_id: conversation, content: `m${index}`, client_id: `c${index}` });
  const tokenBack = () => sleep(300); // one comes back every 250 ms
  // Seven at once: four fit the bucket (three refusals in a row are not yet flooding); the first refused holds the room.
  const answers = await Promise.all(Array.from({ length: 7 }, (_, index) => client.call(frame(index))));
  const first = answers.findIndex((answer) => !answer.success);
  assert.ok(first > 0, 'some were refused');
  assert.ok(answers.slice(first).every((answer) => !answer.success && (answer as { code?: string }).code === 'rate_limited'), 'none after the first refused got in');
  await tokenBack();
  const held = await client.call(frame('x'));
  assert.deepEqual([held.success, (held as { code?: string }).code, (held as { error?: string }).error], [false, 'rate_limited', `rate limit: an earlier message of this socket to conversation ${room.id} was refused: send it again first (client_id c${first}), then this one`]);
  await tokenBack();
  assert.equal((await client.call(frame('y', other.id))).success, true, 'another conversation is not held');
  // Sent again in their order, each once a token is back: the first lifts the hold.
  for (const index of [...Array.from({ length: 7 - first }, (_, i) => first + i), 'x'] as (number | string)[]) {
    await tokenBack();
    assert.equal((await client.call(frame(index))).success, true, `m${index} sent again`);
  }
  const history = await alice.client.request('get_messages', { conversation_id: room.id });
  assert.deepEqual(history.messages.map((message) => message.content).reverse(), [...Array.from({ length: 7 }, (_, index) => `m${index}`), 'mx']);
});

test('holds: the message awaited lifts its hold; a hold lapses after holdMs; one without a client_id holds nothing', () => {
  const socket = {} as Connection; // only a key: holds are kept per socket object
  const send = (conversation: number, clientId?: string) => ({ type: 'send_message', conversation_id: conversation, content: 'x', ...(clientId ? { client_id: clientId } : {}) });
  refusedSend(socket, send(1), 0);
  assert.equal(heldBy(socket, send(1, 'b'), 1), undefined, 'a refusal without a client_id holds nothing');
  refusedSend(socket, send(1, 'a'), 0);
  refusedSend(socket, send(1, 'b'), 1);
  assert.deepEqual(heldBy(socket, send(1, 'b'), 2), { conversation: 1, clientId: 'a' }, 'the first refused is awaited');
  assert.equal(heldBy(socket, { type: 'get_messages', conversation_id: 1 }, 2), undefined, 'other events are not held');
  assert.equal(heldBy(socket, send(2, 'z'), 2), undefined, 'nor other conversations');
  assert.equal(heldBy(socket, send(1, 'a'), 3), undefined, 'the awaited one goes on');
  assert.equal(heldBy(socket, send(1, 'b'), 4), undefined, 'and the hold is gone');
  refusedSend(socket, send(3, 'p'), 100);
  refusedSend(socket, send(3, 'p'), 100 + holdMs - 1); // refused again: waits from its last refusal
  assert.deepEqual(heldBy(socket, send(3, 'q'), 100 + 2 * holdMs - 2), { conversation: 3, clientId: 'p' });
  assert.equal(heldBy(socket, send(3, 'q'), 100 + 2 * holdMs), undefined, 'lapsed');
});
