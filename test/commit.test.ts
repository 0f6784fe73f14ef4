// Group commit on this pass's engine: units of one batch share a transaction, each behind its own
// savepoint. On PostgreSQL the SAVEPOINT and RELEASE go out without waiting for their answers, ahead of
// the unit's statements, and concurrent statements of one unit share a round trip: a failure must still
// undo exactly its own unit.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore, openDatabase, sqliteDriver, unitStore, type Store } from '../src/storage/index.ts';
import type { Sql } from '../src/storage/engine/sql.ts';
import { migratePostgres, postgresDriver, postgresPool } from '../src/storage/engine/postgres.ts';
import { createCommit } from '../src/storage/engine/commit.ts';
import { createLogger } from '../src/log.ts';
import { testDatabase, testEngine } from './helpers/postgres.ts';
import { sleep } from './helpers/wait.ts';

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

/**
 * A commit whose batches are recorded: how many units each committed. `fillMs`: on PostgreSQL, how long a
 * due batch goes on taking queued units (20 ms by default: on a busy machine two units' round trips can
 * take longer, and the third unit queued in the same turn then starts the next batch).
 */
function recordedCommit(store: Store, fillMs?: number) {
  const batches: number[] = [];
  const units = unitStore(store.driver);
  const commit = createCommit(store.driver, log, { committed: (count) => void batches.push(count), commitFailed: () => {} }, { store: units, append: units.events.append, fillMs });
  return { commit, batches };
}

/** Two servers' stores on one PostgreSQL database (migrated), each with its own pool. */
async function twoServers(t: TestContext) {
  const url = await testDatabase(t);
  const storeOf = () => {
    const pool = postgresPool({ url, pool: 2, log });
    const store = createStore(postgresDriver(pool));
    t.after(() => store.driver.close());
    return { pool, store };
  };
  const servers = [storeOf(), storeOf()] as const;
  await migratePostgres(servers[0].pool, log);
  return servers;
}

const user = (store: Store, username: string) => store.users.insert({ username, fullname: username, passwordHash: 'x', now: 1 });
/** A statement the database itself refuses (a NOT NULL constraint), on either engine. */
const refused = (sql: Sql) => sql.prepare('INSERT INTO users (username, fullname, password_hash, created_at, last_online) VALUES (NULL, $1, $2, 1, 1)').run('x', 'x');

test('a unit whose statement fails in the middle of a batch undoes only itself; the units before and after it commit', async (t) => {
  const store = await engineStore(t);
  const { commit, batches } = recordedCommit(store, 60_000);
  // Queued in one turn: one batch (on PostgreSQL, however long its units' round trips take).
  const before = commit.run((job) => user(job.store, 'before'));
  const failing = commit.run(async (job) => {
    await user(job.store, 'undone');
    await refused(store.driver.batch);
  });
  const after = commit.run((job) => user(job.store, 'after'));
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
  const first = commit.run((job) => Promise.all([user(job.store, 'alongside'), refused(store.driver.batch)]));
  const next = commit.run(async (job) => Promise.all([user(job.store, 'next one'), job.store.users.byUsername('alongside')]));
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
    commit.run(async (job) => {
      await user(job.store, `u${i}`);
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

test('units of one kind queued in one turn run as one group on SQLite (a batch takes its turn\'s units once the turn is over)', { skip: testEngine() === 'postgres' ? 'PostgreSQL starts each unit as it comes: its groups follow the timing of its round trips' : false }, async (t) => {
  const store = await engineStore(t);
  const { commit } = recordedCommit(store);
  const groups: string[][] = [];
  const kind = {
    name: 'names',
    async run(items: readonly { input: string; job: { store: Store } }[]) {
      groups.push(items.map((item) => item.input));
      for (const item of items) await user(item.job.store, item.input);
      return items.map(() => ({ value: undefined }));
    },
  };
  const names = Array.from({ length: 20 }, (_, i) => `g${i}`);
  await Promise.all(names.map((name) => commit.together(kind, name)));
  assert.deepEqual(groups, [names], 'one group, not the first alone and then the rest');
  for (const name of names) assert.ok(await store.users.byUsername(name), name);
});

/** An event addressed to nobody: what matters here is its seq. */
const event = (type: string) => ({ conversationId: null, users: [], type, dataText: '{}', createdAt: 1, messageId: null, actorId: null, joined: [], left: [], key: 0, logged: { seq: 0 } });

test('a batch on one server does not wait for another server\'s open batch: each numbers its events at its end, in commit order', { skip: testEngine() === 'postgres' ? false : 'two servers on one database: runs in the PostgreSQL pass' }, async (t) => {
  const [one, two] = await twoServers(t);
  const before = await one.store.events.latest();
  // The first server's two units in one batch however long their round trips take (with the default window
  // a loaded machine committed the first alone, and its lock on row 1 with it, before the second came).
  const [a, b] = [recordedCommit(one.store, 60_000), recordedCommit(two.store)];
  const slow = event('slow');
  const quick = event('quick');
  const finished: string[] = [];
  // The first server's batch logs an event and writes, then stays open for 300 ms...
  const holding = a.commit.run(async (job) => {
    job.log(slow);
    await user(job.store, 'slow');
    await job.store.driver.batch.prepare('SELECT pg_sleep(0.3)').run();
  }).then(() => finished.push('slow'));
  await sleep(100);
  // ...while the second server's batch logs one and commits: it takes no turn behind the first.
  await b.commit.run(async (job) => {
    job.log(quick);
    await user(job.store, 'quick');
  }).then(() => finished.push('quick'));
  await holding;
  assert.deepEqual(finished, ['quick', 'slow'], 'the second batch committed while the first was still open');
  assert.deepEqual([quick.logged.seq, slow.logged.seq], [before + 1, before + 2], 'numbered in the order they committed, with no gap');
  assert.deepEqual((await one.store.events.after(0, before, 10)).map((row) => row.seq), [], 'events addressed to nobody are seen by nobody');
  assert.equal(await one.store.events.latest(), before + 2);
});

test('a batch whose COMMIT fails after its events were numbered leaves no gap: the next batch takes the same seqs', async (t) => {
  const store = await engineStore(t);
  // A deferred foreign key is checked at the COMMIT: a row that breaks it makes the COMMIT itself fail, after the numbering.
  await store.driver.prepare('CREATE TABLE doomed (user_id bigint REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED)').run();
  const undone: number[] = [];
  const units = unitStore(store.driver);
  // Both units in one batch however long their round trips take: with the default window a loaded machine
  // committed the first alone, and nothing of it failed.
  const commit = createCommit(store.driver, log, { committed: () => {}, commitFailed: () => {} }, { store: units, append: units.events.append, undone: (seq) => void undone.push(seq), fillMs: 60_000 });
  const before = await store.events.latest();
  const lost = [event('lost 1'), event('lost 2')];
  let seqsAtNumbering: number[] = [];
  const effects: boolean[] = [];
  const failing = commit.run(async (job) => {
    for (const one of lost) job.log(one);
    job.after((committed) => {
      effects.push(committed);
      seqsAtNumbering = lost.map((one) => one.logged.seq);
    });
    await user(job.store, 'lost');
  });
  const breaking = commit.run((job) => job.store.driver.batch.prepare('INSERT INTO doomed (user_id) VALUES ($1)').run(999_999));
  await assert.rejects(failing, /foreign key/i);
  await assert.rejects(breaking, /foreign key/i);
  assert.deepEqual(effects, [false], 'its effects ran as failed');
  assert.deepEqual(seqsAtNumbering, [0, 0], 'its events carry no seq');
  assert.deepEqual(undone.sort(), [before + 1, before + 2], 'the seqs it had numbered were given back');
  assert.equal(await store.users.byUsername('lost'), undefined, 'nothing of the batch was committed');
  assert.equal(await store.events.latest(), before, 'the counter is where it was');
  const next = event('next');
  await commit.run((job) => void job.log(next));
  assert.equal(next.logged.seq, before + 1, 'the next event takes the first seq the failed batch had numbered');
});

test('two servers\' batches that lock the same rows in opposite orders: the unit that lost the deadlock runs again in the next batch, and every unit commits', { skip: testEngine() === 'postgres' ? false : 'two servers on one database: runs in the PostgreSQL pass' }, async (t) => {
  const [one, two] = await twoServers(t);
  await one.pool`CREATE TABLE contested (id integer PRIMARY KEY, touched integer NOT NULL)`;
  await one.pool`INSERT INTO contested VALUES (1, 0), (2, 0)`;
  // The first server's two units in one batch however long their round trips take (with the default window
  // a loaded machine committed the first alone, and its lock on row 1 with it, before the second came).
  const [a, b] = [recordedCommit(one.store, 60_000), recordedCommit(two.store)];
  const touch = (id: number) => (job: { store: { driver: Store['driver'] } }) => job.store.driver.batch.prepare('UPDATE contested SET touched = touched + 1 WHERE id = $1').run(id);
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  // The first server's batch touches row 1, then waits before row 2...
  const first = [a.commit.run(touch(1)), a.commit.run(async (job) => {
    await gate;
    return touch(2)(job);
  })];
  // Its transaction has written (holds its transaction id). Of this database: the run's other tests share the
  // cluster, and a write of theirs let this go on before row 1 was touched, which then waited for ever below.
  for (const deadline = Date.now() + 30_000; ; await sleep(10)) {
    const [row] = await one.pool`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE a.datname = current_database() AND l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted`;
    if (row!.n >= 1) break;
    assert.ok(Date.now() < deadline, "the first server's batch did not touch row 1");
  }
  // ...while the second's touches row 2, then waits for row 1 behind the first's transaction.
  const second = [b.commit.run(touch(2)), b.commit.run(touch(1))];
  for (const deadline = Date.now() + 30_000; ; await sleep(10)) {
    const [row] = await one.pool`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`;
    if (row!.n >= 1) break;
    assert.ok(Date.now() < deadline, "the second server's batch did not wait for row 1");
  }
  // The first goes on to row 2: a deadlock, which PostgreSQL breaks by failing one of the two statements.
  open();
  const outcomes = await Promise.allSettled([...first, ...second]);
  assert.deepEqual(outcomes.map((outcome) => outcome.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'], JSON.stringify(outcomes));
  assert.deepEqual([...(await one.pool`SELECT id, touched FROM contested ORDER BY id`)], [{ id: 1, touched: 2 }, { id: 2, touched: 2 }]);
  assert.ok(a.batches.length + b.batches.length >= 3, `the loser's unit committed in a batch of its own (batches: ${JSON.stringify([a.batches, b.batches])})`);
});
