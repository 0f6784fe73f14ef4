// Retention: how many days each conversation keeps its messages, which conversations hold messages past
// that, and deleting a conversation's oldest messages for good (the database cascades their reactions,
// mentions, attachment links and push rows, and empties replies' reply_id; SQLite's search index loses
// them by its delete trigger, or never had them when they were newer than its last batch).
import { dialect, inList, type Sql } from '../engine/sql.ts';

export type ExpiringConversation = { id: number; days: number };

/**
 * A thread's root kept, emptied, while its thread has newer replies (see `anchors`): not a message the job
 * looks at again until the last of them is gone. Read by messages_by_thread, a probe a message.
 */
const anchor = (m: string) => `(${m}.deleted_at IS NOT NULL AND EXISTS (SELECT 1 FROM messages AS r WHERE r.thread_id = ${m}.id))`;

export function retentionStore(sql: Sql) {
  const setDays = sql.prepare('UPDATE conversations SET retention_days = $1 WHERE id = $2');
  const days = sql.prepare('SELECT retention_days FROM conversations WHERE id = $1');
  // One index probe a conversation: its oldest message (the oldest by id, as the deletion goes) against its cutoff.
  const due = sql.prepare<ExpiringConversation>(`
    SELECT id, days FROM (SELECT c.id, coalesce(c.retention_days, $1) AS days FROM conversations AS c WHERE c.deleted_at IS NULL AND c.id > $3) AS kept
     WHERE days > 0 AND (SELECT m.sent_at FROM messages AS m WHERE m.conversation_id = kept.id AND NOT ${anchor('m')} ORDER BY m.id LIMIT 1) < CAST($2 AS bigint) - CAST(days AS bigint) * 86400
     ORDER BY id LIMIT 1`);
  // Locked on PostgreSQL, so that two nodes' rounds (one overrunning its period) take turns on them.
  const oldest = sql.prepare<{ id: number; sent_at: number }>({
    sqlite: `SELECT id, sent_at FROM messages AS m WHERE conversation_id = $1 AND NOT ${anchor('m')} ORDER BY id LIMIT $2`,
    postgres: `SELECT id, sent_at FROM messages AS m WHERE conversation_id = $1 AND NOT ${anchor('m')} ORDER BY id LIMIT $2 FOR UPDATE OF m`,
  });
  const replies = sql.prepare(dialect`SELECT id FROM messages WHERE ${inList('reply_id', '$1')} AND NOT ${inList('id', '$1')}`);
  const remove = sql.prepare(dialect`DELETE FROM messages WHERE ${inList('id', '$1')}`);
  const rootsWithNewer = sql.prepare(dialect`SELECT DISTINCT thread_id FROM messages WHERE ${inList('thread_id', '$1')} AND NOT ${inList('id', '$1')}`);

  return {
    /** Sets a conversation's own retention (null: the server's). */
    set: async (conversationId: number, value: number | null): Promise<void> => void (await setDays.run(value, conversationId)),
    /** A conversation's own retention, or null when it follows the server's. */
    of: async (conversationId: number): Promise<number | null> => (await days.value<number | null>(conversationId)) ?? null,
    /**
     * The first conversation after `after` (by id) whose oldest message is older than its retention
     * (its own days, else `serverDays`; 0 keeps for ever) at `now`.
     */
    next: (serverDays: number, now: number, after: number): Promise<ExpiringConversation | undefined> => due.get(serverDays, now, after),
    /** The ids of the conversation's oldest messages sent before `cutoff`, oldest first, stopping at the first that is not, at most `limit`. */
    async expired(conversationId: number, cutoff: number, limit: number): Promise<number[]> {
      const rows = await oldest.all(conversationId, limit);
      const end = rows.findIndex((row) => row.sent_at >= cutoff);
      return rows.slice(0, end === -1 ? rows.length : end).map((row) => row.id);
    },
    /**
     * Those of these messages that are thread roots with replies besides these (newer, not yet expired): they
     * are emptied (as a deleted message is) and kept as their thread's anchor, as a root deleted by its sender
     * is, rather than deleted, so that the thread's newer replies stay readable; they go once those have.
     */
    anchors: (ids: readonly number[]): Promise<number[]> => rootsWithNewer.values<number>(sql.list(ids)),
    /** The messages that reply to these, besides these. */
    repliesTo: (ids: readonly number[]): Promise<number[]> => replies.values<number>(sql.list(ids)),
    /** Deletes these messages for good. */
    remove: async (ids: readonly number[]): Promise<number> => remove.run(sql.list(ids)),
  };
}
