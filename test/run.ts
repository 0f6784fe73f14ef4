// npm test: the whole suite on SQLite, then again on PostgreSQL when it is installed (or both at once with
// --passes=together), sharing one throwaway PostgreSQL cluster across every test file of the run (node:test
// runs each file in a process of its own; they find the cluster in PARLEY_TEST_POSTGRES). The servers the tests spawn
// run the compiled build (build.mjs), made fresh here first.
//
//   npm test                                 every pass this machine can run
//   npm test -- test/sync.test.ts            some files only, on every engine
//   npm test -- --engine=postgres            one engine only (sqlite, postgres, or both: the default)
//   npm test -- --concurrency=2              test files at once in each pass (PARLEY_TEST_CONCURRENCY; default 1)
//   npm test -- --passes=apart               one engine's pass after the other (PARLEY_TEST_PASSES; default together: both at once)
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { components, installLine, missing } from './helpers/installed.ts';
import { startPostgres, type PostgresCluster } from './helpers/postgres.ts';


/**
 * Files whose outcome does not depend on the storage engine (they start no server and open no store, or
 * only an in-memory one): the SQLite pass runs them, the PostgreSQL pass does not repeat them. Files named
 * cluster*.test.ts always run once too: they start their own nodes on PostgreSQL, or test the Redis parts,
 * whichever pass they are in.
 */
const engineIndependent = new Set([
  'build.test.ts', 'throwaway.test.ts', 'ordering.test.ts', 'imports.test.ts', 'protocol-docs.test.ts', 'docs.test.ts', 'secret-file.test.ts', 'client-build.test.ts', 'passwords.test.ts', 'settings.test.ts',
  'dispatch.test.ts', 'postgres-client.test.ts', 'files.test.ts', 'files-images.test.ts', 'files-inspect.test.ts', 'files-store.test.ts',
  'push-endpoints.test.ts', 'push-payload.test.ts', 'push-retry.test.ts', 'push-send.test.ts', 'push-worker.test.ts',
  // What they test is not storage: the client's renewal of its tokens (sessions.test.ts runs on both engines), the
  // image worker's limits, the HTTP transport under hostile clients. The three took 98 s of each pass.
  'client-session.test.ts', 'files-bombs.test.ts', 'http-lifecycle.test.ts',
]);
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
/**
 * Runs in the PostgreSQL pass when there is one (in the SQLite pass otherwise, where it skips saying why):
 * postgres.test.ts, and the cluster tests whose nodes run on PostgreSQL whichever pass they are in (in
 * the SQLite pass, which runs every file that runs once, they made it the longer of two passes at once).
 */
const postgresMachinery = (file: string) => {
  const name = file.split('/').pop()!;
  return name === 'postgres.test.ts' || (/^cluster[^/]*\.test\.ts$/.test(name) && !redisOnly.has(name));
};
/** Cluster tests of the Redis parts alone (no node, no PostgreSQL): they stay in the SQLite pass. */
const redisOnly = new Set(['cluster-bus.test.ts', 'cluster-limits.test.ts', 'cluster-nodes.test.ts', 'cluster-presence.test.ts', 'cluster-redis.test.ts']);
/**
 * Files that hold the server's time to the wall clock (an ordinary chat stays within the default budget
 * of server time per account): each engine's run of them waits until the passes are over, and runs alone.
 * Beside other test files on a small machine every statement takes longer, and so does the chat.
 */
const measuresTime = (file: string) => file.split('/').pop() === 'work-budget.test.ts';

type Engine = 'sqlite' | 'postgres';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const choice = args.find((arg) => arg.startsWith('--engine='))?.slice('--engine='.length);
const concurrency = Number(args.find((arg) => arg.startsWith('--concurrency='))?.slice('--concurrency='.length) ?? process.env.PARLEY_TEST_CONCURRENCY ?? 1);
/** `together` (the default): both engines' passes at once; `apart`: the SQLite pass, then the PostgreSQL pass. */
const passesArg = args.find((arg) => arg.startsWith('--passes='))?.slice('--passes='.length) ?? process.env.PARLEY_TEST_PASSES ?? 'together';
if ((choice !== undefined && !['sqlite', 'postgres', 'both'].includes(choice)) || !Number.isInteger(concurrency) || concurrency < 1 || !['apart', 'together'].includes(passesArg)) {
  console.error('usage: npm test -- [--engine=sqlite|postgres|both] [--concurrency=N] [--passes=apart|together] [test files...]');
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
const children = new Set<ReturnType<typeof spawn>>();
let interrupted: NodeJS.Signals | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // Ctrl-C reaches node --test as well (same process group); SIGTERM may not: pass it on, clean up after.
    interrupted = signal;
    for (const child of children) child.kill(signal);
  });
}

/** One engine's pass; with both passes running at once, each line it prints starts with its engine. */
function pass(engine: Engine, list: string[], tagged: boolean, atOnce = concurrency): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, PARLEY_TEST_ENGINE: engine };
  if (cluster) env.PARLEY_TEST_POSTGRES = cluster.url;
  // A test that hangs fails after 5 minutes (the longest take about one on a loaded machine) instead of holding the run for ever.
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${atOnce}`, '--test-timeout=300000', '--test-reporter=spec', ...list], {
    cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  // The spec reporter ends a pass with its failures ("✖ failing tests:" and what follows): kept, to be printed
  // again after everything else, where the tail of a long log (all a CI page may keep) shows them.
  let failures: string[] | undefined;
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      console.log(tagged ? `[${engine}] ${line}` : line);
      if (/^\s*✖ failing tests:/.test(line)) failures = [];
      else if (failures && failures.length < failureLines && !/^\s+at (node:|.*node_modules)/.test(line)) failures.push(line);
    });
  }
  child.once('close', () => { if (failures) failed.push({ engine, lines: failures }); });
  return new Promise((resolve) => child.once('close', (code, signal) => {
    children.delete(child);
    resolve(code ?? (signal ? 1 : 0));
  }));
}

const outcomes: string[] = [];
/** Lines of each failing pass's failure report kept for the end (the first of them; the rest are in the log above). */
const failureLines = 200;
const failed: { engine: Engine; lines: string[] }[] = [];
let anyFailed = false;
try {
  // What the tests spawn as servers, made fresh once for every file of the run (each checks it again, quickly).
  execFileSync(process.execPath, [join(root, 'build.mjs')], { stdio: 'inherit' });
  // One cluster for the whole run, even for the SQLite pass: tests of PostgreSQL's own parts use it.
  if (postgresAvailable && !given) cluster = await startPostgres();
  const passes = wanted.map((engine) => [engine, engine === 'sqlite'
    ? files.filter((file) => !(postgresMachinery(file) && wanted.includes('postgres')))
    : files.filter((file) => postgresMachinery(file) || !runsOnce(file))] as const).filter(([, list]) => list.length > 0);
  const together = passesArg === 'together' && passes.length > 1;
  const codes: number[] = [];
  const loaded = passes.map(([engine, list]) => [engine, list.filter((file) => !measuresTime(file))] as const);
  if (together) codes.push(...(await Promise.all(loaded.map(([engine, list]) => (list.length > 0 ? pass(engine, list, true) : 0)))));
  else for (const [engine, list] of loaded) if (!interrupted) codes.push(list.length > 0 ? await pass(engine, list, false) : 0);
  for (const [index, [engine, list]] of passes.entries()) {
    const timed = list.filter(measuresTime);
    if (timed.length > 0 && !interrupted) codes[index] = Math.max(codes[index]!, await pass(engine, timed, together, 1));
  }
  passes.forEach(([engine], index) => {
    const code = codes[index]!;
    outcomes.push(`${engine}: ${code === 0 ? 'passed' : `failed (exit code ${code})`}`);
    if (code !== 0) anyFailed = true;
  });
} finally {
  await cluster?.destroy();
}
for (const { engine, lines } of failed) {
  console.log(`\n# failing tests of the ${engine} pass, again:`);
  for (const line of lines) console.log(`[${engine}] ${line}`);
}
if (outcomes.length > 1) console.log(`# ${outcomes.join('; ')}`);
for (const note of notes) console.log(`# ${note}`);
process.exit(interrupted === 'SIGINT' ? 130 : interrupted ? 143 : anyFailed ? 1 : 0);
