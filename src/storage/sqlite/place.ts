// Where the database lives: checks on DBPATH made before SQLite touches anything, and the lock that
// keeps a second server (or a restore) off a database in use.
import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const sqliteHeader = Buffer.from('SQLite format 3\0');

/** "ENOENT: no such file or directory" from a Node error, without the call and path Node appends. */
export function why(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split(', ')[0] ?? message;
}

/**
 * Creates the missing folders above the database one level at a time. Node's own recursive mkdir
 * spins for ever when a parent exists but refuses children with ENOENT (under /proc, or a
 * dangling symbolic link): it steps back to the parent, finds it there, and tries the child again.
 */
/** Creates `dir` and its missing parents, or says why it cannot be. */
export function ensureFolder(dir: string, setting: string): void {
  try {
    if (statSync(dir).isDirectory()) return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${setting}: cannot reach the folder ${dir} (${why(error)})`);
    const parent = dirname(dir);
    if (parent !== dir) ensureFolder(parent, setting);
    try {
      mkdirSync(dir);
    } catch (error) {
      throw new Error(`${setting}: cannot create the folder ${dir} (${why(error)})`);
    }
    return;
  }
  throw new Error(`${setting}: ${dir} is not a folder`);
}

/**
 * Checks DBPATH before SQLite opens it: its folder (created when `create` is set) and, when the file
 * exists and is not empty, that it begins as every SQLite database does. Answers whether there is a
 * database there; throws a message naming the setting (DBPATH, or whatever `setting` says) otherwise.
 */
export function checkPlace(path: string, create: boolean, setting = `DBPATH=${path}`): 'none' | 'existing' {
  if (create) ensureFolder(dirname(resolve(path)), setting);
  let size;
  try {
    const stats = statSync(path);
    if (stats.isDirectory()) throw new Error(`${setting} is a folder: name a file in it, such as ${join(path, 'parley.db')}`);
    if (!stats.isFile()) throw new Error(`${setting} is not a regular file`);
    size = stats.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    if ((error as NodeJS.ErrnoException).code) throw new Error(`${setting}: cannot read it (${why(error)})`);
    throw error;
  }
  if (size === 0) return 'none';
  const start = Buffer.alloc(sqliteHeader.length);
  try {
    const fd = openSync(path, 'r');
    try {
      readSync(fd, start, 0, start.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw new Error(`${setting}: cannot read it (${why(error)})`);
  }
  if (!start.equals(sqliteHeader)) throw new Error(`${setting} is not a SQLite database (it does not begin with the SQLite header); it was left untouched`);
  return 'existing';
}

export type Lock = { release(): void };

/**
 * Holds `<DBPATH>.lock` for as long as the process runs. It is an exclusive SQLite lock on a small
 * file of its own, so the system drops it when the process ends however it ends (kill -9
 * included): no stale lock to clean up.
 */
export function lockDatabase(path: string): Lock {
  const file = `${path}.lock`;
  let lock: Database.Database | undefined;
  try {
    lock = new Database(file, { timeout: 0 });
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.pragma('journal_mode = MEMORY');
    // In EXCLUSIVE locking mode the first write takes the exclusive lock and keeps it until close.
    lock.exec(`BEGIN EXCLUSIVE;
      CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since INTEGER NOT NULL);
      DELETE FROM holder;
      INSERT INTO holder VALUES (${process.pid}, ${Math.floor(Date.now() / 1000)});
      COMMIT`);
  } catch (error) {
    lock?.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') {
      throw new Error(`DBPATH=${path} is in use: a Parley server (or an admin restore or adopt) holds ${file}; stop it first, or point DBPATH at another database`);
    }
    throw new Error(`DBPATH=${path}: cannot take the lock file ${file} (${why(error)})`);
  }
  const held = lock;
  return { release: () => held.close() };
}
