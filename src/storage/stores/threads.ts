// Threads: each root's summary (kept by its replies), who follows it and how far they read, its participants.
import { limits } from '../../../protocol/index.ts';
import { dialect, inList, type Sql } from '../engine/sql.ts';
import { notBlocked } from './contacts.ts';

/** Replies of a batch to one root, gathered: how many, and the newest. */
export type ThreadReplies = { rootId: number; conversationId: number; count: number; lastId: number; lastAt: number };
/** A follower to record: `repliedId` their first reply in it (null: they did not reply), `readId` how far they read (kept when they followed already). */
export type NewFollower = { rootId: number; userId: number; repliedId: number | null; readId: number };
export type FollowRow = { root_id: number; user_id: number; following: number };
/**
 * A message a reply names as its thread: its conversation, its thread's root (itself, unless it is a reply
 * in one), the root's sender, and whether the thread has replies yet (1) or starts with this one (0).
 */
export type ThreadTarget = { id: number; conversation_id: number; root_id: number; root_sender_id: number | null; has_replies: number };
/** A followed thread as get_threads lists it. */
export type FollowedRow = { root_id: number; conversation_id: number; last_reply_id: number; read_id: number; unread: number };

/**
 * A message `m` of the conversation's main list: not a thread reply, or one also sent to the conversation.
 * Only these count in its unread count, become its last message and rank it by activity (a reply that stays
 * in its thread counts in the thread's unread for its followers). Written as the partial index
 * messages_in_main is, so that ranges of it are read from that index.
 */
export const inMain = '(m.thread_id IS NULL OR m.also_sent = 1)';

const greatest = { sqlite: 'max', postgres: 'greatest' };

export function threadsStore(sql: Sql) {
  const { local } = sql;
  // What sends read and write takes a batch's rows at once: arrays on PostgreSQL (one round trip), a row at a time on SQLite.
  // Batches on several nodes commit in any order of their reserved ids: the newest reply is the greatest.
  const repliedText = dialect`INSERT INTO threads (root_id, conversation_id, reply_count, last_reply_id, last_reply_at) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (root_id) DO UPDATE SET reply_count = threads.reply_count + excluded.reply_count,
       last_reply_id = ${greatest}(threads.last_reply_id, excluded.last_reply_id), last_reply_at = ${greatest}(threads.last_reply_at, excluded.last_reply_at)`;
  // A follower's row is written only when it changes (they follow again, or reply for the first time):
  // a busy thread's regulars cost no write. Their own replies count as read anyway.
  const joinedText = `INSERT INTO thread_follows (root_id, user_id, following, replied_id, read_id) VALUES ($1, $2, 1, $3, $4)
    ON CONFLICT (root_id, user_id) DO UPDATE SET following = 1, replied_id = coalesce(thread_follows.replied_id, excluded.replied_id)
     WHERE thread_follows.following = 0 OR (thread_follows.replied_id IS NULL AND excluded.replied_id IS NOT NULL)`;
  const startedText = 'INSERT INTO thread_follows (root_id, user_id, following, replied_id, read_id) VALUES ($1, $2, 1, $3, $4) ON CONFLICT (root_id, user_id) DO NOTHING';
  const unnested = (text: string) => text.replace('VALUES ($1, $2, $3, $4, $5)', 'SELECT * FROM unnest(CAST($1 AS bigint[]), CAST($2 AS bigint[]), CAST($3 AS integer[]), CAST($4 AS bigint[]), CAST($5 AS bigint[]))')
    .replace('VALUES ($1, $2, 1, $3, $4)', 'SELECT r, u, 1, p, q FROM unnest(CAST($1 AS bigint[]), CAST($2 AS bigint[]), CAST($3 AS bigint[]), CAST($4 AS bigint[])) AS f (r, u, p, q)');
  const targetsText = `SELECT m.id, m.conversation_id, root.id AS root_id, root.sender_id AS root_sender_id, CASE WHEN t.root_id IS NULL THEN 0 ELSE 1 END AS has_replies
      FROM messages AS m JOIN messages AS root ON root.id = coalesce(m.thread_id, m.id) LEFT JOIN threads AS t ON t.root_id = root.id`;
  const followsText = 'SELECT root_id, user_id, following FROM thread_follows';
  const one = local && {
    replied: local.prepare(repliedText.sqlite),
    joined: local.prepare(joinedText),
    started: local.prepare(startedText),
    target: local.prepare<ThreadTarget>(`${targetsText} WHERE m.id = $1`),
    follows: local.prepare<FollowRow>(`${followsText} WHERE root_id = $1`),
  };
  const many = local ? undefined : {
    replied: sql.prepare(unnested(repliedText.postgres)),
    joined: sql.prepare(unnested(joinedText)),
    started: sql.prepare(unnested(startedText)),
  };
  const targets = local ? undefined : sql.prepare<ThreadTarget>(`${targetsText} WHERE m.id = ANY(CAST($1 AS bigint[]))`);
  const followsOf = local ? undefined : sql.prepare<FollowRow>(`${followsText} WHERE root_id = ANY(CAST($1 AS bigint[]))`);
  const participants = sql.prepare<{ root_id: number; username: string }>(dialect`
    SELECT root_id, username FROM (
      SELECT f.root_id, users.username, row_number() OVER (PARTITION BY f.root_id ORDER BY f.replied_id) AS place
        FROM thread_follows AS f JOIN users ON users.id = f.user_id
       WHERE f.replied_id IS NOT NULL AND ${inList('f.root_id', '$1')}) AS listed
     WHERE place <= ${String(limits.threadParticipants)} ORDER BY root_id, place`);
  const setFollowing = sql.prepare(`INSERT INTO thread_follows (root_id, user_id, following, replied_id, read_id) VALUES ($1, $2, $3, NULL, 0)
    ON CONFLICT (root_id, user_id) DO UPDATE SET following = excluded.following`);
  const markRead = sql.prepare(dialect`UPDATE thread_follows SET read_id = ${greatest}(read_id, $3) WHERE root_id = $1 AND user_id = $2`);
  const summary = sql.prepare<{ last_reply_id: number }>('SELECT last_reply_id FROM threads WHERE root_id = $1');
  // Others' live replies after the reader's read point (in `follow`'s row) that they are shown (`m`: such a reply).
  const unreadReply = (reader: string, follow: string) =>
    `m.thread_id = ${follow}.root_id AND m.id > ${follow}.read_id AND m.deleted_at IS NULL AND m.sender_id IS DISTINCT FROM ${reader} AND ${notBlocked(reader)}`;
  // The threads $1 follows in conversations they are still in (roots after their clear point), newest reply
  // first, below $3; only conversation $2 unless it is null; only those with an unread reply when $4 is 1.
  // Replies are counted for the page's threads alone, up to the cap each.
  const followed = sql.prepare<FollowedRow>(`
    SELECT page.*, (SELECT count(*) FROM (SELECT 1 FROM messages AS m WHERE ${unreadReply('$1', 'page')} LIMIT ${String(limits.unreadCap)}) AS capped) AS unread
      FROM (SELECT f.root_id, t.conversation_id, t.last_reply_id, f.read_id
              FROM thread_follows AS f
              JOIN threads AS t ON t.root_id = f.root_id
              JOIN members AS mb ON mb.conversation_id = t.conversation_id AND mb.user_id = f.user_id
              JOIN conversations AS c ON c.id = t.conversation_id AND c.deleted_at IS NULL
             WHERE f.user_id = $1 AND f.following = 1 AND f.root_id > mb.cleared_id AND t.last_reply_id < $3
               AND (CAST($2 AS bigint) IS NULL OR t.conversation_id = CAST($2 AS bigint))
               AND ($4 = 0 OR (t.last_reply_id > f.read_id AND EXISTS (SELECT 1 FROM messages AS m WHERE ${unreadReply('$1', 'f')})))
             ORDER BY t.last_reply_id DESC LIMIT $5) AS page
     ORDER BY page.last_reply_id DESC`);

  return {
    /** The messages these ids name, as threads to reply in. */
    async targets(ids: readonly number[]): Promise<ThreadTarget[]> {
      if (ids.length === 0) return [];
      if (one) return ids.flatMap((id) => one.target.get(id) ?? []);
      return targets!.all(ids);
    },
    /** Counts a batch's replies into their threads' summaries (each root once). */
    async replied(given: readonly ThreadReplies[]): Promise<void> {
      if (given.length === 0) return;
      // In one order, whoever writes: two batches locking the same threads' rows never wait for each other in turn.
      const threads = [...given].sort((x, y) => x.rootId - y.rootId);
      if (one) {
        for (const t of threads) one.replied.run(t.rootId, t.conversationId, t.count, t.lastId, t.lastAt);
        return;
      }
      const column = <K extends keyof ThreadReplies>(key: K) => threads.map((t) => t[key]);
      await many!.replied.run(column('rootId'), column('conversationId'), column('count'), column('lastId'), column('lastAt'));
    },
    /**
     * Records followers (each root and user once): `joined` follow again if they had stopped (they replied
     * or were mentioned), `started` only if they never chose (a root's sender as its thread starts).
     */
    async follow(joined: readonly NewFollower[], started: readonly NewFollower[]): Promise<void> {
      for (const [given, kind] of [[joined, 'joined'], [started, 'started']] as const) {
        if (given.length === 0) continue;
        const rows = [...given].sort((x, y) => x.rootId - y.rootId || x.userId - y.userId);
        if (one) {
          for (const f of rows) one[kind].run(f.rootId, f.userId, f.repliedId, f.readId);
          continue;
        }
        await many![kind].run(rows.map((f) => f.rootId), rows.map((f) => f.userId), rows.map((f) => f.repliedId), rows.map((f) => f.readId));
      }
    },
    /** Everyone with a say about these threads: who follows them, and who stopped. */
    async followsOf(rootIds: readonly number[]): Promise<FollowRow[]> {
      if (rootIds.length === 0) return [];
      if (one) return rootIds.flatMap((id) => one.follows.all(id));
      return followsOf!.all(rootIds);
    },
    /** The first few people who replied to each of these threads, in the order they first did. */
    participants: (rootIds: readonly number[]) => (rootIds.length ? participants.all(sql.list(rootIds)) : Promise.resolve([])),
    /** Follows a thread or stops. */
    setFollowing: async (rootId: number, userId: number, on: boolean): Promise<void> => void (await setFollowing.run(rootId, userId, on ? 1 : 0)),
    /** Moves a follower's read point forward (never back). */
    markRead: async (rootId: number, userId: number, readId: number): Promise<void> => void (await markRead.run(rootId, userId, readId)),
    /** The newest reply of a thread, or undefined when it has none. */
    lastReply: async (rootId: number): Promise<number | undefined> => (await summary.get(rootId))?.last_reply_id,
    /** A page of the threads a user follows (see the statement). */
    followed: (userId: number, query: { conversation: number | null; before: number | null; unreadOnly: boolean; limit: number }): Promise<FollowedRow[]> =>
      followed.all(userId, query.conversation, query.before ?? Number.MAX_SAFE_INTEGER, query.unreadOnly ? 1 : 0, query.limit),
  };
}
