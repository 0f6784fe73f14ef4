// Whose are the files in FILES_DIR/tmp: each server process holds a lock on an owner file there and names its temporary files after it, so a start removes what processes that have died left, at once, and never what a live one is writing.
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Files of another machine's processes (a network FILES_DIR), and names that mark no owner (left by
 * a version before owners), are removed only once this old: another machine's locks may not reach
 * this one, and an upload takes minutes at most.
 */
export const staleMs = 60 * 60 * 1000;

/** This machine, as owner names carry it: letters, digits, `.` and `-` (never the `+` that separates). */
const machine = hostname().replace(/[^A-Za-z0-9.-]/g, '_') || 'host';
/** `<machine>+<16 hex digits>` then `.owner` (the owner file) or `+<anything>` (its files). */
const marked = /^([A-Za-z0-9._-]+\+[0-9a-f]{16})(\.owner|\+.+)$/;

/** Names temporary files after the process that writes them. */
export type Owner = {
  name(suffix: string): string;
  /** The lock on the owner file, held while this is reachable (a connection collected is closed). */
  readonly lock: Database.Database;
};

/**
 * Whether a process holds the owner file `path` (an exclusive SQLite lock, which the system drops
 * when the process ends however it ends, as `<DBPATH>.lock`). SQLite tracks locks between the
 * connections of one process too, so an owner held by this same process counts as held.
 */
function held(path: string): boolean {
  let lock: Database.Database | undefined;
  try {
    lock = new Database(path, { timeout: 0, fileMustExist: true });
    lock.exec('BEGIN EXCLUSIVE; ROLLBACK');
    return false;
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') return true;
    // Gone already (another starting process removed it), or not a lock Parley made: nobody holds it.
    return false;
  } finally {
    lock?.close();
  }
}

/** Removes a file another process may remove at the same moment. */
const remove = (path: string) => rmSync(path, { force: true });

/**
 * Removes from `folder` what cannot belong to an upload under way: the files of this machine's
 * processes that hold no lock any more (ended, crashed, killed), whatever their age; and anything
 * else (another machine's, or unmarked) once older than `staleMs`. `self` is never touched.
 */
function removeLeftovers(folder: string, self: string): void {
  const alive = new Map<string, boolean>();
  const ownerAlive = (owner: string) => {
    if (!alive.has(owner)) alive.set(owner, held(join(folder, `${owner}.owner`)));
    return alive.get(owner)!;
  };
  for (const name of readdirSync(folder)) {
    const owner = marked.exec(name)?.[1];
    if (owner === self) continue;
    const path = join(folder, name);
    if (owner?.startsWith(`${machine}+`)) {
      if (!ownerAlive(owner)) remove(path);
      continue;
    }
    // Another machine's owner file is never removed: a process of its own there may rely on it.
    if (owner && name === `${owner}.owner`) continue;
    const stats = statSync(path, { throwIfNoEntry: false });
    if (stats && Date.now() - stats.mtimeMs > staleMs) remove(path);
  }
}

/**
 * Takes ownership of temporary files in `folder` for this process, for as long as it runs, and
 * removes what dead processes left. The owner file is locked under a draft name first, then renamed:
 * another process starting at the same moment never sees it unlocked.
 */
export function claimFolder(folder: string): Owner {
  const self = `${machine}+${randomBytes(8).toString('hex')}`;
  const draft = join(folder, `${self}.owner-draft`);
  const lock = new Database(draft);
  lock.pragma('locking_mode = EXCLUSIVE');
  lock.pragma('journal_mode = MEMORY');
  // In EXCLUSIVE locking mode the first write takes the exclusive lock and keeps it until the process ends.
  lock.exec(`BEGIN EXCLUSIVE;
    CREATE TABLE owner (pid INTEGER NOT NULL, since INTEGER NOT NULL);
    INSERT INTO owner VALUES (${process.pid}, ${Math.floor(Date.now() / 1000)});
    COMMIT`);
  renameSync(draft, join(folder, `${self}.owner`));
  removeLeftovers(folder, self);
  return { name: (suffix) => `${self}+${randomUUID()}${suffix}`, lock };
}
