// The event log: appending what a batch logged, and reading back what a user may see after a seq.
//
// A batch's events are numbered and appended by its last statement, sent with its COMMIT: the seq
// comes from a counter row that the statement updates, so its lock is held from that statement to the
// COMMIT and no longer. Invariant: seq order is commit order (a batch numbers only after every batch
// that numbered before it has committed or rolled back, since it waits for the row), and the seqs of
// what is committed have no gaps (a batch that rolls back takes its counter update with it). So a
// reader that has every event up to n, and reads the log up to the counter it saw first, never misses
// one that commits later. Several servers' batches run at the same time and take turns only for that
// one statement and its COMMIT. The statement waits for nothing but the counter, and the batch holding
// the counter waits for nothing but its COMMIT, so no deadlock can take the counter in: it touches only
// the counter, rows it inserts, and member periods its own units wrote (holding a placeholder seq till
// then), and the event tables carry no foreign keys that would make it wait for another batch's rows.
// SQLite has one writer: the same statement, its seqs from AUTOINCREMENT.
import { dialect, inList, type Sql } from '../engine/sql.ts';
import { placeholder, placeholderBase, type PendingEvent } from '../engine/journal.ts';

export type EventRow = { seq: number; type: string; data: string };

/**
 * Events that show their actor's presence (a receipt shows its member online, reading): a block hides
 * them both ways, from members who blocked the actor and from those the actor blocked, as presence is.
 * Every other event with an actor is hidden only from those who blocked the actor.
 */
export const shownBothWays: readonly string[] = ['receipt'];
/** PostgreSQL's notification channel on which a cluster's nodes hear that another committed events (its payload: that node's id). */
export const eventsChannel = 'parley_events';
/** SQL: event `e` (with an actor) is shown to user `reader` as far as blocks go. */
export const notHiddenByBlocks = (e: string, reader: string) =>
  `(${e}.actor_id IS NULL OR (${e}.actor_id NOT IN (SELECT blocked_id FROM blocks WHERE user_id = ${reader})
     AND (${e}.type NOT IN (${shownBothWays.map((type) => `'${type}'`).join(', ')}) OR ${e}.actor_id NOT IN (SELECT user_id FROM blocks WHERE blocked_id = ${reader}))))`;

export function eventsStore(sql: Sql) {
  // PostgreSQL's: one statement for all of a batch's events.
  const appendAll = sql.local ? undefined : sql.prepare(`
    WITH counter AS (UPDATE event_counter SET seq = seq + $1 RETURNING seq - $1 AS base),
    logged AS (
      INSERT INTO events (seq, conversation_id, type, data, created_at, message_id, actor_id)
      SELECT counter.base + e.ord, e.conversation_id, e.type, e.data, e.created_at, e.message_id, e.actor_id
        FROM counter, unnest(CAST($2 AS bigint[]), CAST($3 AS text[]), CAST($4 AS text[]), CAST($5 AS bigint[]), CAST($6 AS bigint[]), CAST($7 AS bigint[]))
             WITH ORDINALITY AS e (conversation_id, type, data, created_at, message_id, actor_id, ord)),
    addressed AS (
      INSERT INTO event_users (user_id, seq)
      SELECT a.user_id, counter.base + a.ord FROM counter, unnest(CAST($8 AS bigint[]), CAST($9 AS bigint[])) AS a (user_id, ord)
       WHERE EXISTS (SELECT 1 FROM users WHERE users.id = a.user_id)),
    periods AS (
      UPDATE member_periods
         SET from_seq = CASE WHEN from_seq >= $10 THEN counter.base + (SELECT k.ord FROM unnest(CAST($11 AS bigint[])) WITH ORDINALITY AS k (key, ord) WHERE k.key = from_seq - $10) ELSE from_seq END,
             to_seq = CASE WHEN to_seq >= $10 THEN counter.base + (SELECT k.ord FROM unnest(CAST($11 AS bigint[])) WITH ORDINALITY AS k (key, ord) WHERE k.key = to_seq - $10) ELSE to_seq END
        FROM counter
       WHERE user_id = ANY(CAST($12 AS bigint[])) AND (from_seq >= $10 OR to_seq >= $10))
    SELECT base, CASE WHEN CAST($13 AS text) IS NOT NULL THEN pg_notify('${eventsChannel}', $13) END FROM counter`);
  // SQLite's, a row at a time: the event (its seq from AUTOINCREMENT), the users it is addressed to (not
  // one deleted earlier in the batch), the member periods that begin or end with it.
  const sqlite = sql.local && {
    insert: sql.local.prepare('INSERT INTO events (conversation_id, type, data, created_at, message_id, actor_id) VALUES ($1, $2, $3, $4, $5, $6)'),
    address: sql.local.prepare('INSERT INTO event_users (user_id, seq) SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM users WHERE id = $1)'),
    opened: sql.local.prepare('UPDATE member_periods SET from_seq = $1 WHERE conversation_id = $2 AND user_id = $3 AND from_seq = $4'),
    closed: sql.local.prepare('UPDATE member_periods SET to_seq = $1 WHERE conversation_id = $2 AND user_id = $3 AND to_seq = $4'),
  };
  const visible = sql.prepare<EventRow>(
    `SELECT seq, type, data FROM (
       SELECT events.seq, events.type, events.data FROM member_periods AS periods
         JOIN events ON events.conversation_id = periods.conversation_id
                    AND events.seq >= periods.from_seq AND events.seq <= coalesce(periods.to_seq, 9007199254740991)
        WHERE periods.user_id = $1 AND events.seq > $2
          AND ${notHiddenByBlocks('events', '$1')}
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
  const forgetMessages = sql.prepare(dialect`DELETE FROM events WHERE ${inList('message_id', '$1')}`);
  const aboutMessages = sql.prepare<EventRow>(dialect`SELECT seq, type, data FROM events WHERE ${inList('message_id', '$1')}`);

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

  /**
   * Appends a batch's events in order and returns their seqs (consecutive: the first is the counter's
   * last plus one). On PostgreSQL `announce` (a cluster node's id) is sent to the other nodes on
   * `eventsChannel` as the batch commits: a notification in the same statement, no round trip of its own.
   */
  async function append(events: readonly PendingEvent[], announce?: string): Promise<number[]> {
    if (sqlite) {
      return events.map((e) => {
        const seq = Number(sqlite.insert.run(e.conversationId, e.type, e.dataText, e.createdAt, e.messageId, e.actorId).lastInsertRowid);
        for (const user of e.users) sqlite.address.run(user, seq);
        for (const user of e.joined) sqlite.opened.run(seq, e.conversationId, user, placeholder(e.key));
        for (const user of e.left) sqlite.closed.run(seq, e.conversationId, user, placeholder(e.key));
        return seq;
      });
    }
    const addressed = events.flatMap((event, i) => event.users.map((user) => [user, i + 1] as const));
    const members = [...new Set(events.flatMap((event) => [...event.joined, ...event.left]))];
    const column = <K extends keyof PendingEvent>(key: K) => events.map((event) => event[key]);
    const base = (await appendAll!.value<number>(
      events.length, column('conversationId'), column('type'), column('dataText'), column('createdAt'), column('messageId'), column('actorId'),
      addressed.map(([user]) => user), addressed.map(([, ord]) => ord), placeholderBase, column('key'), members, announce ?? null,
    ))!;
    return events.map((_, i) => base + i + 1);
  }

  return {
    append,
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
    /**
     * After messages are deleted for good (retention): their events go, and `replies` (messages that
     * answered them) are logged as they now read, replying to nothing.
     */
    async forgetMessages(ids: readonly number[], replies: readonly number[]): Promise<void> {
      await forgetMessages.run(sql.list(ids));
      if (replies.length === 0) return;
      const gone = new Set(ids);
      for (const row of await aboutMessages.all(sql.list(replies))) {
        const data = JSON.parse(row.data) as { reply_id?: number | null; reply_to?: unknown };
        if (typeof data.reply_id !== 'number' || !gone.has(data.reply_id)) continue;
        Object.assign(data, { reply_id: null, reply_to: null });
        await setData.run(JSON.stringify(data), row.seq);
      }
    },
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
