// Entry point: read settings, start the server, stop cleanly on SIGINT/SIGTERM.
import { setTimeout as sleep } from 'node:timers/promises';
import { readSettings, type Settings } from './config.ts';
import { createLogger } from './log.ts';
import { startServer } from './server.ts';

// Everything Parley writes (the database and its -wal/-shm, the lock, secrets, uploads, mail, backups)
// is its users' data: readable by this user alone, whatever umask it was started with (systemd's
// units set UMask=0077 too). SQLite makes its files 0644 less the umask.
process.umask(0o077);

function fatal(message: string): never {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'fatal', msg: message })}\n`);
  process.stderr.write(`parley: ${message}\n`);
  process.exit(1);
}

let settings: Settings;
try {
  settings = readSettings(process.env);
} catch (error) {
  fatal((error as Error).message);
}
// Logs go to stdout; when whatever reads it goes away (`npm start | head`), writing fails with EPIPE.
// The server goes on without its log rather than crashing with everyone's connection.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});
// In a cluster every line names its node (NODE_ID, or one made up now for this run).
if (settings.REDIS_URL) settings = { ...settings, NODE_ID: settings.NODE_ID ?? (await import('./cluster/nodes.ts')).generatedNodeId() };
const log = createLogger(settings.LOG_LEVEL, undefined, settings.REDIS_URL ? { node_id: settings.NODE_ID } : {});
// A promise nobody awaited must not take every user's connection down with it.
process.on('unhandledRejection', (error) => log.error('unhandled rejection', { error }));

// Listening for signals before the server starts: one that arrives while it starts waits for it, then stops it.
let stopping = false;
async function stop(signal: string): Promise<void> {
  // The same signal often comes twice: Ctrl-C reaches the whole process group, and `npm start`
  // forwards it too. Once stopping, a repeat must neither kill the process mid-shutdown nor start over.
  if (stopping) return log.info('already shutting down', { signal });
  stopping = true;
  const drainSeconds = settings.SHUTDOWN_DRAIN;
  log.info('shutting down', { signal, drainSeconds });
  const server = await started;
  server.drain();
  if (drainSeconds > 0) await sleep(drainSeconds * 1000);
  await server.close();
  process.exit(0);
}
process.on('SIGINT', (signal) => stop(signal).catch((error: unknown) => fatal(`shutdown failed: ${(error as Error).message}`)));
process.on('SIGTERM', (signal) => stop(signal).catch((error: unknown) => fatal(`shutdown failed: ${(error as Error).message}`)));

const started = startServer(settings, log);
started.catch((error: unknown) => fatal((error as Error).message));
