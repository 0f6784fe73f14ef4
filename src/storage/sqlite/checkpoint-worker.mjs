// The checkpoint worker's thread. Plain JavaScript: worker threads do not inherit tsx's loader
// (neither from the `tsx` command nor from `--import tsx` on Node 20), and this needs no types.
// PASSIVE checkpoints never block the server's writes.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

const { path, intervalMs } = workerData;
const db = new Database(path);
db.pragma('busy_timeout = 1000');

const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage({ error: String(error) });
  }
}, intervalMs);

parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
