// Exports: request_export builds a zip in the background, export_ready says where it is, and only its owner
// downloads it, once; an admin may export one conversation.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { inflateRawSync } from 'node:zlib';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastLines, startServer, type TestServer } from './helpers/server.ts';
import { expectError, password, person, pushed, socket, syncAll, waitFor, type Person } from './helpers/clients.ts';
import { exchange } from './helpers/bytes.ts';
import { onDatabase } from './helpers/store.ts';
import { sleep, until } from './helpers/wait.ts';
import type { Client } from '../protocol/client.ts';

const cookie = (who: Person) => ({ cookie: `login-token=${who.token}` });

/** A zip's entries by name, read from its central directory. */
function unzip(zip: Buffer): Map<string, Buffer> {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extra = zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString();
    const data = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(data, data + size);
    entries.set(name, method === 8 ? inflateRawSync(raw) : raw);
    at += 46 + nameLength + extra;
  }
  return entries;
}

async function upload(server: TestServer, who: Person, text: string, name: string): Promise<string> {
  const result = await exchange(server.http, 'POST', `/files?filename=${name}`, { body: text, headers: { ...cookie(who), 'content-type': 'application/octet-stream' } });
  assert.equal(result.status, 201, result.body.toString());
  return (JSON.parse(result.body.toString()) as { id: string }).id;
}

const lines = (entry: Buffer | undefined) => entry!.toString().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);

test('request_export: a zip of your own data, built in the background, downloaded once by you alone', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  await alice.client.request('add_contact', { contact_username: bob.username });
  const room = await alice.client.request('create_conversation', { name: 'plans', members: [bob.username] });
  const file = await upload(server, alice, 'my notes\n', 'notes.txt');
  const sent = await alice.client.request('send_message', { conversation_id: room.id, content: 'with notes', attachments: [file] });
  await bob.client.request('send_message', { conversation_id: room.id, content: 'bob says hi' });
  await alice.client.request('send_message', { conversation_id: room.id, content: 'second thought' });

  const { export_id: id } = await alice.client.request('request_export');
  assert.match(id, /^[0-9a-f]{32}$/);
  const ready = (await waitFor(alice.pushes, (push) => push.type === 'export_ready', 10_000)).data as { export_id: string; url: string; size: number; expires_at: number };
  assert.deepEqual([ready.export_id, ready.url], [id, `/exports/${id}`]);
  assert.ok(ready.expires_at > Date.now() / 1000 + 23 * 3600);
  assert.deepEqual(bob.pushes.filter((push) => push.type === 'export_ready'), [], 'only its owner is told');

  assert.deepEqual((await exchange(server.http, 'GET', ready.url)).status, 401);
  const stranger = await exchange(server.http, 'GET', ready.url, { headers: cookie(bob) });
  assert.deepEqual([stranger.status, stranger.body.toString()], [404, 'export not found'], 'someone else\'s export looks like none');
  const got = await exchange(server.http, 'GET', ready.url, { headers: cookie(alice) });
  assert.equal(got.status, 200);
  assert.equal(got.headers['content-type'], 'application/zip');
  assert.equal(got.body.length, ready.size);
  const zip = unzip(got.body);
  assert.deepEqual([...zip.keys()].sort(), ['contacts.json', 'export.json', `files/${file}/notes.txt`, 'messages.jsonl', 'profile.json', 'sessions.json']);
  assert.equal(JSON.parse(zip.get('profile.json')!.toString()).username, alice.username);
  assert.deepEqual(JSON.parse(zip.get('contacts.json')!.toString()), [{ username: bob.username, fullname: `Full ${bob.username}` }]);
  assert.ok(JSON.parse(zip.get('sessions.json')!.toString()).length >= 1);
  assert.deepEqual(lines(zip.get('messages.jsonl')).map((message) => [message.content, message.attachments, message.conversation]), [['with notes', [file], 'plans'], ['second thought', [], 'plans']], 'her messages only');
  assert.equal(lines(zip.get('messages.jsonl'))[0]!.id, sent.id);
  assert.equal(zip.get(`files/${file}/notes.txt`)!.toString(), 'my notes\n');

  const again = await exchange(server.http, 'GET', ready.url, { headers: cookie(alice) });
  assert.deepEqual([again.status, again.body.toString()], [404, 'export not found'], 'downloaded once');
  assert.ok(server.logs.some((line) => line.msg === 'export downloaded' && line.export === id && line.user === alice.username));
});

test('request_export with conversation_id: admins export one conversation; others are refused', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const room = await alice.client.request('create_conversation', { name: 'audited', members: [bob.username] });
  await alice.client.request('send_message', { conversation_id: room.id, content: 'from alice' });
  await bob.client.request('send_message', { conversation_id: room.id, content: 'from bob' });
  await expectError(alice.client, { type: 'request_export', conversation_id: room.id }, 'only admins can use request_export with conversation_id', 'forbidden');

  await onDatabase(server, (db) => db.prepare("UPDATE users SET role = 'admin' WHERE username = $1").run(alice.username));
  await expectError(alice.client, { type: 'request_export', conversation_id: 987_654 }, 'no conversation 987654', 'not_found');
  // One export of yours at a time: one still being built (here, one whose node stopped before it was ready) holds up the next.
  await onDatabase(server, (db) => db.prepare('INSERT INTO exports (id, user_id, requested_at, expires_at, building_until) SELECT $1, id, $2, $3, $3 FROM users WHERE username = $4')
    .run('0'.repeat(32), Math.floor(Date.now() / 1000), Math.floor(Date.now() / 1000) + 60, alice.username));
  await expectError(alice.client, { type: 'request_export', conversation_id: room.id }, 'an export of yours is being built: wait for export_ready', 'conflict');
  await onDatabase(server, (db) => db.prepare('DELETE FROM exports WHERE id = $1').run('0'.repeat(32)));
  const { export_id: id } = await alice.client.request('request_export', { conversation_id: room.id });
  const ready = (await waitFor(alice.pushes, (push) => push.type === 'export_ready', 10_000)).data as { url: string };
  const zip = unzip((await exchange(server.http, 'GET', ready.url, { headers: cookie(alice) })).body);
  assert.deepEqual([...zip.keys()].sort(), ['export.json', 'members.json', 'messages.jsonl']);
  assert.deepEqual(JSON.parse(zip.get('members.json')!.toString()), [alice.username, bob.username]);
  assert.deepEqual(lines(zip.get('messages.jsonl')).map((message) => [message.sender, message.content]), [[alice.username, 'from alice'], [bob.username, 'from bob']]);
  assert.ok(server.logs.some((line) => line.msg === 'export requested' && line.export === id && line.conversation === room.id));
});

test('deleting an account takes its exports: a zip not fetched goes in the sweep', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-export-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = await startServer(t, {}, dir);
  const alice = await person(server, 'alice');
  const { export_id: id } = await alice.client.request('request_export');
  await waitFor(alice.pushes, (push) => push.type === 'export_ready', 10_000);
  const folder = join(dir, 'files', 'exports');
  assert.deepEqual(readdirSync(folder), [`${id}.zip`]);
  await alice.client.request('delete_account', { password });
  await server.stop();
  // The sweep's round at start.
  const again = await startServer(t, {}, dir);
  await until(() => readdirSync(folder), () => readdirSync(folder).length === 0);
  assert.equal(await onDatabase(again, (db) => db.prepare('SELECT CAST(count(*) AS integer) FROM exports').value<number>()), 0);
});

/** A logged event of this type, by sync: it may have been pushed before the socket opened. */
async function logged(client: Client, type: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await syncAll(client)).find((event) => event.type === type);
    if (found) return found.data as Record<string, unknown>;
    assert.ok(Date.now() < deadline, `no ${type} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * Writes `count` messages of the user's into the conversation straight into the database, then has the
 * engine look at the table again, as it would by itself after so many writes in time (PostgreSQL's
 * autovacuum): a page of them read with a plan made for an empty table costs a sort of all of them.
 */
const seedMessages = async (server: TestServer, conversationId: number, username: string, count: number) => {
  await onDatabase(server, (db) => db.prepare({
    sqlite: `WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $3)
             INSERT INTO messages (conversation_id, sender_id, content, sent_at) SELECT $1, (SELECT id FROM users WHERE username = $2), 'a message of the backlog, number ' || i, $4 FROM n`,
    postgres: "INSERT INTO messages (conversation_id, sender_id, content, sent_at) SELECT $1, (SELECT id FROM users WHERE username = $2), 'a message of the backlog, number ' || i, $4 FROM generate_series(1, CAST($3 AS integer)) AS i",
  }).run(conversationId, username, count, Math.floor(Date.now() / 1000)));
  await onDatabase(server, (db) => db.prepare('ANALYZE messages').run());
};

/** Enough messages that their export takes about 2 s to build (500 a page, each page a unit of work), so that a stop lands in the middle of it. */
const backlog = 200_000;

/** A server in a folder of its own (kept for the next start), alice's backlog in it, and her export's zip being written. */
async function exportUnderWay(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-export-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = await startServer(t, {}, dir);
  const alice = await person(server, 'alice');
  const room = await alice.client.request('create_conversation', { name: 'backlog', members: [] });
  await seedMessages(server, room.id, alice.username, backlog);
  const folder = join(dir, 'files', 'exports');
  const { export_id: id } = await alice.client.request('request_export');
  await until('the zip being written', () => existsSync(join(folder, `${id}.zip.part`)), 30_000);
  return { dir, server, alice, folder, id };
}

test('an export under way when its server is killed is built again at the next start: its owner still gets export_ready', async (t) => {
  const { dir, server, alice, folder, id } = await exportUnderWay(t);
  const count = backlog;
  assert.equal(await server.stop('SIGKILL'), 'SIGKILL');
  assert.ok(!existsSync(join(folder, `${id}.zip`)), 'killed before the zip was done');
  assert.deepEqual(pushed(alice.pushes, 'export_ready'), []);

  const again = await startServer(t, {}, dir);
  const { client } = await socket(again, alice.token);
  const ready = await logged(client, 'export_ready').catch((error: Error) => assert.fail(`${error.message}\n${lastLines(again)}`));
  assert.equal(ready.export_id, id);
  const resumed = again.logs.find((line) => line.msg === 'export resumed');
  assert.deepEqual([resumed?.export, resumed?.attempt], [id, 2]);
  const got = await exchange(again.http, 'GET', ready.url as string, { headers: cookie(alice) });
  assert.equal(got.status, 200);
  assert.equal(got.body.length, ready.size);
  const messages = lines(unzip(got.body).get('messages.jsonl'));
  assert.equal(messages.length, count, 'the whole export, not the part written before the kill');
  assert.equal(messages.at(-1)!.content, `a message of the backlog, number ${count}`);
  await until('the zip removed once sent, no partial one left behind', () => readdirSync(folder).length === 0);
});

test('an export stopped mid-build (SIGTERM) is handed on at once; one interrupted too often is given up with export_failed', async (t) => {
  const { dir, server, alice, folder, id } = await exportUnderWay(t);
  // A clean stop gives up the build's lease: the next server, alone or in a cluster, takes it up at once.
  assert.equal(await server.stop(), 0, lastLines(server));
  assert.ok(server.logs.some((line) => line.msg === 'export interrupted by the stop' && line.export === id));
  assert.deepEqual(server.logs.filter((line) => line.level === 'error'), []);
  const [row] = await onDatabase(server, (db) => db.prepare<{ building_until: number | null; attempts: number }>('SELECT building_until, attempts FROM exports WHERE id = $1').all(id));
  assert.deepEqual(row, { building_until: null, attempts: 1 });

  // As if it had been interrupted twice more: the next start gives it up rather than build it a fourth time.
  await onDatabase(server, (db) => db.prepare('UPDATE exports SET attempts = 3 WHERE id = $1').run(id));
  const again = await startServer(t, {}, dir);
  const { client } = await socket(again, alice.token);
  assert.deepEqual(await logged(client, 'export_failed'), { export_id: id, reason: 'the export was interrupted too often: ask again' });
  assert.ok(again.logs.some((line) => line.msg === 'export given up' && line.export === id && line.attempts === 3));
  assert.equal(await onDatabase(again, (db) => db.prepare('SELECT CAST(count(*) AS integer) FROM exports').value<number>()), 0);
  await until('the partial zip removed', () => readdirSync(folder).length === 0);
  // Not under way any more: she may ask again.
  assert.match((await client.request('request_export')).export_id, /^[0-9a-f]{32}$/);
});
