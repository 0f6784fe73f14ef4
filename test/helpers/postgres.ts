// Throwaway PostgreSQL for tests and benchmarks: a cluster made with initdb in a temporary folder,
// run with pg_ctl on a free loopback port, a fresh database per server cheaply copied from a
// template, stopped and started again under a running server for failure tests, and removed at the
// end — by a reaper process too when the test process is killed.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import postgres from 'postgres';
import { freePort } from './server.ts';
import { postgresBin } from './installed.ts';
import { startReaper } from './orphans.ts';

/** The template every test database is copied from: empty, with the extensions Parley may use. */
export const templateName = 'parley_template';
export const extensions = ['citext', 'unaccent', 'pg_trgm'] as const;

export type PostgresCluster = {
  /** postgres://postgres:…@127.0.0.1:PORT/postgres: the maintenance database, as the superuser. */
  readonly url: string;
  readonly port: number;
  /** The temporary folder: data/, the server's log, its socket. */
  readonly dir: string;
  /** The URL of another database of this cluster. */
  urlOf(database: string): string;
  /** Stops the server: `fast` disconnects clients and shuts down cleanly, `immediate` is a crash (recovery at the next start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again, on the same port with the same data. */
  start(): Promise<void>;
  /** Stops it and removes its files. */
  destroy(): Promise<void>;
  /** What the server wrote to its log. */
  log(): string;
};

export type ClusterOptions = {
  /**
   * Tests leave `fsync` and `full_page_writes` off: what a crash of PostgreSQL (not of the machine)
   * can lose is the same, and commits do not wait for the disk. Benchmarks ask for `durable`, so
   * that a commit costs what it costs in production.
   */
  durable?: boolean;
};

const runAsRoot = process.getuid?.() === 0;

/** initdb and pg_ctl refuse to run as root: as root, they run as the postgres user. */
function command(bin: string, program: string, args: string[]): string[] {
  const path = join(bin, program);
  return runAsRoot ? ['runuser', '-u', 'postgres', '--', path, ...args] : [path, ...args];
}

function run(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const [program, ...args] = argv as [string, ...string[]];
    // The server pg_ctl starts writes to its log file, not to these pipes, so 'close' comes when pg_ctl exits.
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited with ${code}:\n${output}`))));
  });
}

/** The server's settings, written to an included file so that a retry on another port rewrites them. */
function settings(port: number, dir: string, durable: boolean): string {
  return [
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${dir}'`,
    // Several servers with pools per test file, and the cluster shared by the files of a run.
    'max_connections = 300',
    `fsync = ${durable ? 'on' : 'off'}`,
    `full_page_writes = ${durable ? 'on' : 'off'}`,
    // Always on: an acknowledged commit survives PostgreSQL being killed, which the failure tests rely on.
    'synchronous_commit = on',
    "timezone = 'UTC'",
    'log_min_messages = warning',
    '',
  ].join('\n');
}

/** Starts a new cluster: initdb, a free port, the template database. Throws when PostgreSQL is not installed. */
export async function startPostgres(options: ClusterOptions = {}): Promise<PostgresCluster> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install -y postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'parley-pg-'));
  const reaper = startReaper({ remove: [dir] });
  try {
    if (runAsRoot) {
      const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim()));
      chownSync(dir, uid!, gid!);
    }
    const data = join(dir, 'data');
    const logFile = join(dir, 'postgres.log');
    const password = randomBytes(18).toString('base64url');
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, password, { mode: 0o644 });
    // Over TCP a password (other users of this machine can reach 127.0.0.1); on the socket in this private folder, trust.
    // C.UTF-8: code-point order like SQLite's, and case mapping for all of Unicode (citext, lower()).
    await run(command(bin, 'initdb', ['-D', data, '-U', 'postgres', '--pwfile', passwordFile, '--auth-local=trust', '--auth-host=scram-sha-256',
      '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync', '--no-instructions']));
    rmSync(passwordFile);
    appendFileSync(join(data, 'postgresql.conf'), "\ninclude 'parley-test.conf'\n");
    const ctl = (...args: string[]) => run(command(bin, 'pg_ctl', [...args, '-D', data]));
    const start = () => ctl('start', '-w', '-t', '60', '-l', logFile);
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      writeFileSync(join(data, 'parley-test.conf'), settings(port, dir, options.durable ?? false));
      try {
        await start();
        break;
      } catch (error) {
        if (attempt === 3) throw error; // the port was taken between freePort() and the start, three times over
      }
    }
    reaper.plan({ run: [command(bin, 'pg_ctl', ['stop', '-m', 'immediate', '-D', data])], remove: [dir] });
    const urlOf = (database: string) => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;
    await createTemplate(urlOf('postgres'));
    let destroyed = false;
    return {
      url: urlOf('postgres'),
      port,
      dir,
      urlOf,
      stop: (mode = 'fast') => ctl('stop', '-w', '-m', mode),
      start,
      async destroy() {
        if (destroyed) return;
        destroyed = true;
        if (existsSync(join(data, 'postmaster.pid'))) await ctl('stop', '-w', '-m', 'immediate');
        rmSync(dir, { recursive: true, force: true });
        reaper.done();
      },
      log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    };
  } catch (error) {
    reaper.done(); // the plan so far only removes the folder: the process goes on, so do it now
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A cluster of this test's own (for failure tests that stop it), destroyed after the test. */
export async function postgresCluster(t: TestContext, options: ClusterOptions = {}): Promise<PostgresCluster> {
  const cluster = await startPostgres(options);
  t.after(() => cluster.destroy());
  return cluster;
}

const adminOptions = { max: 1, onnotice: () => {}, connect_timeout: 10 } as const;

/**
 * Makes the template if the server lacks it (a server given by PARLEY_TEST_POSTGRES): under another
 * name first, renamed when complete and closed to connections, so that nobody copies it half made or
 * is refused because someone is connected to it.
 */
async function createTemplate(adminUrl: string): Promise<void> {
  // One connection (max: 1), so the session's advisory lock covers every statement; CREATE DATABASE cannot run in a transaction.
  const sql = postgres(adminUrl, adminOptions);
  try {
    await sql`select pg_advisory_lock(hashtext(${templateName}))`;
    if ((await sql`select 1 from pg_database where datname = ${templateName}`).length > 0) return;
    const building = `${templateName}_${process.pid}`;
    await sql.unsafe(`drop database if exists ${building}`);
    await sql.unsafe(`create database ${building}`);
    const inside = postgres(withDatabase(adminUrl, building), adminOptions);
    try {
      for (const name of extensions) await inside.unsafe(`create extension if not exists ${name}`);
    } finally {
      await inside.end();
    }
    await sql.unsafe(`alter database ${building} rename to ${templateName}`);
    await sql.unsafe(`alter database ${templateName} allow_connections false`);
  } finally {
    await sql.end(); // ends the session, and with it the lock
  }
}

const withDatabase = (url: string, database: string) => {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
};

let counter = 0;

/** Creates an empty database with the extensions, copied from the template; answers its URL. */
export async function createDatabase(adminUrl: string): Promise<string> {
  const name = `parley_test_${process.pid}_${++counter}_${randomBytes(3).toString('hex')}`;
  const sql = postgres(adminUrl, adminOptions);
  try {
    await sql.unsafe(`create database ${name} template ${templateName}`);
  } finally {
    await sql.end();
  }
  return withDatabase(adminUrl, name);
}

/** Drops a test database, disconnecting whoever still uses it. */
export async function dropDatabase(adminUrl: string, url: string): Promise<void> {
  const sql = postgres(adminUrl, adminOptions);
  try {
    await sql.unsafe(`drop database if exists ${new URL(url).pathname.slice(1)} with (force)`);
  } finally {
    await sql.end();
  }
}

let own: Promise<string> | undefined;

/**
 * The maintenance URL of the run's shared cluster: PARLEY_TEST_POSTGRES, which `npm test` sets (the
 * template is made there if missing), or a cluster started for this process alone (a test file run by
 * itself), which its reaper removes when the process exits.
 */
export function sharedPostgres(): Promise<string> {
  const given = process.env.PARLEY_TEST_POSTGRES;
  own ??= given
    ? createTemplate(given).then(() => given, (error: unknown) => Promise.reject(new Error(`PARLEY_TEST_POSTGRES (${new URL(given).host}): ${String(error)}`)))
    : startPostgres().then((cluster) => cluster.url);
  return own;
}

/** A fresh database on the shared cluster, dropped after the test (when given one). */
export async function testDatabase(t?: TestContext): Promise<string> {
  const adminUrl = await sharedPostgres();
  const url = await createDatabase(adminUrl);
  t?.after(() => dropDatabase(adminUrl, url));
  return url;
}

/** The storage engine the suite runs on in this pass: PARLEY_TEST_ENGINE, `sqlite` when unset. */
export function testEngine(): 'sqlite' | 'postgres' {
  const engine = process.env.PARLEY_TEST_ENGINE ?? 'sqlite';
  if (engine !== 'sqlite' && engine !== 'postgres') throw new Error(`PARLEY_TEST_ENGINE must be sqlite or postgres, not ${engine}`);
  return engine;
}

/**
 * The settings that put a test server on this pass's engine: none for SQLite (DBPATH in `home`
 * does), DATABASE_URL of a fresh database for PostgreSQL — the same one again for the same `home`
 * (a restart on the same data). dropEngineDatabase(home) drops it once the server has stopped.
 */
export async function engineEnv(home: string): Promise<Record<string, string>> {
  if (testEngine() === 'sqlite') return {};
  const file = join(home, 'database-url');
  if (existsSync(file)) return { DATABASE_URL: readFileSync(file, 'utf8') };
  const url = await createDatabase(await sharedPostgres());
  writeFileSync(file, url);
  return { DATABASE_URL: url };
}

/** Drops the database engineEnv(home) made, if it made one (call it after the server stopped). */
export async function dropEngineDatabase(home: string): Promise<void> {
  const file = join(home, 'database-url');
  if (existsSync(file)) await dropDatabase(await sharedPostgres(), readFileSync(file, 'utf8'));
}
