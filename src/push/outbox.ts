// The persistent outbox the push worker drains: what each storage engine implements, and the rules
// every implementation follows (test/helpers/outbox-contract.ts checks them against one).
import type { Device, Notification } from './types.ts';

/**
 * Notifications are kept per device and per key: `conversation:<id>` for everything about one
 * conversation (so a burst coalesces into one notification), `thread:<root id>` for the replies that
 * stay in one thread (counted and read apart from the conversation's main list), `notice:<id>` for an
 * administrator's.
 */
export function outboxKey(notification: Notification): string {
  if (notification.kind === 'notice') return `notice:${notification.id}`;
  if ((notification.kind === 'message' || notification.kind === 'mention') && notification.thread_id !== undefined) return `thread:${notification.thread_id}`;
  return `conversation:${notification.conversation.id}`;
}

/** The thread a row's key is about (`thread:<root id>`), else null. */
export const threadOfKey = (key: string): number | null => (key.startsWith('thread:') ? Number(key.slice('thread:'.length)) : null);

/**
 * When a notification meets a pending one for the same device and key, the newer replaces it unless
 * the pending one outranks it: a mention is not lost under the chatter that follows it; a reaction
 * never hides a message.
 */
export const rankOf = (notification: Notification): number =>
  notification.kind === 'mention' ? 2 : notification.kind === 'reaction' ? 0 : 1;

/** One notification to queue, in the same transaction as the event it is about. */
export type Enqueue = { deviceId: number; notification: Notification };

/**
 * A claimed entry: what the worker sends, and what it hands back to settle it. All times are epoch ms.
 */
export type OutboxItem = {
  device: Device;
  /** `outboxKey` of the notification. */
  key: string;
  /** The newest notification for this device and key (merged by rank), as it was when claimed. */
  notification: Notification;
  /** The unread count of the conversation (of the thread, for a `thread:` key) for the device's user, counted when claimed; null for notices. */
  unread: number | null;
  /** Built from what is true when claimed, nothing is left to tell this reader (see the store's notificationOf): skipped. */
  nothingToSay?: true;
  /** Bumped by each enqueue for this device and key: settling says which version was dealt with. */
  version: number;
  /** When the pending notifications began waiting: the TTL and the give-up time run from here. */
  queuedAt: number;
  /** Claims so far, this one included (a claim whose worker died counts). */
  attempts: number;
  /** Names this claim: settling with a lease that has since expired and been claimed again does nothing. */
  lease: string;
};

/**
 * The outbox, one row per (device, key): notifications for a device about one conversation merge
 * into one row, which keeps, after a delivery, the time before which the next may not go.
 *
 * - `enqueue`: insert, or merge into the row (the newer notification wins unless the row's pending
 *   one outranks it; a row being sent always takes the newer, which is what goes next). A row with
 *   nothing pending becomes due at max(now, its hold); its attempts start again from 0.
 * - `claim`: up to `limit` rows with something pending, due (`due_at <= now`) and not leased (never
 *   leased, or lease expired), oldest due first; each is leased for `leaseMs` with a new token and
 *   its attempts counted. Several workers (processes, nodes) claim concurrently and never get the
 *   same row while its lease lasts: `FOR UPDATE SKIP LOCKED` on PostgreSQL, one writer on SQLite.
 * - `complete`: the claimed version is done with (delivered, refused, given up or not worth sending):
 *   nothing of it is ever sent again. The row keeps `holdUntil`; if newer notifications merged in
 *   while it was out, they stay pending, due at max(now, holdUntil), attempts from 0.
 * - `retry`: the row is due again at `at`, its lease released.
 * - `removeDevice`: the device and all its rows go (the push service said it is gone).
 * - `prune`: rows with nothing pending whose hold has passed go; returns how many.
 *
 * `complete` and `retry` resolve false, changing nothing, when the item's lease is no longer the
 * row's (it expired and another worker claimed the row, or the device was removed).
 */
export type Outbox = {
  enqueue(entries: readonly Enqueue[], now: number): Promise<void>;
  claim(now: number, limit: number, leaseMs: number): Promise<OutboxItem[]>;
  complete(item: OutboxItem, now: number, holdUntil: number): Promise<boolean>;
  retry(item: OutboxItem, at: number): Promise<boolean>;
  removeDevice(deviceId: number): Promise<void>;
  prune(now: number): Promise<number>;
};
