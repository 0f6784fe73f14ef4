// Periodic work once across a cluster: while one node's batch holds a job's claim, another node's is
// refused (it skips that round); once the batch commits the claim is free again. A lone SQLite server
// always has it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../src/log.ts';
import { createStore, openDatabase, sqliteDriver } from '../src/storage/index.ts';
import { migratePostgres, postgresDriver, postgresPool } from '../src/storage/postgres.ts';
import { needs } from './helpers/installed.ts';
import { testDatabase } from './helpers/postgres.ts';

test('a job claimed in one node\'s batch is refused to another node until that batch commits', async (t) => {
  if (!needs(t, 'postgres')) return;
  const url = await testDatabase(t);
  const log = createLogger('error');
  const [one, two] = [1, 2].map(() => postgresPool({ url, pool: 2, log }));
  t.after(() => Promise.all([one!.end(), two!.end()]));
  await migratePostgres(one!, log);
  const [first, second] = [createStore(postgresDriver(one!)), createStore(postgresDriver(two!))];
  const seen: string[] = [];
  await first.driver.transaction(async () => {
    seen.push(`first prune ${await first.jobs.claim('prune')}`);
    await second.driver.transaction(async () => {
      seen.push(`second prune ${await second.jobs.claim('prune')}`);
      seen.push(`second search ${await second.jobs.claim('search')}`);
    });
  });
  await second.driver.transaction(async () => seen.push(`second prune after ${await second.jobs.claim('prune')}`));
  assert.deepEqual(seen, ['first prune true', 'second prune false', 'second search true', 'second prune after true']);
});

test('a lone SQLite server always has the claim', async () => {
  const store = createStore(sqliteDriver(openDatabase(':memory:')));
  assert.equal(await store.jobs.claim('prune'), true);
  assert.equal(await store.jobs.claim('search'), true);
});
