// Where file bytes live: a small interface (a shared store such as S3 or a network folder can fit it) and its local-disk implementation.
import { createHash } from 'node:crypto';
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { claimFolder } from './leftovers.ts';

/** Bytes as written: `key` names them in the store; `sha256` (hex) and `size` describe them. */
export type Written = { readonly key: string; readonly sha256: string; readonly size: number };

/** Bytes written but not yet readable: exactly one of `commit` or `discard` is called. */
export type Pending = Written & {
  /** Makes the bytes readable under `key`. Bytes already stored under it are the same bytes: they are kept once. */
  commit(): Promise<void>;
  /** Removes what was written; nothing is left behind. */
  discard(): Promise<void>;
};

/**
 * The file store. Keys come from `put`, never from a client. A store other than the local disk
 * (S3: put to a temporary object, then copy; a shared folder: this same code) fits as long as
 * `get` can read a byte range and `put` can stream without knowing the size first.
 */
export interface FileStore {
  /** Streams `source` in while hashing it. When `source` fails, nothing is left behind and the promise rejects with its error. */
  put(source: AsyncIterable<Uint8Array>): Promise<Pending>;
  /** The bytes under `key`, or those from `start` to `end` (inclusive); undefined when there are none. */
  get(key: string, range?: { readonly start: number; readonly end: number }): Promise<Readable | undefined>;
  exists(key: string): Promise<boolean>;
  /** Removes the bytes under `key`, if any. Only once nothing refers to them: the same bytes may have been uploaded twice. */
  delete(key: string): Promise<void>;
  /**
   * A new name for a scratch file of this process in the local temporary folder (an image being
   * cleaned): one that a process which died left there is removed when a store next opens the folder.
   */
  temporaryName(suffix: string): string;
}

const keyPattern = /^[0-9a-f]{64}$/;

/** Where the disk store under `dir` writes bytes as they arrive; a local scratch folder for uploads on the same disk. */
export const temporaryFolder = (dir: string) => join(dir, 'tmp');
const why = (error: unknown) => (error instanceof Error ? error.message.split(', ')[0] : String(error));

/** Creates FILES_DIR and the folders above it, one at a time, or throws a message naming the setting. */
function makeFolder(dir: string): void {
  const missing: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    let stats;
    try {
      stats = statSync(at, { throwIfNoEntry: false });
    } catch (error) {
      // ENOTDIR: something above is a file; the walk up finds it and names it.
      if ((error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw new Error(`FILES_DIR=${dir}: cannot reach the folder ${at} (${why(error)})`);
    }
    if (stats && !stats.isDirectory()) throw new Error(`FILES_DIR=${dir}: ${at} is not a folder`);
    if (stats || dirname(at) === at) break;
    missing.unshift(at);
  }
  for (const folder of missing) {
    try {
      mkdirSync(folder, { mode: 0o700 });
    } catch (error) {
      throw new Error(`FILES_DIR=${dir}: cannot create the folder ${folder} (${why(error)})`);
    }
  }
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new Error(`FILES_DIR=${dir}: cannot write in it (${why(error)})`);
  }
}

/** Makes `dir` unless it exists; answers whether it was made (then its parent's entry needs flushing too). */
async function makeShard(dir: string): Promise<boolean> {
  try {
    await mkdir(dir, { mode: 0o700 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Flushes a folder's entries: a rename is durable only once the folder holding it is synced. */
async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let done = 0; done < chunk.byteLength;) done += (await handle.write(chunk, done)).bytesWritten;
}

/**
 * The local disk: a file named by the SHA-256 of its bytes, in two levels of folders
 * (`ab/cd/abcd…`, at most 65,536 folders of a few hundred files each even for millions of files).
 * Bytes stream into `tmp/` (same file system, so the rename is atomic), are synced, and are
 * renamed into place on commit; a crash leaves at most a temporary file, named after the process
 * that wrote it and removed at the next start (leftovers.ts).
 */
export function openDiskStore(dir: string): FileStore {
  makeFolder(dir);
  const tmp = temporaryFolder(dir);
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  let owner;
  try {
    owner = claimFolder(tmp);
  } catch (error) {
    throw new Error(`FILES_DIR=${dir}: cannot take an owner file in ${tmp} (${why(error)})`);
  }

  const shards = (key: string) => [join(dir, key.slice(0, 2)), join(dir, key.slice(0, 2), key.slice(2, 4))] as const;
  const pathOf = (key: string) => {
    if (!keyPattern.test(key)) throw new Error(`not a file key: ${JSON.stringify(key)}`);
    return join(shards(key)[1], key);
  };

  return {
    async put(source) {
      const temporary = join(tmp, owner.name('.part'));
      const hash = createHash('sha256');
      let size = 0;
      const handle = await open(temporary, 'wx', 0o600);
      try {
        for await (const chunk of source) {
          hash.update(chunk);
          size += chunk.byteLength;
          await writeAll(handle, chunk);
        }
        await handle.sync();
      } catch (error) {
        await handle.close().catch(() => {});
        await rm(temporary, { force: true });
        throw error;
      }
      await handle.close();
      const key = hash.digest('hex');
      return {
        key, sha256: key, size,
        async commit() {
          const [outer, inner] = shards(key);
          const madeOuter = await makeShard(outer);
          const madeInner = await makeShard(inner);
          await rename(temporary, join(inner, key));
          await syncFolder(inner);
          if (madeInner) await syncFolder(outer);
          if (madeOuter) await syncFolder(dir);
        },
        discard: () => rm(temporary, { force: true }),
      };
    },
    async get(key, range) {
      let handle;
      try {
        handle = await open(pathOf(key), 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
      return handle.createReadStream({ start: range?.start, end: range?.end, highWaterMark: 256 * 1024 });
    },
    async exists(key) {
      const stats = await stat(pathOf(key)).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      return stats?.isFile() ?? false;
    },
    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
    temporaryName: (suffix) => owner.name(suffix),
  };
}
