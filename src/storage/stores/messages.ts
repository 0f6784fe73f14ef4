// Messages: stored once, read a page at a time, edited, deleted to tombstones and reacted to.
import { limits } from '../../../protocol/index.ts';
import { dialect, inList, returning, type Sql } from '../engine/sql.ts';
import { memberColumns, membershipOf, withMemberText, type ConversationRow, type WithMemberRow } from './conversations.ts';
import { notBlocked, sqliteBlockers } from './contacts.ts';
import { holdersText } from './devices.ts';
import { inMain } from './threads.ts';
import type { MemberRow } from './members.ts';

/** A message as stored, joined with its sender's and its replied-to message's; reactions are read separately. */
export type MessageRow = {
  id: number;
  conversation_id: number;
  sender_id: number | null;
  sender_username: string;
  reply_id: number | null;
  content: string;
  sent_at: number;
  edited_at: number | null;
  deleted_at: number | null;
  reply_sender: string | null;
  reply_content: string | null;
  reply_deleted_at: number | null;
  /** For a reply in a thread, its root; `also_sent`: 1 when it was sent to the conversation too. */
  thread_id: number | null;
  also_sent: number;
  /** For a root, its thread's summary (null: no replies yet). */
  thread_reply_count: number | null;
  thread_last_reply_id: number | null;
  thread_last_reply_at: number | null;
};

/** One emoji's reactions on a message, with who reacted (the event log keeps this form; each reader sees `me`). */
export type ReactionRow = { message_id: number; emoji: string; count: number; users: string };

const columns = `
  m.id, m.conversation_id, m.sender_id, COALESCE(u.username, 'deleted user') AS sender_username, m.reply_id, m.content,
         m.sent_at, m.edited_at, m.deleted_at, COALESCE(ru.username, 'deleted user') AS reply_sender,
         substr(r.content, 1, ${limits.preview}) AS reply_content, r.deleted_at AS reply_deleted_at, m.thread_id, m.also_sent,
         t.reply_count AS thread_reply_count, t.last_reply_id AS thread_last_reply_id, t.last_reply_at AS thread_last_reply_at`;
const joins = `
    FROM messages m
    LEFT JOIN users u ON u.id = m.sender_id
    LEFT JOIN messages r ON r.id = m.reply_id
    LEFT JOIN users ru ON ru.id = r.sender_id
    LEFT JOIN threads t ON t.root_id = m.id`;
const select = `SELECT ${columns} ${joins}`;

/** What sending a message into a conversation depends on, read for many sends at once (see `sendContext`). */
export type SendContext = {
  /** The sender's membership: none when they are not a member (or the conversation is deleted). */
  membership?: { conversation: ConversationRow; member: MemberRow };
  /** The message the sender already sent under this client id, if any. */
  earlier?: number;
  /** In a direct conversation, the other person, and whether the sender blocked them. */
  other?: { id: number; username: string; blocked: boolean };
  /** Members but the sender who hold a device to notify. */
  holders: number[];
  /** Members who blocked the sender: they are not shown the message. */
  blockers: number[];
};

type SendContextRow = WithMemberRow & {
  earlier: number | null;
  other_id: number | null;
  other_username: string | null;
  blocks_other: number;
  holders: string;
  blockers: string;
};

/** A new message with the id reserved for it. */
export type NewMessage = {
  id: number; conversationId: number; senderId: number; replyId: number | null; content: string; sentAt: number; clientId: string | null;
  threadId: number | null; alsoSent: boolean;
};

export const messageColumns = columns;
export const messageJoins = joins;

export function messagesStore(sql: Sql) {
  // What sends depend on. PostgreSQL: one statement for every send of a batch ($1, $2, $3: their
  // conversations, senders and client ids), after the lock below in the same round trip. SQLite: a few plain statements a send, which it runs in
  // about half the time of that one statement's shape (its subqueries and JSON aggregates).
  const { local } = sql;
  // Before it, in the same round trip (pipelined: it reads once the locks are held, so it sees what a
  // transaction it waited for committed), the senders' member rows are locked until the batch commits,
  // against deletion and against blocks (contacts.ts): a removal or a block committed meanwhile elsewhere
  // waits for the batch, so its messages are numbered before it. Otherwise a send that read its
  // membership just before a removal committed was stored and numbered after it: a message from someone
  // no longer a member. A row deleted by a transaction that committed first is waited for and not found.
  const lockSenders = local ? undefined : sql.prepare(`
    SELECT 1 FROM members WHERE (conversation_id, user_id) IN (SELECT * FROM unnest(CAST($1 AS bigint[]), CAST($2 AS bigint[]))) FOR KEY SHARE`);
  const sendContext = local ? undefined : sql.prepare<SendContextRow>(`
    SELECT c.id, c.name, c.kind, c.description, c.created_at, c.avatar_file_id, ${memberColumns},
           (SELECT id FROM messages WHERE sender_id = s.sender AND client_id = s.client_id) AS earlier,
           other.user_id AS other_id, other_user.username AS other_username,
           CASE WHEN EXISTS (SELECT 1 FROM blocks WHERE blocks.user_id = s.sender AND blocks.blocked_id = other.user_id) THEN 1 ELSE 0 END AS blocks_other,
           (SELECT coalesce(json_agg(holder)::text, '[]') FROM (
              SELECT DISTINCT devices.user_id AS holder FROM members AS held JOIN devices ON devices.user_id = held.user_id
               WHERE held.conversation_id = s.conversation AND held.user_id <> s.sender) AS holding) AS holders,
           (SELECT coalesce(json_agg(blocks.user_id)::text, '[]') FROM blocks
              JOIN members AS blocker ON blocker.conversation_id = s.conversation AND blocker.user_id = blocks.user_id
             WHERE blocks.blocked_id = s.sender) AS blockers
      FROM unnest(CAST($1 AS bigint[]), CAST($2 AS bigint[]), CAST($3 AS text[])) WITH ORDINALITY AS s (conversation, sender, client_id, ord)
      LEFT JOIN members AS m ON m.conversation_id = s.conversation AND m.user_id = s.sender
      LEFT JOIN conversations AS c ON c.id = m.conversation_id AND c.deleted_at IS NULL
      LEFT JOIN members AS other ON c.kind = 'direct' AND other.conversation_id = s.conversation AND other.user_id <> s.sender
      LEFT JOIN users AS other_user ON other_user.id = other.user_id
     ORDER BY s.ord`);
  const one = local && {
    membership: local.prepare<WithMemberRow>(withMemberText),
    earlier: local.prepare<{ id: number }>('SELECT id FROM messages WHERE sender_id = $1 AND client_id = $2'),
    other: local.prepare<{ id: number; username: string; blocked: number }>(
      `SELECT members.user_id AS id, users.username, EXISTS (SELECT 1 FROM blocks WHERE blocks.user_id = $2 AND blocks.blocked_id = members.user_id) AS blocked
         FROM members JOIN users ON users.id = members.user_id WHERE members.conversation_id = $1 AND members.user_id <> $2 LIMIT 1`,
    ),
    holders: local.prepare<{ user_id: number }>(holdersText),
    blockers: sqliteBlockers(local),
  };
  /**
   * What sends on SQLite depend on, a few plain statements a send. Sends of one group by one sender into
   * one conversation share all of it but the client id (the group writes nothing before it is read):
   * read once for them.
   */
  function contextsOf(given: readonly { conversationId: number; senderId: number; clientId: string | null }[]): SendContext[] {
    const shared = new Map<string, Omit<SendContext, 'earlier'>>();
    return given.map(({ conversationId, senderId, clientId }) => {
      const key = `${conversationId}:${senderId}`;
      let common = shared.get(key);
      if (common === undefined) shared.set(key, (common = commonOf(conversationId, senderId)));
      const earlier = !common.membership || clientId === null ? undefined : one!.earlier.get(senderId, clientId)?.id;
      // Named, not spread: a property after a spread in one literal costs microseconds (see inJob).
      return { membership: common.membership, other: common.other, holders: common.holders, blockers: common.blockers, earlier };
    });
  }
  function commonOf(conversationId: number, senderId: number): Omit<SendContext, 'earlier'> {
    const row = one!.membership.get(conversationId, senderId);
    const membership = row && membershipOf(row);
    if (!membership) return { membership: undefined, other: undefined, holders: [], blockers: [] };
    const other = membership.conversation.kind === 'direct' ? one!.other.get(conversationId, senderId) : undefined;
    return {
      membership,
      other: other && { id: other.id, username: other.username, blocked: other.blocked === 1 },
      holders: one!.holders.all(conversationId, senderId).map((holder) => holder.user_id),
      blockers: one!.blockers(conversationId, senderId),
    };
  }
  // Ids for the messages of a batch, taken before they are written (their events name them).
  const reserve = sql.prepare({
    sqlite: "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0)",
    postgres: "SELECT nextval(pg_get_serial_sequence('messages', 'id')) FROM generate_series(1, $1)",
  });
  const newColumns = 'INSERT INTO messages (id, conversation_id, sender_id, reply_id, content, sent_at, client_id, thread_id, also_sent)';
  const insertMany = local ? undefined : sql.prepare(`${newColumns}
    SELECT * FROM unnest(CAST($1 AS bigint[]), CAST($2 AS bigint[]), CAST($3 AS bigint[]), CAST($4 AS bigint[]), CAST($5 AS text[]), CAST($6 AS bigint[]), CAST($7 AS text[]),
                         CAST($8 AS bigint[]), CAST($9 AS integer[]))`);
  const insertOne = local?.prepare(`${newColumns} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`);
  const insert = sql.prepare(returning('INSERT INTO messages (conversation_id, sender_id, reply_id, content, sent_at, client_id) VALUES ($1, $2, $3, $4, $5, $6)'));
  const byId = sql.prepare<MessageRow>(`${select} WHERE m.id = $1`);
  const byClientId = sql.prepare('SELECT id FROM messages WHERE sender_id = $1 AND client_id = $2');
  const newer = sql.prepare<MessageRow>(`${select} WHERE m.conversation_id = $1 AND m.id > $3 AND ${notBlocked('$2')} ORDER BY m.id LIMIT $4`);
  const older = sql.prepare<MessageRow>(`${select} WHERE m.conversation_id = $1 AND m.id < $3 AND m.id > $4 AND ${notBlocked('$2')} ORDER BY m.id DESC LIMIT $5`);
  const newerInMain = sql.prepare<MessageRow>(`${select} WHERE m.conversation_id = $1 AND ${inMain} AND m.id > $3 AND ${notBlocked('$2')} ORDER BY m.id LIMIT $4`);
  const olderInMain = sql.prepare<MessageRow>(`${select} WHERE m.conversation_id = $1 AND ${inMain} AND m.id < $3 AND m.id > $4 AND ${notBlocked('$2')} ORDER BY m.id DESC LIMIT $5`);
  const newerInThread = sql.prepare<MessageRow>(`${select} WHERE m.thread_id = $1 AND m.id > $3 AND ${notBlocked('$2')} ORDER BY m.id LIMIT $4`);
  const olderInThread = sql.prepare<MessageRow>(`${select} WHERE m.thread_id = $1 AND m.id < $3 AND m.id > $4 AND ${notBlocked('$2')} ORDER BY m.id DESC LIMIT $5`);
  const latest = sql.prepare('SELECT max(id) FROM messages WHERE conversation_id = $1');
  // A page of conversations' last messages and unread counts for one reader ($1) on PostgreSQL, in one
  // statement from arrays (conversation, floor, read point) in the order given: a round trip for each
  // of 500 conversations' two reads cost seconds on a busy machine. SQLite asks `lastShown` and `unread`.
  const summaries = local ? undefined : sql.prepare<{ last_id: number | null; unread: number }>(`
    SELECT (SELECT m.id FROM messages AS m WHERE m.conversation_id = s.conversation AND ${inMain} AND m.id > s.floor AND ${notBlocked('$1')} ORDER BY m.id DESC LIMIT 1) AS last_id,
           (SELECT count(*) FROM (SELECT 1 FROM messages AS m
             WHERE m.conversation_id = s.conversation AND ${inMain} AND m.id > s.read_up_to AND m.deleted_at IS NULL AND m.sender_id IS DISTINCT FROM $1 AND ${notBlocked('$1')}
             LIMIT $5) AS capped) AS unread
      FROM unnest(CAST($2 AS bigint[]), CAST($3 AS bigint[]), CAST($4 AS bigint[])) WITH ORDINALITY AS s (conversation, floor, read_up_to, ord)
     ORDER BY s.ord`);
  const byIds = local ? undefined : sql.prepare<MessageRow>(`${select} WHERE m.id = ANY(CAST($1 AS bigint[]))`);
  const unread = sql.prepare(
    `SELECT count(*) FROM (SELECT 1 FROM messages AS m
      WHERE m.conversation_id = $1 AND ${inMain} AND m.id > $3 AND m.deleted_at IS NULL AND m.sender_id IS DISTINCT FROM $2 AND ${notBlocked('$2')}
      LIMIT $4) AS capped`,
  );
  const lastShown = sql.prepare(`SELECT m.id FROM messages AS m WHERE m.conversation_id = $1 AND ${inMain} AND m.id > $3 AND ${notBlocked('$2')} ORDER BY m.id DESC LIMIT 1`);
  const edit = sql.prepare('UPDATE messages SET content = $1, edited_at = $2 WHERE id = $3');
  const tombstone = sql.prepare("UPDATE messages SET content = '', deleted_at = $1 WHERE id = $2");
  const react = sql.prepare('INSERT INTO reactions (message_id, user_id, emoji, reacted_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING');
  const unreact = sql.prepare('DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3');
  const dropReactions = sql.prepare('DELETE FROM reactions WHERE message_id = $1');
  const reactionsOf = sql.prepare('SELECT count(*) FROM reactions WHERE message_id = $1 AND user_id = $2');
  // `rowid` keeps the order of reacting (an identity column of that name on PostgreSQL).
  const reactions = sql.prepare<ReactionRow>(dialect`
    SELECT reactions.message_id, reactions.emoji, count(*) AS count,
           ${{ sqlite: 'json_group_array', postgres: 'json_agg' }}(COALESCE(users.username, 'deleted user'))${{ sqlite: '', postgres: '::text' }} AS users
      FROM reactions LEFT JOIN users ON users.id = reactions.user_id
     WHERE ${inList('reactions.message_id', '$1')}
     GROUP BY reactions.message_id, reactions.emoji
     ORDER BY min(reactions.rowid)`);
  return {
    /** What each send depends on, in the order given: one round trip however many (the senders' rows locked, then read). */
    async sendContext(given: readonly { conversationId: number; senderId: number; clientId: string | null }[]): Promise<SendContext[]> {
      if (one) return contextsOf(given);
      const [conversations, senders] = [given.map((send) => send.conversationId), given.map((send) => send.senderId)];
      const [, rows] = await Promise.all([lockSenders!.run(conversations, senders), sendContext!.all(conversations, senders, given.map((send) => send.clientId))]);
      return rows.map((row) => {
        const { earlier, other_id, other_username, blocks_other, holders, blockers, ...withMember } = row;
        const membership = membershipOf(withMember);
        return {
          membership,
          earlier: earlier ?? undefined,
          other: other_id === null ? undefined : { id: other_id, username: other_username!, blocked: blocks_other === 1 },
          holders: JSON.parse(holders) as number[],
          blockers: JSON.parse(blockers) as number[],
        };
      });
    },
    /** `count` ids for new messages, in increasing order (taken only by the caller's transaction on SQLite, for good on PostgreSQL). */
    async reserveIds(count: number): Promise<number[]> {
      if (count === 0) return [];
      if (sql.engine === 'postgres') return reserve.values<number>(count);
      const last = (await reserve.value<number>())!;
      return Array.from({ length: count }, (_, i) => last + i + 1);
    },
    /** Writes messages whose ids were reserved, in one statement. */
    async insertMany(messages: readonly NewMessage[]): Promise<void> {
      if (messages.length === 0) return;
      if (insertOne) {
        for (const m of messages) insertOne.run(m.id, m.conversationId, m.senderId, m.replyId, m.content, m.sentAt, m.clientId, m.threadId, m.alsoSent ? 1 : 0);
        return;
      }
      const column = <K extends keyof NewMessage>(key: K) => messages.map((message) => message[key]);
      await insertMany!.run(
        column('id'), column('conversationId'), column('senderId'), column('replyId'), column('content'), column('sentAt'), column('clientId'),
        column('threadId'), messages.map((message) => (message.alsoSent ? 1 : 0)),
      );
    },
    insert: async (message: { conversationId: number; senderId: number; replyId: number | null; content: string; sentAt: number; clientId: string | null }): Promise<number> =>
      insert.insert(message.conversationId, message.senderId, message.replyId, message.content, message.sentAt, message.clientId),
    byId: (id: number): Promise<MessageRow | undefined> => byId.get(id),
    /** The messages of these ids that exist, in the order given: one statement on PostgreSQL, a plain one each on SQLite. */
    async several(ids: readonly number[]): Promise<MessageRow[]> {
      if (!byIds) return (await Promise.all(ids.map((id) => byId.get(id)))).filter((row) => row !== undefined);
      const found = new Map((ids.length ? await byIds.all(ids) : []).map((row) => [row.id, row]));
      return ids.flatMap((id) => found.get(id) ?? []);
    },
    /** The id of the message a sender already sent under this client id, if any. */
    byClientId: (senderId: number, clientId: string): Promise<number | undefined> => byClientId.value<number>(senderId, clientId),
    /** What `readerId` is shown: newest first below `before` (and above `floor`, their clear point); or, with `after`, oldest first above it. */
    page(conversationId: number, readerId: number, cursor: { before: number | null; after: number | null; floor: number }, limit: number, mainOnly = false): Promise<MessageRow[]> {
      if (cursor.after !== null) return (mainOnly ? newerInMain : newer).all(conversationId, readerId, Math.max(cursor.after, cursor.floor), limit);
      return (mainOnly ? olderInMain : older).all(conversationId, readerId, cursor.before ?? Number.MAX_SAFE_INTEGER, cursor.floor, limit);
    },
    /** A page of a thread's replies `readerId` is shown, as `page` reads a conversation's. */
    threadPage(rootId: number, readerId: number, cursor: { before: number | null; after: number | null; floor: number }, limit: number): Promise<MessageRow[]> {
      if (cursor.after !== null) return newerInThread.all(rootId, readerId, Math.max(cursor.after, cursor.floor), limit);
      return olderInThread.all(rootId, readerId, cursor.before ?? Number.MAX_SAFE_INTEGER, cursor.floor, limit);
    },
    latest: async (conversationId: number): Promise<number> => (await latest.value<number | null>(conversationId)) ?? 0,
    /** Others' live messages of the main list (`inMain`) after `after` that `readerId` is shown, counted up to `cap` (reading at most that many). */
    unread: async (conversationId: number, readerId: number, after: number, cap: number): Promise<number> =>
      (await unread.value<number>(conversationId, readerId, after, cap)) ?? 0,
    /**
     * For each conversation, the newest message of its main list (`inMain`) `readerId` is shown above its
     * `floor` (their clear point), and others' live messages of it after `readUpTo` counted up to `cap`; in the order given.
     */
    async summaries(readerId: number, items: readonly { conversation: number; floor: number; readUpTo: number }[], cap: number): Promise<{ last: MessageRow | undefined; unread: number }[]> {
      if (!summaries || !byIds) {
        const found = [];
        for (const { conversation, floor, readUpTo } of items) {
          const id = await lastShown.value<number>(conversation, readerId, floor);
          found.push({ last: id === undefined ? undefined : await byId.get(id), unread: (await unread.value<number>(conversation, readerId, readUpTo, cap)) ?? 0 });
        }
        return found;
      }
      if (items.length === 0) return [];
      const rows = await summaries.all(readerId, items.map((item) => item.conversation), items.map((item) => item.floor), items.map((item) => item.readUpTo), cap);
      const lastIds = rows.flatMap((row) => (row.last_id === null ? [] : [row.last_id]));
      const messages = new Map((lastIds.length ? await byIds.all(lastIds) : []).map((row) => [row.id, row]));
      return rows.map((row) => ({ last: row.last_id === null ? undefined : messages.get(row.last_id), unread: row.unread }));
    },
    edit: async (id: number, content: string, now: number): Promise<void> => void (await edit.run(content, now, id)),
    /** Empties a message and drops its reactions; the row stays as a tombstone. */
    async tombstone(id: number, now: number): Promise<void> {
      await tombstone.run(now, id);
      await dropReactions.run(id);
    },
    /** False when the user had already reacted with this emoji. */
    react: async (id: number, userId: number, emoji: string, now: number): Promise<boolean> => (await react.run(id, userId, emoji, now)) === 1,
    /** False when the user had not reacted with this emoji. */
    unreact: async (id: number, userId: number, emoji: string): Promise<boolean> => (await unreact.run(id, userId, emoji)) === 1,
    /** How many different emojis a user has on a message. */
    reactionsBy: async (id: number, userId: number): Promise<number> => (await reactionsOf.value<number>(id, userId)) ?? 0,
    /** The reactions of these messages, grouped by emoji in the order first used. */
    reactions: async (ids: readonly number[]): Promise<ReactionRow[]> => (ids.length ? reactions.all(sql.list(ids)) : []),
  };
}
