// Opens the SQLite database and brings its schema up to date with the numbered migrations.
import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type Db = Database.Database;

const migrationsDir = join(import.meta.dirname, 'migrations');

/**
 * `synchronous`: NORMAL fsyncs the WAL only at checkpoints (a commit survives a crash of the process,
 * not always a power loss); FULL fsyncs it at every commit (one fsync per group commit).
 */
export function openDatabase(path: string, synchronous: 'NORMAL' | 'FULL' = 'NORMAL'): Db {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // Checkpoints run on a worker thread (checkpointer.ts); here one would stall every ~1000th commit.
  db.pragma('wal_autocheckpoint = 0');
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  migrate(db);
  return db;
}

/** Applies every `NNN_name.sql` above `PRAGMA user_version`, each in its own transaction. */
export function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const files = readdirSync(migrationsDir)
    .filter((name) => /^\d+_.*\.sql$/.test(name))
    .sort();
  for (const name of files) {
    const version = Number.parseInt(name, 10);
    if (version <= current) continue;
    const sql = readFileSync(join(migrationsDir, name), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version}`);
    })();
  }
}

/** A LIKE pattern (used with ESCAPE '\\') for text starting with `text`, or containing it with `anywhere`; `%`, `_` and backslashes in it match themselves. */
export function likePattern(text: string, anywhere = false): string {
  const escaped = text.replace(/[\\%_]/g, (char) => `\\${char}`);
  return `${anywhere ? '%' : ''}${escaped}%`;
}
