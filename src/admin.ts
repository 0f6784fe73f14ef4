// The administration command line, run against the server's database (DBPATH): `npm run admin -- <command> [argument]`.
import { readSettings } from './config.ts';
import type { Logger } from './log.ts';
import { progressLine } from './progress.ts';
import { createStore, sqliteDriver } from './storage/index.ts';
import { openAdminDatabase, openServerDatabase, peek } from './storage/startup.ts';
import { checkPlace } from './storage/place.ts';
import { backupDatabase, restoreDatabase } from './storage/backup.ts';

const usage = `usage: npm run admin -- <command>
  grant-admin <username>    gives an account the admin role (the server may be running)
  revoke-admin <username>   makes an admin a plain user again (the server may be running)
  backup <file>             writes a consistent copy of the live database to <file> (the server may be running)
  restore <file>            puts the backup <file> in place of DBPATH (stop the server first)
  adopt                     adopts the seed backend's database at DBPATH without starting the server`;

/** Human-readable lines for the steps the server would log as JSON. */
const say = (msg: string, fields?: Record<string, unknown>) =>
  console.log(fields ? `${msg}: ${Object.entries(fields).map(([key, value]) => `${key} ${typeof value === 'object' ? JSON.stringify(value) : value}`).join(', ')}` : msg);
const log: Logger = { debug() {}, info: say, warn: say, error: say };

async function setRole(dbPath: string, username: string, role: 'admin' | 'user'): Promise<void> {
  const store = createStore(sqliteDriver(openAdminDatabase(dbPath)));
  try {
    const user = await store.users.byUsername(username);
    if (!user) throw new Error(`no such user '${username}' in ${dbPath}`);
    await store.users.setRole(user.id, role);
    console.log(`${user.username} is now ${role === 'admin' ? 'an admin' : 'a plain user'}`);
  } finally {
    await store.driver.close();
  }
}

const commands: Record<string, { argument?: string; run(dbPath: string, argument: string): Promise<void> | void }> = {
  'grant-admin': { argument: 'username', run: (dbPath, username) => setRole(dbPath, username, 'admin') },
  'revoke-admin': { argument: 'username', run: (dbPath, username) => setRole(dbPath, username, 'user') },
  backup: {
    argument: 'file',
    async run(dbPath, file) {
      openAdminDatabase(dbPath, { anyVersion: true }).close();
      const started = performance.now();
      const { bytes } = await backupDatabase(dbPath, file, progressLine('backing up', 'bytes'));
      console.log(`backed up ${dbPath} to ${file}: ${(bytes / 1024 / 1024).toFixed(1)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    },
  },
  restore: {
    argument: 'file',
    run(dbPath, file) {
      const { replaced } = restoreDatabase(file, dbPath, new Date());
      console.log(`restored ${file} as ${dbPath}${replaced ? `; the database it replaced is kept as ${replaced}` : ''}. Start the server: it upgrades the database if the backup is from an older Parley`);
    },
  },
  adopt: {
    async run(dbPath) {
      const found = checkPlace(dbPath, false) === 'existing' ? peek(dbPath) : undefined;
      if (!found) throw new Error(`DBPATH=${dbPath}: no database there (check DBPATH)`);
      if (found.kind !== 'seed') throw new Error(`DBPATH=${dbPath} is not the seed backend's database: nothing to adopt`);
      const opened = await openServerDatabase(dbPath, { synchronous: 'NORMAL', log });
      opened.close();
    },
  },
};

const [name, argument, ...extra] = process.argv.slice(2);
const command = name !== undefined && Object.hasOwn(commands, name) ? commands[name] : undefined;
if (!command || (command.argument ? !argument : argument !== undefined) || extra.length) {
  console.error(usage);
  process.exit(2);
}
try {
  await command.run(readSettings(process.env).DBPATH, argument ?? '');
} catch (error) {
  console.error(`parley admin: ${(error as Error).message}`);
  process.exit(1);
}
