// The throwaway PostgreSQL and Redis the tests and benchmarks run against: fresh databases with the
// extensions, settings as documented, stop and start under a client, and nothing left behind — not
// even when the test process is killed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { needs } from './helpers/installed.ts';
import { dropEngineDatabase, engineEnv, postgresCluster, sharedPostgres, startPostgres, testDatabase } from './helpers/postgres.ts';
import { startRedis } from './helpers/redis.ts';
import { sleep } from './helpers/wait.ts';

const root = new URL('..', import.meta.url).pathname;

/** Whether something listens on a loopback port. */
const listening = (port: number) => new Promise<boolean>((resolve) => {
  const socket = connect(port, '127.0.0.1', () => {
    socket.destroy();
    resolve(true);
  }).once('error', () => resolve(false));
});

test('a test database is fresh, has citext, unaccent and pg_trgm, and is dropped after its test', async (t) => {
  if (!needs(t, 'postgres')) return;
  let first = '';
  await t.test('made and used', async (t) => {
    first = await testDatabase(t);
    const second = await testDatabase(t);
    assert.notEqual(first, second);
    const sql = postgres(first, { max: 1, onnotice: () => {} });
    t.after(() => sql.end());
    const [row] = await sql`select 'Élan'::citext = 'éLAN'::citext as equal, unaccent('Crème brûlée') as plain,
      'parley' % 'parleys' as similar, current_setting('lc_ctype') as ctype, current_setting('server_encoding') as encoding`;
    assert.deepEqual({ ...row }, { equal: true, plain: 'Creme brulee', similar: true, ctype: 'C.UTF-8', encoding: 'UTF8' });
    await sql`create table notes (id integer primary key)`;
    const other = postgres(second, { max: 1 });
    t.after(() => other.end());
    assert.deepEqual(await other`select count(*)::int as n from pg_tables where tablename = 'notes'`.then((rows) => rows[0]), { n: 0 }, 'each database is its own');
  });
  const admin = postgres(await sharedPostgres(), { max: 1 });
  t.after(() => admin.end());
  const left = await admin`select datname from pg_database where datname = ${new URL(first).pathname.slice(1)}`;
  assert.deepEqual([...left], [], 'dropped after the test that made it');
});

test('engineEnv: nothing for SQLite; for PostgreSQL a DATABASE_URL, the same again for the same home, dropped by dropEngineDatabase', async (t) => {
  if (!needs(t, 'postgres')) return;
  const before = process.env.PARLEY_TEST_ENGINE;
  t.after(() => (before === undefined ? delete process.env.PARLEY_TEST_ENGINE : (process.env.PARLEY_TEST_ENGINE = before)));
  const home = mkdtempSync(join(tmpdir(), 'parley-engine-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  process.env.PARLEY_TEST_ENGINE = 'sqlite';
  assert.deepEqual(await engineEnv(home), {});
  await dropEngineDatabase(home); // nothing to drop
  process.env.PARLEY_TEST_ENGINE = 'postgres';
  const { DATABASE_URL } = await engineEnv(home);
  assert.match(DATABASE_URL!, /^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/parley_test_\d+_\d+_[0-9a-f]{6}$/);
  assert.deepEqual(await engineEnv(home), { DATABASE_URL }, 'a restart on the same home finds the same database');
  const sql = postgres(DATABASE_URL!, { max: 1 });
  assert.deepEqual([...await sql`select 1 as one`], [{ one: 1 }]);
  await sql.end();
  await dropEngineDatabase(home);
  const admin = postgres(await sharedPostgres(), { max: 1 });
  t.after(() => admin.end());
  assert.deepEqual([...await admin`select 1 from pg_database where datname = ${new URL(DATABASE_URL!).pathname.slice(1)}`], []);
  process.env.PARLEY_TEST_ENGINE = 'mysql';
  await assert.rejects(engineEnv(home), { message: 'PARLEY_TEST_ENGINE must be sqlite or postgres, not mysql' });
});

test('PostgreSQL stopped under a client and started again: the client fails fast meanwhile, then goes on, and nothing committed is lost', async (t) => {
  if (!needs(t, 'postgres')) return;
  const cluster = await postgresCluster(t);
  const settings = postgres(cluster.url, { max: 1, onnotice: () => {} });
  t.after(() => settings.end());
  const shown = await settings`select current_setting('fsync') as fsync, current_setting('full_page_writes') as fpw, current_setting('synchronous_commit') as sync`;
  assert.deepEqual({ ...shown[0] }, { fsync: 'off', fpw: 'off', sync: 'on' });

  const sql = postgres(cluster.urlOf('postgres'), { max: 2, connect_timeout: 2, onnotice: () => {} });
  t.after(() => sql.end());
  await sql`create table sent (id integer primary key)`;
  for (let id = 1; id <= 100; id++) await sql`insert into sent values (${id})`;
  await cluster.stop('immediate'); // as if PostgreSQL had crashed: fsync is off, and still every commit is there after recovery
  await assert.rejects(sql`select 1`, (error: NodeJS.ErrnoException) => error.code === 'ECONNREFUSED' || error.code === 'CONNECTION_CLOSED');
  assert.equal(await listening(cluster.port), false);
  await cluster.start();
  assert.deepEqual(await sql`select count(*)::int as n, max(id) as last from sent`.then((rows) => ({ ...rows[0] })), { n: 100, last: 100 });
  assert.match(cluster.log(), /database system was interrupted|database system was not properly shut down/);

  await cluster.stop('fast');
  await assert.rejects(sql`select 1`);
  await cluster.start();
  assert.deepEqual(await sql`select 1 as one`.then((rows) => ({ ...rows[0] })), { one: 1 });
});

test('a durable cluster (for benchmarks) keeps fsync on; destroy stops it and removes its folder', async (t) => {
  if (!needs(t, 'postgres')) return;
  const cluster = await startPostgres({ durable: true });
  t.after(() => cluster.destroy());
  const sql = postgres(cluster.url, { max: 1 });
  const [row] = await sql`select current_setting('fsync') as fsync, current_setting('full_page_writes') as fpw`;
  await sql.end();
  assert.deepEqual({ ...row }, { fsync: 'on', fpw: 'on' });
  await cluster.destroy();
  assert.equal(existsSync(cluster.dir), false);
  assert.equal(await listening(cluster.port), false);
});

test('Redis stopped and started again on the same port, empty; a client reconnects by itself', async (t) => {
  if (!needs(t, 'redis')) return;
  const redis = await startRedis(t);
  assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
  const client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
  client.on('error', () => {});
  t.after(() => client.disconnect());
  await new Promise((resolve) => client.once('ready', resolve));
  assert.equal(await client.set('k', 'v'), 'OK');
  assert.deepEqual(await client.config('GET', 'save').then((pairs) => pairs), ['save', '']);
  await redis.stop();
  assert.equal(await listening(redis.port), false);
  await assert.rejects(client.get('k'));
  await redis.start();
  await new Promise((resolve) => client.once('ready', resolve));
  assert.equal(await client.get('k'), null, 'nothing was kept on disk');
});

test('a test process killed with SIGKILL leaves no PostgreSQL, no Redis and no folder behind', async (t) => {
  if (!needs(t, 'postgres', 'redis')) return;
  // A process that starts both and waits, as a test file would, then is killed before it can clean up.
  const program = [
    "import { startPostgres } from './test/helpers/postgres.ts';",
    "import { startRedis } from './test/helpers/redis.ts';",
    'const pg = await startPostgres();',
    'const redis = await startRedis();',
    'console.log(JSON.stringify({ dir: pg.dir, pg: pg.port, redis: redis.port }));',
    'setInterval(() => {}, 1000);',
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const started = await new Promise<{ dir: string; pg: number; redis: number }>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString())));
    child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
  });
  assert.deepEqual([existsSync(started.dir), await listening(started.pg), await listening(started.redis)], [true, true, true]);
  child.kill('SIGKILL');
  let left: boolean[] = [];
  for (let tries = 0; tries < 100; tries++) {
    await sleep(100);
    left = [existsSync(started.dir), await listening(started.pg), await listening(started.redis)];
    if (!left.some(Boolean)) break;
  }
  assert.deepEqual(left, [false, false, false], 'the reaper stopped both servers and removed the cluster');
});
