// Receipts: delivered and read points per member, gathered and pushed as one `receipt` per member that moved.
// The events `mark_read` and `get_receipts` are features/receipts.ts.
import { limits } from '../protocol/index.ts';
import { logAndDeliver } from './delivery/fanout.ts';
import type { Logger } from './log.ts';
import type { Store } from './storage/index.ts';
import type { Commit } from './storage/engine/commit.ts';
import type { Registry } from './registry.ts';
import type { ClusterSeam } from './cluster/seam.ts';
import type { Ordering } from './ordering.ts';
import type { MemberListRow, Move } from './storage/stores/members.ts';

const groupBy = <T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> => {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
};

type Pending = {
  /** When this conversation's receipts go out. */
  due: number;
  /** The newest message published to the conversation: delivered to every member online. */
  sent: number;
  /** Who sent messages, up to which: sending shows they have read everything up to their own message. */
  senders: Map<number, number>;
  /** Members handed messages by get_messages: up to which. */
  fetched: Map<number, number>;
  /** Members whose read point moved. */
  read: Set<number>;
};

export type Receipts = ReturnType<typeof createReceipts>;

/**
 * Read points move at once in the database, delivered ones when a conversation's receipts go out:
 * `receiptDelayMs` after its first change (`receiptDelayLargeMs` in big conversations), so a burst of
 * messages makes one receipt per member rather than one per message, and busy conversations go out
 * at different moments, not all at once.
 */
export function createReceipts(app: { store: Store; commit: Commit<Store>; registry: Registry; cluster: ClusterSeam; log: Logger; now(): number; ordering: Ordering }) {
  const pending = new Map<number, Pending>();
  /** Conversations with more than `receiptPushMembers` members, as last seen: their receipts wait longer. */
  const large = new Set<number>();
  let timer: NodeJS.Timeout | undefined;

  function entry(conversationId: number): Pending {
    let found = pending.get(conversationId);
    if (!found) {
      const delay = large.has(conversationId) ? limits.receiptDelayLargeMs : limits.receiptDelayMs;
      pending.set(conversationId, (found = { due: performance.now() + delay, sent: 0, senders: new Map(), fetched: new Map(), read: new Set() }));
    }
    timer ??= setTimeout(tick, limits.receiptDelayMs).unref();
    return found;
  }

  function tick(): void {
    timer = undefined;
    flush(performance.now());
    let next = Number.POSITIVE_INFINITY;
    for (const { due } of pending.values()) next = Math.min(next, due);
    if (next !== Number.POSITIVE_INFINITY) timer = setTimeout(tick, Math.max(10, next - performance.now())).unref();
  }

  /** Sends the receipts of every conversation due by `until` (all of them by default), as one unit of work. */
  function flush(until = Number.POSITIVE_INFINITY): Promise<void> {
    const due: [number, Pending][] = [];
    for (const [conversationId, changes] of pending) {
      if (changes.due > until) continue;
      pending.delete(conversationId);
      due.push([conversationId, changes]);
    }
    if (due.length === 0) return Promise.resolve();
    return app.commit.run((job) => sendReceipts({ store: job.store, job, now: app.now, registry: app.registry, ordering: app.ordering }, due)).catch((error: unknown) => {
      // Lost a race with another node's transaction (past the commit's own retries) or the database is
      // away: nothing of the unit was written, so its points are kept and go out with the next round.
      const { driver } = app.store;
      if (!driver.retryable(error) && !driver.unavailable(error)) return app.log.error('receipts failed', { error });
      app.log.warn('receipts not written, tried again shortly', { error: String(error), conversations: due.length });
      for (const [conversationId, changes] of due) requeue(conversationId, changes);
    });
  }

  /** Puts back what a failed round would have written, merged with what came meanwhile. */
  function requeue(conversationId: number, changes: Pending): void {
    const found = entry(conversationId);
    found.sent = Math.max(found.sent, changes.sent);
    for (const [userId, messageId] of changes.senders) found.senders.set(userId, Math.max(found.senders.get(userId) ?? 0, messageId));
    for (const [userId, messageId] of changes.fetched) found.fetched.set(userId, Math.max(found.fetched.get(userId) ?? 0, messageId));
    for (const userId of changes.read) found.read.add(userId);
  }

  /**
   * Moves the due conversations' points and logs a receipt for each member whose points moved, pushed
   * to every member once committed. The same few statements for all of them: the members and who blocked
   * whom among them (one round trip on PostgreSQL, nothing locked), then the points that move, in one
   * statement that locks those members' rows alone, in one order (PostgreSQL).
   */
  async function sendReceipts(scoped: Parameters<typeof logAndDeliver>[0], due: readonly [number, Pending][]): Promise<void> {
    const ids = due.map(([conversationId]) => conversationId);
    const [listed, blocks] = await Promise.all([scoped.store.members.listMany(ids), scoped.store.contacts.blocksAmong(ids)]);
    const membersOf = groupBy(listed, (member) => member.conversation_id);
    // A receipt shows its member's presence: hidden both ways across a block, from whoever blocked them and whomever they blocked.
    const blockingOf = new Map<string, number[]>();
    for (const { conversation_id, user_id, blocked_id } of blocks) {
      for (const [member, other] of [[blocked_id, user_id], [user_id, blocked_id]]) {
        const key = `${conversation_id}:${member}`;
        blockingOf.set(key, [...(blockingOf.get(key) ?? []), other!]);
      }
    }
    // An invisible member's points do not move by being connected: a delivered receipt would show them online.
    const visible = (member: MemberListRow) => member.status !== 'invisible';
    // Connected on any node of a cluster; asked once, about those whose point it could move.
    const candidates = due.flatMap(([conversationId, { sent }]) => (membersOf.get(conversationId) ?? []).filter((member) => visible(member) && member.delivered_id < sent).map((member) => member.user_id));
    const online = await app.cluster.online([...new Set(candidates)]);
    // What moves: sending shows the sender read everything up to their message (once per round rather than
    // once per message); a member is delivered what was sent while they were connected, or handed to them.
    // Read without a lock, so a point may have moved meanwhile: the move never takes one back, and says what it moved.
    const moves: Move[] = [];
    for (const [conversationId, { sent, senders, fetched }] of due) {
      for (const member of membersOf.get(conversationId) ?? []) {
        const readTo = senders.get(member.user_id) ?? 0;
        const deliveredTo = visible(member) ? Math.max(online.has(member.user_id) ? sent : 0, fetched.get(member.user_id) ?? 0) : 0;
        if (readTo > member.read_id || deliveredTo > member.delivered_id) moves.push([conversationId, member.user_id, readTo, deliveredTo]);
      }
    }
    const moved = new Map((await scoped.store.members.move(moves)).map((row) => [`${row.conversation_id}:${row.user_id}`, row]));
    for (const [conversationId, { read }] of due) {
      const members = membersOf.get(conversationId) ?? [];
      const pushDelivered = members.length <= limits.receiptPushMembers;
      if (pushDelivered) large.delete(conversationId);
      else large.add(conversationId);
      for (const member of members) {
        const key = `${conversationId}:${member.user_id}`;
        const points = moved.get(key);
        const readMoved = read.has(member.user_id) || (points !== undefined && points.read_id > points.read_before);
        const deliveredMoved = points !== undefined && points.delivered_id > points.delivered_before;
        if (!readMoved && !(deliveredMoved && pushDelivered)) continue;
        const data = {
          conversation_id: conversationId,
          username: member.username,
          delivered_id: points?.delivered_id ?? member.delivered_id,
          ...(readMoved ? { read_id: points?.read_id ?? member.read_id } : {}),
        };
        await logAndDeliver(scoped, 'receipt', data, { conversation: conversationId, actor: member.user_id, blocking: blockingOf.get(key) ?? [] });
      }
    }
  }

  return {
    /**
     * A message was published to a conversation's topic; sending it moves its sender's read point there
     * (`senderId`), unless it is a reply that stays in its thread (null: the main list is not read by it).
     */
    sent(conversationId: number, messageId: number, senderId: number | null): void {
      const found = entry(conversationId);
      found.sent = Math.max(found.sent, messageId);
      if (senderId !== null) found.senders.set(senderId, messageId);
    },
    /** A member was handed a conversation's messages up to `messageId` by a request. */
    fetched(conversationId: number, userId: number, messageId: number): void {
      const found = entry(conversationId).fetched;
      found.set(userId, Math.max(found.get(userId) ?? 0, messageId));
    },
    /** A member's read point moved. */
    read(conversationId: number, userId: number): void {
      entry(conversationId).read.add(userId);
    },
    /** Every read point a member's own sending has moved and that is not yet written, by conversation (for a read on another thread). */
    pendingReads(userId: number): Record<number, number> {
      const points: Record<number, number> = {};
      for (const [conversationId, { senders }] of pending) {
        const point = senders.get(userId);
        if (point !== undefined) points[conversationId] = point;
      }
      return points;
    },
    /** Sends everything gathered now (at shutdown). */
    flush: () => flush(),
  };
}
