// Counting toward a cap, then writing what it counts, as one step per counted thing over every server.
// SQLite runs one write transaction at a time, so its count already sees every earlier write. On PostgreSQL
// two nodes' batches (or two of one node's) could each count one under the cap and both write, and READ
// COMMITTED shows neither the other's row: a transaction's advisory lock on (what is counted, whose) is taken
// first, in a statement of its own, so that the count after it takes a snapshot that sees whoever held the
// lock before. The lock is held to COMMIT. Several are taken in ascending order; a deadlock with row locks
// is undone and run again, as every unit's is.
import type { Sql } from '../engine/sql.ts';

/** The first key of each kind of count (the second is the conversation's or the user's id). */
const kinds = { members: 1, bans: 2, contacts: 3, blocks: 4 } as const;
export type Counted = keyof typeof kinds;

/** Takes the cap locks of `ids` for `what` (nothing on SQLite). */
export function capLock(sql: Sql): (what: Counted, ids: readonly number[]) => Promise<void> {
  if (sql.engine !== 'postgres') return async () => {};
  // Ids above the int4 range share a key with another: only more waiting, never a missed lock.
  const lock = sql.prepare('SELECT pg_advisory_xact_lock($1::int, ($2::bigint % 2147483647)::int)');
  return async (what, ids) => {
    for (const id of [...new Set(ids)].sort((a, b) => a - b)) await lock.run(kinds[what], id);
  };
}
