// Messages: stored once, read a page at a time, edited, deleted to tombstones and reacted to.
import { limits } from '../../protocol/index.ts';
import type { Db } from './db.ts';

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

/** Messages from people the reader (`:reader`) blocked are not shown to them, nor counted. */
export const notBlocked = '(m.sender_id IS NULL OR m.sender_id NOT IN (SELECT blocked_id FROM blocks WHERE user_id = :reader))';

export const messageColumns = columns;
export const messageJoins = joins;

export function messagesStore(db: Db) {
  const insert = db.prepare<[number, number, number | null, string, number, string | null]>(
    'INSERT INTO messages (conversation_id, sender_id, reply_id, content, sent_at, client_id) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const byId = db.prepare<[number], MessageRow>(`${select} WHERE m.id = ?`);
  const byClientId = db.prepare<[number, string], number>('SELECT id FROM messages WHERE sender_id = ? AND client_id = ?').pluck();
  const newer = db.prepare<{ conversation: number; reader: number; after: number; limit: number }, MessageRow>(
    `${select} WHERE m.conversation_id = :conversation AND m.id > :after AND ${notBlocked} ORDER BY m.id LIMIT :limit`,
  );
  const older = db.prepare<{ conversation: number; reader: number; before: number; floor: number; limit: number }, MessageRow>(
    `${select} WHERE m.conversation_id = :conversation AND m.id < :before AND m.id > :floor AND ${notBlocked} ORDER BY m.id DESC LIMIT :limit`,
  );
  const latest = db.prepare<[number], number | null>('SELECT max(id) FROM messages WHERE conversation_id = ?').pluck();
  const unread = db.prepare<{ conversation: number; reader: number; after: number; cap: number }, number>(
    `SELECT count(*) FROM (SELECT 1 FROM messages AS m
      WHERE m.conversation_id = :conversation AND m.id > :after AND m.deleted_at IS NULL AND m.sender_id IS NOT :reader AND ${notBlocked}
      LIMIT :cap)`,
  ).pluck();
  const lastShown = db.prepare<{ conversation: number; reader: number; floor: number }, number>(
    `SELECT m.id FROM messages AS m WHERE m.conversation_id = :conversation AND m.id > :floor AND ${notBlocked} ORDER BY m.id DESC LIMIT 1`,
  ).pluck();
  const edit = db.prepare<[string, number, number]>('UPDATE messages SET content = ?, edited_at = ? WHERE id = ?');
  const tombstone = db.prepare<[number, number]>("UPDATE messages SET content = '', deleted_at = ? WHERE id = ?");
  const react = db.prepare<[number, number, string, number]>(
    'INSERT INTO reactions (message_id, user_id, emoji, reacted_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const unreact = db.prepare<[number, number, string]>('DELETE FROM reactions WHERE message_id = ? AND user_id = ? AND emoji = ?');
  const dropReactions = db.prepare<[number]>('DELETE FROM reactions WHERE message_id = ?');
  const reactionsOf = db.prepare<[number, number], number>('SELECT count(*) FROM reactions WHERE message_id = ? AND user_id = ?').pluck();
  const reactions = db.prepare<[string], ReactionRow>(
    `SELECT reactions.message_id, reactions.emoji, count(*) AS count, json_group_array(COALESCE(users.username, 'deleted user')) AS users
       FROM reactions LEFT JOIN users ON users.id = reactions.user_id
      WHERE reactions.message_id IN (SELECT value FROM json_each(?))
      GROUP BY reactions.message_id, reactions.emoji
      ORDER BY min(reactions.rowid)`,
  );
  return {
    insert: (message: { conversationId: number; senderId: number; replyId: number | null; content: string; sentAt: number; clientId: string | null }): number =>
      Number(insert.run(message.conversationId, message.senderId, message.replyId, message.content, message.sentAt, message.clientId).lastInsertRowid),
    byId: (id: number): MessageRow | undefined => byId.get(id),
    /** The id of the message a sender already sent under this client id, if any. */
    byClientId: (senderId: number, clientId: string): number | undefined => byClientId.get(senderId, clientId),
    /** What `readerId` is shown: newest first below `before` (and above `floor`, their clear point); or, with `after`, oldest first above it. */
    page(conversationId: number, readerId: number, cursor: { before: number | null; after: number | null; floor: number }, limit: number): MessageRow[] {
      if (cursor.after !== null) return newer.all({ conversation: conversationId, reader: readerId, after: Math.max(cursor.after, cursor.floor), limit });
      return older.all({ conversation: conversationId, reader: readerId, before: cursor.before ?? Number.MAX_SAFE_INTEGER, floor: cursor.floor, limit });
    },
    latest: (conversationId: number): number => latest.get(conversationId) ?? 0,
    /** Others' live messages after `after` that `readerId` is shown, counted up to `cap` (reading at most that many). */
    unread: (conversationId: number, readerId: number, after: number, cap: number): number =>
      unread.get({ conversation: conversationId, reader: readerId, after, cap }) ?? 0,
    /** The newest message `readerId` is shown above their clear point. */
    lastShown: (conversationId: number, readerId: number, floor: number): number | undefined =>
      lastShown.get({ conversation: conversationId, reader: readerId, floor }),
    edit(id: number, content: string, now: number): void {
      edit.run(content, now, id);
    },
    /** Empties a message and drops its reactions; the row stays as a tombstone. */
    tombstone(id: number, now: number): void {
      tombstone.run(now, id);
      dropReactions.run(id);
    },
    /** False when the user had already reacted with this emoji. */
    react: (id: number, userId: number, emoji: string, now: number): boolean => react.run(id, userId, emoji, now).changes === 1,
    /** False when the user had not reacted with this emoji. */
    unreact: (id: number, userId: number, emoji: string): boolean => unreact.run(id, userId, emoji).changes === 1,
    /** How many different emojis a user has on a message. */
    reactionsBy: (id: number, userId: number): number => reactionsOf.get(id, userId) ?? 0,
    /** The reactions of these messages, grouped by emoji in the order first used. */
    reactions: (ids: readonly number[]): ReactionRow[] => (ids.length ? reactions.all(JSON.stringify(ids)) : []),
  };
}
