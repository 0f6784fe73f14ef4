// Start-up refuses broken files with a message naming them: a short JWT secret, a database from a
// newer Parley, a damaged or foreign database, a database another server holds; and it upgrades older ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runServerExpectingExit, startServer, testSecret } from './helpers/server.ts';
import { runAdmin } from './helpers/admin.ts';
import { connect, login, password, person, register } from './helpers/clients.ts';
import { http } from './helpers/http.ts';
import { migrate, schemaVersion } from '../src/storage/sqlite/db.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-startup-'));
  // Runs before the after-hooks of the servers started on it: each such test stops its server itself first.
  t.after(() => rmSync(dir, { recursive: true, force: true, maxRetries: 5 }));
  return dir;
}

test('a JWT secret file that is empty or short stops the start and is left as it is', async (t) => {
  const dir = tempDir(t);
  const secretFile = join(dir, 'jwt-secret');
  for (const content of [Buffer.alloc(0), Buffer.from('x'), Buffer.alloc(31, 7)]) {
    writeFileSync(secretFile, content);
    const { code, output } = await runServerExpectingExit({ DBPATH: join(dir, 'parley.db') });
    assert.equal(code, 1);
    assert.ok(
      output.includes(`the JWT secret file ${secretFile} holds ${content.length} bytes, fewer than the 32 Parley writes: delete it to have a new one made (everyone then logs in again), or set JWTSECRET`),
      output,
    );
    assert.ok(!output.includes('"msg":"listening"'));
    assert.deepEqual(readFileSync(secretFile), content);
  }
  rmSync(secretFile);
  const server = await startServer(t, { JWTSECRET: '' }, dir);
  await server.waitForLog((line) => line.msg === 'generated a JWT secret');
  assert.equal(readFileSync(secretFile).length, 32);
  await server.stop();
});

test('a database from a newer Parley is refused and left as it is', async (t) => {
  const dir = tempDir(t);
  const dbPath = join(dir, 'parley.db');
  const db = new Database(dbPath);
  migrate(db);
  db.pragma(`user_version = ${schemaVersion + 1}`);
  db.close();
  const before = readFileSync(dbPath);
  const { code, output } = await runServerExpectingExit({ DBPATH: dbPath, JWTSECRET: testSecret });
  assert.equal(code, 1);
  assert.ok(
    output.includes(`DBPATH=${dbPath} is at schema version ${schemaVersion + 1}, newer than this Parley knows (${schemaVersion}): a newer Parley upgraded it. Run that version, or restore a backup taken before the upgrade`),
    output,
  );
  assert.deepEqual(readFileSync(dbPath), before);
  assert.equal(existsSync(`${dbPath}.lock`), false, 'refused before a lock file is made');
});

test('an older database is upgraded at start, forward only, and keeps its data', async (t) => {
  const dir = tempDir(t);
  const dbPath = join(dir, 'parley.db');
  const db = new Database(dbPath);
  migrate(db, { upTo: 3 });
  db.prepare("INSERT INTO users (username, fullname, password_hash, created_at, last_online) VALUES ('olduser', 'Old User', 'x', 1, 1)").run();
  db.close();
  const server = await startServer(t, { DBPATH: dbPath });
  const upgraded = await server.waitForLog((line) => line.msg === 'upgraded the database');
  assert.equal(upgraded.from, 3);
  assert.equal(upgraded.to, schemaVersion);
  assert.ok((upgraded.migrations as string[]).every((name) => Number.parseInt(name, 10) > 3));
  const alice = await person(server, 'alice');
  const found = await alice.client.request('get_user', { username: 'olduser' });
  assert.deepEqual([found.username, found.fullname], ['olduser', 'Old User']);
});

test('a damaged database is refused with a message naming DBPATH', async (t) => {
  const dir = tempDir(t);
  const first = await startServer(t, {}, dir);
  await register(first, 'damaged_alice');
  await first.stop();
  // Overwrite the users table's root page: every login would read it.
  const db = new Database(first.dbPath);
  const root = db.prepare<[], number>("SELECT rootpage FROM sqlite_master WHERE name = 'users'").pluck().get()!;
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.close();
  const fd = openSync(first.dbPath, 'r+');
  writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, (root - 1) * pageSize);
  closeSync(fd);
  const { code, output } = await runServerExpectingExit({ DBPATH: first.dbPath, JWTSECRET: testSecret });
  assert.equal(code, 1);
  assert.match(output, new RegExp(`DBPATH=${first.dbPath} is damaged \\(.+\\): restore it from a backup \\(docs/operations.md: Backups and upgrades\\); it was left untouched`));
  assert.ok(!output.includes('"msg":"listening"'));
});

test('a SQLite database that is neither Parley\'s nor the seed\'s is refused, untouched', async (t) => {
  const dir = tempDir(t);
  const dbPath = join(dir, 'other.db');
  const db = new Database(dbPath);
  db.exec("CREATE TABLE bookmarks (id INTEGER PRIMARY KEY, url TEXT); INSERT INTO bookmarks (url) VALUES ('https://example.com')");
  db.close();
  const before = readFileSync(dbPath);
  const { code, output } = await runServerExpectingExit({ DBPATH: dbPath, JWTSECRET: testSecret });
  assert.equal(code, 1);
  assert.ok(output.includes(`DBPATH=${dbPath} is neither a Parley database nor the seed backend's (user_version 0, tables: bookmarks); it was left untouched`), output);
  assert.deepEqual(readFileSync(dbPath), before);
  assert.equal(existsSync(`${dbPath}.lock`), false);
});

test('a second server on the same DBPATH is refused; the lock goes with the first, even on kill -9', async (t) => {
  const dir = tempDir(t);
  const first = await startServer(t, {}, dir);
  const second = await runServerExpectingExit({ DBPATH: first.dbPath, JWTSECRET: testSecret });
  assert.equal(second.code, 1);
  assert.ok(
    second.output.includes(`DBPATH=${first.dbPath} is in use: a Parley server (or an admin restore or adopt) holds ${first.dbPath}.lock; stop it first, or point DBPATH at another database`),
    second.output,
  );
  await register(first, 'lock_alice');
  await first.stop('SIGKILL');
  const third = await startServer(t, {}, dir);
  const verify = await http(third.http, 'POST', '/auth/login', { body: { username: 'lock_alice', password } });
  assert.equal(verify.status, 202);
  await third.stop();
});

test('admin commands never create a database at a mistyped DBPATH', async (t) => {
  const dir = tempDir(t);
  const server = await startServer(t, {}, dir);
  await register(server, 'admin_alice');
  const typo = join(dir, 'nested', 'parly.db');
  const result = await runAdmin({ DBPATH: typo }, ['grant-admin', 'admin_alice']);
  assert.deepEqual(result, { code: 1, stdout: '', stderr: `parley admin: DBPATH=${typo}: no database there (check DBPATH; the server creates the database at its first start)\n` });
  assert.equal(existsSync(join(dir, 'nested')), false);
  // Against the live database (the server keeps running), grant-admin works and takes effect at once.
  const granted = await runAdmin({ DBPATH: server.dbPath }, ['grant-admin', 'ADMIN_ALICE']);
  assert.deepEqual(granted, { code: 0, stdout: 'admin_alice is now an admin\n', stderr: '' });
  const client = await connect(server, await login(server, 'admin_alice'));
  assert.equal((await client.request('self')).role, 'admin');
  const unknown = await runAdmin({ DBPATH: server.dbPath }, ['grant-admin', 'nobody_here']);
  assert.deepEqual(unknown, { code: 1, stdout: '', stderr: `parley admin: no such user 'nobody_here' in ${server.dbPath}\n` });
  const usage = await runAdmin({ DBPATH: server.dbPath }, ['grant-admin']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^usage: npm run admin -- <command>\n {2}grant-admin <username>/);
  await server.stop();
});
