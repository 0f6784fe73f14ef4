// The SQLite connection: its settings, and the numbered migrations that bring a schema up to date.
import Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log.ts';

export type Db = Database.Database;

const migrationsDir = join(import.meta.dirname, 'migrations');
const migrations = readdirSync(migrationsDir)
  .filter((name) => /^\d+_.*\.sql$/.test(name))
  .sort()
  .map((name) => ({ name, version: Number.parseInt(name, 10) }));

/** The schema version this code writes and reads: the number of its newest migration. */
export const schemaVersion = migrations.at(-1)!.version;

export const userVersion = (db: Db): number => db.pragma('user_version', { simple: true }) as number;

/**
 * `synchronous`: NORMAL fsyncs the WAL only at checkpoints (a commit survives a crash of the process,
 * not always a power loss); FULL fsyncs it at every commit (one fsync per group commit).
 */
export function configure(db: Db, synchronous: 'NORMAL' | 'FULL' = 'NORMAL'): void {
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // Checkpoints run on a worker thread (checkpointer.ts); here one would stall every ~1000th commit.
  db.pragma('wal_autocheckpoint = 0');
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
}

/**
 * A read-only connection to a database in WAL mode: it reads what is committed while the writing
 * connection holds a transaction open, and cannot write by mistake.
 */
export function openReader(path: string): Db {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  return db;
}

/** Opens a database and brings it up to date, with none of the server's checks: for tests, benchmarks and `:memory:`. */
export function openDatabase(path: string, synchronous: 'NORMAL' | 'FULL' = 'NORMAL'): Db {
  const db = new Database(path);
  configure(db, synchronous);
  migrate(db);
  return db;
}

/**
 * Applies every `NNN_name.sql` above `PRAGMA user_version` up to `upTo`, each in its own
 * transaction (a savepoint when the caller holds one). Forward only: there are no down migrations;
 * a database from a newer Parley is refused before this runs.
 */
export function migrate(db: Db, options: { upTo?: number; log?: Logger } = {}): void {
  const { upTo = schemaVersion, log } = options;
  const from = userVersion(db);
  if (from > schemaVersion) throw new Error(`the database is at schema version ${from}, newer than this Parley knows (${schemaVersion})`);
  const due = migrations.filter(({ version }) => version > from && version <= upTo);
  for (const { name, version } of due) {
    const sql = readFileSync(join(migrationsDir, name), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version}`);
    })();
  }
  if (due.length && from > 0) log?.info('upgraded the database', { from, to: due.at(-1)!.version, migrations: due.map(({ name }) => name) });
}

/** Makes the next id an AUTOINCREMENT table hands out greater than `atLeast`: ids that were once used are never used again. */
export function raiseSequence(db: Db, table: string, atLeast: number): void {
  db.prepare('INSERT INTO sqlite_sequence (name, seq) SELECT ?, 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)').run(table, table);
  db.prepare('UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?').run(atLeast, table);
}

/** A LIKE pattern (used with ESCAPE '\\') for text starting with `text`, or containing it with `anywhere`; `%`, `_` and backslashes in it match themselves. */
export function likePattern(text: string, anywhere = false): string {
  const escaped = text.replace(/[\\%_]/g, (char) => `\\${char}`);
  return `${anywhere ? '%' : ''}${escaped}%`;
}
