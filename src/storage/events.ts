// The event log: appending what is pushed, and reading back what a user may see after a seq.
import type { Db } from './db.ts';

export type EventRow = { seq: number; type: string; data: string };

export function eventsStore(db: Db) {
  const insert = db.prepare<[number | null, string, string, number]>('INSERT INTO events (conversation_id, type, data, created_at) VALUES (?, ?, ?, ?)');
  const addressTo = db.prepare<[number, number]>('INSERT INTO event_users (user_id, seq) VALUES (?, ?)');
  const visible = db.prepare<{ user: number; since: number; limit: number }, EventRow>(
    `SELECT seq, type, data FROM (
       SELECT events.seq, events.type, events.data FROM members
         JOIN events ON events.conversation_id = members.conversation_id AND events.seq >= members.from_seq
        WHERE members.user_id = :user AND events.seq > :since
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
  const setPruned = db.prepare<[number]>('UPDATE event_log SET pruned_through = max(pruned_through, ?) WHERE id = 1');

  return {
    /** Appends an event for a conversation's members (at the time) and returns its seq. */
    forConversation(conversationId: number, type: string, data: string, now: number): number {
      return Number(insert.run(conversationId, type, data, now).lastInsertRowid);
    },
    /** Appends an event for named users and returns its seq. */
    forUsers(userIds: readonly number[], type: string, data: string, now: number): number {
      const seq = Number(insert.run(null, type, data, now).lastInsertRowid);
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
