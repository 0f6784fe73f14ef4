// Counts for the administrators' statistics.
import type { Db } from './db.ts';

export function statsStore(db: Db) {
  const perDay = db.prepare<[number], { day: string; count: number }>(
    "SELECT date(sent_at, 'unixepoch') AS day, count(*) AS count FROM messages WHERE sent_at >= ? GROUP BY day ORDER BY day",
  );
  const byKind = db.prepare<[], { kind: 'group' | 'direct' | 'channel'; count: number }>(
    'SELECT kind, count(*) AS count FROM conversations WHERE deleted_at IS NULL GROUP BY kind',
  );
  return {
    /** Messages sent per UTC day since `since` (Unix seconds); days without any are absent. */
    messagesPerDay: (since: number) => perDay.all(since),
    conversationsByKind: () => byKind.all(),
  };
}
