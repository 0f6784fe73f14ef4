// Periodic work on shared data (pruning the event log, sweeping unused files, pruning the push outbox)
// runs once across the nodes of a cluster, not once per node. Time is cut into periods of the job's
// length on the database's clock; every node's timer fires once a period, and the first to claim the
// period's round in PostgreSQL (a row per job, storage/rounds.ts) runs it while the others skip it.
// Why a claimed period rather than an advisory lock held during the round: a lock only keeps rounds
// from overlapping, and three nodes would still each run one a period, one after the other; a claim
// makes it one round a period, whichever node, and no connection is held for the length of a round.
// Work on this node's own sockets (expired sessions, slow readers) and on its own memory (receipts,
// typing) stays on every node; the push outbox's sending is shared out row by row instead (FOR UPDATE
// SKIP LOCKED, storage/outbox.ts).
import type { Logger } from './log.ts';
import type { Store } from './storage/index.ts';
import type { Commit } from './storage/engine/commit.ts';

export type Periodic = {
  /** The round run at start. */
  readonly first: Promise<void>;
  stop(): void;
};

/**
 * Runs `round` every `everyMs`, on one node of the cluster a period. The round at start runs on every
 * node that starts (its settings may be new, e.g. a shorter EVENT_LOG_DAYS, and should apply at once),
 * and counts as the period's: the other nodes skip the rest of it. A round still running when the
 * timer fires again is not started twice.
 */
export function everyPeriod(app: { commit: Commit<Store>; store: Store; log: Logger }, job: string, everyMs: number, round: () => Promise<void>): Periodic {
  let running = false;
  async function run(atStart: boolean): Promise<void> {
    if (running) return;
    running = true;
    try {
      const period = await app.commit.run(({ store }) => store.rounds.claim(job, everyMs, atStart));
      if (period === undefined) return;
      app.log.debug('periodic round', { job, period, ...(atStart ? { at_start: true } : {}) });
      await round();
    } catch (error) {
      app.log.error('periodic round failed', { job, error });
    } finally {
      running = false;
    }
  }
  const first = run(true);
  const timer = setInterval(() => void run(false), everyMs);
  timer.unref();
  return { first, stop: () => clearInterval(timer) };
}
