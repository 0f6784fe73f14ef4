// One reader thread (readers.ts): a read-only connection to the database, answering named reads in turn.
import { parentPort, workerData } from 'node:worker_threads';
import { openReader } from '../storage/sqlite/db.ts';
import { sqliteDriver } from '../storage/engine/sqlite.ts';
import { createStore } from '../storage/index.ts';
import { runRead, type ReadName } from './table.ts';

const db = openReader((workerData as { path: string }).path);
const store = createStore(sqliteDriver(db, db));

parentPort!.on('message', async ({ id, name, input }: { id: number; name: ReadName; input: never }) => {
  const began = performance.now();
  try {
    const { value, ms } = await runRead(store, name, input);
    parentPort!.postMessage({ id, value, ms });
  } catch (error) {
    parentPort!.postMessage({ id, error: error instanceof Error ? error.message : String(error), ms: performance.now() - began });
  }
});
