// Opening storage for the server: the engine the settings name, checked, migrated and ready.
import type { Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import { createStore, type Store } from './index.ts';
import { sqliteDriver } from './engine/sqlite.ts';
import { openServerDatabase } from './sqlite/startup.ts';
import { openReader } from './sqlite/db.ts';
import { startCheckpointer } from './sqlite/checkpointer.ts';
import { isUnavailable, migratePostgres, postgresDriver, postgresPool } from './engine/postgres.ts';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ensureFolder } from './sqlite/place.ts';

/** What runs reads away from the queue of work, closed before the database is. */
type Closing = { close(): Promise<void> };

/**
 * How that is made (the caller's: storage knows no reads): SQLite's reader threads over the database
 * file, PostgreSQL's pool through the store.
 */
export type ReadsFor<R extends Closing> = { sqlite(path: string): R; postgres(store: Store): R };

export type OpenedStorage<R extends Closing> = {
  readonly store: Store;
  /** Reads that run away from the queue of work: SQLite's reader threads, PostgreSQL's pool. */
  readonly reads: R;
  /** What the start-up log line says of the database. */
  readonly described: Record<string, unknown>;
  /** DATABASE_CA_FILE's certificates, for other connections to the same PostgreSQL. */
  readonly ca?: string;
  close(): Promise<void>;
};

/** DATABASE_URL without its password, for messages and logs. */
export function shownUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** PostgreSQL at DATABASE_URL: reachable, migrated (under a lock, so that servers starting together do not race). */
async function openPostgres<R extends Closing>(settings: Settings & { DATABASE_URL: string }, log: Logger, readsFor: ReadsFor<R>): Promise<OpenedStorage<R>> {
  const shown = shownUrl(settings.DATABASE_URL);
  // The data folder still holds what is per installation rather than per database (the generated JWT secret, VAPID keys).
  ensureFolder(dirname(resolve(settings.DBPATH)), `DBPATH=${settings.DBPATH} (its folder keeps the generated secrets)`);
  let ca: string | undefined;
  if (settings.DATABASE_CA_FILE) {
    try {
      ca = readFileSync(settings.DATABASE_CA_FILE, 'utf8');
    } catch (error) {
      throw new Error(`DATABASE_CA_FILE=${settings.DATABASE_CA_FILE} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  }
  // One connection of DATABASE_POOL for the batches (one at a time), the rest for reads outside them.
  const pool = postgresPool({ url: settings.DATABASE_URL, pool: settings.DATABASE_POOL - 1, ca, log });
  const freshBatches = () => postgresPool({ url: settings.DATABASE_URL, pool: 1, ca, log });
  const batches = freshBatches();
  try {
    await pool`SELECT 1`;
  } catch (error) {
    await Promise.all([pool.end({ timeout: 1 }), batches.end({ timeout: 1 })]);
    throw new Error(`DATABASE_URL=${shown}: cannot connect (${why(error)})${isUnavailable(error) ? ': is PostgreSQL running there?' : ''}`);
  }
  try {
    await migratePostgres(pool, log);
  } catch (error) {
    await Promise.all([pool.end({ timeout: 1 }), batches.end({ timeout: 1 })]);
    throw new Error(`DATABASE_URL=${shown}: ${why(error)}`);
  }
  const store = createStore(postgresDriver(pool, batches, freshBatches));
  return {
    store,
    reads: readsFor.postgres(store),
    described: { engine: 'postgres', database: shown, pool: settings.DATABASE_POOL },
    ca,
    close: () => Promise.all([pool.end({ timeout: 5 }), batches.end({ timeout: 5 })]).then(() => {}),
  };
}

const why = (error: unknown) => {
  const { code, message } = error as { code?: string; message?: string };
  return code && message && !message.includes(code) ? `${code}: ${message}` : (message ?? String(error));
};

/**
 * DATABASE_URL set: PostgreSQL. Unset: SQLite under DBPATH, checked, locked, adopted or migrated, with
 * WAL checkpoints on a worker thread.
 */
export async function openStorage<R extends Closing>(settings: Settings, log: Logger, readsFor: ReadsFor<R>): Promise<OpenedStorage<R>> {
  if (settings.DATABASE_URL) return openPostgres({ ...settings, DATABASE_URL: settings.DATABASE_URL }, log, readsFor);
  const database = await openServerDatabase(settings.DBPATH, { synchronous: settings.SQLITE_SYNCHRONOUS, log });
  const checkpointer = startCheckpointer(settings.DBPATH, log);
  const { db } = database;
  // Statements outside units of work read through their own connection: never a batch's uncommitted writes.
  const reader = openReader(settings.DBPATH);
  const reads = readsFor.sqlite(settings.DBPATH);
  return {
    store: createStore(sqliteDriver(db, reader)),
    reads,
    described: { engine: 'sqlite', database: settings.DBPATH, synchronous: ['OFF', 'NORMAL', 'FULL', 'EXTRA'][db.pragma('synchronous', { simple: true }) as number] },
    async close() {
      await checkpointer.stop();
      await reads.close();
      reader.close();
      db.pragma('wal_checkpoint(TRUNCATE)');
      database.close();
    },
  };
}
