// Retention: set_retention, and the job that deletes messages older than a conversation's days with their
// files, search entries and logged events, so that neither get_messages, search nor sync shows them again.
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from './helpers/server.ts';
import { expectError, person, pushed, socket as connectTo, syncAll, waitFor, type Person } from './helpers/clients.ts';
import { exchange } from './helpers/bytes.ts';
import { onDatabase } from './helpers/store.ts';
import { testEngine } from './helpers/postgres.ts';
import { messagesPerUnit } from '../src/expire-messages.ts';
import { sleep } from './helpers/wait.ts';

const day = 86_400;
const cookie = (who: Person) => ({ cookie: `login-token=${who.token}` });

/** Moves messages' sent_at `days` back, as if they had been sent then (one statement: a round sees all of them or none). */
const age = (server: TestServer, ids: readonly number[], days: number) =>
  onDatabase(server, (db) => db.prepare({
    sqlite: 'UPDATE messages SET sent_at = sent_at - $1 WHERE id IN (SELECT value FROM json_each($2))',
    postgres: 'UPDATE messages SET sent_at = sent_at - $1 WHERE id = ANY(CAST($2 AS bigint[]))',
  }).run(days * day, db.list(ids)));

async function upload(server: TestServer, who: Person, text: string, name: string): Promise<string> {
  const result = await exchange(server.http, 'POST', `/files?filename=${name}`, { body: text, headers: { ...cookie(who), 'content-type': 'application/octet-stream' } });
  assert.equal(result.status, 201, result.body.toString());
  return (JSON.parse(result.body.toString()) as { id: string }).id;
}

test('set_retention: the owner or an admin sets a conversation\'s days, every member is told and can read them with get_retention; others are refused', async (t) => {
  const server = await startServer(t, { RETENTION_DAYS: '30' });
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const eve = await person(server, 'eve');
  const room = await alice.client.request('create_conversation', { name: 'kept a while', members: [bob.username] });

  const set = await alice.client.request('set_retention', { conversation_id: room.id, days: 7 });
  assert.deepEqual(set, { conversation_id: room.id, days: 7, effective_days: 7, by: alice.username });
  assert.deepEqual((await waitFor(bob.pushes, (push) => push.type === 'set_retention')).data, set);
  const back = await alice.client.request('set_retention', { conversation_id: room.id, days: null });
  assert.deepEqual(back, { conversation_id: room.id, days: null, effective_days: 30, by: alice.username }, 'null follows RETENTION_DAYS');

  await expectError(bob.client, { type: 'set_retention', conversation_id: room.id, days: 1 }, `only the owner or an admin of conversation ${room.id} can change how long it keeps messages`, 'forbidden');
  await alice.client.request('set_member_role', { conversation_id: room.id, username: bob.username, role: 'admin' });
  assert.deepEqual(await bob.client.request('set_retention', { conversation_id: room.id, days: 365 }), { conversation_id: room.id, days: 365, effective_days: 365, by: bob.username });
  await expectError(eve.client, { type: 'set_retention', conversation_id: room.id, days: 1 }, `${eve.username} not part of conversation with ${room.id} id`, 'not_found');
  assert.deepEqual(await bob.client.request('get_retention', { conversation_id: room.id }), { conversation_id: room.id, days: 365, effective_days: 365 }, 'any member reads it');
  await alice.client.request('set_retention', { conversation_id: room.id, days: null });
  assert.deepEqual(await bob.client.request('get_retention', { conversation_id: room.id }), { conversation_id: room.id, days: null, effective_days: 30 });
  await expectError(eve.client, { type: 'get_retention', conversation_id: room.id }, `${eve.username} not part of conversation with ${room.id} id`, 'not_found');
  await expectError(bob.client, { type: 'get_retention', conversation_id: 'one' }, 'expected conversation_id as integer', 'bad_request');
  for (const days of [0, 36501, 1.5, '7', undefined]) {
    await expectError(alice.client, { type: 'set_retention', conversation_id: room.id, days }, 'days must be a whole number from 1 to 36500, or null', 'bad_request');
  }
});

test('the retention job deletes old messages with their files, search entries and logged events; sync replays none of their words', async (t) => {
  const server = await startServer(t, { RETENTION_ROUND_SECONDS: '1' });
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const room = await alice.client.request('create_conversation', { name: 'short memory', members: [bob.username] });
  const file = await upload(server, alice, 'old notes\n', 'notes.txt');
  const first = await alice.client.request('send_message', { conversation_id: room.id, content: 'ancient words alpha', attachments: [file] });
  const second = await alice.client.request('send_message', { conversation_id: room.id, content: 'ancient words beta' });
  await bob.client.request('react', { message_id: second.id, emoji: '👍' });
  await alice.client.request('edit_message', { message_id: second.id, content: 'ancient words gamma' });
  const reply = await bob.client.request('send_message', { conversation_id: room.id, content: 'a newer reply', reply_id: first.id });
  assert.equal(reply.reply_to?.content, 'ancient words alpha');
  assert.deepEqual((await bob.client.request('search_messages', { query: 'ancient' })).messages.map((message) => message.id), [second.id, first.id]);
  // A client that saw everything up to here, and one that saw nothing: both sync after the job.
  const seen = (await syncAll(bob.client)).at(-1)!.seq;

  await alice.client.request('set_retention', { conversation_id: room.id, days: 7 });
  await age(server, [first.id, second.id], 10);
  const expired = await waitFor(bob.pushes, (push) => push.type === 'messages_expired', 10_000);
  assert.deepEqual(expired.data, { conversation_id: room.id, through_id: second.id });
  await server.waitForLog((line) => line.msg === 'deleted expired messages');
  assert.deepEqual(server.logs.filter((line) => line.msg === 'deleted expired messages').map(({ messages, conversations }) => ({ messages, conversations })), [{ messages: 2, conversations: 1 }]);

  const page = await bob.client.request('get_messages', { conversation_id: room.id });
  assert.deepEqual(page.messages.map((message) => [message.id, message.content, message.reply_id, message.reply_to]), [[reply.id, 'a newer reply', null, null]]);
  assert.deepEqual((await bob.client.request('search_messages', { query: 'ancient' })).messages, [], 'gone from the search index');
  assert.deepEqual((await bob.client.request('search_messages', { query: 'newer' })).messages.map((message) => message.id), [reply.id]);
  for (const who of [alice, bob]) assert.equal((await exchange(server.http, 'GET', `/files/${file}`, { headers: cookie(who) })).status, 404, 'the file went with its message');

  const everything = await syncAll(bob.client);
  assert.ok(!JSON.stringify(everything).includes('ancient'), 'sync from 0 replays none of their words');
  const messages = everything.flatMap((event) => ('sent_at' in (event.data as object) ? [(event.data as { id: number }).id] : []));
  assert.ok(!messages.includes(first.id) && !messages.includes(second.id), 'nor any event about them');
  const logged = everything.find((event) => event.type === 'send_message' && (event.data as { id: number }).id === reply.id)!.data as { reply_id: unknown; reply_to: unknown };
  assert.deepEqual([logged.reply_id, logged.reply_to], [null, null], 'the reply is logged as it now reads');
  const since = await bob.client.request('sync', { since: seen, limit: 500 });
  assert.deepEqual(since.events.filter(({ type }) => type !== 'receipt').map(({ type, data }) => ({ type, data })), [
    { type: 'set_retention', data: { conversation_id: room.id, days: 7, effective_days: 7, by: alice.username } },
    { type: 'messages_expired', data: { conversation_id: room.id, through_id: second.id } },
  ], 'a client whose point fell behind the deleted history is told to drop it');
  assert.equal(since.reset, false);

  const rows = await onDatabase(server, async (db) => ({
    files: await db.prepare('SELECT CAST(count(*) AS integer) FROM files WHERE id = $1').value<number>(file),
    reactions: await db.prepare('SELECT CAST(count(*) AS integer) FROM reactions WHERE message_id = $1').value<number>(second.id),
    events: await db.prepare('SELECT CAST(count(*) AS integer) FROM events WHERE message_id IN ($1, $2)').value<number>(first.id, second.id),
  }));
  assert.deepEqual(rows, { files: 0, reactions: 0, events: 0 });
  if (testEngine() === 'sqlite') {
    // An external-content FTS5 index that missed a delete fails its integrity check.
    await onDatabase(server, (db) => db.prepare("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)").run());
  }
});

test('RETENTION_DAYS applies where a conversation set nothing; a conversation\'s own days win; a big backlog goes a bounded unit at a time', async (t) => {
  const server = await startServer(t, { RETENTION_DAYS: '30', RETENTION_ROUND_SECONDS: '1' });
  const alice = await person(server, 'alice');
  // The longer-kept conversation first: a round takes conversations in id order, so it was looked at before the other.
  const kept = await alice.client.request('create_conversation', { name: 'kept longer', members: [] });
  await alice.client.request('set_retention', { conversation_id: kept.id, days: 60 });
  const room = await alice.client.request('create_conversation', { name: 'server default', members: [] });
  const sent: number[] = [];
  for (const conversation of [kept.id, room.id]) sent.push((await alice.client.request('send_message', { conversation_id: conversation, content: 'forty days old' })).id);
  await alice.client.request('send_message', { conversation_id: room.id, content: 'recent' });
  await age(server, sent, 40);

  assert.deepEqual((await waitFor(alice.pushes, (push) => push.type === 'messages_expired', 10_000)).data, { conversation_id: room.id, through_id: sent[1] });
  assert.deepEqual((await alice.client.request('get_messages', { conversation_id: room.id })).messages.map((message) => message.content), ['recent']);
  assert.deepEqual((await alice.client.request('get_messages', { conversation_id: kept.id })).messages.map((message) => message.id), [sent[0]], '60 days of its own keep it');
  await alice.client.request('set_retention', { conversation_id: kept.id, days: null });
  await waitFor(alice.pushes, (push) => push.type === 'messages_expired' && push.data.conversation_id === kept.id, 10_000);
  assert.deepEqual((await alice.client.request('get_messages', { conversation_id: kept.id })).messages, []);

  // 1,200 messages of 100 days ago, written straight into the database.
  const bulk = await alice.client.request('create_conversation', { name: 'backlog', members: [] });
  const aliceId = await onDatabase(server, (db) => db.prepare('SELECT id FROM users WHERE username = $1').value<number>(alice.username));
  await onDatabase(server, (db) => db.prepare({
    sqlite: `WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)
             INSERT INTO messages (conversation_id, sender_id, content, sent_at) SELECT $1, $2, 'bulk ' || i, $3 FROM n`,
    postgres: "INSERT INTO messages (conversation_id, sender_id, content, sent_at) SELECT $1, $2, 'bulk ' || i, $3 FROM generate_series(1, 1200) AS i",
  }).run(bulk.id, aliceId, Math.floor(Date.now() / 1000) - 100 * day));
  const last = await onDatabase(server, (db) => db.prepare('SELECT max(id) FROM messages WHERE conversation_id = $1').value<number>(bulk.id));
  await waitFor(alice.pushes, (push) => push.type === 'messages_expired' && push.data.through_id === Number(last), 20_000);
  const units = pushed(alice.pushes, 'messages_expired').filter((push) => push.conversation_id === bulk.id);
  assert.equal(units.length, Math.ceil(1200 / messagesPerUnit), `${messagesPerUnit} messages a unit`);
  assert.deepEqual(units.map((unit) => unit.through_id - units[0]!.through_id), units.map((_, i) => i * messagesPerUnit), 'oldest first');
  assert.deepEqual(await onDatabase(server, (db) => db.prepare('SELECT CAST(count(*) AS integer) FROM messages WHERE conversation_id = $1').value<number>(bulk.id)), 0);
});

test('a server stopped in the middle of a long round stops cleanly; the next start goes on where it was', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-retention-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = await startServer(t, { RETENTION_DAYS: '30' }, dir);
  const alice = await person(server, 'alice');
  const room = await alice.client.request('create_conversation', { name: 'backlog', members: [] });
  const aliceId = await onDatabase(server, (db) => db.prepare('SELECT id FROM users WHERE username = $1').value<number>(alice.username));
  await onDatabase(server, (db) => db.prepare({
    sqlite: `WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
             INSERT INTO messages (conversation_id, sender_id, content, sent_at) SELECT $1, $2, 'bulk ' || i, $3 FROM n`,
    postgres: "INSERT INTO messages (conversation_id, sender_id, content, sent_at) SELECT $1, $2, 'bulk ' || i, $3 FROM generate_series(1, 100000) AS i",
  }).run(room.id, aliceId, Math.floor(Date.now() / 1000) - 100 * day));
  await server.stop();
  // The round at start takes the backlog a unit at a time; stopped during it, the server ends as it should.
  const again = await startServer(t, { RETENTION_DAYS: '30' }, dir);
  const first = await connectTo(again, alice.token);
  await waitFor(first.pushes, (push) => push.type === 'messages_expired', 10_000);
  assert.equal(await again.stop(), 0);
  assert.deepEqual(again.logs.filter((line) => line.level === 'error'), []);
  const left = await onDatabase(again, (db) => db.prepare('SELECT CAST(count(*) AS integer) FROM messages WHERE conversation_id = $1').value<number>(room.id));
  assert.ok(left! > 0 && left! < 100000, `${left} left`);
  const last = await startServer(t, { RETENTION_DAYS: '30' }, dir);
  await last.waitForLog((line) => line.msg === 'deleted expired messages', 60_000);
  assert.equal(await onDatabase(last, (db) => db.prepare('SELECT CAST(count(*) AS integer) FROM messages WHERE conversation_id = $1').value<number>(room.id)), 0);
});

test('a thread whose root expires before its newer replies keeps the root as an emptied anchor until they go too', async (t) => {
  const server = await startServer(t, { RETENTION_ROUND_SECONDS: '1' });
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const room = await alice.client.request('create_conversation', { name: 'threads age', members: [bob.username] });
  const root = await alice.client.request('send_message', { conversation_id: room.id, content: 'root words long gone' });
  const early = await bob.client.request('send_message', { conversation_id: room.id, content: 'an early answer', thread_id: root.id });
  const late = await bob.client.request('send_message', { conversation_id: room.id, content: 'a late answer', thread_id: root.id });
  await alice.client.request('set_retention', { conversation_id: room.id, days: 7 });
  await age(server, [root.id, early.id], 10);
  await waitFor(bob.pushes, (push) => push.type === 'messages_expired', 10_000);

  // The root is emptied as a deleted message is, and its thread still opens with the reply that is not old yet.
  const thread = await bob.client.request('get_thread', { message_id: root.id });
  assert.deepEqual(thread.messages.map((message) => [message.id, message.content]), [[late.id, 'a late answer']]);
  const kept = await bob.client.request('get_thread', { message_id: late.id });
  assert.deepEqual(kept.messages.map((message) => message.id), [late.id]);
  assert.ok(!JSON.stringify(await syncAll(bob.client)).includes('root words long gone'), 'sync replays none of the root\'s words');
  assert.ok(!JSON.stringify(await bob.client.request('get_messages', { conversation_id: room.id })).includes('root words long gone'));

  // Once the late reply is old too, both go, and the next rounds have nothing left to do.
  const before = pushed(bob.pushes, 'messages_expired').length;
  await age(server, [late.id], 10);
  await waitFor(bob.pushes, () => pushed(bob.pushes, 'messages_expired').length > before, 10_000);
  const left = () => onDatabase(server, async (db) => Number(await db.prepare('SELECT count(*) AS n FROM messages WHERE conversation_id = $1').value(room.id)));
  for (const deadline = Date.now() + 10_000; (await left()) > 0; await sleep(100)) assert.ok(Date.now() < deadline, 'the emptied root goes once its thread has no reply left');
});
