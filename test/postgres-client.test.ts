// The PostgreSQL client as installed (patched by build.mjs on every install and start): a connection that
// closes while a small write of it waits for the next turn of the loop comes back working. Unpatched, the
// close kept the cancelled write's handle, so the connection's later writes (its next start-up message
// first) waited for a turn that never came: every query on it failed with CONNECT_TIMEOUT, for good.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import postgres from 'postgres';
import { needs } from './helpers/installed.ts';
import { testDatabase } from './helpers/postgres.ts';

test('a connection closed while its write waits for the next turn comes back working', async (t) => {
  if (!needs(t, 'postgres')) return;
  const url = new URL(await testDatabase(t));
  // Its own sockets (the package's `socket` option), so that the test can close the one in use.
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
  assert.deepEqual([...(await sql`SELECT 1 AS one`)], [{ one: 1 }]);
  // From inside an immediate (as the server's batches end), a query: its write is put off to the next
  // turn's immediates; the socket closes in this turn, before that write runs.
  let lost: Promise<unknown> | undefined;
  await new Promise<void>((resolve) => setImmediate(async () => {
    lost = sql`SELECT 2`.catch((error: { code?: string }) => error.code);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    current!.destroy();
    resolve();
  }));
  assert.equal(await lost, 'CONNECTION_CLOSED');
  const started = performance.now();
  const next = await sql`SELECT 3 AS three`.catch((error: { code?: string }) => error.code);
  assert.deepEqual(next === 'CONNECT_TIMEOUT' ? next : [...(next as Iterable<unknown>)], [{ three: 3 }], 'the next query runs on a fresh connection');
  assert.ok(performance.now() - started < 4000, 'without waiting for the connect timeout');
});
