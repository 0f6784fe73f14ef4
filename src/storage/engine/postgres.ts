// The PostgreSQL engine (the `postgres` package): a pool of connections, statements prepared on the
// server, the open batch's transaction on one reserved connection, and migrations under an advisory lock.
import postgres from 'postgres';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { textFor, type Driver, type Statement, type Text, type Transaction } from './sql.ts';
import type { Logger } from '../../log.ts';

type Pool = postgres.Sql;
type Connection = postgres.Sql | postgres.TransactionSql;

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
    connection: { application_name: 'parley' },
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

export function postgresDriver(pool: Pool): Driver {
  /** The open batch's transaction: statements run on it while it is open, on the pool otherwise. */
  let active: postgres.TransactionSql | undefined;
  const on = (): Connection => active ?? pool;
  const first = (rows: readonly Record<string, unknown>[]) => (rows[0] === undefined ? undefined : Object.values(rows[0])[0]);
  const query = (sql: string, params: unknown[]) => on().unsafe(sql, params as never[], { prepare: true });
  return {
    engine: 'postgres',
    prepare<Row>(text: Text): Statement<Row> {
      const sql = textFor(text, 'postgres');
      return {
        all: async (...params) => [...(await query(sql, params))] as Row[],
        get: async (...params) => (await query(sql, params))[0] as Row | undefined,
        value: async <V>(...params: unknown[]) => first(await query(sql, params)) as V | undefined,
        values: async <V>(...params: unknown[]) => (await query(sql, params)).map((row) => Object.values(row)[0]) as V[],
        run: async (...params) => (await query(sql, params)).count,
        insert: async (...params) => Number(first(await query(sql, params))),
      };
    },
    list: (values) => [...values],
    async transaction<T>(body: (tx: Transaction) => Promise<T>): Promise<T> {
      return (await pool.begin(async (tx) => {
        // The event counter's row first: a batch takes it anyway when it logs an event, and its units
        // lock other rows before and after. Servers sharing the database (a cluster) would otherwise lock
        // in different orders and deadlock; taken first, one batch waits for the other instead.
        await tx.unsafe('SELECT 1 FROM event_counter FOR UPDATE');
        active = tx;
        // Each unit in a savepoint of postgres.js's own (tx.savepoint): a statement that fails there is
        // charged to that unit, which is rolled back to its savepoint, and not to the whole transaction
        // (whose COMMIT postgres.js would turn into a ROLLBACK for any failed statement it saw).
        const control: Transaction = {
          unit: (work) =>
            tx.savepoint(async (unit) => {
              active = unit;
              try {
                return await work();
              } finally {
                active = tx;
              }
            }) as never,
        };
        try {
          return await body(control);
        } finally {
          // Before the COMMIT goes out: what runs meanwhile goes to the pool, not to a finished transaction.
          active = undefined;
        }
      })) as T;
    },
    // postgres.js does not release its savepoints: they nest until the COMMIT. Within 64 written ones a
    // transaction's subtransactions stay in PostgreSQL's per-backend cache (PGPROC_MAX_CACHED_SUBXIDS).
    unitsPerTransaction: 64,
    unavailable: isUnavailable,
    close: () => pool.end({ timeout: 5 }),
  };
}
