// Full-text search over messages (SQLite FTS5): indexing new messages in batches, and finding what a user may see.
import type { Db } from './db.ts';
import { messageColumns, messageJoins, type MessageRow } from './messages.ts';

export function searchStore(db: Db) {
  const through = db.prepare<[], number>('SELECT through FROM search_index WHERE id = 1').pluck();
  const newest = db.prepare<[], number | null>('SELECT max(id) FROM messages').pluck();
  const index = db.prepare<{ after: number; upto: number }>(
    'INSERT INTO messages_fts (rowid, content) SELECT id, content FROM messages WHERE id > :after AND id <= :upto',
  );
  const advance = db.prepare<[number]>('UPDATE search_index SET through = ? WHERE id = 1');
  const find = db.prepare<{ user: number; match: string; conversation: number | null; before: number; limit: number }, MessageRow & { snippet: string }>(
    `SELECT ${messageColumns}, snippet(messages_fts, 0, char(2), char(3), '…', 16) AS snippet ${messageJoins}
       JOIN messages_fts ON messages_fts.rowid = m.id
       JOIN members ON members.conversation_id = m.conversation_id AND members.user_id = :user
      WHERE messages_fts MATCH :match AND m.id < :before AND m.id > members.cleared_id AND m.deleted_at IS NULL
        AND (:conversation IS NULL OR m.conversation_id = :conversation)
      ORDER BY m.id DESC LIMIT :limit`,
  );

  return {
    /** Adds every message not yet in the index; returns how many ids it covered. Run inside a transaction. */
    catchUp(): number {
      const after = through.get() ?? 0;
      const upto = newest.get() ?? 0;
      if (upto <= after) return 0;
      index.run({ after, upto });
      advance.run(upto);
      return upto - after;
    },
    /** Hits the user can see (a member, after their clear point, not deleted), newest first. */
    find: (userId: number, match: string, conversationId: number | null, before: number | null, limit: number) =>
      find.all({ user: userId, match, conversation: conversationId, before: before ?? Number.MAX_SAFE_INTEGER, limit }),
  };
}
