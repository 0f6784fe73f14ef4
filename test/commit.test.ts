// Group commit on this pass's engine: units of one batch share a transaction, each behind its own
// savepoint. On PostgreSQL the SAVEPOINT and RELEASE go out without waiting for their answers, ahead of
// the unit's statements, and concurrent statements of one unit share a round trip: a failure must still
// undo exactly its own unit.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore, openDatabase, sqliteDriver, type Store } from '../src/storage/index.ts';
import { migratePostgres, postgresDriver, postgresPool } from '../src/storage/engine/postgres.ts';
import { createCommit } from '../src/storage/engine/commit.ts';
import { createLogger } from '../src/log.ts';
import { testDatabase, testEngine } from './helpers/postgres.ts';

const log = createLogger('silent');

async function engineStore(t: TestContext): Promise<Store> {
  if (testEngine() === 'postgres') {
    const pool = postgresPool({ url: await testDatabase(t), pool: 2, log });
    await migratePostgres(pool, log);
    const store = createStore(postgresDriver(pool));
    t.after(() => store.driver.close());
    return store;
  }
  const dir = mkdtempSync(join(tmpdir(), 'parley-commit-'));
  const store = createStore(sqliteDriver(openDatabase(join(dir, 'parley.db'))));
  t.after(async () => {
    await store.driver.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

/** A commit whose batches are recorded: how many units each committed. */
function recordedCommit(store: Store) {
  const batches: number[] = [];
  const commit = createCommit(store.driver, log, { committed: (units) => void batches.push(units), commitFailed: () => {} });
  return { commit, batches };
}

const user = (store: Store, username: string) => store.users.insert({ username, fullname: username, passwordHash: 'x', now: 1 });
/** A statement the database itself refuses (a NOT NULL constraint), on either engine. */
const refused = (store: Store) => store.driver.prepare('INSERT INTO users (username, fullname, password_hash, created_at, last_online) VALUES (NULL, $1, $2, 1, 1)').run('x', 'x');

test('a unit whose statement fails in the middle of a batch undoes only itself; the units before and after it commit', async (t) => {
  const store = await engineStore(t);
  const { commit, batches } = recordedCommit(store);
  // Queued in one turn: one batch.
  const before = commit.run(() => user(store, 'before'));
  const failing = commit.run(async () => {
    await user(store, 'undone');
    await refused(store);
  });
  const after = commit.run(() => user(store, 'after'));
  await assert.rejects(failing, /null/i);
  assert.ok(await before);
  assert.ok(await after);
  assert.deepEqual(batches, [3], 'the three units shared one transaction');
  assert.ok(await store.users.byUsername('before'));
  assert.ok(await store.users.byUsername('after'));
  assert.equal(await store.users.byUsername('undone'), undefined, 'the failed unit\'s first write is undone with it');
});

test('statements a unit sends together (one round trip on PostgreSQL) fail and are undone together', async (t) => {
  const store = await engineStore(t);
  const { commit } = recordedCommit(store);
  const first = commit.run(() => Promise.all([user(store, 'alongside'), refused(store)]));
  const next = commit.run(async () => Promise.all([user(store, 'next one'), store.users.byUsername('alongside')]));
  await assert.rejects(first, /null/i);
  const [id, seen] = await next;
  assert.ok(id);
  assert.equal(seen, undefined, 'the next unit does not see the failed unit\'s write');
  assert.equal(await store.users.byUsername('alongside'), undefined);
  assert.ok(await store.users.byUsername('next one'));
});

test('many units queued at once, every other one failing: exactly the good ones are there, each once, in batches no larger than the engine takes', async (t) => {
  const store = await engineStore(t);
  const { commit, batches } = recordedCommit(store);
  const runs = Array.from({ length: 150 }, (_, i) =>
    commit.run(async () => {
      await user(store, `u${i}`);
      if (i % 2 === 1) throw new Error(`unit ${i} refuses`);
    }));
  const settled = await Promise.allSettled(runs);
  assert.deepEqual(settled.map((s) => s.status), runs.map((_, i) => (i % 2 === 1 ? 'rejected' : 'fulfilled')));
  assert.equal(batches.reduce((sum, units) => sum + units, 0), 150);
  assert.ok(Math.max(...batches) <= store.driver.unitsPerTransaction, `batches of ${batches.join(', ')} units`);
  for (let i = 0; i < 150; i++) {
    assert.equal((await store.users.byUsername(`u${i}`)) !== undefined, i % 2 === 0, `u${i}`);
  }
});

test('a batch that waited for another server\'s batch (a cluster\'s nodes take turns on the seq row) takes every unit queued meanwhile, not one', { skip: testEngine() === 'postgres' ? false : 'two servers on one database: runs in the PostgreSQL pass' }, async (t) => {
  const url = await testDatabase(t);
  const storeOf = () => {
    const pool = postgresPool({ url, pool: 2, log });
    const store = createStore(postgresDriver(pool));
    t.after(() => store.driver.close());
    return { pool, store };
  };
  const [one, two] = [storeOf(), storeOf()];
  await migratePostgres(one.pool, log);
  const [first, second] = [one.store, two.store];
  const a = recordedCommit(first);
  const b = recordedCommit(second);
  // The first server's batch holds the counter row for 300 ms...
  const holding = a.commit.run(() => first.driver.prepare('SELECT pg_sleep(0.3)').run());
  await new Promise((resolve) => setTimeout(resolve, 100));
  // ...while five units queue up on the second, whose transaction waits for that row.
  const queued = Array.from({ length: 5 }, (_, i) => b.commit.run(() => user(second, `waited${i}`)));
  await holding;
  await Promise.all(queued);
  // Without the fix the wait used up the batch's 20 ms of filling, and it committed one unit: [1, 4].
  // With it the batch that waited takes them all (at least the first three, however slow a busy machine is).
  assert.equal(b.batches.reduce((sum, units) => sum + units, 0), 5);
  assert.ok(b.batches[0]! >= 3, `the batch that waited took the units queued meanwhile (batches: ${b.batches.join(', ')})`);
  assert.equal((await second.users.byUsername('waited4'))?.username, 'waited4');
});
