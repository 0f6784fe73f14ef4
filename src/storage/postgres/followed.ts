// The event log as a cluster node follows it, on PostgreSQL: committed events after a seq with who may
// see them (as `sync` decides), and LISTEN/NOTIFY to hear at once that another node committed some.
// Connections of its own: the server's pool runs the open batch's transaction, which must not see these.
import type postgres from 'postgres';
import type { Logger } from '../../log.ts';
import { eventsChannel as channel, shownBothWays } from '../stores/events.ts';

/**
 * A committed event and its readers at the time of reading: the users it was addressed to; or for a
 * conversation's event, null when every member then may see it (it goes to the conversation's topic),
 * else its members then less those a block hides it from (`notHiddenByBlocks`) — and always for events each reader sees
 * their own way (`personal`), which need their usernames.
 */
export type FollowedEvent = {
  seq: number;
  type: string;
  data: string;
  conversation: number | null;
  readers: { id: number; username: string }[] | null;
  /** Members whose period in the conversation begins with this event, and those whose period ends with it. */
  joined: number[];
  left: number[];
};

type Row = { seq: number; type: string; data: string; conversation_id: number | null; readers: [number, string][] | null; joined: number[]; left_by: number[] };

const bothWays = [...shownBothWays];

export type Followed = Awaited<ReturnType<typeof followEvents>>;

/**
 * Listens on the channel (`heard` gets other nodes' notifications, and runs again after a reconnection,
 * when some may have been missed); resolves once listening.
 */
export async function followEvents(pool: postgres.Sql, nodeId: string, log: Logger, heard: () => void, personal: readonly string[]) {
  const listening = await pool.listen(channel, (payload) => payload !== nodeId && heard(), heard);
  return {
    /** The last seq committed so far. */
    latest: async (): Promise<number> => Number((await pool`SELECT seq FROM event_counter`)[0]!.seq),
    /**
     * Events after `after`, up to `limit` of them: every seq up to `upTo` is accounted for (one missing
     * from `events` was pruned or deleted). One statement, so one snapshot: it reads the counter and
     * the events up to it together. A batch numbers its events by updating the counter, whose row lock
     * it holds to COMMIT, so the batch that set the counter to N committed after every batch that
     * numbered below N; a snapshot that sees N committed sees them too, and no seq up to N can still be
     * on its way.
     */
    async read(after: number, limit: number): Promise<{ events: Map<number, FollowedEvent>; upTo: number }> {
      const found = await pool<(Row & { latest: number })[]>`
        SELECT c.latest, f.* FROM (SELECT (SELECT seq FROM event_counter) AS latest) AS c LEFT JOIN LATERAL (
        SELECT e.seq, e.type, e.data, e.conversation_id,
          CASE WHEN e.conversation_id IS NULL THEN
            (SELECT coalesce(json_agg(json_build_array(u.id, u.username)), '[]') FROM event_users AS a JOIN users AS u ON u.id = a.user_id WHERE a.seq = e.seq)
          WHEN e.type = ANY(${personal as string[]}) OR (e.actor_id IS NOT NULL AND EXISTS (
              SELECT 1 FROM blocks AS b JOIN member_periods AS p ON p.user_id = b.user_id
               WHERE b.blocked_id = e.actor_id AND p.conversation_id = e.conversation_id AND p.from_seq <= e.seq AND (p.to_seq IS NULL OR p.to_seq >= e.seq)))
            OR (e.type = ANY(${bothWays}) AND EXISTS (
              SELECT 1 FROM blocks AS b JOIN member_periods AS p ON p.user_id = b.blocked_id
               WHERE b.user_id = e.actor_id AND p.conversation_id = e.conversation_id AND p.from_seq <= e.seq AND (p.to_seq IS NULL OR p.to_seq >= e.seq))) THEN
            (SELECT coalesce(json_agg(json_build_array(u.id, u.username)), '[]') FROM member_periods AS p JOIN users AS u ON u.id = p.user_id
              WHERE p.conversation_id = e.conversation_id AND p.from_seq <= e.seq AND (p.to_seq IS NULL OR p.to_seq >= e.seq)
                AND (e.actor_id IS NULL OR (p.user_id NOT IN (SELECT b.user_id FROM blocks AS b WHERE b.blocked_id = e.actor_id)
                  AND (e.type <> ALL(${bothWays}) OR p.user_id NOT IN (SELECT b.blocked_id FROM blocks AS b WHERE b.user_id = e.actor_id)))))
          END AS readers,
          (SELECT coalesce(json_agg(p.user_id), '[]') FROM member_periods AS p WHERE p.conversation_id = e.conversation_id AND p.from_seq = e.seq) AS joined,
          (SELECT coalesce(json_agg(p.user_id), '[]') FROM member_periods AS p WHERE p.conversation_id = e.conversation_id AND p.to_seq = e.seq) AS left_by
        FROM events AS e WHERE e.seq > ${after} AND e.seq <= c.latest ORDER BY e.seq LIMIT ${limit}) AS f ON true`;
      const latest = Number(found[0]!.latest);
      const rows = found[0]!.seq === null ? [] : found;
      const events = new Map<number, FollowedEvent>();
      for (const row of rows) {
        const seq = Number(row.seq);
        events.set(seq, {
          seq,
          type: row.type,
          data: row.data,
          conversation: row.conversation_id === null ? null : Number(row.conversation_id),
          readers: row.readers && row.readers.map(([id, username]) => ({ id, username })),
          joined: row.joined,
          left: row.left_by,
        });
      }
      return { events, upTo: rows.length === limit ? Number(rows.at(-1)!.seq) : Math.max(latest, after) };
    },
    async close(): Promise<void> {
      await listening.unlisten().catch((error: unknown) => log.warn('could not stop listening for events', { error: String(error) }));
    },
  };
}
