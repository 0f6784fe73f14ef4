// Opening DBPATH for the server and for the admin commands: what is in the file, whether it is
// whole, the lock, adopting the seed backend's database, and upgrading Parley's own.
import Database from 'better-sqlite3';
import type { Logger } from '../../log.ts';
import { progressLine } from '../../progress.ts';
import { configure, migrate, schemaVersion, userVersion, type Db } from './db.ts';
import { checkPlace, lockDatabase, why } from './place.ts';
import { adoptSeed, isSeedDatabase, tablesIn } from './adopt.ts';
import { backupDatabase } from './backup.ts';

export type Found = { kind: 'empty' } | { kind: 'parley'; version: number } | { kind: 'seed' };

const backupHint = 'restore it from a backup (docs/operations.md: Backups and upgrades)';

/** What the database holds: nothing yet, Parley's tables (at any version) or the seed backend's. Throws for anything else. */
export function identify(db: Db, setting: string): Found {
  let version: number;
  let tables: string[];
  try {
    version = userVersion(db);
    tables = tablesIn(db);
  } catch (error) {
    throw new Error(`${setting} is damaged (${why(error)}): ${backupHint}`);
  }
  if (version > 0 && tables.includes('users') && tables.includes('messages')) return { kind: 'parley', version };
  if (version === 0 && tables.length === 0) return { kind: 'empty' };
  if (isSeedDatabase(db)) return { kind: 'seed' };
  throw new Error(`${setting} is neither a Parley database nor the seed backend's (user_version ${version}, tables: ${tables.join(', ') || 'none'}); it was left untouched`);
}

/** Refuses a database a newer Parley has upgraded: its schema may mean what this code cannot know. */
function refuseNewer(found: Found, setting: string): Found {
  if (found.kind === 'parley' && found.version > schemaVersion) {
    throw new Error(`${setting} is at schema version ${found.version}, newer than this Parley knows (${schemaVersion}): a newer Parley upgraded it. Run that version, or restore a backup taken before the upgrade`);
  }
  return found;
}

/** `PRAGMA quick_check`: every page, row and index entry, without the slower cross-checks of integrity_check. */
function checkWhole(db: Db, setting: string): number {
  const started = performance.now();
  let problems: string[];
  try {
    problems = (db.pragma('quick_check(5)') as { quick_check: string }[]).map((row) => row.quick_check);
  } catch (error) {
    problems = [why(error)];
  }
  if (problems.length !== 1 || problems[0] !== 'ok') throw new Error(`${setting} is damaged (${problems.join('; ')}): ${backupHint}; it was left untouched`);
  return Math.round(performance.now() - started);
}

/**
 * What an existing file holds, read without writing a byte: a foreign or newer database is refused
 * before a lock file is made beside it. Undefined when this read-only look cannot open it (the
 * checks after the lock then decide).
 */
export function peek(path: string, setting = `DBPATH=${path}`): Found | undefined {
  let db;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch {
    return undefined;
  }
  try {
    return identify(db, setting);
  } finally {
    db.close();
  }
}

export type OpenedDatabase = { db: Db; close(): void };

/**
 * Opens DBPATH for the server (and for `admin adopt`): checks the path, takes the lock, checks the
 * file is whole, adopts the seed backend's database (keeping a backup copy beside it) and applies
 * Parley's migrations. Every refusal is an Error whose message names DBPATH.
 */
export async function openServerDatabase(path: string, options: { synchronous: 'NORMAL' | 'FULL'; log: Logger }): Promise<OpenedDatabase> {
  const { log } = options;
  const setting = `DBPATH=${path}`;
  const existing = checkPlace(path, true) === 'existing';
  const seen = existing ? peek(path, setting) : undefined;
  if (seen) refuseNewer(seen, setting);
  const lock = lockDatabase(path);
  let db: Db | undefined;
  try {
    db = new Database(path);
    if (existing) log.info('checked the database', { quick_check_ms: checkWhole(db, setting) });
    const found = refuseNewer(identify(db, setting), setting);
    if (found.kind === 'seed') {
      log.info('adopting the seed backend\'s database', { database: path });
      const copy = `${path}.seed-backup-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await backupDatabase(path, copy, progressLine('copying the seed database', 'bytes'));
      log.info('kept a copy of the seed backend\'s database', { file: copy });
      // Adopted in the seed's own journal mode: should it fail, the file is exactly as it was.
      const adoption = adoptSeed(db, Math.floor(Date.now() / 1000), progressLine);
      configure(db, options.synchronous);
      for (const { id, from, to } of adoption.renamed) log.warn('renamed an account whose username differs from an older one only in case', { id, from, to });
      if (adoption.unusableHashes) log.warn('accounts whose password is not an argon2 hash cannot log in until it is reset', { accounts: adoption.unusableHashes });
      const { renamed, unusableHashes, ...counts } = adoption;
      log.info('adopted the seed backend\'s database', { ...counts, unusable_hashes: unusableHashes, renamed: renamed.length, backup: copy });
    } else {
      configure(db, options.synchronous);
      migrate(db, { log });
    }
    const opened = db;
    return { db: opened, close: () => (opened.close(), lock.release()) };
  } catch (error) {
    db?.close();
    lock.release();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') throw new Error(`${setting} is locked by another program (the seed backend, still running?): stop it first`);
    throw error;
  }
}

/**
 * Opens an existing Parley database for an admin command, creating nothing: a mistyped DBPATH is an
 * error, not a new empty database. `anyVersion` lets a read-only command (backup) work on a database
 * an older or newer Parley wrote.
 */
export function openAdminDatabase(path: string, options: { anyVersion?: boolean } = {}): Db {
  const setting = `DBPATH=${path}`;
  if (checkPlace(path, false) === 'none') throw new Error(`${setting}: no database there (check DBPATH; the server creates the database at its first start)`);
  const db = new Database(path, { fileMustExist: true });
  try {
    const found = identify(db, setting);
    if (!options.anyVersion) refuseNewer(found, setting);
    if (found.kind === 'seed') throw new Error(`${setting} is the seed backend's database: adopt it first (npm run admin -- adopt, or start the server on it)`);
    if (found.kind === 'empty') throw new Error(`${setting}: the file holds no tables yet (check DBPATH)`);
    if (!options.anyVersion && found.version < schemaVersion) {
      throw new Error(`${setting} is at schema version ${found.version}, older than this Parley's (${schemaVersion}): start the server once to upgrade it`);
    }
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
