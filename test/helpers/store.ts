// The test server's own database, opened through Parley's storage layer, for writing what would take
// minutes through the protocol (a thousand members, thousands of messages). On SQLite the server must be stopped.
import { createStore, openDatabase, sqliteDriver, type Store } from '../../src/storage/index.ts';
import type { TestServer } from './server.ts';

export async function openStore(server: Pick<TestServer, 'dbPath' | 'env'>): Promise<Store> {
  return createStore(sqliteDriver(openDatabase(server.dbPath)));
}

/** Runs `work` in one transaction of the server's database, and closes it. */
export async function withStore<T>(server: Pick<TestServer, 'dbPath' | 'env'>, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(server);
  try {
    return await store.driver.transaction(() => work(store));
  } finally {
    await store.driver.close();
  }
}
