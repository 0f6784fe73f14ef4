// Channels anyone can find: a page of them, newest first, examining a bounded number per request.
import { dialect, likePattern, type Sql } from '../engine/sql.ts';
import type { ConversationRow } from './conversations.ts';

export type ChannelRow = ConversationRow & { member_count: number; joined: number };

export type ChannelsPage = {
  rows: ChannelRow[];
  /** The lowest id of the channels this request examined, when older ones are left: a `before` to go on from. */
  floor: number | null;
};

export function channelsStore(sql: Sql) {
  // LIKE is case-insensitive for ASCII in SQLite; PostgreSQL says ILIKE.
  const like = { sqlite: 'LIKE', postgres: 'ILIKE' };
  // The ids of the `$2`th channel below `$1` and of the one after it, if any: an index-only walk of channels_newest_first.
  const floor = sql.prepare(`SELECT id FROM conversations WHERE kind = 'channel' AND deleted_at IS NULL AND id < $1 ORDER BY id DESC LIMIT 2 OFFSET $2`);
  const page = sql.prepare<ChannelRow>(
    dialect`SELECT conversations.id, conversations.name, conversations.kind, conversations.description, conversations.created_at, conversations.avatar_file_id,
            (SELECT count(*) FROM members WHERE members.conversation_id = conversations.id) AS member_count,
            CASE WHEN EXISTS (SELECT 1 FROM members WHERE members.conversation_id = conversations.id AND members.user_id = $1) THEN 1 ELSE 0 END AS joined
       FROM conversations
      WHERE kind = 'channel' AND deleted_at IS NULL AND id < $3 AND id >= $5
        AND (CAST($2 AS TEXT) IS NULL OR name ${like} $2 ESCAPE '\\' OR description ${like} $2 ESCAPE '\\')
      ORDER BY id DESC LIMIT $4`,
  );
  return {
    /**
     * Up to `limit` channels below `before` whose name or description contains `query` (every channel
     * without one), newest first, from the `examine` channels below `before` only.
     */
    async page(userId: number, query: string | null, before: number | null, limit: number, examine: number): Promise<ChannelsPage> {
      const below = before ?? Number.MAX_SAFE_INTEGER;
      const [lowest, older] = await floor.values<number>(below, examine - 1);
      const rows = await page.all(userId, query ? likePattern(query, true) : null, below, limit, lowest ?? 0);
      return { rows, floor: older === undefined ? null : lowest! };
    },
  };
}
