// The administration command line, run against the server's database (DBPATH, or DATABASE_URL when set): `npm run admin -- <command> [arguments]`.
import { readSettings, type Settings } from './config.ts';
import type { Logger } from './log.ts';
import { progressLine } from './progress.ts';
import { unlinkAccount } from './auth/oidc-accounts.ts';
import { createStore, sqliteDriver, type Store } from './storage/index.ts';
import { migratePostgres, postgresDriver, postgresPool, postgresSchemaVersion } from './storage/engine/postgres.ts';
import { shownUrl } from './storage/open.ts';
import { copyToPostgres } from './storage/postgres/copy.ts';
import { openAdminDatabase, openServerDatabase, peek } from './storage/sqlite/startup.ts';
import { checkPlace } from './storage/sqlite/place.ts';
import { backupDatabase, restoreDatabase } from './storage/sqlite/backup.ts';

// A backup or a restored database is the users' data, as the server's own files are (src/main.ts).
process.umask(0o077);

const usage = `usage: npm run admin -- <command>
  grant-admin <username>    gives an account the admin role (the server may be running)
  revoke-admin <username>   makes an admin a plain user again (the server may be running)
  reset-2fa <username>      turns off an account's two-factor login, for someone who lost their authenticator
                            and recovery codes (the server may be running)
  unlink-sso <username>     removes an account's single sign-on links and ends the sessions they started (the
                            server may be running: its open sockets of those sessions close when their login token
                            expires; the admin_unlink_sso event closes them at once)
  backup <file>             writes a consistent copy of the live database to <file> (the server may be running)
  restore <file>            puts the backup <file> in place of DBPATH (stop the server first)
  adopt                     adopts the seed backend's database at DBPATH without starting the server
  copy-to-postgres <sqlite-file> <postgres-url>
                            copies a SQLite database (stop its server first) into an empty PostgreSQL database,
                            checked table by table; then start Parley with DATABASE_URL=<postgres-url>
grant-admin, revoke-admin, reset-2fa and unlink-sso work on PostgreSQL too (DATABASE_URL); backup, restore and adopt are SQLite's
(PostgreSQL has pg_dump and pg_restore)`;

/** Human-readable lines for the steps the server would log as JSON. */
const say = (msg: string, fields?: Record<string, unknown>) =>
  console.log(fields ? `${msg}: ${Object.entries(fields).map(([key, value]) => `${key} ${typeof value === 'object' ? JSON.stringify(value) : value}`).join(', ')}` : msg);
const log: Logger = { debug() {}, info: say, warn: say, error: say };

/** The server's store for an admin command: PostgreSQL at DATABASE_URL (at this Parley's schema), else SQLite at DBPATH (which must exist). */
async function adminStore(settings: Settings): Promise<{ store: Store; where: string }> {
  if (!settings.DATABASE_URL) return { store: createStore(sqliteDriver(openAdminDatabase(settings.DBPATH))), where: settings.DBPATH };
  const where = shownUrl(settings.DATABASE_URL);
  const pool = postgresPool({ url: settings.DATABASE_URL, pool: 2, log });
  try {
    const [row] = await pool<{ version: number }[]>`SELECT version FROM schema_version WHERE id = 1`;
    if (row?.version !== postgresSchemaVersion) throw new Error(`it is at schema version ${row?.version ?? 'none'}, not ${postgresSchemaVersion}: start the server once to create or upgrade it`);
  } catch (error) {
    await pool.end({ timeout: 1 });
    throw new Error(`DATABASE_URL=${where}: ${(error as Error).message}`);
  }
  return { store: createStore(postgresDriver(pool)), where };
}

async function setRole(settings: Settings, username: string, role: 'admin' | 'user'): Promise<void> {
  const { store, where } = await adminStore(settings);
  try {
    const user = await store.users.byUsername(username);
    if (!user) throw new Error(`no such user '${username}' in ${where}`);
    await store.users.setRole(user.id, role);
    console.log(`${user.username} is now ${role === 'admin' ? 'an admin' : 'a plain user'}`);
  } finally {
    await store.driver.close();
  }
}

async function resetTwoFactor(settings: Settings, username: string): Promise<void> {
  const { store, where } = await adminStore(settings);
  try {
    const user = await store.users.byUsername(username);
    if (!user) throw new Error(`no such user '${username}' in ${where}`);
    if (!(await store.twoFactor.remove(user.id))) throw new Error(`'${user.username}' has no two-factor login`);
    console.log(`${user.username} logs in with their password alone now`);
  } finally {
    await store.driver.close();
  }
}

async function unlinkSso(settings: Settings, username: string): Promise<void> {
  const { store, where } = await adminStore(settings);
  try {
    const user = await store.users.byUsername(username);
    if (!user) throw new Error(`no such user '${username}' in ${where}`);
    const now = Math.floor(Date.now() / 1000);
    const { providers, sessions } = await unlinkAccount(store, user.id, null, now);
    if (!providers.length) throw new Error(`'${user.username}' has no single sign-on link`);
    for (const id of sessions) await store.sessions.revoke(id, now);
    await store.devices.dropForSessions(sessions);
    console.log(`${user.username} is no longer linked to ${providers.join(', ')}; ${sessions.length} session${sessions.length === 1 ? '' : 's'} ended`);
  } finally {
    await store.driver.close();
  }
}

const commands: Record<string, { arguments: number; run(settings: Settings, ...args: string[]): Promise<void> | void }> = {
  'grant-admin': { arguments: 1, run: (settings, username) => setRole(settings, username!, 'admin') },
  'revoke-admin': { arguments: 1, run: (settings, username) => setRole(settings, username!, 'user') },
  'reset-2fa': { arguments: 1, run: (settings, username) => resetTwoFactor(settings, username!) },
  'unlink-sso': { arguments: 1, run: (settings, username) => unlinkSso(settings, username!) },
  'copy-to-postgres': {
    arguments: 2,
    async run(_settings, file, url) {
      if (!URL.canParse(url!) || !['postgres:', 'postgresql:'].includes(new URL(url!).protocol)) throw new Error(`${url} is not a postgres:// URL`);
      const db = openAdminDatabase(file!);
      const pool = postgresPool({ url: url!, pool: 2, log, connectTimeout: 10 });
      const started = performance.now();
      try {
        await pool`SELECT 1`.catch((error: unknown) => {
          throw new Error(`${shownUrl(url!)}: cannot connect (${(error as Error).message})`);
        });
        await migratePostgres(pool, log);
        const copied = await copyToPostgres(db, pool, (label) => progressLine(label, 'rows'));
        for (const { table, rows, checksum } of copied) console.log(`${table}: ${rows} rows, sha256 ${checksum.slice(0, 16)} on both sides`);
        console.log(`copied ${file} to ${shownUrl(url!)} in ${((performance.now() - started) / 1000).toFixed(1)} s: start Parley with DATABASE_URL set to it`);
      } finally {
        db.close();
        await pool.end({ timeout: 5 });
      }
    },
  },
  backup: {
    arguments: 1,
    async run({ DBPATH: dbPath }, file) {
      openAdminDatabase(dbPath, { anyVersion: true }).close();
      const started = performance.now();
      const { bytes } = await backupDatabase(dbPath, file!, progressLine('backing up', 'bytes'));
      console.log(`backed up ${dbPath} to ${file}: ${(bytes / 1024 / 1024).toFixed(1)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    },
  },
  restore: {
    arguments: 1,
    run({ DBPATH: dbPath }, file) {
      const { replaced } = restoreDatabase(file!, dbPath, new Date());
      console.log(`restored ${file} as ${dbPath}${replaced ? `; the database it replaced is kept as ${replaced}` : ''}. Start the server: it upgrades the database if the backup is from an older Parley`);
    },
  },
  adopt: {
    arguments: 0,
    async run({ DBPATH: dbPath }) {
      const found = checkPlace(dbPath, false) === 'existing' ? peek(dbPath) : undefined;
      if (!found) throw new Error(`DBPATH=${dbPath}: no database there (check DBPATH)`);
      if (found.kind !== 'seed') throw new Error(`DBPATH=${dbPath} is not the seed backend's database: nothing to adopt`);
      const opened = await openServerDatabase(dbPath, { synchronous: 'NORMAL', log });
      opened.close();
    },
  },
};

const [name, ...args] = process.argv.slice(2);
const command = name !== undefined && Object.hasOwn(commands, name) ? commands[name] : undefined;
if (!command || args.length !== command.arguments || args.some((arg) => arg === '')) {
  console.error(usage);
  process.exit(2);
}
try {
  await command.run(readSettings(process.env), ...args);
} catch (error) {
  console.error(`parley admin: ${(error as Error).message}`);
  process.exit(1);
}
