// The readiness probe's question to the database: does it answer a read?
import type { Db } from './db.ts';

export function probeStore(db: Db) {
  const schema = db.prepare<[], { tables: number }>('SELECT count(*) AS tables FROM sqlite_schema');
  return {
    /** Throws what SQLite says when it cannot read (a closed handle, an I/O error). */
    answers: (): boolean => schema.get() !== undefined,
  };
}
