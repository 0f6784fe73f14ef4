// The push outbox on either engine (the rules are src/push/outbox.ts's): notifications queued in the
// unit of work of what they are about, merged per device and key, claimed under a lease (FOR UPDATE
// SKIP LOCKED on PostgreSQL, so several servers share one outbox), settled by the worker.
import { randomUUID } from 'node:crypto';
import { outboxKey, rankOf, threadOfKey, type Outbox, type OutboxItem } from '../../push/outbox.ts';
import { preview } from '../../push/payload.ts';
import type { Device, Notification } from '../../push/types.ts';
import { dialect, inList, type Sql } from '../engine/sql.ts';
import { notBlocked } from './contacts.ts';
import { inMain } from './threads.ts';

const greatest = { sqlite: 'max', postgres: 'greatest' };
const idle = 'push_outbox.version = push_outbox.sent_version';
/** The newer notification replaces the pending one unless that one outranks it; a row being sent always takes the newer. */
const takesNewer = `${idle} OR (push_outbox.lease IS NOT NULL AND push_outbox.lease_until > excluded.queued_at) OR excluded.rank >= push_outbox.rank`;
/** What an enqueue does to the row of its device and key: see `Outbox.enqueue`. `excluded.queued_at` is now. */
const merge = dialect`
  ON CONFLICT (device_id, key) DO UPDATE SET
    notification = CASE WHEN ${takesNewer} THEN excluded.notification ELSE push_outbox.notification END,
    rank = CASE WHEN ${takesNewer} THEN excluded.rank ELSE push_outbox.rank END,
    message_id = CASE WHEN ${takesNewer} THEN excluded.message_id ELSE push_outbox.message_id END,
    queued_at = CASE WHEN ${idle} THEN excluded.queued_at ELSE push_outbox.queued_at END,
    due_at = CASE WHEN ${idle} THEN ${greatest}(excluded.queued_at, push_outbox.hold_until) ELSE push_outbox.due_at END,
    attempts = CASE WHEN ${idle} THEN 0 ELSE push_outbox.attempts END,
    version = push_outbox.version + 1`;
const into = 'INSERT INTO push_outbox (device_id, key, user_id, conversation_id, notification, rank, message_id, version, queued_at, due_at)';

/** A level in effect for a member: theirs for the conversation while it lasts (`$8`: now, in seconds), else their default. */
const level = 'COALESCE(CASE WHEN members.notify_until IS NULL OR members.notify_until > $8 THEN members.notify_level END, users.notify_default)';

type ClaimedRow = {
  key: string;
  notification: string;
  version: number;
  queued_at: number;
  attempts: number;
  conversation_id: number | null;
  message_id: number | null;
  user_id: number;
  device_id: number;
  kind: Device['kind'];
  endpoint: string | null;
  p256dh: string | null;
  auth: string | null;
  token: string | null;
  platform: string | null;
  read_id: number | null;
  cleared_id: number | null;
  /** 0 once the device's session has expired or been revoked. */
  live: number;
  /** The member's notification level in effect now (null once they are no longer a member). */
  level: string | null;
};

/** A message a notification shows, read when it is sent. */
type ShownRow = { id: number; content: string; sender: string; mentions: number; thread_id: number | null };

/**
 * Where a claimed row's reader stands: `root`, the thread a `thread:` row is about (else null); `readId`,
 * their read point in it (in the conversation, for a conversation's row), their clear point included;
 * null once they are no longer a member, or (for a thread) no longer follow it: nothing is left to tell.
 */
type ReadPoint = { root: number | null; readId: number | null };

/** A notification about one conversation for its members' devices (see `forMembers`). */
export type MemberNotification = {
  conversationId: number;
  /** Whose doing it is: members who blocked them get nothing. */
  actorId: number;
  /** The members to reach (those with no socket open): the rules below pick among them. */
  recipients: readonly number[];
  /**
   * Queued without the message's text: a `preview` of '' is filled, when it is sent, from the message
   * as it is then (`messageId`); null stays null (PUSH_PREVIEW=false).
   */
  notification: Notification;
  /** The message it is about (a new message, or the one reacted to), read again when it is sent. */
  messageId?: number;
  /** What those in `personal` get instead (a mention), if anything else. */
  personalNotification?: Notification;
  /** Members for whom it is personal: notified at the `mentions` level too. */
  personal: readonly number[];
  /** Members whom it reaches even while `busy` (direct messages, mentions). */
  urgent: readonly number[];
  /** Epoch ms. */
  now: number;
};

export type UnreadCount = (conversationId: number, readerId: number, after: number, cap: number) => Promise<number>;

export function outboxStore(sql: Sql, unread: UnreadCount, unreadCap: number) {
  const enqueueOne = sql.prepare(dialect`${into}
    SELECT id, CAST($2 AS text), user_id, CAST($3 AS bigint), CAST($4 AS text), CAST($5 AS integer), CAST(NULL AS bigint), 1, CAST($6 AS bigint), CAST($6 AS bigint)
      FROM devices WHERE id = $1 ${merge}`);
  // Notifications about conversations for their members' devices, given as one row per recipient: [conversation, actor,
  // user, key, notification, rank, personal (0/1), urgent (0/1), message]. PostgreSQL merges a row once per
  // statement, so of a user's rows for one key the one an enqueue after the other would leave is kept:
  // the highest rank, the later of equals. SQLite merges them in order, one after another.
  const manyLevel = level.replaceAll('$8', '$2');
  const recipients = dialect`${into}
    SELECT ${{ sqlite: '', postgres: 'DISTINCT ON (devices.id, r.key)' }} devices.id, r.key, r.user_id, r.conversation_id, r.notification, r.rank, r.message_id, 1, CAST($1 AS bigint), CAST($1 AS bigint)
      FROM ${{
        sqlite: '(SELECT $3 AS conversation_id, $4 AS actor_id, $5 AS user_id, $6 AS key, $7 AS notification, $8 AS rank, $9 AS personal, $10 AS urgent, $11 AS message_id, 0 AS ord)',
        postgres: `unnest(CAST($3 AS bigint[]), CAST($4 AS bigint[]), CAST($5 AS bigint[]), CAST($6 AS text[]), CAST($7 AS text[]), CAST($8 AS integer[]), CAST($9 AS integer[]), CAST($10 AS integer[]), CAST($11 AS bigint[]))
                     WITH ORDINALITY`,
      }} AS r ${{ sqlite: '', postgres: '(conversation_id, actor_id, user_id, key, notification, rank, personal, urgent, message_id, ord)' }}
      JOIN members ON members.conversation_id = r.conversation_id AND members.user_id = r.user_id
      JOIN users ON users.id = r.user_id
      JOIN devices ON devices.user_id = r.user_id
     WHERE NOT EXISTS (SELECT 1 FROM blocks WHERE blocks.user_id = r.user_id AND blocks.blocked_id = r.actor_id)
       AND ${manyLevel} <> 'none'
       AND (${manyLevel} = 'all' OR r.personal = 1)
       AND (users.status <> 'busy' OR r.urgent = 1)
     ORDER BY ${{ sqlite: 'r.ord', postgres: 'devices.id, r.key, r.rank DESC, r.ord DESC' }}
    ${merge}`;
  // PostgreSQL: every recipient of a batch in one statement. SQLite: the same, one recipient at a time, in order.
  const forRecipients = sql.local ? undefined : sql.prepare(recipients.postgres);
  const forRecipient = sql.local?.prepare(recipients.sqlite);
  const forUsers = sql.prepare(dialect`${into}
    SELECT id, CAST($1 AS text), user_id, CAST(NULL AS bigint), CAST($2 AS text), CAST($3 AS integer), CAST(NULL AS bigint), 1, CAST($4 AS bigint), CAST($4 AS bigint)
      FROM devices WHERE CAST($5 AS integer) = 1 OR ${inList('user_id', '$6')}
    ${merge}`);
  const lease = sql.prepare(dialect`UPDATE push_outbox SET lease = $1, lease_until = $2, attempts = attempts + 1
     WHERE (device_id, key) IN (
       SELECT device_id, key FROM push_outbox
        WHERE version > sent_version AND due_at <= $3 AND (lease IS NULL OR lease_until <= $3)
        ORDER BY due_at, device_id, key LIMIT $4 ${{ sqlite: '', postgres: 'FOR UPDATE SKIP LOCKED' }})`);
  const leased = sql.prepare<ClaimedRow>(
    `SELECT o.key, o.notification, o.version, o.queued_at, o.attempts, o.conversation_id, o.message_id, o.user_id,
            d.id AS device_id, d.kind, d.endpoint, d.p256dh, d.auth, d.token, d.platform, m.read_id, m.cleared_id,
            CASE WHEN s.revoked_at IS NULL AND s.expires_at * 1000 > CAST($2 AS bigint) THEN 1 ELSE 0 END AS live,
            CASE WHEN m.user_id IS NULL THEN NULL
                 ELSE COALESCE(CASE WHEN m.notify_until IS NULL OR m.notify_until > $3 THEN m.notify_level END, u.notify_default) END AS level
       FROM push_outbox AS o
       JOIN devices AS d ON d.id = o.device_id
       JOIN sessions AS s ON s.id = d.session_id
       JOIN users AS u ON u.id = o.user_id
       LEFT JOIN members AS m ON m.conversation_id = o.conversation_id AND m.user_id = o.user_id
      WHERE o.lease = $1
      ORDER BY o.due_at, o.device_id, o.key`,
  );
  // The message a notification shows, as it is now ($1: conversation, $2: reader, $3: the reader's read
  // point, $4: the message named): the one named while it is unread, not deleted and not from someone the
  // reader blocked, else the newest such message of the conversation. `mentions`: it @mentions the reader.
  const shownColumns = `m.id, m.content, COALESCE(u.username, 'deleted user') AS sender, m.thread_id,
           CASE WHEN EXISTS (SELECT 1 FROM mentions WHERE mentions.message_id = m.id AND mentions.user_id = $2) THEN 1 ELSE 0 END AS mentions
      FROM messages AS m LEFT JOIN users AS u ON u.id = m.sender_id`;
  const unreadShown = `m.conversation_id = $1 AND ${inMain} AND m.id > $3 AND m.deleted_at IS NULL AND m.sender_id IS DISTINCT FROM $2 AND ${notBlocked('$2')}`;
  const named = sql.prepare<ShownRow>(`SELECT ${shownColumns} WHERE m.id = $4 AND ${unreadShown}`);
  const newest = sql.prepare<ShownRow>(`SELECT ${shownColumns} WHERE ${unreadShown} ORDER BY m.id DESC LIMIT 1`);
  // The same for a thread's row ($1: its root): its replies, as get_threads counts them unread.
  const unreadReply = `m.thread_id = $1 AND m.id > $3 AND m.deleted_at IS NULL AND m.sender_id IS DISTINCT FROM $2 AND ${notBlocked('$2')}`;
  const namedReply = sql.prepare<ShownRow>(`SELECT ${shownColumns} WHERE m.id = $4 AND ${unreadReply}`);
  const newestReply = sql.prepare<ShownRow>(`SELECT ${shownColumns} WHERE ${unreadReply} ORDER BY m.id DESC LIMIT 1`);
  const unreadReplies = sql.prepare(`SELECT count(*) FROM (SELECT 1 FROM messages AS m WHERE ${unreadReply} LIMIT $4) AS capped`);
  const follow = sql.prepare<{ following: number; read_id: number }>('SELECT following, read_id FROM thread_follows WHERE root_id = $1 AND user_id = $2');
  // The reader's own message a reaction is about, unless deleted since.
  const reacted = sql.prepare<{ content: string }>('SELECT content FROM messages WHERE id = $1 AND deleted_at IS NULL');
  const complete = sql.prepare(dialect`UPDATE push_outbox SET sent_version = $4, hold_until = $6, lease = NULL, lease_until = 0,
       queued_at = CASE WHEN version > $4 THEN CAST($5 AS bigint) ELSE queued_at END,
       due_at = CASE WHEN version > $4 THEN ${greatest}(CAST($5 AS bigint), CAST($6 AS bigint)) ELSE due_at END,
       attempts = CASE WHEN version > $4 THEN 0 ELSE attempts END
     WHERE device_id = $1 AND key = $2 AND lease = $3`);
  const retry = sql.prepare('UPDATE push_outbox SET due_at = $4, lease = NULL, lease_until = 0 WHERE device_id = $1 AND key = $2 AND lease = $3');
  const removeDevice = sql.prepare('DELETE FROM devices WHERE id = $1');
  const prune = sql.prepare('DELETE FROM push_outbox WHERE version = sent_version AND lease IS NULL AND hold_until <= $1');
  const pending = sql.prepare('SELECT count(*) FROM push_outbox WHERE version > sent_version');

  function deviceOf(row: ClaimedRow): Device {
    if (row.kind === 'webpush') return { id: row.device_id, userId: row.user_id, kind: 'webpush', subscription: { endpoint: row.endpoint!, keys: { p256dh: row.p256dh!, auth: row.auth! } } };
    return { id: row.device_id, userId: row.user_id, kind: 'webhook', token: row.token!, platform: row.platform };
  }

  async function readPointOf(row: ClaimedRow): Promise<ReadPoint> {
    const root = threadOfKey(row.key);
    if (row.read_id === null) return { root, readId: null };
    if (root === null) return { root, readId: Math.max(row.read_id, row.cleared_id ?? 0) };
    const followed = await follow.get(root, row.user_id);
    return { root, readId: followed?.following === 1 ? Math.max(followed.read_id, row.cleared_id ?? 0) : null };
  }

  /** The unread messages of the conversation (of the thread) for the device's user now; 0 once nothing is left to tell; null for a notice. */
  async function unreadOf(row: ClaimedRow, { root, readId }: ReadPoint): Promise<number | null> {
    if (row.conversation_id === null) return null;
    if (readId === null) return 0;
    if (root !== null) return (await unreadReplies.value<number>(root, row.user_id, readId, unreadCap)) ?? 0;
    return unread(row.conversation_id, row.user_id, readId, unreadCap);
  }

  /**
   * The notification to send for a claimed row, built from what is true now: a message or mention shows
   * the message named as it reads now (edited: its current words), or, once it is deleted, read or from
   * someone blocked, the newest message the reader has not read and may see, a mention only if that one
   * mentions them too; none at all: nothing is left unread, and the worker skips it. A reaction to a
   * message deleted since has no preview. A `preview` queued as null (PUSH_PREVIEW=false) stays null.
   * Undefined: nothing is left to say to this reader (a mention, for someone notified of mentions only,
   * whose message is deleted or read, and no other unread message mentions them). A thread's row does
   * the same among the thread's replies, against the reader's read point in the thread. A reply in a
   * thread (also one sent to the conversation too) names its thread (`thread_id`).
   */
  async function notificationOf(row: ClaimedRow, { root, readId }: ReadPoint): Promise<Notification | undefined> {
    const queued = JSON.parse(row.notification) as Notification;
    if (row.message_id === null || !('preview' in queued)) return queued;
    const text = (content: string | undefined) => (content === undefined ? null : preview(content, queued.preview !== null));
    if (queued.kind === 'reaction') return { ...queued, preview: text((await reacted.get(row.message_id))?.content) };
    // Not a member any more: nothing of it is shown (and its unread count is 0).
    const floor = readId ?? Number.MAX_SAFE_INTEGER;
    const [one, last, within] = root === null ? [named, newest, row.conversation_id] : [namedReply, newestReply, root];
    const shown = (await one.get(within, row.user_id, floor, row.message_id)) ?? (await last.get(within, row.user_id, floor));
    if (!shown) return { ...queued, kind: 'message', preview: null };
    const kind = shown.id === row.message_id ? queued.kind : shown.mentions === 1 ? 'mention' : 'message';
    if (queued.kind === 'mention' && kind !== 'mention' && row.level === 'mentions') return undefined;
    const threadId = root ?? shown.thread_id;
    return { kind, conversation: queued.conversation, sender: shown.sender, preview: text(shown.content), ...(threadId !== null && { thread_id: threadId }) };
  }

  /** `forMembers` for many notifications in one statement (rows merged as they would be one after another). */
  function forMembersMany(list: readonly MemberNotification[], now: number): Promise<number> {
    const rows = list.flatMap((queued) => {
      const personal = new Set(queued.personal);
      const urgent = new Set(queued.urgent);
      const key = outboxKey(queued.notification);
      return queued.recipients.map((user) => {
        const notification = personal.has(user) ? (queued.personalNotification ?? queued.notification) : queued.notification;
        return [queued.conversationId, queued.actorId, user, key, JSON.stringify(notification), rankOf(notification), personal.has(user) ? 1 : 0, urgent.has(user) ? 1 : 0, queued.messageId ?? null] as const;
      });
    });
    if (rows.length === 0) return Promise.resolve(0);
    if (forRecipient) return Promise.resolve(rows.reduce((sum, row) => sum + forRecipient.run(now, Math.floor(now / 1000), ...row).changes, 0));
    const column = (i: number) => rows.map((row) => row[i]);
    return forRecipients!.run(now, Math.floor(now / 1000), column(0), column(1), column(2), column(3), column(4), column(5), column(6), column(7), column(8));
  }

  const outbox: Outbox = {
    async enqueue(entries, now) {
      for (const { deviceId, notification } of entries) {
        const conversation = notification.kind === 'notice' ? null : notification.conversation.id;
        await enqueueOne.run(deviceId, outboxKey(notification), conversation, JSON.stringify(notification), rankOf(notification), now);
      }
    },
    async claim(now, limit, leaseMs) {
      const token = randomUUID();
      if ((await lease.run(token, now + leaseMs, now, limit)) === 0) return [];
      const items: OutboxItem[] = [];
      for (const row of await leased.all(token, now, Math.floor(now / 1000))) {
        // Its session ended (expired: a revoke already took its devices): the device goes now, its rows
        // with it, rather than at the hourly prune, and nothing of the conversation reaches it.
        if (Number(row.live) !== 1) {
          await removeDevice.run(row.device_id);
          continue;
        }
        const point = await readPointOf(row);
        const notification = await notificationOf(row, point);
        items.push({
          device: deviceOf(row),
          key: row.key,
          notification: notification ?? (JSON.parse(row.notification) as Notification),
          ...(notification === undefined && { nothingToSay: true as const }),
          unread: await unreadOf(row, point),
          version: row.version,
          queuedAt: row.queued_at,
          attempts: row.attempts,
          lease: token,
        });
      }
      return items;
    },
    complete: async (item, now, holdUntil) => (await complete.run(item.device.id, item.key, item.lease, item.version, now, holdUntil)) === 1,
    retry: async (item, at) => (await retry.run(item.device.id, item.key, item.lease, at)) === 1,
    removeDevice: async (deviceId) => void (await removeDevice.run(deviceId)),
    prune: (now) => prune.run(now),
  };

  return {
    ...outbox,
    /**
     * Queues a notification about a conversation for every device of the `recipients` it is for, in one
     * statement however many: not for those who blocked the actor, whose level is `none`, whose level
     * is `mentions` unless it is personal to them, or who are `busy` unless it is urgent for them.
     * Returns the rows queued or merged into.
     */
    forMembers: (queued: MemberNotification): Promise<number> => forMembersMany([queued], queued.now),
    forMembersMany,
    /**
     * Queues an administrator's notice for every device of these users (or of everyone), or an invitation to
     * a conversation they are not in (no unread count); returns how many devices.
     */
    forUsers: (notification: Notification & { kind: 'notice' | 'invited' }, users: readonly number[] | 'all', now: number): Promise<number> =>
      forUsers.run(outboxKey(notification), JSON.stringify(notification), rankOf(notification), now, users === 'all' ? 1 : 0, sql.list(users === 'all' ? [] : users)),
    /** Rows with a notification waiting to be sent (the queue depth). */
    pending: async (): Promise<number> => (await pending.value<number>()) ?? 0,
  };
}
