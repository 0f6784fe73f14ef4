// Group commit: the writes of every frame handled in one turn of the event loop share one
// transaction, and every reply and push waits for its COMMIT, so an acknowledgement means durable.
import type { Db } from './db.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';

export type Commit = {
  /** Runs `work` in the open batch (opening one if needed) as a savepoint: its writes stand or fall together. */
  run<T>(work: () => T): T;
  /** Runs `effect` once the batch is committed (`true`) or failed (`false`); at once when no batch is open. */
  after(effect: (committed: boolean) => void): void;
  /** Resolves once whatever has been written so far is committed. */
  durable(): Promise<boolean>;
  /** Commits the open batch now (at shutdown); a no-op when none is open. */
  flush(): void;
};

/**
 * `gapMs`: under load, commits are spaced at least this far apart so that batches grow; every
 * commit writes its pages to the WAL once, however many rows they hold. An idle server commits at once.
 */
export function createCommit(db: Db, log: Logger, metrics: Pick<Metrics, 'committed' | 'commitFailed'>, gapMs = 1): Commit {
  let open = false;
  let lastCommit = 0;
  let units = 0;
  let effects: ((committed: boolean) => void)[] = [];
  const savepoint = db.transaction((work: () => unknown) => work());

  function flush(): void {
    if (!open) return;
    open = false;
    lastCommit = performance.now();
    let committed = true;
    try {
      db.exec('COMMIT');
      metrics.committed(units, performance.now() - lastCommit);
    } catch (error) {
      committed = false;
      metrics.commitFailed();
      log.error('commit failed', { error });
      if (db.inTransaction) db.exec('ROLLBACK');
    }
    units = 0;
    const run = effects;
    effects = [];
    for (const effect of run) {
      try {
        effect(committed);
      } catch (error) {
        log.error('after-commit effect failed', { error });
      }
    }
  }

  const commit: Commit = {
    run<T>(work: () => T): T {
      if (!open) {
        db.exec('BEGIN IMMEDIATE');
        open = true;
        // At the earliest after the I/O callbacks of this turn: every frame that arrived with this one joins the batch.
        const wait = lastCommit + gapMs - performance.now();
        if (wait <= 0) setImmediate(flush);
        else setTimeout(flush, wait);
      }
      units++;
      // Effects registered by work that fails are dropped with its writes: they would announce what was rolled back.
      const registered = effects.length;
      try {
        return savepoint(work) as T;
      } catch (error) {
        effects.length = registered;
        throw error;
      }
    },
    after(effect) {
      if (open) effects.push(effect);
      else effect(true);
    },
    durable() {
      return new Promise((resolve) => commit.after(resolve));
    },
    flush,
  };
  return commit;
}
