// npm test: the whole suite on SQLite, then again on PostgreSQL when it is installed, sharing one
// throwaway PostgreSQL cluster across every test file of the run (node:test runs each file in a
// process of its own; they find the cluster in PARLEY_TEST_POSTGRES).
//
//   npm test                                 every pass this machine can run
//   npm test -- test/sync.test.ts            some files only, on every engine
//   npm test -- --engine=postgres            one engine only (sqlite, postgres, or both: the default)
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { components, installLine, missing } from './helpers/installed.ts';
import { startPostgres, type PostgresCluster } from './helpers/postgres.ts';


/**
 * Files whose outcome does not depend on the storage engine: the SQLite pass runs them, the PostgreSQL
 * pass does not repeat them. Files named cluster*.test.ts always run once too: they start their own
 * nodes on PostgreSQL, or test the Redis parts, whichever pass they are in.
 */
const engineIndependent = new Set(['build.test.ts', 'throwaway.test.ts', 'ordering.test.ts', 'protocol-docs.test.ts', 'client-build.test.ts', 'passwords.test.ts', 'settings.test.ts']);
/**
 * Files about SQLite's own machinery (the database file and its lock, adopting the seed's file, online
 * backups with VACUUM INTO, PRAGMA settings, reader threads): the SQLite pass runs them. PostgreSQL's counterparts
 * (migrations under a lock, a newer schema refused, the server going away, copy-to-postgres) are in
 * postgres.test.ts, which makes its own databases on the run's cluster and so also runs once.
 */
const sqliteMachinery = new Set(['adopt.test.ts', 'backup.test.ts', 'startup.test.ts', 'sqlite-readers.test.ts']);
const runsOnce = (file: string) => {
  const name = file.split('/').pop()!;
  return engineIndependent.has(name) || sqliteMachinery.has(name) || postgresMachinery(file) || /^cluster[^/]*\.test\.ts$/.test(name);
};
/** Runs in the PostgreSQL pass when there is one (in the SQLite pass otherwise, where it skips saying why). */
const postgresMachinery = (file: string) => file.split('/').pop() === 'postgres.test.ts';

type Engine = 'sqlite' | 'postgres';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const choice = args.find((arg) => arg.startsWith('--engine='))?.slice('--engine='.length);
if (choice !== undefined && !['sqlite', 'postgres', 'both'].includes(choice)) {
  console.error('usage: npm test -- [--engine=sqlite|postgres|both] [test files...]');
  process.exit(2);
}
const named = args.filter((arg) => !arg.startsWith('--'));
const files = named.length > 0 ? named : readdirSync(join(root, 'test')).filter((name) => name.endsWith('.test.ts')).sort().map((name) => `test/${name}`);

const given = process.env.PARLEY_TEST_POSTGRES;
const postgresAvailable = given !== undefined || missing(['postgres']).length === 0;
let wanted: Engine[] = choice === 'sqlite' ? ['sqlite'] : choice === 'postgres' ? ['postgres'] : ['sqlite', 'postgres'];
const notes: string[] = [];

if (!postgresAvailable) {
  const how = `${installLine(['postgres'])} (or set PARLEY_TEST_POSTGRES to a PostgreSQL server's URL as a superuser)`;
  if (process.env.CI) {
    console.error(`PostgreSQL is required in CI: ${how}`);
    process.exit(1);
  }
  if (wanted.includes('postgres') && wanted.length === 1) {
    console.error(`PostgreSQL is not installed: ${how}`);
    process.exit(1);
  }
  wanted = ['sqlite'];
  notes.push(`PostgreSQL not installed: the suite ran on SQLite only; ${how}, then npm test runs it on PostgreSQL too.`);
}

// The cluster tests (cluster*.test.ts) skip, each saying why, without Redis, PostgreSQL or nginx: the run ends with the one line to get them.
const forCluster = missing(['postgres', 'redis', 'nginx']);
if (forCluster.length > 0 && files.some((file) => /(^|\/)cluster[^/]*\.test\.ts$/.test(file))) {
  notes.push(`cluster tests that need ${forCluster.map((name) => components[name].what).join(' or ')} were skipped (not installed): ${installLine(forCluster)}, then npm test runs them.`);
}

let cluster: PostgresCluster | undefined;
let child: ReturnType<typeof spawn> | undefined;
let interrupted: NodeJS.Signals | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // Ctrl-C reaches node --test as well (same process group); SIGTERM may not: pass it on, clean up after.
    interrupted = signal;
    child?.kill(signal);
  });
}

function pass(engine: Engine, list: string[]): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, PARLEY_TEST_ENGINE: engine };
  if (cluster) env.PARLEY_TEST_POSTGRES = cluster.url;
  child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...list], { cwd: root, env, stdio: 'inherit' });
  return new Promise((resolve) => child!.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

const outcomes: string[] = [];
let failed = false;
try {
  // What the tests spawn as servers, made fresh once for every file of the run (each checks it again, quickly).
  execFileSync(process.execPath, [join(root, 'build.mjs')], { stdio: 'inherit' });
  // One cluster for the whole run, even for the SQLite pass: tests of PostgreSQL's own parts use it.
  if (postgresAvailable && !given) cluster = await startPostgres();
  for (const engine of wanted) {
    if (interrupted) break;
    const list = engine === 'sqlite'
      ? files.filter((file) => !(postgresMachinery(file) && wanted.includes('postgres')))
      : files.filter((file) => postgresMachinery(file) || !runsOnce(file));
    if (list.length === 0) continue;
    const code = await pass(engine, list);
    outcomes.push(`${engine}: ${code === 0 ? 'passed' : `failed (exit code ${code})`}`);
    if (code !== 0) failed = true;
  }
} finally {
  await cluster?.destroy();
}
if (outcomes.length > 1) console.log(`# ${outcomes.join('; ')}`);
for (const note of notes) console.log(`# ${note}`);
process.exit(interrupted === 'SIGINT' ? 130 : interrupted ? 143 : failed ? 1 : 0);
