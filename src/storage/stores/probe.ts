// The readiness probe's question to the database: does it answer a read?
import type { Sql } from '../engine/sql.ts';

export function probeStore(sql: Sql) {
  const answer = sql.prepare({ sqlite: 'SELECT count(*) FROM sqlite_schema', postgres: 'SELECT 1' });
  return {
    /** Rejects with what the engine says when it cannot read (a closed handle, an I/O error, no connection). */
    answers: async (): Promise<boolean> => (await answer.value()) !== undefined,
  };
}
