// Backups of a live database (VACUUM INTO on a worker thread: one consistent snapshot while chat goes
// on) and restoring one in place of DBPATH.
import Database from 'better-sqlite3';
import { chmodSync, closeSync, constants, copyFileSync, existsSync, fsyncSync, linkSync, openSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Progress } from '../../progress.ts';
import { checkPlace, lockDatabase, why } from './place.ts';
import { raiseSequence, schemaVersion } from './db.ts';

/** Flushes a file (or a folder's entries) to disk: a backup that is only in the page cache is no backup. */
function syncToDisk(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const sizeOf = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

/**
 * Writes a consistent copy of the database at `source` to `target`, which must not exist yet. The
 * copy is made as `<target>.partial` and linked into place once complete and on disk, so a file at
 * `target` is always a whole backup. Progress counts the bytes written against the live data's size.
 */
export async function backupDatabase(source: string, target: string, progress: Progress): Promise<{ bytes: number }> {
  if (existsSync(target)) throw new Error(`${target} already exists: a backup never overwrites a file, name a new one`);
  const folder = dirname(target);
  if (!existsSync(folder)) throw new Error(`cannot write ${target}: the folder ${folder} does not exist`);
  const partial = `${target}.partial`;
  rmSync(partial, { force: true });
  const estimate = new Database(source, { readonly: true, fileMustExist: true });
  const pageSize = estimate.pragma('page_size', { simple: true }) as number;
  const total = ((estimate.pragma('page_count', { simple: true }) as number) - (estimate.pragma('freelist_count', { simple: true }) as number)) * pageSize;
  estimate.close();

  const worker = new Worker(new URL('./backup-worker.mjs', import.meta.url), { workerData: { source, target: partial } });
  const timer = setInterval(() => progress.update(sizeOf(partial), total), 100);
  try {
    const result = await new Promise<{ ok: boolean; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the copying thread stopped (exit code ${code})`)));
    });
    if (!result.ok) throw new Error(`the backup to ${target} failed: ${result.error}`);
    syncToDisk(partial);
    linkSync(partial, target);
    unlinkSync(partial);
    syncToDisk(folder);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error instanceof Error && error.message.startsWith('the backup') ? error : new Error(`the backup to ${target} failed: ${why(error)}`);
  } finally {
    clearInterval(timer);
  }
  const bytes = sizeOf(target);
  progress.update(bytes, bytes);
  progress.finish();
  return { bytes };
}

/** The newest event seq a database handed out, or null when it cannot be read (damaged, or not there). */
function latestSeq(path: string): number | null {
  try {
    // Not read-only: the last connection to close then removes the WAL files, leaving one file to move aside.
    const db = new Database(path, { fileMustExist: true });
    try {
      return db.prepare<[], number>("SELECT seq FROM sqlite_sequence WHERE name = 'events'").pluck().get() ?? 0;
    } finally {
      db.close();
    }
  } catch {
    return null;
  }
}

/**
 * Puts the backup at `backup` in place of DBPATH, with the server stopped (it takes the lock). The
 * backup is checked first (whole, Parley's, not newer than this code) and copied, never moved, so it
 * stays a backup. The database it replaces is kept beside it as `<DBPATH>.replaced-<time>`, with its
 * WAL. The restored event log continues after the replaced database's newest seq, marked as pruned
 * up to there, so every client reloads once instead of replaying a history that did not happen.
 */
export function restoreDatabase(backup: string, path: string, now: Date): { replaced: string | null } {
  const setting = `the backup ${backup}`;
  if (checkPlace(backup, false, setting) === 'none') throw new Error(`${setting} does not exist or is empty`);
  const check = new Database(backup, { readonly: true, fileMustExist: true });
  let hasEventLog = false;
  try {
    const problems = (check.pragma('quick_check(5)') as { quick_check: string }[]).map((row) => row.quick_check);
    if (problems.join() !== 'ok') throw new Error(`${setting} is damaged (${problems.join('; ')})`);
    const version = check.pragma('user_version', { simple: true }) as number;
    const tables = check.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
    if (version === 0 || !tables.includes('users') || !tables.includes('messages')) throw new Error(`${setting} is not a Parley database`);
    if (version > schemaVersion) throw new Error(`${setting} is at schema version ${version}, newer than this Parley knows (${schemaVersion}): restore it with that version`);
    hasEventLog = tables.includes('event_log');
  } catch (error) {
    throw error instanceof Error && error.message.startsWith(setting) ? error : new Error(`${setting} cannot be read as a database (${why(error)})`);
  } finally {
    check.close();
  }

  const existing = checkPlace(path, true) === 'existing';
  const lock = lockDatabase(path);
  try {
    const restoring = `${path}.restoring`;
    rmSync(restoring, { force: true });
    copyFileSync(backup, restoring, constants.COPYFILE_EXCL);
    chmodSync(restoring, 0o600); // a copy takes its source's mode, whatever the umask
    const before = existing && hasEventLog ? latestSeq(path) : null;
    const copy = new Database(restoring);
    if (before !== null) {
      const next = before + 1;
      copy.transaction(() => {
        raiseSequence(copy, 'events', next);
        copy.prepare('UPDATE event_log SET pruned_through = max(pruned_through, ?) WHERE id = 1').run(next);
      })();
    }
    copy.pragma('journal_mode = DELETE'); // one self-contained file; the server turns WAL back on at start
    copy.close();
    syncToDisk(restoring);
    let replaced: string | null = null;
    if (existing) {
      replaced = `${path}.replaced-${now.toISOString().replace(/[:.]/g, '-')}`;
      for (const suffix of ['-wal', '-shm', '-journal', '']) if (existsSync(path + suffix)) renameSync(path + suffix, replaced + suffix);
    }
    renameSync(restoring, path);
    syncToDisk(dirname(path));
    return { replaced };
  } finally {
    lock.release();
  }
}
