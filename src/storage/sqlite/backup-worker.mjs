// The backup's thread: VACUUM INTO on a connection of its own, so the caller's thread can draw
// progress meanwhile. Plain JavaScript, as the checkpoint worker is (workers do not inherit tsx).
// VACUUM INTO reads one snapshot: the copy is consistent, and in WAL mode writers never wait for it.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

const { source, target } = workerData;
try {
  const db = new Database(source, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  db.prepare('VACUUM INTO ?').run(target);
  db.close();
  parentPort.postMessage({ ok: true });
} catch (error) {
  parentPort.postMessage({ ok: false, error: String(error.message ?? error) });
}
