// Drains the outbox off the chat path: claims due notifications under a lease, sends a bounded number
// at once, and settles each by its outcome (delivered and held for coalescing, retried, device removed, dropped).
import type { Logger } from '../log.ts';
import type { Outbox, OutboxItem } from './outbox.ts';
import { deliveryTimeoutMs } from './send.ts';
import { nextAttempt, type RetryPolicy } from './retry.ts';
import type { Outcome } from './types.ts';

export type WorkerOptions = {
  /** Pruning the outbox is not the worker's: one node of a cluster does it a period (push/service.ts). */
  outbox: Omit<Outbox, 'prune'>;
  send: (item: OutboxItem) => Promise<Outcome>;
  log: Logger;
  policy: RetryPolicy;
  /** Notifications being sent at once, at most (PUSH_CONCURRENCY). */
  concurrency: number;
  /** After a delivery, the next notification for the same device and conversation waits this long (PUSH_COALESCE_SECONDS). */
  coalesceMs: number;
  /**
   * How long a claim lasts: a worker that dies leaves its claims to be taken again after this. Far
   * longer than one attempt may take (`deliveryTimeoutMs`), so a live worker's claim never runs out.
   */
  leaseMs?: number;
  /**
   * How often the outbox is looked at when nothing wakes the worker (retries coming due, other nodes'
   * notifications). Every node of a cluster looks: a row is claimed by one of them (its lease).
   */
  pollMs?: number;
  now?: () => number;
  random?: () => number;
};

/** What happened to the notifications this worker handled: for the log, metrics and the benchmark. */
export type WorkerStats = {
  delivered: number;
  /** Attempts that failed and were scheduled again. */
  retried: number;
  /** Devices removed because their push service (or the bridge) said they are gone. */
  gone: number;
  refused: number;
  /** Retried until the give-up time. */
  expired: number;
  /** Not sent: the conversation had nothing unread any more when it was claimed. */
  skipped: number;
  /** Settled too late: the lease had run out and the row had been claimed again. */
  lost: number;
  /** The outbox failed (a database error): the claim runs out and the row is taken again. */
  failed: number;
};

export type PushWorker = {
  /** Looks at the outbox now (call it after a commit that queued notifications). */
  wake(): void;
  /** Stops claiming and resolves once the notifications in flight are settled. */
  stop(): Promise<void>;
  readonly stats: Readonly<WorkerStats>;
};

/** A message or mention about a conversation whose messages have all been read since, or nothing else left to say: skipped. */
const nothingUnread = (item: OutboxItem) => item.nothingToSay === true || ((item.notification.kind === 'message' || item.notification.kind === 'mention') && item.unread === 0);

export function startPushWorker(options: WorkerOptions): PushWorker {
  const { outbox, log, concurrency } = options;
  const now = options.now ?? Date.now;
  const leaseMs = options.leaseMs ?? 6 * deliveryTimeoutMs;
  const stats: WorkerStats = { delivered: 0, retried: 0, gone: 0, refused: 0, expired: 0, skipped: 0, lost: 0, failed: 0 };
  const inFlight = new Set<Promise<void>>();
  let running = true;
  let pumping: Promise<void> | undefined;
  let again = false;
  let scheduled = false;

  const fields = (item: OutboxItem) => ({ device: item.device.id, user: item.device.userId, kind: item.device.kind, attempts: item.attempts });

  /** `settled` false: another worker holds the row now; it is theirs to finish. */
  function tally(item: OutboxItem, settled: boolean, counter: keyof WorkerStats) {
    if (settled) stats[counter]++;
    else {
      stats.lost++;
      log.warn('push claim ran out before the notification was settled', fields(item));
    }
  }

  async function settle(item: OutboxItem, outcome: Outcome) {
    const at = now();
    switch (outcome.kind) {
      case 'delivered':
        return tally(item, await outbox.complete(item, at, at + options.coalesceMs), 'delivered');
      case 'gone':
        log.info('push device gone: removed', { ...fields(item), status: outcome.status });
        await outbox.removeDevice(item.device.id);
        stats.gone++;
        return;
      case 'refused':
        log.warn('push notification refused', { ...fields(item), status: outcome.status, reason: outcome.reason });
        return tally(item, await outbox.complete(item, at, at), 'refused');
      case 'retry': {
        const next = nextAttempt(options.policy, { attempts: item.attempts, queuedAt: item.queuedAt, now: at, retryAfterMs: outcome.afterMs }, options.random);
        if (next === 'give_up') {
          log.warn('push notification given up', { ...fields(item), status: outcome.status, reason: outcome.reason });
          return tally(item, await outbox.complete(item, at, at), 'expired');
        }
        log.debug('push notification to be retried', { ...fields(item), status: outcome.status, reason: outcome.reason, in_ms: next - at });
        return tally(item, await outbox.retry(item, next), 'retried');
      }
    }
  }

  async function handle(item: OutboxItem) {
    try {
      if (nothingUnread(item)) return tally(item, await outbox.complete(item, now(), now()), 'skipped');
      let outcome: Outcome;
      try {
        outcome = await options.send(item);
      } catch (error) {
        // Sending turns every network failure into an outcome: a throw is a bug or a damaged row, which waiting will not mend.
        log.error('push send failed', { ...fields(item), error });
        outcome = { kind: 'refused', reason: `internal error: ${(error as Error).message}` };
      }
      await settle(item, outcome);
    } catch (error) {
      stats.failed++;
      log.error('push outbox failed', { ...fields(item), error });
    }
  }

  function start(item: OutboxItem) {
    const task: Promise<void> = handle(item).finally(() => {
      inFlight.delete(task);
      schedule();
    });
    inFlight.add(task);
  }

  async function drain() {
    do {
      again = false;
      while (running && inFlight.size < concurrency) {
        const room = concurrency - inFlight.size;
        const items = await outbox.claim(now(), room, leaseMs);
        for (const item of items) start(item);
        if (items.length < room) break;
      }
    } while (again && running);
  }

  function pump() {
    if (!running) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = drain()
      .catch((error: unknown) => {
        stats.failed++;
        log.error('push outbox claim failed', { error });
      })
      .finally(() => {
        pumping = undefined;
      });
  }

  /** Sends finishing together make one claim, not one each. */
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      pump();
    });
  }

  const poll = setInterval(pump, options.pollMs ?? 1000);
  poll.unref();
  pump();

  return {
    wake: schedule,
    async stop() {
      running = false;
      clearInterval(poll);
      await pumping;
      await Promise.all(inFlight);
    },
    stats,
  };
}
