// The free space uploads must leave on the disks of FILES_DIR and of the SQLite database (FREE_SPACE_RESERVE_BYTES): a full disk stops every write of the database, so uploads are refused first.
import { statfs } from 'node:fs/promises';
import type { Response } from '../transport/http.ts';
import type { Logger } from '../log.ts';

/** How long one measure of free space is used: statfs costs a system call per disk, and an upload asks at every MiB it receives. */
const freshMs = 1000;

export type FreeSpace = {
  /**
   * 507 when `incoming` more bytes would leave less than the reserve free on one of the disks;
   * undefined while they fit. `written`: bytes an upload has received since it last asked, counted
   * against the last measure until the next (so uploads faster than a measure a second still stop).
   */
  refusal(incoming: number, written?: number): Promise<Response | undefined>;
};

export const noRoom = (reserve: number) =>
  `not enough disk space: the server keeps ${reserve} bytes free (FREE_SPACE_RESERVE_BYTES) so that its database stays writable, and this upload would use them; try again later`;

/**
 * The least free space of the disks `folders` are on, measured at most once a second; a reserve of 0
 * measures nothing. A refusal is logged (a warning: the disk needs room), once a measure.
 */
export function freeSpace(folders: readonly string[], reserve: number, log: Logger): FreeSpace {
  let measured: Promise<number> | undefined;
  let measuredAt = 0;
  let writtenSince = 0;
  let logged = false;
  async function least(): Promise<number> {
    const disks = await Promise.all(folders.map((folder) => statfs(folder)));
    return Math.min(...disks.map((disk) => disk.bavail * disk.bsize));
  }
  return {
    async refusal(incoming, written = 0) {
      if (reserve === 0) return undefined;
      if (!measured || performance.now() - measuredAt > freshMs) {
        measuredAt = performance.now();
        measured = least();
        writtenSince = 0;
        logged = false;
      }
      writtenSince += written;
      const free = (await measured) - writtenSince;
      if (free - Math.max(0, incoming) >= reserve) return undefined;
      if (!logged) log.warn('upload refused: the disk is down to its reserve', { free, incoming, reserve, folders });
      logged = true;
      return { status: 507, body: noRoom(reserve) };
    },
  };
}
