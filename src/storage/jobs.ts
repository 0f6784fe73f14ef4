// Periodic work that must run on one node of a cluster at a time (pruning the log, indexing for search):
// a unit of work claims its job first, and skips it when another node holds the claim. On PostgreSQL the
// claim is an advisory lock held until the batch commits; a single SQLite server always has it.
import type { Sql } from './sql.ts';

/** Advisory lock keys, one per job; "Parl" and the job's number, apart from the migration lock. */
const jobKeys = { prune: 0x5061726c01, search: 0x5061726c02 } as const;

export type JobName = keyof typeof jobKeys;

export function jobsStore(sql: Sql) {
  const claim = sql.prepare({ sqlite: 'SELECT 1', postgres: 'SELECT pg_try_advisory_xact_lock($1)' });
  return {
    /** Inside the unit of work: true when this node may run the job now (until the batch commits). */
    claim: async (job: JobName): Promise<boolean> => Boolean(await (sql.engine === 'postgres' ? claim.value(jobKeys[job]) : claim.value())),
  };
}
