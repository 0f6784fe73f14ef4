// Rounds of periodic work claimed by one node of a cluster at a time (PostgreSQL); a SQLite database
// belongs to one server, which always has the round.
import type { Sql } from '../engine/sql.ts';

/** The current period of a job `everyMs` long, on the database's clock: the same for every node, whatever their own say. */
const current = 'CAST(floor(extract(epoch FROM clock_timestamp()) * 1000 / CAST($2 AS bigint)) AS bigint)';

export function roundsStore(sql: Sql) {
  const statements = sql.engine === 'postgres'
    ? {
      ensure: sql.prepare('INSERT INTO periodic_rounds (name, period) VALUES ($1, -1) ON CONFLICT (name) DO NOTHING'),
      // SKIP LOCKED: a node whose claim meets another's not yet committed skips the round at once rather
      // than waiting behind that node's batch (and holding up its own).
      claim: sql.prepare(`UPDATE periodic_rounds SET period = ${current}
                WHERE name IN (SELECT name FROM periodic_rounds WHERE name = $1 AND period < ${current} FOR UPDATE SKIP LOCKED)
            RETURNING period`),
      // A round at start is had whatever the period: it waits for a claim under way rather than skip.
      take: sql.prepare(`UPDATE periodic_rounds SET period = GREATEST(period, ${current}) WHERE name = $1 RETURNING period`),
    }
    : undefined;

  return {
    /**
     * Claims the current period's round of job `name` (`everyMs` long) for this node: the period it
     * claimed, or undefined when another node has it. `anyway`: claimed even if the period's round
     * was already had.
     */
    async claim(name: string, everyMs: number, anyway: boolean): Promise<number | undefined> {
      if (!statements) return Math.floor(Date.now() / everyMs);
      const { ensure, claim, take } = statements;
      await ensure.run(name);
      const period = await (anyway ? take : claim).value<string | number>(name, everyMs);
      return period === undefined ? undefined : Number(period);
    },
  };
}
