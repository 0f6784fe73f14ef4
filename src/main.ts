// Entry point: read settings, start the server, stop cleanly on SIGINT/SIGTERM.
import { readSettings } from './config.ts';
import { createLogger } from './log.ts';
import { startServer } from './server.ts';

function fatal(message: string): never {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'fatal', msg: message })}\n`);
  process.stderr.write(`parley: ${message}\n`);
  process.exit(1);
}

let settings;
try {
  settings = readSettings(process.env);
} catch (error) {
  fatal((error as Error).message);
}
const log = createLogger(settings.LOG_LEVEL);
// A promise nobody awaited must not take every user's connection down with it.
process.on('unhandledRejection', (error) => log.error('unhandled rejection', { error }));

try {
  const server = await startServer(settings, log);
  const stop = async (signal: string) => {
    log.info('shutting down', { signal });
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  fatal((error as Error).message);
}
