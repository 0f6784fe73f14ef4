// Backups of the live database while chat goes on, restoring one, and the progress a person sees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './helpers/server.ts';
import { hasScript, runAdmin } from './helpers/admin.ts';
import { connect, login, person, register } from './helpers/clients.ts';
import { progressLine } from '../src/progress.ts';
import type { Client } from '../protocol/client.ts';
import { sleep } from './helpers/wait.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-backup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every message id in a conversation, oldest first, paging back 100 at a time. */
async function allMessageIds(client: Client, conversationId: number): Promise<number[]> {
  const ids: number[] = [];
  for (let before: number | undefined; ; ) {
    const page = await client.request('get_messages', { conversation_id: conversationId, ...(before ? { before } : {}) });
    ids.push(...page.messages.map(({ id }) => id));
    if (page.messages.length < 100) return ids.reverse();
    before = page.messages.at(-1)!.id;
  }
}

test('a backup taken while a client is sending, restored, holds every message acknowledged before it', async (t) => {
  const dir = tempDir(t);
  const server = await startServer(t, {}, dir);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const room = await alice.client.request('create_conversation', { name: 'backed up', members: [bob.username] });

  const acked: number[] = [];
  let sending = true;
  const sender = (async () => {
    for (let i = 0; sending; i++) acked.push((await alice.client.request('send_message', { conversation_id: room.id, content: `message number ${i}` })).id);
  })();
  while (acked.length < 50) await sleep(10);

  const file = join(dir, 'backup.db');
  const ackedBefore = acked.length;
  const backup = await runAdmin({ DBPATH: server.dbPath }, ['backup', file]);
  const ackedAfter = acked.length;
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stdout, new RegExp(`^backed up ${server.dbPath} to ${file}: \\d+\\.\\d MiB in \\d+\\.\\d s\\n$`));
  assert.equal(backup.stderr, '', 'no progress drawn into a pipe');
  assert.ok(ackedAfter > ackedBefore, `chat went on during the backup (${ackedBefore} → ${ackedAfter} acknowledged)`);
  const beforeFinish = acked.length;
  while (acked.length < beforeFinish + 20) await sleep(10);
  sending = false;
  await sender;
  assert.equal(await server.stop(), 0);

  const restore = await runAdmin({ DBPATH: server.dbPath }, ['restore', file]);
  assert.equal(restore.code, 0, restore.stderr);
  const replaced = readdirSync(dir).find((name) => name.startsWith('parley.db.replaced-'));
  assert.ok(replaced, readdirSync(dir).join());
  assert.equal(restore.stdout, `restored ${file} as ${server.dbPath}; the database it replaced is kept as ${join(dir, replaced)}. Start the server: it upgrades the database if the backup is from an older Parley\n`);

  const restored = await startServer(t, {}, dir);
  const again = await connect(restored, await login(restored, alice.username));
  const ids = await allMessageIds(again, room.id);
  const kept = new Set(ids);
  assert.deepEqual(acked.slice(0, ackedBefore).filter((id) => !kept.has(id)), [], 'every message acknowledged before the backup began is there');
  assert.deepEqual(ids, acked.slice(0, ids.length), 'nothing else: a prefix of what was acknowledged, in order');
  assert.ok(ids.length <= ackedAfter, 'messages sent after the backup finished are not in it');
  const hits = await again.request('search_messages', { query: '"message number 0"' });
  assert.deepEqual(hits.messages.map(({ id }) => id), [acked[0]], 'the search index came along');
  // Every client's seq is from the replaced history: sync tells each to reload once.
  const sync = await again.request('sync', { since: 1 });
  assert.equal(sync.reset, true);
  assert.ok(sync.next > acked.length, `the log continues after the replaced one's newest seq (${sync.next})`);
  const next = await again.request('send_message', { conversation_id: room.id, content: 'after the restore' });
  assert.ok(next.id > ids.at(-1)!);
});

test('backup and restore refuse what would lose data, with messages naming the file', async (t) => {
  const dir = tempDir(t);
  const server = await startServer(t, {}, dir);
  await register(server, 'refusal_alice');
  const file = join(dir, 'backup.db');
  writeFileSync(file, 'an earlier backup');
  const taken = await runAdmin({ DBPATH: server.dbPath }, ['backup', file]);
  assert.deepEqual(taken, { code: 1, stdout: '', stderr: `parley admin: ${file} already exists: a backup never overwrites a file, name a new one\n` });
  assert.equal(readFileSync(file, 'utf8'), 'an earlier backup');
  const nowhere = await runAdmin({ DBPATH: server.dbPath }, ['backup', join(dir, 'missing', 'b.db')]);
  assert.deepEqual(nowhere.stderr, `parley admin: cannot write ${join(dir, 'missing', 'b.db')}: the folder ${join(dir, 'missing')} does not exist\n`);
  const typo = await runAdmin({ DBPATH: join(dir, 'parly.db') }, ['backup', join(dir, 'b.db')]);
  assert.deepEqual(typo.stderr, `parley admin: DBPATH=${join(dir, 'parly.db')}: no database there (check DBPATH; the server creates the database at its first start)\n`);
  assert.equal(existsSync(join(dir, 'parly.db')), false);

  const good = join(dir, 'good.db');
  assert.equal((await runAdmin({ DBPATH: server.dbPath }, ['backup', good])).code, 0);
  const live = await runAdmin({ DBPATH: server.dbPath }, ['restore', good]);
  assert.deepEqual(live, {
    code: 1,
    stdout: '',
    stderr: `parley admin: DBPATH=${server.dbPath} is in use: a Parley server (or an admin restore or adopt) holds ${server.dbPath}.lock; stop it first, or point DBPATH at another database\n`,
  });
  await server.stop();
  const notParley = await runAdmin({ DBPATH: server.dbPath }, ['restore', file]);
  assert.deepEqual(notParley.stderr, `parley admin: the backup ${file} is not a SQLite database (it does not begin with the SQLite header); it was left untouched\n`);
  const before = readFileSync(server.dbPath);
  const missing = await runAdmin({ DBPATH: server.dbPath }, ['restore', join(dir, 'nothing.db')]);
  assert.deepEqual(missing.stderr, `parley admin: the backup ${join(dir, 'nothing.db')} does not exist or is empty\n`);
  assert.deepEqual(readFileSync(server.dbPath), before, 'a refused restore leaves the database as it was');
  assert.deepEqual(readdirSync(dir).filter((name) => name.includes('replaced') || name.includes('restoring')), []);
});

test('backup progress shows on a terminal', async (t) => {
  if (!hasScript) {
    assert.ok(!process.env.CI, 'CI must have script (util-linux) for the terminal test');
    t.skip('install util-linux (script) to run the terminal test');
    return;
  }
  const dir = tempDir(t);
  const server = await startServer(t, {}, dir);
  await register(server, 'progress_alice');
  const file = join(dir, 'backup.db');
  const result = await runAdmin({ DBPATH: server.dbPath }, ['backup', file], { terminal: true });
  assert.equal(result.code, 0, result.stdout);
  assert.match(result.stdout, /\r\x1b\[2Kbacking up: 100% \(\d+ KiB of \d+ KiB\)\r?\n/);
  assert.match(result.stdout, new RegExp(`backed up ${server.dbPath} to ${file}: `));
});

test('a progress line is drawn only on a terminal, at most ten times a second, and ends its line', () => {
  const nothing: string[] = [];
  const piped = progressLine('copying', 'rows', { isTTY: false, write: (text: string) => nothing.push(text) });
  piped.update(1, 2);
  piped.finish();
  assert.deepEqual(nothing, []);

  const written: string[] = [];
  let clock = 1000;
  const terminal = progressLine('copying', 'rows', { isTTY: true, write: (text: string) => written.push(text) }, () => clock);
  terminal.update(1, 2000);
  clock += 50;
  terminal.update(500, 2000);
  clock += 60;
  terminal.update(1000, 2000);
  terminal.finish();
  assert.deepEqual(written, [
    '\r\x1b[2Kcopying:   0% (1 rows of 2,000 rows)',
    '\r\x1b[2Kcopying:  50% (1,000 rows of 2,000 rows)',
    '\r\x1b[2Kcopying: 100% (2,000 rows of 2,000 rows)',
    '\n',
  ]);
  const bytes: string[] = [];
  const sizes = progressLine('backing up', 'bytes', { isTTY: true, write: (text: string) => bytes.push(text) });
  sizes.update(3 * 1024 * 1024, 2 * 1024 ** 3);
  assert.deepEqual(bytes, ['\r\x1b[2Kbacking up:   0% (3.0 MiB of 2.00 GiB)']);
});
