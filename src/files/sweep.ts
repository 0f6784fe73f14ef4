// The file sweep: uploads never attached are removed after UNATTACHED_FILE_HOURS, sooner when they fill
// UNATTACHED_BYTES_TOTAL, and stored bytes once no file refers to them. One node of a cluster sweeps a
// period (src/periodic.ts); should two sweep at once all the same (each node's round at its start),
// each skips what the other is removing (see storage/files.ts).
import type { App } from '../context.ts';
import { everyPeriod, type Periodic } from '../periodic.ts';
import type { FileStore } from './store.ts';

/** Files and byte keys one unit of work handles; a round goes on while there are more. */
const filesPerUnit = 500;
const keysPerUnit = 100;
/** Units one round runs at most: the rest waits for the next round. */
const unitsPerRound = 20;

/**
 * Past this share of UNATTACHED_BYTES_TOTAL, the oldest unattached uploads go before their time, down
 * to it: room stays for uploads about to be sent, rather than all refused until old ones expire.
 */
export const unattachedHighWater = 0.75;
/** An upload is kept at least this share of UNATTACHED_FILE_HOURS (an hour of the default six) however full the total is: time for its message to be sent. */
export const unattachedGrace = 1 / 6;

/** How often the sweep runs: a 24th of UNATTACHED_FILE_HOURS, between once a second and every 10 minutes. */
export const sweepEveryMs = (hours: number) => Math.min(600_000, Math.max(1000, (hours * 3_600_000) / 24));

export function startFileSweep(app: App, fileStore: FileStore): Periodic {
  const { log } = app;
  const keepSeconds = Math.round(app.settings.UNATTACHED_FILE_HOURS * 3600);
  const graceSeconds = Math.round(keepSeconds * unattachedGrace);
  const highWater = Math.floor(app.settings.UNATTACHED_BYTES_TOTAL * unattachedHighWater);

  /** Removes the oldest unattached uploads past their grace while their total is above the high water; answers how many went. */
  const makeRoom = () => app.commit.run(async ({ store }) => {
    const excess = (await store.files.unattachedTotal()) - highWater;
    if (excess <= 0) return 0;
    const now = app.now();
    return store.files.removeOldestUnattached(now - graceSeconds, excess, now, filesPerUnit);
  });

  async function round(): Promise<void> {
    // Before the units below, which remove the bytes of what it removed.
    const early = await makeRoom();
    let files = 0;
    let keys = 0;
    for (let unit = 0; unit < unitsPerRound; unit++) {
      const done = await app.commit.run(async ({ store }) => {
        const now = app.now();
        const removed = await store.files.removeStale(now - keepSeconds, now, filesPerUnit);
        const unused = await store.files.unusedBytes(keysPerUnit);
        // Before the commit: an upload of the same bytes waits for it, then puts them back (storage/files.ts).
        for (const key of unused) await fileStore.delete(key);
        return { removed, unused: unused.length };
      });
      files += done.removed;
      keys += done.unused;
      if (done.removed < filesPerUnit && done.unused < keysPerUnit) break;
    }
    if (files || keys || early) log.info('removed unused files', { files, stored: keys, ...(early ? { early } : {}) });
  }

  return everyPeriod(app, 'file-sweep', sweepEveryMs(app.settings.UNATTACHED_FILE_HOURS), round);
}
