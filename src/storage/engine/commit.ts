// Group commit: units of work (one per frame, HTTP write or background job) run one at a time, in the
// order they came, inside one transaction per batch; every reply and push waits for its COMMIT, so an
// acknowledgement means committed. Consecutive units of one kind may run as one (a group: a few
// statements for all of them). The events a batch logs are numbered and appended at its end. The same on
// both engines.
import type { Driver } from './sql.ts';
import type { Append, PendingEvent } from './journal.ts';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';

/** Runs once the batch is committed (`true`), or failed (`false`, with why). */
export type Effect = (committed: boolean, failure?: unknown) => void;

/** A unit of work as it runs: its store (on the batch's transaction), what runs after the commit, the events it logs. */
export type Job<S = unknown> = {
  readonly store: S;
  after(effect: Effect): void;
  /**
   * Logs an event: appended to the event log at the batch's end, when `event.logged.seq` is set (before
   * any effect runs). Sets and returns the batch's key for it (see `placeholder`). Dropped if the unit fails.
   */
  log(event: PendingEvent): number;
};

/** Runs consecutive queued units of one kind together: one outcome per input, in their order. */
export type Kind<I, O, S = unknown> = {
  readonly name: string;
  run(items: readonly { readonly input: I; readonly job: Job<S> }[]): Promise<Outcome<O>[]>;
};
export type Outcome<O> = { readonly value: O } | { readonly error: unknown };

export type Commit<S = unknown> = {
  /**
   * Queues `work` after everything queued before it. It runs alone, as a savepoint: if it throws, its
   * writes, effects and events are undone and `failed` runs in its place (still in order, its effects
   * kept). Resolves with the result once committed; rejects with the error when the work or the commit failed.
   */
  run<T>(work: (job: Job<S>) => Promise<T> | T, failed?: (error: unknown, job: Job<S>) => void): Promise<T>;
  /**
   * Queues one input of a kind of unit that runs together with the units of the same kind queued right
   * before or after it (one savepoint for the group); an input whose outcome is an error fails alone,
   * as a unit would. Should the group's statements fail, each input runs again on its own.
   */
  together<I, O>(kind: Kind<I, O, S>, input: I, failed?: (error: unknown, job: Job<S>) => void): Promise<O>;
  /** Runs `effect` once everything queued so far is committed; at once when nothing is. */
  after(effect: Effect): void;
  /** Resolves once everything queued so far is committed (`true`) or failed (`false`). */
  durable(): Promise<boolean>;
  /** Resolves once nothing is queued or running (at shutdown). */
  flush(): Promise<void>;
};

type Entry<S> = {
  readonly work?: (job: Job<S>) => unknown;
  readonly kind?: Kind<unknown, unknown, S>;
  readonly input?: unknown;
  readonly failed?: (error: unknown, job: Job<S>) => void;
  readonly effects: Effect[];
  readonly events: PendingEvent[];
  readonly job: Job<S>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  value?: unknown;
  error?: { error: unknown };
  /** Times it lost a race with another transaction (a deadlock), each time undone and left to the next batch. */
  lost?: number;
  /** Undone in this batch, to run again in the next. */
  deferred?: boolean;
};

/** Thrown by `attempt` for units left to the next batch. */
class Deferred extends Error {}

export type CommitOptions<S> = {
  /** The store units run on: its statements go to the batch's transaction. */
  store: S;
  /** Appends the batch's events (`store`'s event log); without it, logging an event is an error. */
  append?: Append;
  /** Told as a batch sends its numbering (the cluster's ordering): the returned function runs once its answer came back or failed. */
  numbering?(): () => void;
  /** Told each seq of this node's events once numbered, before the COMMIT (the cluster's ordering)… */
  numbered?(seq: number): void;
  /** …and each such seq again should that COMMIT fail: it is free for another node's event. */
  undone?(seq: number): void;
  /**
   * Under load, commits are spaced at least this far apart so that batches grow; a batch takes every
   * unit that arrives before the end of the event-loop turn it began in (and the gap). An idle server
   * commits at the end of the turn its unit arrived in (PostgreSQL runs the unit as soon as it
   * arrives, SQLite at the end of that turn with the rest of it).
   */
  gapMs?: number;
  /**
   * PostgreSQL: how long a batch, once due, goes on taking queued work (20 ms; a test that needs the
   * units it queued in one turn in one batch, whatever the machine's speed, sets it long). SQLite
   * collects its turn's units instead and takes no window.
   */
  fillMs?: number;
};

/** The most inputs one group takes: its statements carry them all as arrays. */
const groupLimit = 1000;
/**
 * How often a unit that lost a race with another transaction (a deadlock) runs again before it fails:
 * each time in the next batch, not in the same transaction, whose earlier units may hold the very locks
 * the other transaction waits for (two nodes' batches touching the same rows in different orders).
 */
const retries = 3;

export function createCommit<S>(driver: Driver, log: Logger, metrics: Pick<Metrics, 'committed' | 'commitFailed'>, options: CommitOptions<S>): Commit<S> {
  const { store, append, numbering, numbered, undone, gapMs = 1 } = options;
  /** How long a batch may go on taking queued work once due: SQLite's units take microseconds, PostgreSQL's round trips. */
  const fillMs = driver.engine === 'postgres' ? (options.fillMs ?? 20) : 0;
  /**
   * SQLite: a batch takes the units of its turn only once the turn is over (its units run in
   * microseconds, and nothing is gained by starting them as they come), so that consecutive units of a
   * kind arrive together and run as groups; PostgreSQL starts each unit as it comes, its round trips
   * overlapping the arrival of the next.
   */
  const collect = fillMs === 0;
  const queue: Entry<S>[] = [];
  let running: Promise<void> | undefined;
  let lastCommit = 0;
  /** Wakes a batch that waits for work before its turn is over. */
  let wake: (() => void) | undefined;
  /** The batch's keys for its events: never reused within a process, so a placeholder names one event. */
  let nextKey = 0;

  // A unit's job, as one object per unit with shared methods (no closures made per message).
  type UnitJob = Job<S> & { readonly effects: Effect[]; readonly events: PendingEvent[] };
  function after(this: UnitJob, effect: Effect): void {
    this.effects.push(effect);
  }
  function logEvent(this: UnitJob, event: PendingEvent): number {
    if (!append) throw new Error('this commit keeps no event log');
    event.key = ++nextKey;
    this.events.push(event);
    return event.key;
  }

  function entry(work: Entry<S>['work'], failed: Entry<S>['failed'], resolve: Entry<S>['resolve'], reject: Entry<S>['reject'], kind?: Entry<S>['kind'], input?: unknown): Entry<S> {
    const job: UnitJob = { store, effects: [], events: [], after, log: logEvent };
    return { work, kind, input, failed, effects: job.effects, events: job.events, job, resolve, reject };
  }

  function enqueue(item: Entry<S>): void {
    queue.push(item);
    if (wake) {
      if (!collect) wake();
    } else if (!running) running = loop();
  }

  /** Resolves when the waiting batch is woken: by a unit queued, or by the end of its turn. */
  async function woken(): Promise<void> {
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }

  async function loop(): Promise<void> {
    while (queue.length) await batch();
    running = undefined;
  }

  /** A unit's failure: what it registered is dropped (it would announce what never happened), `failed` runs instead. */
  function fail(item: Entry<S>, error: unknown): void {
    item.effects.length = 0;
    item.events.length = 0;
    item.error = { error };
    if (!item.failed) return;
    try {
      item.failed(error, item.job);
    } catch (inner) {
      log.error('handling a failed unit of work failed', { error: inner });
    }
  }

  /**
   * Runs a unit in its savepoint. One that lost a race with another transaction is undone and left to
   * the next batch (Deferred): once this one commits, the locks the other waits for are free.
   */
  async function attempt<T>(tx: Parameters<Parameters<Driver['transaction']>[0]>[0], items: readonly Entry<S>[], work: () => Promise<T>): Promise<T> {
    try {
      return await tx.unit(work);
    } catch (error) {
      const lost = (items[0]!.lost ?? 0) + 1;
      if (lost > retries || !driver.retryable(error)) throw error;
      for (const item of items) {
        item.lost = lost;
        item.deferred = true;
        item.effects.length = 0;
        item.events.length = 0;
      }
      log.warn('a unit of work lost a race with another transaction and runs again in the next batch', { code: (error as { code?: unknown }).code, attempt: lost });
      throw new Deferred();
    }
  }

  /** A group of units of one kind: one savepoint, each input's own outcome; on a failure of the group as such, one at a time. */
  async function runGroup(tx: Parameters<Parameters<Driver['transaction']>[0]>[0], group: Entry<S>[]): Promise<void> {
    const kind = group[0]!.kind!;
    let outcomes: Outcome<unknown>[];
    try {
      outcomes = await attempt(tx, group, () => kind.run(group.map((item) => ({ input: item.input, job: item.job }))));
    } catch (error) {
      if (error instanceof Deferred) return;
      if (driver.unavailable(error) || group.length === 1) {
        for (const item of group) fail(item, error);
        if (driver.unavailable(error)) throw error;
        return;
      }
      log.warn('a group of units failed as a whole; each runs again alone', { kind: kind.name, units: group.length, error: String(error) });
      for (const item of group) {
        item.effects.length = 0;
        item.events.length = 0;
      }
      for (const item of group) await runGroup(tx, [item]);
      return;
    }
    group.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if ('error' in outcome) fail(item, outcome.error);
      else item.value = outcome.value;
    });
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
    const done: Entry<S>[] = [];
    let units = 0;
    let failure: unknown;
    const started = performance.now();
    /** When the transaction could begin work. */
    let began = started;
    try {
      await driver.transaction(async (tx) => {
        began = performance.now();
        /** Collecting: how many of the queued units this batch still takes (those queued when its turn ended). */
        let take = Number.POSITIVE_INFINITY;
        for (;;) {
          if (collect && !due) {
            await woken();
            continue;
          }
          if (collect && take === Number.POSITIVE_INFINITY) take = queue.length;
          const next = take > 0 ? queue.shift() : undefined;
          if (!next) {
            if (due) break;
            await woken();
            continue;
          }
          take--;
          done.push(next);
          if (next.kind) {
            const group = [next];
            while (take > 0 && queue[0]?.kind === next.kind && group.length < groupLimit) {
              group.push(queue.shift()!);
              take--;
            }
            done.push(...group.slice(1));
            units++;
            await runGroup(tx, group);
          } else if (next.work) {
            units++;
            try {
              next.value = await attempt(tx, [next], async () => next.work!(next.job));
            } catch (error) {
              if (!(error instanceof Deferred)) {
                fail(next, error);
                // The database is gone: the batch fails as a whole (nothing of it can commit).
                if (driver.unavailable(error)) throw error;
              }
            }
          } // else an `after`: nothing to run, its effect waits for this commit
          if (units >= driver.unitsPerTransaction) break;
          // The rest starts the next batch, except on PostgreSQL: each unit there costs round trips, so
          // once due a batch goes on taking what is queued for up to `fillMs` (a commit per message
          // would cap chat at the commits the server can make one after another).
          if (due && queue.length && !collect && !(fillMs > 0 && performance.now() - began < fillMs)) break;
        }
        const events = done.flatMap((item) => item.events);
        if (events.length) {
          tx.last(async () => {
            const over = numbering?.();
            try {
              const seqs = await append!(events);
              events.forEach((event, i) => {
                event.logged.seq = seqs[i]!;
                numbered?.(seqs[i]!);
              });
            } finally {
              over?.();
            }
          });
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
            if (next.work || next.kind) next.failed?.(error, next.job);
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
    // Units left to the next batch go first in the queue, with the `after`s queued behind them (theirs
    // wait for them to commit).
    const firstDeferred = done.findIndex((item) => item.deferred);
    if (firstDeferred >= 0) {
      const kept: Entry<S>[] = [];
      const again: Entry<S>[] = [];
      done.forEach((item, i) => (item.deferred || (i > firstDeferred && !item.work && !item.kind) ? again : kept).push(item));
      for (const item of again) item.deferred = false;
      done.splice(0, done.length, ...kept);
      queue.unshift(...again);
    }
    const committed = failure === undefined;
    if (!committed) {
      for (const item of done) {
        for (const event of item.events) {
          if (event.logged.seq > 0) undone?.(event.logged.seq);
          event.logged.seq = 0;
        }
      }
    }
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

  const commit: Commit<S> = {
    run<T>(work: (job: Job<S>) => Promise<T> | T, failed?: (error: unknown, job: Job<S>) => void): Promise<T> {
      return new Promise<T>((resolve, reject) => enqueue(entry(work, failed, resolve as (value: unknown) => void, reject)));
    },
    together<I, O>(kind: Kind<I, O, S>, input: I, failed?: (error: unknown, job: Job<S>) => void): Promise<O> {
      return new Promise<O>((resolve, reject) => enqueue(entry(undefined, failed, resolve as (value: unknown) => void, reject, kind as Kind<unknown, unknown, S>, input)));
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
