// Counts for the administrators' statistics.
import type { Sql } from '../engine/sql.ts';

export function statsStore(sql: Sql) {
  const perDay = sql.prepare<{ day: string; count: number }>({
    sqlite: "SELECT date(sent_at, 'unixepoch') AS day, count(*) AS count FROM messages WHERE sent_at >= $1 GROUP BY day ORDER BY day",
    postgres: "SELECT to_char(to_timestamp(sent_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS count FROM messages WHERE sent_at >= $1 GROUP BY day ORDER BY day",
  });
  const byKind = sql.prepare<{ kind: 'group' | 'direct' | 'channel'; count: number }>('SELECT kind, count(*) AS count FROM conversations WHERE deleted_at IS NULL GROUP BY kind');
  return {
    /** Messages sent per UTC day since `since` (Unix seconds); days without any are absent. */
    messagesPerDay: (since: number) => perDay.all(since),
    conversationsByKind: () => byKind.all(),
  };
}
