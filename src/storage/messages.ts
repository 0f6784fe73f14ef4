// Messages: stored once, read a page at a time, newest first.
import type { Db } from './db.ts';

export type MessageRow = {
  id: number;
  sender_username: string;
  reply_id: number | null;
  content: string;
  sent_at: number;
};

export function messagesStore(db: Db) {
  const insert = db.prepare<[number, number, number | null, string, number, string | null]>(
    'INSERT INTO messages (conversation_id, sender_id, reply_id, content, sent_at, client_id) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const byClientId = db.prepare<[number, string], MessageRow & { conversation_id: number }>(
    `SELECT messages.id, COALESCE(users.username, 'deleted user') AS sender_username, messages.conversation_id,
            messages.reply_id, messages.content, messages.sent_at
       FROM messages LEFT JOIN users ON users.id = messages.sender_id
      WHERE messages.sender_id = ? AND messages.client_id = ?`,
  );
  const inConversation = db.prepare<[number, number], number>('SELECT 1 FROM messages WHERE id = ? AND conversation_id = ?').pluck();
  const page = db.prepare<[number, number, number], MessageRow>(
    `SELECT messages.id, COALESCE(users.username, 'deleted user') AS sender_username, messages.reply_id, messages.content, messages.sent_at
       FROM messages LEFT JOIN users ON users.id = messages.sender_id
      WHERE messages.conversation_id = ? AND messages.id < ?
      ORDER BY messages.id DESC LIMIT ?`,
  );

  return {
    insert: (message: { conversationId: number; senderId: number; replyId: number | null; content: string; sentAt: number; clientId: string | null }): number =>
      Number(insert.run(message.conversationId, message.senderId, message.replyId, message.content, message.sentAt, message.clientId).lastInsertRowid),
    /** The message a sender already sent under this client id, if any. */
    byClientId: (senderId: number, clientId: string) => byClientId.get(senderId, clientId),
    inConversation: (id: number, conversationId: number): boolean => inConversation.get(id, conversationId) !== undefined,
    /** Messages with ids below `before` (all when null), newest first. */
    page: (conversationId: number, before: number | null, limit: number): MessageRow[] =>
      page.all(conversationId, before ?? Number.MAX_SAFE_INTEGER, limit),
  };
}
