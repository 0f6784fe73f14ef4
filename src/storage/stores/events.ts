// The event log: appending what is pushed, and reading back what a user may see after a seq. On
// PostgreSQL the next seq comes from a counter row updated in the committing transaction: seq order is
// commit order, also when several servers share the database.
import { dialect, type Sql } from '../engine/sql.ts';

export type EventRow = { seq: number; type: string; data: string };

export function eventsStore(sql: Sql) {
  const insert = sql.prepare({
    sqlite: 'INSERT INTO events (conversation_id, type, data, created_at, message_id, actor_id) VALUES ($1, $2, $3, $4, $5, $6)',
    postgres: `WITH next AS (UPDATE event_counter SET seq = seq + 1 RETURNING seq)
               INSERT INTO events (seq, conversation_id, type, data, created_at, message_id, actor_id)
               SELECT next.seq, $1, $2, $3, $4, $5, $6 FROM next RETURNING seq`,
  });
  const addressTo = sql.prepare({
    sqlite: 'INSERT INTO event_users (user_id, seq) SELECT value, $2 FROM json_each($1)',
    postgres: 'INSERT INTO event_users (user_id, seq) SELECT user_id, $2 FROM unnest(CAST($1 AS bigint[])) AS addressed (user_id)',
  });
  const visible = sql.prepare<EventRow>(
    `SELECT seq, type, data FROM (
       SELECT events.seq, events.type, events.data FROM member_periods AS periods
         JOIN events ON events.conversation_id = periods.conversation_id
                    AND events.seq >= periods.from_seq AND events.seq <= coalesce(periods.to_seq, 9007199254740991)
        WHERE periods.user_id = $1 AND events.seq > $2
          AND (events.actor_id IS NULL OR events.actor_id NOT IN (SELECT blocked_id FROM blocks WHERE user_id = $1))
       UNION ALL
       SELECT events.seq, events.type, events.data FROM event_users
         JOIN events ON events.seq = event_users.seq
        WHERE event_users.user_id = $1 AND event_users.seq > $2) AS visible
     ORDER BY seq LIMIT $3`,
  );
  // The last seq handed out, even when pruning has emptied the table.
  const latest = sql.prepare({
    sqlite: "SELECT seq FROM sqlite_sequence WHERE name = 'events'",
    postgres: 'SELECT seq FROM event_counter',
  });
  const prunedThrough = sql.prepare('SELECT pruned_through FROM event_log WHERE id = 1');
  const lastBefore = sql.prepare('SELECT max(seq) FROM events WHERE created_at < $1');
  const prune = sql.prepare('DELETE FROM events WHERE seq <= $1');
  const setPruned = sql.prepare(dialect`UPDATE event_log SET pruned_through = ${{ sqlite: 'max', postgres: 'greatest' }}(pruned_through, $1) WHERE id = 1`);
  const aboutMessage = sql.prepare<EventRow>('SELECT seq, type, data FROM events WHERE message_id = $1');
  // Replies carry a preview of the message they answer.
  const repliesTo = sql.prepare<EventRow>('SELECT seq, type, data FROM events WHERE message_id IN (SELECT id FROM messages WHERE reply_id = $1)');
  const setData = sql.prepare('UPDATE events SET data = $1 WHERE seq = $2');
  const forget = sql.prepare('DELETE FROM events WHERE conversation_id = $1');

  /** Rewrites the logged events about a message, and the previews of it in replies (JSON edited in place, key order kept). */
  async function revise(messageId: number, message: (data: Record<string, unknown>) => void, preview: (replyTo: Record<string, unknown>) => void): Promise<void> {
    for (const row of await aboutMessage.all(messageId)) {
      const data = JSON.parse(row.data) as Record<string, unknown>;
      message(data);
      await setData.run(JSON.stringify(data), row.seq);
    }
    for (const row of await repliesTo.all(messageId)) {
      const data = JSON.parse(row.data) as { reply_to?: Record<string, unknown> | null };
      if (data.reply_to?.id !== messageId) continue;
      preview(data.reply_to);
      await setData.run(JSON.stringify(data), row.seq);
    }
  }

  return {
    /** Appends an event for a conversation's members (at the time) and returns its seq. */
    forConversation: async (conversationId: number, type: string, data: string, now: number, messageId: number | null = null, actorId: number | null = null): Promise<number> =>
      insert.insert(conversationId, type, data, now, messageId, actorId),
    /** Appends an event for named users and returns its seq. */
    async forUsers(userIds: readonly number[], type: string, data: string, now: number): Promise<number> {
      const seq = await insert.insert(null, type, data, now, null, null);
      if (userIds.length) await addressTo.run(sql.list(userIds), seq);
      return seq;
    },
    /** After a deletion: every logged event about the message holds its tombstone, and previews of it are emptied. */
    tombstone: (messageId: number, tombstone: object) =>
      revise(messageId, (data) => {
        for (const key of Object.keys(data)) delete data[key];
        Object.assign(data, tombstone);
      }, (replyTo) => Object.assign(replyTo, { content: '', deleted: true, attachments: [] })),
    /** After an edit: the log keeps no earlier text of the message (`preview`: its start, as replies show it). */
    revise: (messageId: number, content: string, editedAt: number, preview: string) =>
      revise(messageId, (data) => Object.assign(data, { content, edited_at: editedAt }), (replyTo) => Object.assign(replyTo, { content: preview })),
    /** Drops a deleted conversation's events: nothing of it can be replayed. */
    forgetConversation: async (conversationId: number): Promise<void> => void (await forget.run(conversationId)),
    /** What the user may see after `since`, oldest first. */
    after: (userId: number, since: number, limit: number): Promise<EventRow[]> => visible.all(userId, since, limit),
    prunedThrough: async (): Promise<number> => (await prunedThrough.value<number>()) ?? 0,
    latest: async (): Promise<number> => (await latest.value<number>()) ?? 0,
    /** Drops events created before `cutoff` (Unix seconds); returns the seq pruned through. */
    async pruneBefore(cutoff: number): Promise<number> {
      const through = await lastBefore.value<number | null>(cutoff);
      if (through === null || through === undefined) return 0;
      await prune.run(through);
      await setPruned.run(through);
      return through;
    },
  };
}
