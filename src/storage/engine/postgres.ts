// The PostgreSQL engine (the `postgres` package): a pool of connections, statements prepared on the
// server, the open batch's transaction on one reserved connection (its control statements pipelined with
// the statements around them), and migrations under an advisory lock.
import postgres from 'postgres';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { textFor, type Driver, type Sql, type Statement, type Text, type Transaction } from './sql.ts';
import type { Logger } from '../../log.ts';

type Pool = postgres.Sql;

const migrationsDir = join(import.meta.dirname, '..', 'postgres', 'migrations');
const migrations = readdirSync(migrationsDir)
  .filter((name) => /^\d+_.*\.sql$/.test(name))
  .sort()
  .map((name) => ({ name, version: Number.parseInt(name, 10) }));

/** The schema version this code writes and reads on PostgreSQL. */
export const postgresSchemaVersion = migrations.at(-1)!.version;

/** Any number: both engines' rows carry JavaScript numbers (bigint ids, counts, times). */
const asNumber = { to: 20, from: [20, 1700], serialize: (value: unknown) => String(value), parse: (value: string) => Number(value) };

/** Errors that mean "the database cannot be reached now", not "this statement is wrong". */
const unreachable = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
  '57P01', '57P02', '57P03', '53300', '25P02',
]);
export const isUnavailable = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (unreachable.has(code) || code.startsWith('08'));
};

/** The advisory lock two servers starting at once take before migrating, so that one migrates and the other waits. */
const migrationLock = 0x5061726c; // "Parl"

export type PostgresOptions = { url: string; pool: number; ca?: string; log: Logger; connectTimeout?: number };

export function postgresPool(options: PostgresOptions): Pool {
  return postgres(options.url, {
    max: options.pool,
    connect_timeout: options.connectTimeout ?? 5,
    idle_timeout: 60,
    prepare: true,
    types: { number: asNumber } as never,
    onnotice: () => {},
    ...(options.ca ? { ssl: { ca: options.ca, rejectUnauthorized: true } } : {}),
    // Parley's statements are short. PostgreSQL's JIT compiles a statement whose estimated cost is high
    // (an estimate made on a table without statistics, say) for hundreds of milliseconds that it then
    // runs in one: the follower's read, measured at 516 ms of compiling for 0.1 ms of running.
    connection: { application_name: 'parley', jit: 'off' },
  });
}

/** Applies every migration above the recorded version, each in its own transaction, while holding the advisory lock. */
export async function migratePostgres(pool: Pool, log: Logger): Promise<void> {
  await pool.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${migrationLock})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_version (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)`;
    const [row] = await tx<{ version: number }[]>`SELECT version FROM schema_version WHERE id = 1`;
    const from = row?.version ?? 0;
    if (from > postgresSchemaVersion) {
      throw new Error(`the database is at schema version ${from}, newer than this Parley knows (${postgresSchemaVersion}): a newer Parley upgraded it. Run that version, or restore a backup taken before the upgrade`);
    }
    for (const { name, version } of migrations) {
      if (version <= from) continue;
      await tx.unsafe(readFileSync(join(migrationsDir, name), 'utf8'));
      await tx`INSERT INTO schema_version (id, version) VALUES (1, ${version}) ON CONFLICT (id) DO UPDATE SET version = excluded.version`;
      log.info(from === 0 ? 'created the database schema' : 'upgraded the database', { engine: 'postgres', migration: name });
    }
  });
}

/** SQLSTATEs of a unit that lost a race with another transaction and may run again: a deadlock, a serialization failure. */
const retryableCodes = new Set(['40P01', '40001']);

/** A statement sent without waiting for its answer: its failure shows in the statements after it. */
const send = (connection: postgres.ReservedSql, text: string): void => void connection.unsafe(text).catch(() => {});

/** How long a batch waits for its connection before a new pool of batches takes over (see `reserve`). */
const reserveWaitMs = 10_000;

/**
 * `pool` answers statements outside any batch; batches take a connection of `batches` (the server gives
 * them a pool of one of their own, so that a batch never queues behind reads for a connection), and
 * `freshBatches` makes a new such pool when that one stops handing out its connection.
 */
export function postgresDriver(pool: Pool, batches: Pool = pool, freshBatches?: () => Pool): Driver {
  const first = (rows: readonly Record<string, unknown>[]) => (rows[0] === undefined ? undefined : Object.values(rows[0])[0]);
  /** The open batch's connection, and whether the unit running now has taken its savepoint. */
  let batch: postgres.ReservedSql | undefined;
  let unit: { savepoint: boolean } | undefined;

  function statements(run: (sql: string, params: unknown[]) => postgres.PendingQuery<postgres.Row[]>): Sql {
    return {
      engine: 'postgres',
      prepare<Row>(text: Text): Statement<Row> {
        const sql = textFor(text, 'postgres');
        return {
          all: async (...params) => [...(await run(sql, params))] as Row[],
          get: async (...params) => (await run(sql, params))[0] as Row | undefined,
          value: async <V>(...params: unknown[]) => first(await run(sql, params)) as V | undefined,
          values: async <V>(...params: unknown[]) => (await run(sql, params)).map((row) => Object.values(row)[0]) as V[],
          run: async (...params) => (await run(sql, params)).count,
          insert: async (...params) => Number(first(await run(sql, params))),
        };
      },
      list: (values) => [...values],
    };
  }

  const outside = statements((sql, params) => pool.unsafe(sql, params as never[], { prepare: true }));
  const inBatch = statements((sql, params) => {
    if (!batch) throw new Error('a statement of a unit of work ran with no batch open');
    // The unit's savepoint goes out with its first statement, not a round trip before it.
    if (unit && !unit.savepoint) {
      unit.savepoint = true;
      send(batch, 'SAVEPOINT unit');
    }
    return batch.unsafe(sql, params as never[], { prepare: true });
  });

  const control: Transaction = {
    async unit(work) {
      const own = { savepoint: false };
      unit = own;
      try {
        const value = await work();
        if (own.savepoint) send(batch!, 'RELEASE SAVEPOINT unit');
        return value;
      } catch (error) {
        if (own.savepoint) {
          await batch!.unsafe('ROLLBACK TO SAVEPOINT unit');
          send(batch!, 'RELEASE SAVEPOINT unit');
        }
        throw error;
      } finally {
        unit = undefined;
      }
    },
    last(statement) {
      finishing.push(statement());
    },
  };
  let finishing: Promise<unknown>[] = [];

  /**
   * The batches' connection. After PostgreSQL went away and came back under load, the client now and then
   * never hands out its pool's one connection again (in about a third of runs of postgres.test's outage
   * test: every batch after waited for good, unanswered). Past `reserveWaitMs` a new pool takes over; the
   * old one gives back whatever it hands out late, and is ended.
   */
  async function reserve(): Promise<postgres.ReservedSql> {
    if (!freshBatches) return batches.reserve();
    const reserving = batches.reserve();
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, reserveWaitMs, undefined)));
    const connection = await Promise.race([reserving, waited]).finally(() => clearTimeout(timer));
    if (connection) return connection;
    reserving.then((late) => late.release(), () => {});
    const stale = batches;
    batches = freshBatches();
    void stale.end({ timeout: 1 }).catch(() => {});
    return batches.reserve();
  }

  return {
    ...outside,
    batch: inBatch,
    async transaction<T>(body: (tx: Transaction) => Promise<T>): Promise<T> {
      const connection = await reserve();
      let open = false;
      try {
        // BEGIN goes out with the batch's first statement. No lock is taken here: the event log's
        // counter is taken by the batch's last statement, with its COMMIT (events.ts says why).
        send(connection, 'BEGIN');
        open = true;
        batch = connection;
        finishing = [];
        const result = await body(control);
        const last = finishing;
        const committed = connection.unsafe('COMMIT');
        // The last statements' failure is the batch's: PostgreSQL then answers the COMMIT with a ROLLBACK.
        const settled = await Promise.allSettled([...last, committed]);
        const failed = settled.find((outcome) => outcome.status === 'rejected');
        open = false;
        if (failed) throw (failed as PromiseRejectedResult).reason;
        if ((await committed).command !== 'COMMIT') throw new Error('the transaction was rolled back at its COMMIT');
        return result;
      } catch (error) {
        if (open) await connection.unsafe('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        batch = undefined;
        unit = undefined;
        finishing = [];
        connection.release();
      }
    },
    // Each unit that wrote keeps its subtransaction's id until the COMMIT: within 64 of them a
    // transaction's subtransactions stay in PostgreSQL's per-backend cache (PGPROC_MAX_CACHED_SUBXIDS).
    unitsPerTransaction: 64,
    unavailable: isUnavailable,
    retryable: (error) => retryableCodes.has((error as { code?: unknown } | null)?.code as string),
    close: async () => {
      await Promise.all([pool.end({ timeout: 5 }), batches === pool ? undefined : batches.end({ timeout: 5 })]);
    },
  };
}
