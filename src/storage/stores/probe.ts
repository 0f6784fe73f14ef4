// The readiness probe's question to the database (does it answer a read?), and what names the database.
import type { Sql } from '../engine/sql.ts';

export function probeStore(sql: Sql) {
  const answer = sql.prepare({ sqlite: 'SELECT count(*) FROM sqlite_schema', postgres: 'SELECT 1' });
  // PostgreSQL's system identifier (one per data directory, its replicas' too) and the database's oid
  // in it: the same from every node whatever address they reach it by, another for another database.
  const identity = sql.prepare({
    sqlite: "SELECT 'sqlite'",
    postgres: "SELECT (SELECT system_identifier FROM pg_control_system())::text || '/' || oid::text FROM pg_database WHERE datname = current_database()",
  });
  return {
    /** Rejects with what the engine says when it cannot read (a closed handle, an I/O error, no connection). */
    answers: async (): Promise<boolean> => (await answer.value()) !== undefined,
    /** What names this database among others (a cluster's nodes share one: see src/cluster/index.ts). */
    identity: async (): Promise<string> => String(await identity.value()),
  };
}
