// Idempotent sends, acknowledged-means-durable across SIGKILL, frame limits, expiry and graceful shutdown.
import { test } from 'node:test';
import { onDatabase } from './helpers/store.ts';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, testSecret, type TestServer } from './helpers/server.ts';
import { connect, open, person, settle } from './helpers/clients.ts';
import type { Client } from '../protocol/client.ts';
import { sleep } from './helpers/wait.ts';

/** Every message of a conversation, oldest first, paging through get_messages. */
async function history(client: Client, conversation_id: number) {
  const all = [];
  let before: number | undefined;
  for (;;) {
    const page = await client.request('get_messages', before === undefined ? { conversation_id } : { conversation_id, before });
    all.push(...page.messages);
    if (page.messages.length < 100) return all.reverse();
    before = page.messages.at(-1)!.id;
  }
}

test('send_message with a client_id is idempotent', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const room = await alice.client.request('create_conversation', { members: [bob.username] });
  const first = await alice.client.request('send_message', { conversation_id: room.id, content: 'once', client_id: 'c-1' });
  const again = await alice.client.request('send_message', { conversation_id: room.id, content: 'once', client_id: 'c-1' });
  assert.deepEqual(again, first, 'the repeat answers with the original message');
  const theirs = await bob.client.request('send_message', { conversation_id: room.id, content: 'mine', client_id: 'c-1' });
  assert.notEqual(theirs.id, first.id, 'client ids belong to their sender');
  await settle(bob.client, alice.client);
  assert.deepEqual(bob.pushes.filter((p) => p.type === 'send_message').map((p) => p.data), [first], 'the repeat pushes nothing');
  assert.deepEqual((await history(alice.client, room.id)).map((m) => m.id), [first.id, theirs.id]);
  for (const client_id of ['', 'x'.repeat(65), 5]) {
    const { ref: _, ...reply } = await alice.client.call({ type: 'send_message', conversation_id: room.id, content: 'x', client_id });
    assert.deepEqual(reply, { type: 'send_message', success: false, error: 'client_id must be a string of 1 to 64 characters', code: 'bad_request' });
  }
});

test('acknowledged messages survive SIGKILL; retrying with client_ids leaves no duplicates', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startServer(t, {}, dir);
  const alice = await person(first, 'alice');
  const room = await alice.client.request('create_conversation', { members: [] });
  const total = 400;
  const acked = new Map<string, number>();
  let killed = false;
  // Sent in small paced groups, so that the kill lands while messages are still in flight.
  for (let i = 0; i < total && !killed; i++) {
    alice.client.request('send_message', { conversation_id: room.id, content: `m${i}`, client_id: `c${i}` }).then(
      (message) => {
        acked.set(`c${i}`, message.id);
        if (acked.size === 150 && !killed) {
          killed = true;
          first.child.kill('SIGKILL');
        }
      },
      () => {}, // cut off by the kill: retried below
    );
    if (i % 10 === 9) await sleep(3);
  }
  await first.stop();
  assert.ok(acked.size >= 150 && acked.size < total, `killed with ${acked.size} of ${total} acknowledged`);

  const second = await startServer(t, {}, dir);
  const client = await connect(second, alice.token);
  const before = await history(client, room.id);
  const stored = new Map(before.map((m) => [m.content, m.id]));
  for (const [clientId, id] of acked) assert.equal(stored.get(`m${clientId.slice(1)}`), id, `acknowledged ${clientId} is stored`);
  for (let i = 0; i < total; i++) {
    const message = await client.request('send_message', { conversation_id: room.id, content: `m${i}`, client_id: `c${i}` });
    if (acked.has(`c${i}`)) assert.equal(message.id, acked.get(`c${i}`), `retrying c${i} returns the original`);
  }
  const after = await history(client, room.id);
  assert.equal(after.length, total, 'every message exactly once');
  assert.equal(new Set(after.map((m) => m.content)).size, total);
});

test('message content is limited by MAX_MESSAGE_LENGTH, counted in characters', async (t) => {
  const server = await startServer(t, { MAX_MESSAGE_LENGTH: '10' });
  const alice = await person(server, 'alice');
  const room = await alice.client.request('create_conversation', { members: [] });
  assert.equal((await alice.client.request('send_message', { conversation_id: room.id, content: '🎉'.repeat(10) })).content, '🎉'.repeat(10), '10 characters, 20 UTF-16 units');
  const { ref: _, ...reply } = await alice.client.call({ type: 'send_message', conversation_id: room.id, content: 'x'.repeat(11) });
  assert.deepEqual(reply, { type: 'send_message', success: false, error: 'message content may be at most 10 characters', code: 'bad_request' });
});

test('a frame over 64 KiB closes the socket with 1009; one at the limit is answered', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const frame = (size: number) => {
    const base = JSON.stringify({ type: 'ping', pad: '' });
    return JSON.stringify({ type: 'ping', pad: 'x'.repeat(size - base.length) });
  };
  const raw = new WebSocket(server.ws, { headers: { cookie: `login-token=${alice.token}` } });
  await new Promise((resolve) => raw.once('open', resolve));
  const answered = new Promise<string>((resolve) => raw.once('message', (data) => resolve(String(data))));
  raw.send(frame(64 * 1024));
  assert.deepEqual(JSON.parse(await answered), { type: 'ping', success: true, data: 'pong' });
  const closed = new Promise<[number, string]>((resolve) => raw.once('close', (code, reason) => resolve([code, String(reason)])));
  raw.send(frame(64 * 1024 + 1));
  assert.deepEqual(await closed, [1009, 'frame too large: the limit is 65536 bytes']);
  assert.equal(await alice.client.request('ping'), 'pong', 'other sockets are unaffected');
});

test('a socket is closed when its session expires, without sending anything', async (t) => {
  const server: TestServer = await startServer(t);
  const alice = await person(server, 'alice');
  const now = Math.floor(Date.now() / 1000);
  const user = await onDatabase(server, async (db) => {
    const found = (await db.prepare<{ id: number }>('SELECT id FROM users WHERE username = $1').get(alice.username))!;
    await db.prepare('INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)').run('short-lived', found.id, now, now + 2);
    return found;
  });
  const token = await new SignJWT({ username: alice.username, sid: 'short-lived' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(String(user.id))
    .setIssuedAt(now)
    .setExpirationTime(now + 2)
    .sign(new TextEncoder().encode(testSecret));
  const client = open(server, `login-token=${token}`);
  await client.opened;
  assert.equal(await client.request('ping'), 'pong');
  assert.deepEqual(await client.closed, { code: 4006, reason: 'session expired: log in again' });
  assert.equal(await alice.client.request('ping'), 'pong', 'sockets of live sessions stay');
});

test('SIGTERM answers what is in flight, closes sockets with 1001 and exits 0', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const room = await alice.client.request('create_conversation', { members: [bob.username] });
  const replies = Array.from({ length: 50 }, (_, i) =>
    alice.client.request('send_message', { conversation_id: room.id, content: `last words ${i}` }).then((message) => message.content, () => undefined),
  );
  await settle(bob.client);
  const exit = server.stop('SIGTERM');
  assert.deepEqual(await alice.client.closed, { code: 1001, reason: 'server shutting down' });
  assert.deepEqual(await bob.client.closed, { code: 1001, reason: 'server shutting down' });
  const timer = setTimeout(() => assert.fail('the server did not exit within 10 s'), 10_000);
  assert.equal(await exit, 0);
  clearTimeout(timer);
  const acked = (await Promise.all(replies)).filter((content) => content !== undefined);
  const stored = new Set(await onDatabase(server, (db) => db.prepare("SELECT content FROM messages WHERE content LIKE 'last words %'").values<string>()));
  assert.ok(acked.length > 0, 'what was in flight was answered before the sockets closed');
  for (const content of acked) assert.ok(stored.has(content), `acknowledged "${content}" is stored`);
});

test('a socket that stops reading is closed with a reason; nobody else misses anything', async (t) => {
  const server = await startServer(t, { MAX_MESSAGE_LENGTH: '60000' });
  const alice = await person(server, 'alice');
  const carol = await person(server, 'carol');
  const bob = await person(server, 'bob');
  const room = await alice.client.request('create_conversation', { members: [bob.username, carol.username] });
  const slow = new WebSocket(server.ws, { headers: { cookie: `login-token=${bob.token}` } });
  await new Promise((resolve) => slow.once('open', resolve));
  const slowClosed = new Promise<[number, string]>((resolve) => slow.once('close', (code, reason) => resolve([code, String(reason)])));
  (slow as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause(); // stops reading from the kernel
  await settle(alice.client);

  const content = 'x'.repeat(60_000);
  let sent = 0;
  const closedLog = server.waitForLog((line) => line.msg === 'closed a socket that reads too slowly' && line.user === bob.username, 30_000);
  let closed = false;
  closedLog.then(() => (closed = true), () => {});
  // About 6 MB/s: enough to fill the kernel's buffers, slow enough for the server's sweep to act before the hard cut.
  while (!closed && sent < 600) {
    await alice.client.request('send_message', { conversation_id: room.id, content });
    sent++;
    await sleep(10);
  }
  await closedLog;
  assert.equal(await alice.client.request('ping'), 'pong', 'the sender is unaffected');
  await settle(carol.client);
  assert.equal(carol.pushes.filter((p) => p.type === 'send_message').length, sent, 'a reading member missed nothing');
  (slow as unknown as { _socket: { resume(): void } })._socket.resume();
  assert.deepEqual(await slowClosed, [4007, 'too slow: more than 1048576 bytes waiting to be read; reconnect']);
});

test('idle sockets are pinged: a live one stays, a dead one is closed', async (t) => {
  const server = await startServer(t, { IDLE_TIMEOUT: '8' });
  const live = await person(server, 'live');
  const dead = await person(server, 'dead');
  const raw = new WebSocket(server.ws, { headers: { cookie: `login-token=${dead.token}` } });
  await new Promise((resolve) => raw.once('open', resolve));
  await new Promise((resolve) => {
    raw.once('message', resolve);
    raw.send('{"type":"ping"}');
  });
  (raw as unknown as { _socket: { pause(): void } })._socket.pause(); // a peer that stops answering, pings included
  const started = Date.now();
  const closedLine = await server.waitForLog((line) => line.msg === 'disconnected' && line.user === dead.username && Date.now() - started > 1000, 30_000);
  assert.equal(typeof closedLine.code, 'number');
  assert.ok(Date.now() - started >= 4_000, 'not before the idle timeout, less uWS timers\' 4-second granularity');
  assert.equal(await live.client.request('ping'), 'pong', 'a socket that answers pings is still open after the timeout');
  raw.terminate();
});
