// Notifications in the running server: the VAPID keys, the sender and the outbox worker, put together
// from the settings; the worker's outbox calls go through the group commit like every other write.
import type { Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Commit } from '../storage/engine/commit.ts';
import type { Store } from '../storage/index.ts';
import type { Outbox } from './outbox.ts';
import { defaultRetryPolicy } from './retry.ts';
import { createSender } from './send.ts';
import { loadVapid } from './vapid.ts';
import { startPushWorker, type PushWorker, type WorkerStats } from './worker.ts';
import { everyPeriod, type Periodic } from '../periodic.ts';

export type Push = {
  /** The VAPID public key browsers subscribe with (`GET /push/key`, `get_push_key`). */
  readonly publicKey: string;
  /** Looks at the outbox now: after a commit that queued notifications. Does nothing before `start`. */
  wake(): void;
  /** Starts the worker on the store's outbox. */
  start(store: Store, commit: Commit<Store>): void;
  /** What the worker did so far (zeros before `start`). */
  stats(): Readonly<WorkerStats>;
  /** Stops claiming, waits for the notifications in flight, closes the connections to push services. */
  stop(): Promise<void>;
};

/**
 * Each outbox call as a unit of work of the group commit: SQLite has one connection, and a statement
 * run beside an open batch would join (and could be rolled back with) someone else's transaction. A
 * claim resolves once its leases are committed, a settlement once it is durable.
 */
function committed(commit: Commit<Store>): Omit<Outbox, 'prune'> {
  return {
    enqueue: (entries, now) => commit.run(({ store }) => store.outbox.enqueue(entries, now)),
    claim: (now, limit, leaseMs) => commit.run(({ store }) => store.outbox.claim(now, limit, leaseMs)),
    complete: (item, now, holdUntil) => commit.run(({ store }) => store.outbox.complete(item, now, holdUntil)),
    retry: (item, at) => commit.run(({ store }) => store.outbox.retry(item, at)),
    removeDevice: (deviceId) => commit.run(({ store }) => store.outbox.removeDevice(deviceId)),
  };
}

export function createPush(settings: Settings, log: Logger): Push {
  const vapid = loadVapid(settings, log);
  const sender = createSender({
    vapid,
    rules: settings.PUSH_ENDPOINT_HOSTS,
    webhook: settings.PUSH_WEBHOOK_URL === undefined ? undefined : { url: settings.PUSH_WEBHOOK_URL, secret: settings.PUSH_WEBHOOK_SECRET! },
    ttlSeconds: settings.PUSH_TTL_SECONDS,
    sockets: settings.PUSH_CONCURRENCY,
  });
  let worker: PushWorker | undefined;
  let pruning: Periodic | undefined;
  const idle: WorkerStats = { delivered: 0, retried: 0, gone: 0, refused: 0, expired: 0, skipped: 0, lost: 0, failed: 0 };
  return {
    publicKey: vapid.publicKey,
    wake: () => worker?.wake(),
    start(store, commit) {
      worker = startPushWorker({
        outbox: committed(commit),
        send: (item) => sender.send(item),
        log,
        policy: defaultRetryPolicy(settings.PUSH_TTL_SECONDS),
        concurrency: settings.PUSH_CONCURRENCY,
        coalesceMs: settings.PUSH_COALESCE_SECONDS * 1000,
      });
      // Spent rows (delivered, hold passed) go once a minute, pruned by one node of a cluster (src/periodic.ts).
      pruning = everyPeriod({ commit, store, log }, 'push-outbox-prune', 60_000, async () => {
        const pruned = await commit.run((job) => job.store.outbox.prune(Date.now()));
        if (pruned) log.debug('pruned the push outbox', { rows: pruned });
      });
    },
    stats: () => worker?.stats ?? idle,
    async stop() {
      pruning?.stop();
      await worker?.stop();
      sender.close();
    },
  };
}
