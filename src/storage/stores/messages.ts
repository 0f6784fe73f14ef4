// Messages: stored once, read a page at a time, edited, deleted to tombstones and reacted to.
import { limits } from '../../../protocol/index.ts';
import { dialect, inList, returning, type Sql } from '../engine/sql.ts';

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
};

/** One emoji's reactions on a message, with who reacted (the event log keeps this form; each reader sees `me`). */
export type ReactionRow = { message_id: number; emoji: string; count: number; users: string };

const columns = `
  m.id, m.conversation_id, m.sender_id, COALESCE(u.username, 'deleted user') AS sender_username, m.reply_id, m.content,
         m.sent_at, m.edited_at, m.deleted_at, COALESCE(ru.username, 'deleted user') AS reply_sender,
         substr(r.content, 1, ${limits.preview}) AS reply_content, r.deleted_at AS reply_deleted_at`;
const joins = `
    FROM messages m
    LEFT JOIN users u ON u.id = m.sender_id
    LEFT JOIN messages r ON r.id = m.reply_id
    LEFT JOIN users ru ON ru.id = r.sender_id`;
const select = `SELECT ${columns} ${joins}`;

/** Messages from people the reader (parameter `param`) blocked are not shown to them, nor counted. */
export const notBlocked = (param: string) => `(m.sender_id IS NULL OR m.sender_id NOT IN (SELECT blocked_id FROM blocks WHERE user_id = ${param}))`;

export const messageColumns = columns;
export const messageJoins = joins;

export function messagesStore(sql: Sql) {
  const insert = sql.prepare(returning('INSERT INTO messages (conversation_id, sender_id, reply_id, content, sent_at, client_id) VALUES ($1, $2, $3, $4, $5, $6)'));
  const byId = sql.prepare<MessageRow>(`${select} WHERE m.id = $1`);
  const byClientId = sql.prepare('SELECT id FROM messages WHERE sender_id = $1 AND client_id = $2');
  const newer = sql.prepare<MessageRow>(`${select} WHERE m.conversation_id = $1 AND m.id > $3 AND ${notBlocked('$2')} ORDER BY m.id LIMIT $4`);
  const older = sql.prepare<MessageRow>(`${select} WHERE m.conversation_id = $1 AND m.id < $3 AND m.id > $4 AND ${notBlocked('$2')} ORDER BY m.id DESC LIMIT $5`);
  const latest = sql.prepare('SELECT max(id) FROM messages WHERE conversation_id = $1');
  const unread = sql.prepare(
    `SELECT count(*) FROM (SELECT 1 FROM messages AS m
      WHERE m.conversation_id = $1 AND m.id > $3 AND m.deleted_at IS NULL AND m.sender_id IS DISTINCT FROM $2 AND ${notBlocked('$2')}
      LIMIT $4) AS capped`,
  );
  const lastShown = sql.prepare(`SELECT m.id FROM messages AS m WHERE m.conversation_id = $1 AND m.id > $3 AND ${notBlocked('$2')} ORDER BY m.id DESC LIMIT 1`);
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
    insert: async (message: { conversationId: number; senderId: number; replyId: number | null; content: string; sentAt: number; clientId: string | null }): Promise<number> =>
      insert.insert(message.conversationId, message.senderId, message.replyId, message.content, message.sentAt, message.clientId),
    byId: (id: number): Promise<MessageRow | undefined> => byId.get(id),
    /** The id of the message a sender already sent under this client id, if any. */
    byClientId: (senderId: number, clientId: string): Promise<number | undefined> => byClientId.value<number>(senderId, clientId),
    /** What `readerId` is shown: newest first below `before` (and above `floor`, their clear point); or, with `after`, oldest first above it. */
    page(conversationId: number, readerId: number, cursor: { before: number | null; after: number | null; floor: number }, limit: number): Promise<MessageRow[]> {
      if (cursor.after !== null) return newer.all(conversationId, readerId, Math.max(cursor.after, cursor.floor), limit);
      return older.all(conversationId, readerId, cursor.before ?? Number.MAX_SAFE_INTEGER, cursor.floor, limit);
    },
    latest: async (conversationId: number): Promise<number> => (await latest.value<number | null>(conversationId)) ?? 0,
    /** Others' live messages after `after` that `readerId` is shown, counted up to `cap` (reading at most that many). */
    unread: async (conversationId: number, readerId: number, after: number, cap: number): Promise<number> =>
      (await unread.value<number>(conversationId, readerId, after, cap)) ?? 0,
    /** The newest message `readerId` is shown above their clear point. */
    lastShown: (conversationId: number, readerId: number, floor: number): Promise<number | undefined> => lastShown.value<number>(conversationId, readerId, floor),
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
