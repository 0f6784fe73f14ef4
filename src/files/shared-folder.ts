// A node of a cluster starts only with the FILES_DIR the other nodes use: files and export zips written by
// one node are read by the others, so a folder of its own would answer "missing" for most of them. The
// first node marks the folder (a random text in FILES_DIR/.parley-cluster) and the database with the same
// text; a node whose folder lacks that mark is refused with a message that says what to do.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../storage/index.ts';

export const markerName = '.parley-cluster';

function readMarker(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Throws, naming FILES_DIR, when this folder is not the one the cluster's database was marked with. */
export async function checkSharedFolder(filesDir: string, store: Store): Promise<void> {
  const path = join(filesDir, markerName);
  let local = readMarker(path);
  let known = await store.probe.filesMarker();
  if (known === undefined) {
    if (local === undefined) {
      try {
        writeFileSync(path, `${randomBytes(16).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
      } catch (error) {
        // Another node sharing the folder marked it at the same moment: its mark is the folder's.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      local = readMarker(path)!;
    }
    known = await store.probe.markFiles(local);
  }
  if (local === known) return;
  throw new Error(`FILES_DIR=${filesDir} is not the folder the other nodes of this cluster use: ${local === undefined ? `it has no ${markerName} file` : `its ${markerName} file is another folder's`}. ` +
    `Every node needs the same FILES_DIR (one folder, or one network folder mounted on each machine: see docs/cluster.md). ` +
    `If this is that folder, moved or restored from a backup, put ${known} in ${path}`);
}
