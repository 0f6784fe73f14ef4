// What people want to be notified of (a level per conversation, for a while or for ever; a default
// and whether reactions count, per person) and administrators' notices.
import { returning, type Sql } from '../engine/sql.ts';

export type Level = 'all' | 'mentions' | 'none';

export type LevelRow = { conversation_id: number; notify_level: Level; notify_until: number | null };

export function notificationsStore(sql: Sql) {
  const setLevel = sql.prepare('UPDATE members SET notify_level = $3, notify_until = $4 WHERE conversation_id = $1 AND user_id = $2');
  const levels = sql.prepare<LevelRow>(
    `SELECT conversation_id, notify_level, notify_until FROM members
      WHERE user_id = $1 AND notify_level IS NOT NULL AND (notify_until IS NULL OR notify_until > $2)`,
  );
  const setDefaults = sql.prepare('UPDATE users SET notify_default = $2, notify_reactions = $3 WHERE id = $1');
  const insertNotice = sql.prepare(returning('INSERT INTO notices (sender_id, title, body, sent_at) VALUES ($1, $2, $3, $4)'));
  const noticesSince = sql.prepare('SELECT count(*) AS count, min(sent_at) AS first FROM notices WHERE sender_id = $1 AND sent_at > $2');

  return {
    /** A member's level in a conversation until `until` (null: for ever); a null level follows their default. */
    setLevel: async (conversationId: number, userId: number, level: Level | null, until: number | null): Promise<void> =>
      void (await setLevel.run(conversationId, userId, level, until)),
    /** The user's levels that are in effect at `now`, by conversation. */
    async levels(userId: number, now: number): Promise<Map<number, { level: Level; until: number | null }>> {
      return new Map((await levels.all(userId, now)).map((row) => [row.conversation_id, { level: row.notify_level, until: row.notify_until }]));
    },
    setDefaults: async (userId: number, level: Level, reactions: boolean): Promise<void> => void (await setDefaults.run(userId, level, reactions ? 1 : 0)),
    addNotice: (senderId: number, title: string, body: string, now: number): Promise<number> => insertNotice.insert(senderId, title, body, now),
    /** How many notices an administrator sent after `since`, and the first of them. */
    noticesSince: async (senderId: number, since: number): Promise<{ count: number; first: number | null }> =>
      (await noticesSince.get(senderId, since)) as { count: number; first: number | null },
  };
}
