// The event log: appending what is pushed, and reading back what a user may see after a seq.
import type { Db } from './db.ts';

export type EventRow = { seq: number; type: string; data: string };

export function eventsStore(db: Db) {
  const insert = db.prepare<[number | null, string, string, number, number | null, number | null]>(
    'INSERT INTO events (conversation_id, type, data, created_at, message_id, actor_id) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const addressTo = db.prepare<[number, number]>('INSERT INTO event_users (user_id, seq) VALUES (?, ?)');
  const visible = db.prepare<{ user: number; since: number; limit: number }, EventRow>(
    `SELECT seq, type, data FROM (
       SELECT events.seq, events.type, events.data FROM member_periods AS periods
         JOIN events ON events.conversation_id = periods.conversation_id
                    AND events.seq >= periods.from_seq AND events.seq <= coalesce(periods.to_seq, 9007199254740991)
        WHERE periods.user_id = :user AND events.seq > :since
          AND (events.actor_id IS NULL OR events.actor_id NOT IN (SELECT blocked_id FROM blocks WHERE user_id = :user))
       UNION ALL
       SELECT events.seq, events.type, events.data FROM event_users
         JOIN events ON events.seq = event_users.seq
        WHERE event_users.user_id = :user AND event_users.seq > :since)
     ORDER BY seq LIMIT :limit`,
  );
  // The last seq handed out, even when pruning has emptied the table (AUTOINCREMENT keeps it here).
  const latest = db.prepare<[], number | null>("SELECT seq FROM sqlite_sequence WHERE name = 'events'").pluck();
  const prunedThrough = db.prepare<[], number>('SELECT pruned_through FROM event_log WHERE id = 1').pluck();
  const lastBefore = db.prepare<[number], number | null>('SELECT max(seq) FROM events WHERE created_at < ?').pluck();
  const prune = db.prepare<[number]>('DELETE FROM events WHERE seq <= ?');
  const rewriteMessage = db.prepare<[string, number]>('UPDATE events SET data = ? WHERE message_id = ?');
  // Replies carry a preview of the message they answer: a deleted message's preview is emptied in them too.
  const scrubPreviews = db.prepare<{ message: number }>(
    `UPDATE events SET data = json_set(data, '$.reply_to.content', '', '$.reply_to.deleted', json('true'))
      WHERE message_id IN (SELECT id FROM messages WHERE reply_id = :message) AND json_extract(data, '$.reply_to.id') = :message`,
  );
  // An edit: every logged event about the message, and the previews in replies to it, show the new text only.
  const reviseMessage = db.prepare<{ message: number; content: string; at: number }>(
    "UPDATE events SET data = json_set(data, '$.content', :content, '$.edited_at', :at) WHERE message_id = :message",
  );
  const revisePreviews = db.prepare<{ message: number; preview: string }>(
    `UPDATE events SET data = json_set(data, '$.reply_to.content', :preview)
      WHERE message_id IN (SELECT id FROM messages WHERE reply_id = :message) AND json_extract(data, '$.reply_to.id') = :message`,
  );
  const forget = db.prepare<[number]>('DELETE FROM events WHERE conversation_id = ?');
  const setPruned = db.prepare<[number]>('UPDATE event_log SET pruned_through = max(pruned_through, ?) WHERE id = 1');

  return {
    /** Appends an event for a conversation's members (at the time) and returns its seq. */
    forConversation(conversationId: number, type: string, data: string, now: number, messageId: number | null = null, actorId: number | null = null): number {
      return Number(insert.run(conversationId, type, data, now, messageId, actorId).lastInsertRowid);
    },
    /** Replaces the data of every logged event about a message (when it is deleted: its tombstone). */
    rewriteMessage(messageId: number, data: string): void {
      rewriteMessage.run(data, messageId);
      scrubPreviews.run({ message: messageId });
    },
    /** After an edit: the log keeps no earlier text of the message (`preview`: its start, as replies show it). */
    reviseMessage(messageId: number, content: string, editedAt: number, preview: string): void {
      reviseMessage.run({ message: messageId, content, at: editedAt });
      revisePreviews.run({ message: messageId, preview });
    },
    /** Drops a deleted conversation's events: nothing of it can be replayed. */
    forgetConversation(conversationId: number): void {
      forget.run(conversationId);
    },
    /** Appends an event for named users and returns its seq. */
    forUsers(userIds: readonly number[], type: string, data: string, now: number): number {
      const seq = Number(insert.run(null, type, data, now, null, null).lastInsertRowid);
      for (const userId of userIds) addressTo.run(userId, seq);
      return seq;
    },
    /** What the user may see after `since`, oldest first. */
    after: (userId: number, since: number, limit: number): EventRow[] => visible.all({ user: userId, since, limit }),
    prunedThrough: (): number => prunedThrough.get() ?? 0,
    latest: (): number => latest.get() ?? 0,
    /** Drops events created before `cutoff` (Unix seconds); returns the seq pruned through. */
    pruneBefore(cutoff: number): number {
      const through = lastBefore.get(cutoff);
      if (through === null || through === undefined) return 0;
      prune.run(through);
      setPruned.run(through);
      return through;
    },
  };
}
