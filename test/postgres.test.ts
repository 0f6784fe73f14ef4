// The PostgreSQL engine's own machinery: a bad DATABASE_URL, migrations under a lock with servers
// starting together, a newer schema refused, PostgreSQL going away and coming back under a stream of
// sends, and copy-to-postgres equal on every table. Each test makes its own databases (or its own
// cluster) on the run's throwaway PostgreSQL; `npm test` runs this file once.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { errors } from '../protocol/index.ts';
import { RequestError } from '../protocol/client.ts';
import { built } from './helpers/built.ts';
import { freePort, lastLines, runServerExpectingExit, startServer, testSecret, type TestServer } from './helpers/server.ts';
import { connect, login, password, person, register, uniqueName } from './helpers/clients.ts';
import { http, tokenFrom } from './helpers/http.ts';
import { needs } from './helpers/installed.ts';
import { createDatabase, postgresCluster, testDatabase } from './helpers/postgres.ts';
import { answered, sleep } from './helpers/wait.ts';

const available = (t: TestContext) => process.env.PARLEY_TEST_POSTGRES !== undefined || needs(t, 'postgres');

/** A server on PostgreSQL at `url`, its data folder (JWT secret and such) in a temporary folder of its own. */
function onPostgres(t: TestContext, url: string, env: Record<string, string> = {}): Promise<TestServer> {
  const home = mkdtempSync(join(tmpdir(), 'parley-pg-home-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  return startServer(t, { DATABASE_URL: url, DBPATH: join(home, 'parley.db'), ...env }, home);
}

/** Runs `work` with a connection to `url`, closed after. */
async function withSql<T>(url: string, work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, types: { bigint: postgres.BigInt } });
  try {
    return await work(sql);
  } finally {
    await sql.end();
  }
}

test('a DATABASE_URL that does not lead to a database stops the start with a message naming it, password hidden', async (t) => {
  if (!available(t)) return;
  const home = mkdtempSync(join(tmpdir(), 'parley-pg-bad-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const start = (url: string) => runServerExpectingExit({ DATABASE_URL: url, DBPATH: join(home, 'parley.db'), JWTSECRET: testSecret });

  const port = await freePort();
  const refused = await start(`postgres://parley:hunter2@127.0.0.1:${port}/parley`);
  assert.equal(refused.code, 1);
  assert.match(refused.output, new RegExp(`DATABASE_URL=postgres://parley:\\*\\*\\*@127\\.0\\.0\\.1:${port}/parley: cannot connect \\(.*ECONNREFUSED.*\\): is PostgreSQL running there\\?`));
  assert.doesNotMatch(refused.output, /hunter2/, 'the password is never printed');

  const good = new URL(await testDatabase(t));
  const wrongPassword = new URL(good);
  wrongPassword.password = 'not-the-password';
  const denied = await start(wrongPassword.toString());
  assert.equal(denied.code, 1);
  assert.match(denied.output, /DATABASE_URL=postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/parley_test_\w+: cannot connect \(28P01: password authentication failed for user "postgres"\)/);

  const missingDatabase = new URL(good);
  missingDatabase.pathname = '/no_such_database';
  const absent = await start(missingDatabase.toString());
  assert.equal(absent.code, 1);
  assert.match(absent.output, /no_such_database: cannot connect \(3D000: database "no_such_database" does not exist\)/);

  const notPostgres = await start('mysql://root@localhost/parley');
  assert.equal(notPostgres.code, 1);
  assert.match(notPostgres.output, /DATABASE_URL must be a postgres:\/\/ URL, such as postgres:\/\/parley:secret@localhost:5432\/parley/);
});

test('servers starting together on an empty database migrate it once, under a lock; a newer schema is refused', async (t) => {
  if (!available(t)) return;
  const url = await testDatabase(t);
  const servers = await Promise.all([onPostgres(t, url), onPostgres(t, url), onPostgres(t, url)]);
  const created = servers.map((server) => server.logs.filter((line) => line.msg === 'created the database schema').length);
  assert.equal(created.filter((count) => count > 0).length, 1, `one server created the schema: ${created.join(', ')}`);
  const versions = await withSql(url, (sql) => sql`SELECT id, version FROM schema_version`);
  assert.equal(versions.length, 1);

  // One server, seen from each: an account made on the first logs in on the others.
  const username = uniqueName('shared');
  await register(servers[0]!, username);
  for (const server of servers.slice(1)) assert.equal(await (await connect(server, await login(server, username))).request('ping'), 'pong');
  for (const server of servers) await server.stop();

  await withSql(url, (sql) => sql`UPDATE schema_version SET version = version + 1`);
  const home = mkdtempSync(join(tmpdir(), 'parley-pg-newer-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const newer = await runServerExpectingExit({ DATABASE_URL: url, DBPATH: join(home, 'parley.db'), JWTSECRET: testSecret });
  assert.equal(newer.code, 1);
  const known = Number(versions[0]!.version);
  assert.match(newer.output, new RegExp(`the database is at schema version ${known + 1}, newer than this Parley knows \\(${known}\\): a newer Parley upgraded it`));
});

test('PostgreSQL stopped and started again under a stream of sends: unavailable meanwhile, each message stored once', async (t) => {
  if (!available(t)) return;
  const cluster = await postgresCluster(t); // its own: this test stops it
  const url = await createDatabase(cluster.url);
  const server = await onPostgres(t, url);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const room = await alice.client.request('create_conversation', { name: 'through an outage', members: [bob.username] });

  const total = 300;
  const refusals: string[] = [];
  let outage: Promise<void> | undefined;
  let duringOutage: { login: number; loginBody: string; ready: number } | undefined;
  for (let i = 0; i < total; i++) {
    if (i === 100) {
      // A crash of PostgreSQL (not a clean stop), back after a while; sends go on meanwhile.
      await cluster.stop('immediate');
      const login = await http(server.http, 'POST', '/auth/login', { body: { username: alice.username, password } });
      const ready = await http(server.http, 'GET', '/readyz');
      duringOutage = { login: login.status, loginBody: login.body, ready: ready.status };
      outage = new Promise((resolve, reject) => setTimeout(() => cluster.start().then(resolve, reject), 1500));
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await answered(alice.client.request('send_message', { conversation_id: room.id, content: `message ${i}`, client_id: `stream-${i}` }), () => `message ${i}; the server's last lines:\n${lastLines(server)}`);
        break;
      } catch (error) {
        assert.ok(error instanceof RequestError, String(error));
        assert.equal(error.code, 'unavailable', error.message);
        refusals.push(error.message);
        assert.ok(attempt < 200, 'service came back within 20 s');
        await sleep(100);
      }
    }
  }
  await outage;
  assert.ok(refusals.length > 0, 'sends during the outage were refused');
  assert.deepEqual(new Set(refusals), new Set([errors.unavailable.text]));
  assert.deepEqual(duringOutage, { login: 503, loginBody: errors.unavailable.text, ready: 503 });

  const stored = await withSql(url, (sql) => sql<{ content: string; n: number }[]>`SELECT content, count(*)::int AS n FROM messages WHERE conversation_id = ${room.id} GROUP BY content`);
  assert.equal(stored.length, total, 'every message is stored');
  assert.deepEqual(stored.filter((row) => row.n !== 1), [], 'and each once');
  // Bob, connected throughout, can page through exactly those; a new login works again.
  const seen = new Set<string>();
  let before: number | undefined;
  for (;;) {
    const page = await bob.client.request('get_messages', { conversation_id: room.id, limit: 100, ...(before ? { before } : {}) });
    for (const message of page.messages) seen.add(message.content);
    if (page.messages.length < 100) break;
    before = page.messages.at(-1)!.id;
  }
  assert.equal(seen.size, total);
  const again = await http(server.http, 'POST', '/auth/login', { body: { username: alice.username, password } });
  assert.equal(again.status, 202);
  assert.equal(await (await connect(server, tokenFrom(again))).request('ping'), 'pong');
  assert.equal((await http(server.http, 'GET', '/readyz')).status, 200);
});

test('copy-to-postgres copies every table of a SQLite database, row for row, and Parley goes on from there', async (t) => {
  if (!available(t)) return;
  const home = mkdtempSync(join(tmpdir(), 'parley-copy-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const sqlite = await startServer(t, { DATABASE_URL: '' }, home);
  const alice = await person(sqlite, 'alice');
  const bob = await person(sqlite, 'bob');
  const carol = await person(sqlite, 'carol');
  await alice.client.request('add_contact', { contact_username: bob.username });
  const room = await alice.client.request('create_conversation', { name: 'moving', members: [bob.username, carol.username] });
  const messages = [];
  for (let i = 0; i < 30; i++) messages.push(await alice.client.request('send_message', { conversation_id: room.id, content: `before the move ${i}`, client_id: `move-${i}` }));
  await bob.client.request('edit_message', { message_id: (await bob.client.request('send_message', { conversation_id: room.id, content: 'tpyo' })).id, content: 'typo' });
  await bob.client.request('react', { message_id: messages[0]!.id, emoji: '👍' });
  const reply = await bob.client.request('send_message', { conversation_id: room.id, content: 'in a thread', thread_id: messages[2]!.id, also_to_conversation: true });
  await carol.client.request('follow_thread', { message_id: messages[2]!.id });
  await bob.client.request('mark_read', { conversation_id: room.id, message_id: messages.at(-1)!.id });
  await alice.client.request('block_user', { username: carol.username });
  await alice.client.request('delete_message', { message_id: messages[1]!.id });
  const syncedBefore = await bob.client.request('sync', { since: 0, limit: 500 });
  await sqlite.stop();

  const url = await testDatabase(t);
  const copied = await promisify(execFile)(process.execPath, [built('src/admin.ts'), 'copy-to-postgres', sqlite.dbPath, url]);
  assert.match(copied.stdout, /copied .* in \d+\.\d s: start Parley with DATABASE_URL set to it/);

  // Every table SQLite has (its search index aside) holds the same rows on PostgreSQL.
  const db = new Database(sqlite.dbPath, { readonly: true });
  t.after(() => db.close());
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'messages_fts%' AND name <> 'search_index' ORDER BY name").pluck().all() as string[]);
  assert.ok(tables.length >= 15, tables.join(', '));
  await withSql(url, async (sql) => {
    for (const table of tables) {
      const generated = new Set((await sql<{ column_name: string }[]>`SELECT column_name FROM information_schema.columns WHERE table_name = ${table} AND is_generated <> 'NEVER'`).map((row) => row.column_name));
      const columns = (db.pragma(`table_info(${table})`) as { name: string }[]).map((column) => column.name).filter((name) => !generated.has(name));
      const list = columns.map((name) => `"${name}"`).join(', ');
      const fromSqlite = db.prepare(`SELECT ${list} FROM "${table}" ORDER BY ${list}`).raw().all() as unknown[][];
      const fromPostgres = (await sql.unsafe(`SELECT ${list} FROM "${table}" ORDER BY ${list}`).values()) as unknown[][];
      const plain = (rows: unknown[][]) => rows.map((row) => row.map((value) => (typeof value === 'bigint' ? Number(value) : value instanceof Buffer ? value.toString('hex') : value)));
      assert.deepEqual(plain(fromPostgres), plain(fromSqlite), `table ${table}`);
    }
  });

  // Parley on the copy: the old password logs in, the log replays the same, ids and seq go on above the old ones.
  const moved = await onPostgres(t, url);
  const bobThere = await connect(moved, await login(moved, bob.username));
  const syncedAfter = await bobThere.request('sync', { since: 0, limit: 500 });
  // (Connecting again logs fresh receipts after the copied log: compare up to where it ended.)
  assert.deepEqual(syncedAfter.events.filter((event) => event.seq <= syncedBefore.next), syncedBefore.events);
  const next = await bobThere.request('send_message', { conversation_id: room.id, content: 'after the move' });
  assert.ok(next.id > Math.max(...messages.map((message) => message.id)));
  const resent = await (await connect(moved, await login(moved, alice.username))).request('send_message', { conversation_id: room.id, content: 'before the move 3', client_id: 'move-3' });
  assert.equal(resent.id, messages[3]!.id, 'a send retried with its client_id after the move is still recognised');
  const thread = await bobThere.request('get_thread', { message_id: messages[2]!.id });
  assert.deepEqual([thread.root.thread?.reply_count, thread.messages.map((message) => [message.id, message.also_to_conversation])], [1, [[reply.id, true]]], 'threads move too');
  const fresh = await bobThere.request('sync', { since: syncedBefore.next });
  assert.ok(fresh.events.every((event) => event.seq > syncedBefore.next), 'seq continues above the copied log');
});
