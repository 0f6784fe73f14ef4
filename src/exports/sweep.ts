// Removes exports that were downloaded or expired, with their zips, and zips whose record is gone (their
// account was deleted): once an hour, on one node of a cluster (src/periodic.ts).
import { readdir, rm } from 'node:fs/promises';
import type { App } from '../context.ts';
import { everyPeriod, type Periodic } from '../periodic.ts';
import { exportsFolder, zipPath } from './build.ts';

/** Exports one unit of work removes at most. */
const perUnit = 100;

export function startExportSweep(app: App): Periodic {
  const dir = app.settings.FILES_DIR;
  const removeZip = async (id: string) => {
    await rm(zipPath(dir, id), { force: true });
    await rm(`${zipPath(dir, id)}.part`, { force: true });
  };
  return everyPeriod(app, 'export-sweep', 3_600_000, async () => {
    for (;;) {
      const spent = await app.commit.run(async ({ store }) => {
        const ids = await store.exports.spent(app.now(), perUnit);
        for (const id of ids) {
          await store.exports.remove(id);
          await removeZip(id);
        }
        return ids.length;
      });
      if (spent < perUnit) break;
    }
    const found = [...new Set((await readdir(exportsFolder(dir))).flatMap((name) => /^([0-9a-f]{32})\.zip(\.part)?$/.exec(name)?.[1] ?? []))];
    for (let at = 0; at < found.length; at += perUnit) {
      const some = found.slice(at, at + perUnit);
      const known = new Set(await app.commit.run(({ store }) => store.exports.known(some)));
      for (const id of some) if (!known.has(id)) await removeZip(id);
    }
  });
}
