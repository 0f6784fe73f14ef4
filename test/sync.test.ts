// The event log: a member who was away syncs and ends with exactly what a connected member saw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './helpers/server.ts';
import WebSocket from 'ws';
import { connect, person, settle } from './helpers/clients.ts';
import type { Client } from '../protocol/client.ts';

type Synced = { type: string; success: true; data: unknown; seq: number };

/** Every event after `since`, page by page. */
async function syncAll(client: Client, since: number, limit = 100): Promise<Synced[]> {
  const all: Synced[] = [];
  for (;;) {
    const page = await client.request('sync', { since, limit });
    assert.equal(page.reset, false);
    all.push(...(page.events as Synced[]));
    since = page.next;
    if (!page.has_more) return all;
  }
}

test('a member who was away syncs to exactly what a connected member received', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const carol = await person(server, 'carol');
  const room = await alice.client.request('create_conversation', { name: 'room', members: [bob.username, carol.username] });
  await alice.client.request('send_message', { conversation_id: room.id, content: 'before' });
  const since = ((await bob.client.request('sync', { since: 0 })).events as Synced[]).at(-1)!.seq;
  bob.client.close();
  await bob.client.closed;

  // Carol stays connected; her socket's frames are what bob must end up with.
  const carolFrames: Synced[] = [];
  const carolSocket = new WebSocket(server.ws, { headers: { cookie: `login-token=${carol.token}` } });
  carolSocket.on('message', (data) => carolFrames.push(JSON.parse(String(data)) as Synced));
  await new Promise((resolve) => carolSocket.once('open', resolve));
  for (let i = 0; i < 500; i++) await alice.client.request('send_message', { conversation_id: room.id, content: `while away ${i}` });
  const second = await alice.client.request('create_conversation', { name: 'second', members: [bob.username, carol.username] });
  await alice.client.request('send_message', { conversation_id: second.id, content: 'in the second room' });
  await alice.client.request('add_contact', { contact_username: bob.username });
  await new Promise((resolve) => {
    carolSocket.on('message', (data) => String(data).includes('"pong"') && resolve(undefined));
    carolSocket.send('{"type":"ping"}');
  });
  const pushed = carolFrames.filter((frame) => frame.type !== 'ping');

  const back = await connect(server, bob.token);
  const missed = await syncAll(back, since);
  const shared = missed.filter((event) => event.type !== 'contact_added');
  assert.equal(shared.length, 502, 'every message and the new conversation');
  assert.deepEqual(shared, pushed, 'the same envelopes, seq included, in the same order');
  const seqs = missed.map((event) => event.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in seq order');
  assert.ok(seqs[0]! > since);
  const contact = missed.find((event) => event.type === 'contact_added');
  assert.equal((contact?.data as { contact: { username: string } }).contact.username, alice.username);
  const again = await back.request('sync', { since: seqs.at(-1)! });
  assert.deepEqual([again.events, again.has_more, again.next], [[], false, seqs.at(-1)], 'nothing more');
  carolSocket.close();

  // Someone who joins later sees their conversations from their creation on, and nothing else.
  const dave = await person(server, 'dave');
  const third = await alice.client.request('create_conversation', { name: 'third', members: [dave.username] });
  await alice.client.request('send_message', { conversation_id: room.id, content: 'not for dave' });
  const daves = await syncAll(dave.client, 0);
  assert.deepEqual(daves.map((event) => event.type), ['create_conversation']);
  assert.equal((daves[0]!.data as { id: number }).id, third.id);
});

test('pushes and replies carry the seq that sync replays', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const room = await alice.client.request('create_conversation', { members: [bob.username] });
  const reply = await alice.client.call({ type: 'send_message', conversation_id: room.id, content: 'hello' });
  await settle(bob.client);
  const replayed = (await bob.client.request('sync', { since: 0 })).events as Synced[];
  const message = replayed.find((event) => event.type === 'send_message')!;
  assert.equal((reply as { seq?: number }).seq, message.seq, "the sender's reply has the event's seq");
  assert.deepEqual(message.data, (reply as { data: unknown }).data);
});

test('sync says reset when the log no longer reaches back that far', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-prune-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startServer(t, {}, dir);
  const alice = await person(first, 'alice');
  const room = await alice.client.request('create_conversation', { members: [] });
  await alice.client.request('send_message', { conversation_id: room.id, content: 'old news' });
  await first.stop();
  const db = new Database(first.dbPath);
  db.prepare('UPDATE events SET created_at = 1').run(); // as if written long ago
  db.close();

  const second = await startServer(t, { EVENT_LOG_DAYS: '30' }, dir);
  await second.waitForLog((line) => line.msg === 'pruned the event log');
  const client = await connect(second, alice.token);
  const stale = await client.request('sync', { since: 0 });
  assert.deepEqual([stale.reset, stale.events, stale.has_more], [true, [], false]);
  await client.request('send_message', { conversation_id: room.id, content: 'fresh' });
  const fresh = await client.request('sync', { since: stale.next });
  assert.deepEqual([fresh.reset, fresh.events.map((event) => (event.data as { content: string }).content)], [false, ['fresh']]);
});

test('sync validates since and limit', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  for (const [frame, error] of [
    [{ type: 'sync' }, 'since must be a whole number: the last seq you saw, or 0'],
    [{ type: 'sync', since: -1 }, 'since must be a whole number: the last seq you saw, or 0'],
    [{ type: 'sync', since: 'x' }, 'since must be a whole number: the last seq you saw, or 0'],
    [{ type: 'sync', since: 0, limit: 0 }, 'limit must be a whole number from 1 to 500'],
    [{ type: 'sync', since: 0, limit: 501 }, 'limit must be a whole number from 1 to 500'],
  ] as const) {
    const { ref: _, ...reply } = await alice.client.call(frame);
    assert.deepEqual(reply, { type: 'sync', success: false, error, code: 'bad_request' }, JSON.stringify(frame));
  }
});
