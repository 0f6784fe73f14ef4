// The test server's own database, opened through Parley's storage layer, for writing what would take
// minutes through the protocol (a thousand members, thousands of messages). On SQLite the server must be
// stopped; on PostgreSQL (the server's env names DATABASE_URL) it may keep running.
import { createStore, openDatabase, sqliteDriver, unitStore, type Store } from '../../src/storage/index.ts';
import { postgresDriver, postgresPool } from '../../src/storage/engine/postgres.ts';
import { createLogger } from '../../src/log.ts';
import type { TestServer } from './server.ts';

export async function openStore(server: Pick<TestServer, 'dbPath' | 'env'>): Promise<Store> {
  const url = server.env.DATABASE_URL;
  if (!url) return createStore(sqliteDriver(openDatabase(server.dbPath)));
  return createStore(postgresDriver(postgresPool({ url, pool: 2, log: createLogger('error') })));
}

/** Runs `work` in one transaction of the server's database, and closes it. */
export async function withStore<T>(server: Pick<TestServer, 'dbPath' | 'env'>, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(server);
  try {
    return await store.driver.transaction(() => work(unitStore(store.driver)));
  } finally {
    await store.driver.close();
  }
}

/**
 * Runs `work` on the server's database (SQLite or PostgreSQL, whichever it uses) outside any
 * transaction, and closes the connection: SQL takes `$1` placeholders on both engines, or
 * `{sqlite, postgres}` where the words differ.
 */
export async function onDatabase<T>(server: Pick<TestServer, 'dbPath' | 'env'>, work: (db: Store['driver']) => Promise<T>): Promise<T> {
  const store = await openStore(server);
  try {
    return await work(store.driver);
  } finally {
    await store.driver.close();
  }
}
