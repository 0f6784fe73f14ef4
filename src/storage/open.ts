// Opening storage for the server: the engine the settings name, checked, migrated and ready.
import type { Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import { createStore, type Store } from './index.ts';
import { sqliteDriver } from './sqlite.ts';
import { openServerDatabase } from './startup.ts';
import { startCheckpointer } from './checkpointer.ts';

export type OpenedStorage = {
  readonly store: Store;
  /** What the start-up log line says of the database. */
  readonly described: Record<string, unknown>;
  close(): Promise<void>;
};

/** SQLite under DBPATH: checked, locked, adopted or migrated, with WAL checkpoints on a worker thread. */
export async function openStorage(settings: Settings, log: Logger): Promise<OpenedStorage> {
  const database = await openServerDatabase(settings.DBPATH, { synchronous: settings.SQLITE_SYNCHRONOUS, log });
  const checkpointer = startCheckpointer(settings.DBPATH, log);
  const { db } = database;
  return {
    store: createStore(sqliteDriver(db)),
    described: { engine: 'sqlite', database: settings.DBPATH, synchronous: ['OFF', 'NORMAL', 'FULL', 'EXTRA'][db.pragma('synchronous', { simple: true }) as number] },
    async close() {
      await checkpointer.stop();
      db.pragma('wal_checkpoint(TRUNCATE)');
      database.close();
    },
  };
}
