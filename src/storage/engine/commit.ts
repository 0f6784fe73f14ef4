// Group commit: units of work (one per frame, HTTP write or background job) run one at a time, in the
// order they came, inside one transaction per batch; every reply and push waits for its COMMIT, so an
// acknowledgement means committed. The same on both engines.
import type { Driver } from './sql.ts';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';

/** Runs once the batch is committed (`true`), or failed (`false`, with why). */
export type Effect = (committed: boolean, failure?: unknown) => void;

/** A unit of work as it runs: what it registers runs after the commit, and is dropped if the unit fails. */
export type Job = { after(effect: Effect): void };

export type Commit = {
  /**
   * Queues `work` after everything queued before it. It runs alone, as a savepoint: if it throws, its
   * writes and effects are undone and `failed` runs in its place (still in order, its effects kept).
   * Resolves with the result once committed; rejects with the error when the work or the commit failed.
   */
  run<T>(work: (job: Job) => Promise<T> | T, failed?: (error: unknown, job: Job) => void): Promise<T>;
  /** Runs `effect` once everything queued so far is committed; at once when nothing is. */
  after(effect: Effect): void;
  /** Resolves once everything queued so far is committed (`true`) or failed (`false`). */
  durable(): Promise<boolean>;
  /** Resolves once nothing is queued or running (at shutdown). */
  flush(): Promise<void>;
};

type Entry = {
  readonly work?: (job: Job) => unknown;
  readonly failed?: (error: unknown, job: Job) => void;
  readonly effects: Effect[];
  readonly job: Job;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  value?: unknown;
  error?: { error: unknown };
};

/**
 * `gapMs`: under load, commits are spaced at least this far apart so that batches grow; a batch takes
 * every unit that arrives before the end of the event-loop turn it began in (and the gap). An idle
 * server runs a unit as soon as it arrives and commits at the end of that turn.
 */
export function createCommit(driver: Driver, log: Logger, metrics: Pick<Metrics, 'committed' | 'commitFailed'>, gapMs = 1): Commit {
  /** How long a batch may go on taking queued work once due: SQLite's units take microseconds, PostgreSQL's round trips. */
  const fillMs = driver.engine === 'postgres' ? 20 : 0;
  const queue: Entry[] = [];
  let running: Promise<void> | undefined;
  let lastCommit = 0;
  /** Wakes a batch that waits for work before its turn is over. */
  let wake: (() => void) | undefined;

  function entry(work: Entry['work'], failed: Entry['failed'], resolve: Entry['resolve'], reject: Entry['reject']): Entry {
    const effects: Effect[] = [];
    return { work, failed, effects, job: { after: (effect) => void effects.push(effect) }, resolve, reject };
  }

  function enqueue(item: Entry): void {
    queue.push(item);
    if (wake) wake();
    else if (!running) running = loop();
  }

  async function loop(): Promise<void> {
    while (queue.length) await batch();
    running = undefined;
  }

  async function batch(): Promise<void> {
    let due = false;
    const end = () => {
      due = true;
      wake?.();
    };
    const wait = lastCommit + gapMs - performance.now();
    const timer = wait > 0 ? setTimeout(end, wait) : undefined;
    const immediate = wait > 0 ? undefined : setImmediate(end);
    const done: Entry[] = [];
    let units = 0;
    let failure: unknown;
    const started = performance.now();
    /** When the transaction could begin work: in a cluster it may first wait for another node's batch. */
    let began = started;
    try {
      await driver.transaction(async (tx) => {
        began = performance.now();
        for (;;) {
          const next = queue.shift();
          if (!next) {
            if (due) return;
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
            continue;
          }
          done.push(next);
          if (!next.work) continue; // an `after`: nothing to run, its effect waits for this commit
          units++;
          try {
            next.value = await tx.unit(async () => next.work!(next.job));
          } catch (error) {
            // Effects of undone work would announce what never happened.
            next.effects.length = 0;
            next.error = { error };
            if (next.failed) {
              try {
                next.failed(error, next.job);
              } catch (inner) {
                log.error('handling a failed unit of work failed', { error: inner });
              }
            }
            // The database is gone: the batch fails as a whole (nothing of it can commit).
            if (driver.unavailable(error)) throw error;
          }
          if (units >= driver.unitsPerTransaction) return;
          // The rest starts the next batch, except on PostgreSQL: each unit there costs round trips, so
          // once due a batch goes on taking what is queued for up to `fillMs` (a commit per message
          // would cap chat at the commits the server can make one after another). The time counts from
          // when the batch got its turn: a batch that waited for another node's takes more, not less.
          if (due && queue.length && !(fillMs > 0 && performance.now() - began < fillMs)) return;
        }
      });
      metrics.committed(units, performance.now() - started);
    } catch (error) {
      failure = error;
      metrics.commitFailed();
      if (driver.unavailable(error)) log.warn('commit failed: the database is unavailable', { error: String(error), code: (error as { code?: unknown }).code });
      else log.error('commit failed', { error });
      if (done.length === 0) {
        // The transaction did not even begin (PostgreSQL out of reach): what waits was not run, so nothing
        // of it changed. It is refused now, with this failure, rather than kept waiting for the database.
        for (const next of queue.splice(0)) {
          done.push(next);
          try {
            if (next.work) next.failed?.(error, next.job);
          } catch (inner) {
            log.error('handling a failed unit of work failed', { error: inner });
          }
        }
      }
    } finally {
      clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
      wake = undefined;
    }
    lastCommit = performance.now();
    const committed = failure === undefined;
    for (const item of done) {
      for (const effect of item.effects) {
        try {
          effect(committed, failure);
        } catch (error) {
          log.error('after-commit effect failed', { error });
        }
      }
    }
    for (const item of done) {
      if (item.error) item.reject(item.error.error);
      else if (!committed) item.reject(failure);
      else item.resolve(item.value);
    }
  }

  const commit: Commit = {
    run<T>(work: (job: Job) => Promise<T> | T, failed?: (error: unknown, job: Job) => void): Promise<T> {
      return new Promise<T>((resolve, reject) => enqueue(entry(work, failed, resolve as (value: unknown) => void, reject)));
    },
    after(effect) {
      if (!running && queue.length === 0) return effect(true);
      const marker = entry(undefined, undefined, () => {}, () => {});
      marker.effects.push(effect);
      enqueue(marker);
    },
    durable: () => new Promise((resolve) => commit.after((committed) => resolve(committed))),
    async flush() {
      while (running) await running;
    },
  };
  return commit;
}
