// The event log: a member who was away syncs and ends with exactly the state of a member who stayed.
import { test } from 'node:test';
import { onDatabase } from './helpers/store.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './helpers/server.ts';
import WebSocket from 'ws';
import { connect, person, settle, syncAll as syncEvents } from './helpers/clients.ts';
import type { Client } from '../protocol/client.ts';

type Synced = { type: string; success: true; data: unknown; seq: number };

const syncAll = async (client: Client, since: number) => (await syncEvents(client, since)) as Synced[];

type Message = { id: number; conversation_id?: number; content: string; reply_to: { id: number; content: string; deleted: boolean } | null } & Record<string, unknown>;
type State = { messages: Map<number, Message>; name: string; members: string[]; roles: Map<string, string>; conversations: Set<number> };

/** What a client keeps of a conversation, applying each event as an SPA would. */
function apply(state: State, room: number, { type, data }: { type: string; data: unknown }): void {
  const event = data as Record<string, unknown> & { conversation_id?: number };
  if (type === 'create_conversation') state.conversations.add((event as { id: number }).id);
  if (event.conversation_id !== room && (event.conversation as { id?: number } | undefined)?.id !== room) return;
  switch (type) {
    case 'send_message':
    case 'edit_message':
    case 'delete_message':
    case 'react':
    case 'unreact': {
      const { conversation_id: _, ...message } = event as unknown as Message;
      state.messages.set(message.id, message as Message);
      // Replies preview the message they answer: keep the previews in step.
      for (const other of state.messages.values()) {
        if (other.reply_to?.id !== message.id) continue;
        other.reply_to = { ...other.reply_to, content: [...message.content].slice(0, 100).join(''), deleted: message.deleted as boolean };
      }
      break;
    }
    case 'update_conversation':
      state.name = event.name as string;
      break;
    case 'add_members':
    case 'join_channel':
      state.members = (event.conversation as { members: string[] }).members;
      break;
    case 'remove_member':
    case 'leave_conversation':
    case 'ban_member':
      state.members = state.members.filter((username) => username !== event.username);
      break;
    case 'set_member_role':
      state.roles.set(event.username as string, event.role as string);
      break;
  }
}

test('a member who was away syncs to exactly the state of a member who stayed', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const carol = await person(server, 'carol');
  const dave = await person(server, 'dave');
  const room = await alice.client.request('create_conversation', { name: 'room', members: [bob.username, carol.username] });
  await alice.client.request('send_message', { conversation_id: room.id, content: 'before' });

  // Carol stays connected; her socket's frames are what she ends up with.
  const carolFrames: Synced[] = [];
  const carolSocket = new WebSocket(server.ws, { headers: { cookie: `login-token=${carol.token}` } });
  await new Promise((resolve) => carolSocket.once('open', resolve));
  // In once its ping is answered (its token checked, its conversations subscribed): from then on it misses nothing.
  await new Promise((resolve) => {
    carolSocket.once('message', resolve);
    carolSocket.send('{"type":"ping"}');
  });
  carolSocket.on('message', (data) => carolFrames.push(JSON.parse(String(data)) as Synced));
  await settle(alice.client, bob.client);
  const since = ((await bob.client.request('sync', { since: 0 })).events as Synced[]).at(-1)!.seq;
  const baseline = (): State => ({ messages: new Map(), name: 'room', members: [alice.username, bob.username, carol.username], roles: new Map(), conversations: new Set([room.id]) });
  const bobState = baseline();
  const carolState = baseline();
  for (const message of (await bob.client.request('get_messages', { conversation_id: room.id })).messages) {
    bobState.messages.set(message.id, { ...message });
    carolState.messages.set(message.id, { ...message });
  }
  bob.client.close();
  await bob.client.closed;

  const sent: number[] = [];
  for (let i = 0; i < 500; i++) sent.push((await alice.client.request('send_message', { conversation_id: room.id, content: `while away ${i}`, reply_id: i % 50 === 7 ? sent[i - 1] : null })).id);
  for (let i = 0; i < 10; i++) await alice.client.request('edit_message', { message_id: sent[i * 40]!, content: `edited ${i}` });
  await alice.client.request('add_members', { conversation_id: room.id, members: [dave.username] });
  for (let i = 0; i < 10; i++) await dave.client.request('react', { message_id: sent[i * 30]!, emoji: i % 2 ? '👍' : '🎉' });
  await alice.client.request('react', { message_id: sent[0]!, emoji: '👍' });
  await dave.client.request('unreact', { message_id: sent[30]!, emoji: '👍' });
  for (const index of [0, 6, 56, 120, 499]) await alice.client.request('delete_message', { message_id: sent[index]! });
  await alice.client.request('update_conversation', { conversation_id: room.id, name: 'renamed room', description: 'now with dave' });
  await alice.client.request('set_member_role', { conversation_id: room.id, username: carol.username, role: 'admin' });
  await dave.client.request('send_message', { conversation_id: room.id, content: 'hi from dave' });
  await carol.client.request('remove_member', { conversation_id: room.id, username: dave.username });
  await alice.client.request('send_message', { conversation_id: room.id, content: 'replying to a deleted one', reply_id: sent[56]! });
  const second = await alice.client.request('create_conversation', { name: 'second', members: [bob.username, carol.username] });
  await alice.client.request('send_message', { conversation_id: second.id, content: 'in the second room' });
  await alice.client.request('add_contact', { contact_username: bob.username });
  await new Promise((resolve) => {
    carolSocket.on('message', (data) => String(data).includes('"pong"') && resolve(undefined));
    carolSocket.send('{"type":"ping"}');
  });
  carolSocket.close();
  const logged = (frames: Synced[]) => frames.filter((frame) => typeof frame.seq === 'number' && frame.seq > since && frame.type !== 'receipt');
  const pushed = logged(carolFrames);

  const back = await connect(server, bob.token);
  const missed = await syncAll(back, since);
  const seqs = missed.map((event) => event.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in seq order');
  const shared = logged(missed).filter((event) => event.type !== 'contact_added');
  assert.deepEqual(shared.map((event) => [event.seq, event.type]), pushed.map((frame) => [frame.seq, frame.type]), 'the same events, seq for seq');
  const deleted = new Set([0, 6, 56, 120, 499].map((index) => sent[index]!));
  const edited = new Map(Array.from({ length: 10 }, (_, i) => [sent[i * 40]!, `edited ${i}`]));
  const changedLater = (id: number) => deleted.has(id) || edited.has(id);
  const untouched = (event: Synced) => {
    const message = event.data as Message;
    return !('content' in message) || (!changedLater(message.id) && !changedLater(message.reply_to?.id ?? 0));
  };
  assert.deepEqual(shared.filter(untouched), pushed.filter(untouched), 'the same envelopes, except that deleted and edited messages (and previews of them) show only what they became');
  const scrubbed = shared.filter((entry) => !untouched(entry));
  assert.ok(scrubbed.length > 15);
  for (const event of scrubbed) {
    const message = event.data as Message;
    if (deleted.has(message.id)) assert.equal(message.content, '', `a deleted message's content is not replayed: ${JSON.stringify(event)}`);
    else if (edited.has(message.id)) assert.equal(message.content, edited.get(message.id), `a message's words before its edit are not replayed: ${JSON.stringify(event)}`);
    else assert.equal(message.reply_to?.content, deleted.has(message.reply_to!.id) ? '' : edited.get(message.reply_to!.id), 'previews too');
  }

  for (const event of pushed) apply(carolState, room.id, event);
  for (const event of missed) apply(bobState, room.id, event);
  assert.deepEqual(bobState, carolState, 'the same state as the member who stayed');
  const current: Message[] = [];
  for (let after = 0; ;) {
    const page = await back.request('get_messages', { conversation_id: room.id, after, limit: 100 });
    current.push(...(page.messages as Message[]));
    if (page.messages.length < 100) break;
    after = page.messages.at(-1)!.id;
  }
  assert.deepEqual([...bobState.messages.values()].sort((a, b) => a.id - b.id), current, 'and the state the server holds');
  const info = await back.request('get_conversation_info', { id: room.id });
  assert.deepEqual([bobState.name, bobState.members], [info.name, info.members]);
  assert.deepEqual([...bobState.roles], [[carol.username, 'admin']]);
  assert.ok(bobState.conversations.has(second.id));
  assert.equal(missed.filter((event) => event.type === 'contact_added').length, 1);
  // Nothing more, but receipts: bob's own fetching moves his delivered point, and those come in later.
  const again = await back.request('sync', { since: seqs.at(-1)! });
  assert.deepEqual([again.events.filter((event) => event.type !== 'receipt'), again.has_more], [[], false], 'nothing more');

  // Dave, added and removed while bob was away, syncs from his joining through his removal only.
  const daves = await syncAll(dave.client, 0);
  const inRoom = daves.filter((event) => (event.data as { conversation_id?: number }).conversation_id === room.id || (event.data as { conversation?: { id: number } }).conversation?.id === room.id);
  assert.equal(inRoom[0]!.type, 'add_members');
  assert.equal(inRoom.at(-1)!.type, 'remove_member');
  assert.ok(!inRoom.some((event) => JSON.stringify(event.data).includes('replying to a deleted one')));
  assert.ok(!inRoom.some((event) => (event.data as { content?: string }).content === 'before'), 'nothing from before he joined');
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
  await onDatabase(first, (db) => db.prepare('UPDATE events SET created_at = 1').run()); // as if written long ago

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
