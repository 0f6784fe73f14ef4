// What Parley writes beside its database is its users' data: every file 0600 and every folder 0700,
// even when it is started with the usual umask 022 (outside systemd, whose units set UMask=0077).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from './helpers/server.ts';
import { person } from './helpers/clients.ts';
import { exchange } from './helpers/bytes.ts';
import { runAdmin } from './helpers/admin.ts';
import { testEngine } from './helpers/postgres.ts';

/** Every file and folder under `dir` (not `dir` itself) with its permission bits, as `path 0600`. */
function modes(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort().map((name) => `${name} 0${(statSync(join(dir, name)).mode & 0o777).toString(8)}`);
}

const mode = (path: string) => `0${(statSync(path).mode & 0o777).toString(8)}`;

test('with umask 022, the database, its -wal and -shm, the lock, the secrets, uploads, mail and backups are 0600 (folders 0700)', async (t) => {
  const umask = process.umask(0o022); // inherited by the server and the admin command this test starts
  t.after(() => process.umask(umask));
  // No JWTSECRET: the server makes its jwt-secret file (and its VAPID key) beside the database.
  const server = await startServer(t, { JWTSECRET: '' });
  const alice = await person(server, 'alice');
  await alice.client.request('update_profile', { email: 'alice@parley.test' }); // a mail, written to outbox/ without SMTP_URL
  const uploaded = await exchange(server.http, 'POST', '/files?filename=notes.txt', { body: 'private notes', headers: { cookie: `login-token=${alice.token}`, 'content-type': 'text/plain' } });
  assert.equal(uploaded.status, 201, uploaded.body.toString());

  const sqlite = testEngine() === 'sqlite';
  const names = modes(server.dir).map((line) => line.split(' ')[0]!);
  for (const expected of ['jwt-secret', 'vapid-private-key', ...(sqlite ? ['parley.db', 'parley.db-wal', 'parley.db-shm', 'parley.db.lock'] : [])]) {
    assert.ok(names.includes(expected), `${expected} among ${names.join(', ')}`);
  }
  assert.ok(names.some((name) => name.endsWith('.eml')), `a mail among ${names.join(', ')}`);
  const open = modes(server.dir).filter((line) => {
    const [name, bits] = line.split(' ') as [string, string];
    return name !== 'database-url' && bits !== (statSync(join(server.dir, name)).isDirectory() ? '0700' : '0600');
  });
  assert.deepEqual(open, [], 'everything Parley wrote is its user\'s alone');
  if (!sqlite) return; // backups are SQLite's (PostgreSQL has pg_dump)

  const backup = join(server.dir, 'backup.db');
  const taken = await runAdmin({ DBPATH: server.dbPath }, ['backup', backup]);
  assert.equal(taken.code, 0, taken.stderr);
  assert.equal(mode(backup), '0600', 'the backup');
  // A backup copied in from elsewhere, world-readable: the restored database is 0600 all the same.
  chmodSync(backup, 0o644);
  await server.stop();
  const restored = await runAdmin({ DBPATH: server.dbPath }, ['restore', backup]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(mode(server.dbPath), '0600', 'the restored database');
  writeFileSync(join(server.dir, 'marker'), ''); // the test's own file, made under the test's umask: the check above is not vacuous
  assert.equal(mode(join(server.dir, 'marker')), '0644');
});
