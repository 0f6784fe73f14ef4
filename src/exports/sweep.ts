// Removes exports that were downloaded or expired, with their zips: once an hour, on one node of a cluster (src/periodic.ts).
import { rm } from 'node:fs/promises';
import type { App } from '../context.ts';
import { everyPeriod, type Periodic } from '../periodic.ts';
import { zipPath } from './build.ts';

/** Exports one unit of work removes at most. */
const perUnit = 100;

export function startExportSweep(app: App): Periodic {
  return everyPeriod(app, 'export-sweep', 3_600_000, async () => {
    for (;;) {
      const spent = await app.commit.run(async ({ store }) => {
        const ids = await store.exports.spent(app.now(), perUnit);
        for (const id of ids) {
          await store.exports.remove(id);
          await rm(zipPath(app.settings.FILES_DIR, id), { force: true });
          await rm(`${zipPath(app.settings.FILES_DIR, id)}.part`, { force: true });
        }
        return ids.length;
      });
      if (spent < perUnit) return;
    }
  });
}
