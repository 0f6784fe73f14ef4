// Full-text search over messages (SQLite FTS5): indexing new messages in batches, and finding what a
// user may see, newest first, examining a bounded number of matches per request.
import type { Db } from './db.ts';
import { messageColumns, messageJoins, notBlocked, type MessageRow } from './messages.ts';

/** Matches read from the index at a time, newest first. */
const chunk = 250;

export type SearchPage = {
  rows: (MessageRow & { snippet: string })[];
  /** Where the next page starts (a `before` cursor), or null when every match has been examined. */
  next: number | null;
};

export function searchStore(db: Db) {
  const through = db.prepare<[], number>('SELECT through FROM search_index WHERE id = 1').pluck();
  const newest = db.prepare<[], number | null>('SELECT max(id) FROM messages').pluck();
  const index = db.prepare<{ after: number; upto: number }>(
    'INSERT INTO messages_fts (rowid, content) SELECT id, content FROM messages WHERE id > :after AND id <= :upto',
  );
  const advance = db.prepare<[number]>('UPDATE search_index SET through = ? WHERE id = 1');
  // FTS5 walks its index in rowid order, backwards here, and stops at the limit.
  const candidates = db.prepare<{ match: string; before: number; limit: number }, number>(
    'SELECT rowid FROM messages_fts WHERE messages_fts MATCH :match AND rowid < :before ORDER BY rowid DESC LIMIT :limit',
  ).pluck();
  const visible = db.prepare<{ ids: string; reader: number; conversation: number | null }, number>(
    `SELECT m.id FROM messages AS m
       JOIN members ON members.conversation_id = m.conversation_id AND members.user_id = :reader
      WHERE m.id IN (SELECT value FROM json_each(:ids)) AND m.id > members.cleared_id AND m.deleted_at IS NULL
        AND (:conversation IS NULL OR m.conversation_id = :conversation) AND ${notBlocked}
      ORDER BY m.id DESC`,
  ).pluck();
  const hit = db.prepare<{ match: string; id: number; open: string; close: string }, MessageRow & { snippet: string }>(
    `SELECT ${messageColumns}, snippet(messages_fts, 0, :open, :close, '…', 16) AS snippet ${messageJoins}
       JOIN messages_fts ON messages_fts.rowid = m.id
      WHERE messages_fts MATCH :match AND messages_fts.rowid = :id`,
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
    /**
     * Hits the reader can see (a member, after their clear point, not deleted, not from someone they
     * blocked), newest first, below `before`. At most `budget` matches are examined: a page may come
     * back short with a `next` to go on from. Snippets mark hits with `open` and `close`.
     */
    find(query: { reader: number; match: string; conversation: number | null; before: number | null; limit: number; budget: number; open: string; close: string }): SearchPage {
      const found: number[] = [];
      let cursor = query.before ?? Number.MAX_SAFE_INTEGER;
      let examined = 0;
      let exhausted = false;
      while (found.length <= query.limit && examined < query.budget) {
        const ids = candidates.all({ match: query.match, before: cursor, limit: Math.min(chunk, query.budget - examined) });
        examined += ids.length;
        if (ids.length === 0) {
          exhausted = true;
          break;
        }
        found.push(...visible.all({ ids: JSON.stringify(ids), reader: query.reader, conversation: query.conversation }));
        cursor = ids.at(-1)!;
      }
      const page = found.slice(0, query.limit);
      const rows = page.map((id) => hit.get({ match: query.match, id, open: query.open, close: query.close })!);
      const next = found.length > query.limit ? page.at(-1)! : exhausted ? null : cursor;
      return { rows, next };
    },
  };
}
