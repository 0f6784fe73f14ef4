// The PostgreSQL client as installed (patched by build.mjs on every install and start): a connection that
// closes while a small write of it waits for the next turn of the loop comes back working. Unpatched, the
// close kept the cancelled write's handle, so the connection's later writes (its next start-up message
// first) waited for a turn that never came: every query on it failed with CONNECT_TIMEOUT, for good.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import postgres from 'postgres';
import { needs } from './helpers/installed.ts';
import { testDatabase } from './helpers/postgres.ts';
import { sleep } from './helpers/wait.ts';

/**
 * A client of one connection to a new database, on sockets of its own (the package's `socket` option), so
 * that the test can close the one in use (`current()`).
 */
async function ownSockets(t: TestContext) {
  const url = new URL(await testDatabase(t));
  let current: Socket | undefined;
  const options = {
    max: 1, connect_timeout: 5, onnotice: () => {},
    // Documented in the package's README ("Custom socket"), not in its types.
    socket: () => new Promise<Socket>((resolve) => {
      const socket = connect(Number(url.port), url.hostname);
      current = socket;
      socket.once('connect', () => resolve(socket));
    }),
  };
  const sql = postgres(url.toString(), options as postgres.Options<Record<string, never>>);
  t.after(() => sql.end({ timeout: 1 }));
  return { sql, current: () => current! };
}

test('a connection closed while its write waits for the next turn comes back working', async (t) => {
  if (!needs(t, 'postgres')) return;
  const { sql, current } = await ownSockets(t);
  assert.deepEqual([...(await sql`SELECT 1 AS one`)], [{ one: 1 }]);
  // From inside an immediate (as the server's batches end), a query: its write is put off to the next
  // turn's immediates; the socket closes in this turn, before that write runs.
  let lost: Promise<unknown> | undefined;
  await new Promise<void>((resolve) => setImmediate(async () => {
    lost = sql`SELECT 2`.catch((error: { code?: string }) => error.code);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    current().destroy();
    resolve();
  }));
  assert.equal(await lost, 'CONNECTION_CLOSED');
  const started = performance.now();
  const next = await sql`SELECT 3 AS three`.catch((error: { code?: string }) => error.code);
  assert.deepEqual(next === 'CONNECT_TIMEOUT' ? next : [...(next as Iterable<unknown>)], [{ three: 3 }], 'the next query runs on a fresh connection');
  assert.ok(performance.now() - started < 4000, 'without waiting for the connect timeout');
});

// The server's batches hold a reserved connection from BEGIN to COMMIT. PostgreSQL crashing between two of
// its statements left the next one (the ROLLBACK) unanswered for good, and every unit queued after it with it
// (postgres.test.ts' outage under a stream of sends, in runs under load): the client's execute() on a
// connection whose socket is gone set the query as current and put its write off, and the write was dropped.
// Then giving the connection back put it among the open ones, where the next query met the same fate.
test('a query on a reserved connection whose socket has closed fails with CONNECTION_CLOSED instead of waiting for ever, and the pool opens the connection again', async (t) => {
  if (!needs(t, 'postgres')) return;
  const { sql, current } = await ownSockets(t);
  // As the server's batches do: a connection of their own, held from BEGIN to COMMIT or ROLLBACK.
  const reserved = await sql.reserve();
  assert.deepEqual([...(await reserved`SELECT 1 AS one`)], [{ one: 1 }]);
  // PostgreSQL goes away while the connection is held and idle (a crash between two of its statements).
  const closed = new Promise((resolve) => current().once('close', resolve));
  current().destroy();
  await closed;
  const outcome = await Promise.race([
    reserved.unsafe('ROLLBACK').then(() => 'answered', (error: { code?: string }) => error.code),
    sleep(5000, 'no answer within 5 s'),
  ]);
  assert.equal(outcome, 'CONNECTION_CLOSED');
  reserved.release();
  const started = performance.now();
  assert.deepEqual([...(await sql`SELECT 3 AS three`)], [{ three: 3 }], 'the next query runs on a fresh connection');
  assert.ok(performance.now() - started < 4000, 'without waiting for the connect timeout');
});
