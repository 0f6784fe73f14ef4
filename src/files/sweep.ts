// The file sweep: uploads never attached are removed after UNATTACHED_FILE_HOURS, and stored bytes once
// no file refers to them. One node of a cluster sweeps a period (src/periodic.ts); should two sweep at
// once all the same (each node's round at its start), each skips what the other is removing (see
// storage/files.ts).
import type { App } from '../context.ts';
import { everyPeriod, type Periodic } from '../periodic.ts';
import type { FileStore } from './store.ts';

/** Files and byte keys one unit of work handles; a round goes on while there are more. */
const filesPerUnit = 500;
const keysPerUnit = 100;
/** Units one round runs at most: the rest waits for the next round. */
const unitsPerRound = 20;

/** How often the sweep runs: a 24th of UNATTACHED_FILE_HOURS, between once a second and every 10 minutes. */
export const sweepEveryMs = (hours: number) => Math.min(600_000, Math.max(1000, (hours * 3_600_000) / 24));

export function startFileSweep(app: App, fileStore: FileStore): Periodic {
  const { log } = app;
  const keepSeconds = Math.round(app.settings.UNATTACHED_FILE_HOURS * 3600);

  async function round(): Promise<void> {
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
    if (files || keys) log.info('removed unused files', { files, stored: keys });
  }

  return everyPeriod(app, 'file-sweep', sweepEveryMs(app.settings.UNATTACHED_FILE_HOURS), round);
}
