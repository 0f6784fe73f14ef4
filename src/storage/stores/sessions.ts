// Login sessions: each token names one, so a session can be revoked before its token expires; each
// holds its current refresh token (hashed) and remembers the used ones, to catch a stolen one replayed.
import { dialect, inList, type Sql } from '../engine/sql.ts';

export type SessionRow = { id: string; created_at: number; last_seen_at: number | null; user_agent: string; ip: string };

export function sessionsStore(sql: Sql) {
  const insert = sql.prepare(
    'INSERT INTO sessions (id, user_id, created_at, expires_at, user_agent, ip, refresh_hash, refresh_expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
  );
  const active = sql.prepare('SELECT expires_at FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3');
  const revoke = sql.prepare('UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL');
  const liveIds = sql.prepare('SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2');
  // `rowid` is SQLite's own; PostgreSQL's table has an identity column of that name: the order of creation.
  const list = sql.prepare<SessionRow>(
    `SELECT id, created_at, last_seen_at, user_agent, ip FROM sessions
      WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, rowid DESC`,
  );
  const touch = sql.prepare('UPDATE sessions SET last_seen_at = $1 WHERE id = $2');
  // Many sessions at once, on PostgreSQL locking their rows first in id order: two nodes touching the same
  // sessions (one person's sockets on both) then wait for each other rather than deadlock, as a statement
  // each in their own orders did (sockets opened at once on three nodes: one deadlock in about ten runs).
  const touchMany = sql.local ? undefined : sql.prepare(`
    WITH locked AS (SELECT id FROM sessions WHERE id = ANY(CAST($2 AS text[])) ORDER BY id FOR NO KEY UPDATE)
    UPDATE sessions SET last_seen_at = $1 FROM locked WHERE sessions.id = locked.id`);
  const byRefresh = sql.prepare<{ id: string; user_id: number }>(
    'SELECT id, user_id FROM sessions WHERE refresh_hash = $1 AND revoked_at IS NULL AND refresh_expires_at > $2',
  );
  const used = sql.prepare<{ session_id: string; user_id: number; used_at: number; live: number }>(
    `SELECT used_refresh_tokens.session_id, sessions.user_id, used_refresh_tokens.used_at,
            CASE WHEN sessions.revoked_at IS NULL AND sessions.refresh_expires_at > $2 THEN 1 ELSE 0 END AS live
       FROM used_refresh_tokens JOIN sessions ON sessions.id = used_refresh_tokens.session_id WHERE hash = $1`,
  );
  const hasAddress = sql.prepare('SELECT 1 FROM sessions WHERE user_id = $1 AND ip = $2 LIMIT 1');
  // The session a refresh token names, live or not, current or already rotated.
  const namedBy = sql.prepare<{ id: string; user_id: number }>(
    `SELECT id, user_id FROM sessions WHERE refresh_hash = $1
     UNION ALL
     SELECT sessions.id, sessions.user_id FROM used_refresh_tokens JOIN sessions ON sessions.id = used_refresh_tokens.session_id WHERE hash = $1`,
  );
  // Only while the old token is still the current one: of two refreshes racing with one token, one rotates.
  // Among many sessions, how each stands: one not found went with its account (ON DELETE CASCADE).
  const states = sql.prepare<{ id: string; revoked: number; account_status: string }>(dialect`
    SELECT sessions.id, CASE WHEN sessions.revoked_at IS NULL THEN 0 ELSE 1 END AS revoked, users.account_status
      FROM sessions JOIN users ON users.id = sessions.user_id
     WHERE ${inList('sessions.id', '$1', 'text')}`);
  const rotateStatement = sql.prepare('UPDATE sessions SET refresh_hash = $1 WHERE id = $2 AND refresh_hash = $3');
  const remember = sql.prepare('INSERT INTO used_refresh_tokens (hash, session_id, used_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING');
  const current = sql.prepare('SELECT refresh_hash FROM sessions WHERE id = $1 AND revoked_at IS NULL');

  async function rotate(id: string, oldHash: string, newHash: string, now: number): Promise<boolean> {
    if ((await rotateStatement.run(newHash, id, oldHash)) === 0) return false;
    await remember.run(oldHash, id, now);
    return true;
  }

  return {
    create: async (session: { id: string; userId: number; createdAt: number; expiresAt: number; userAgent?: string; ip?: string; refreshHash?: string | null }): Promise<void> =>
      void (await insert.run(session.id, session.userId, session.createdAt, session.expiresAt, session.userAgent ?? '', session.ip ?? '', session.refreshHash ?? null, session.refreshHash ? session.expiresAt : null)),
    /** When the session ends, while it is live. */
    activeUntil: (id: string, userId: number, now: number): Promise<number | undefined> => active.value<number>(id, userId, now),
    /** Returns whether the session was active until now. */
    revoke: async (id: string, now: number): Promise<boolean> => (await revoke.run(now, id)) === 1,
    /**
     * Of these sessions, those that ended other than by expiring: `revoked` (logged out, revoked, a
     * password change), `suspended` (the account), `gone` (the account deleted).
     */
    async ended(ids: readonly string[]): Promise<Map<string, 'revoked' | 'suspended' | 'gone'>> {
      const result = new Map<string, 'revoked' | 'suspended' | 'gone'>();
      if (ids.length === 0) return result;
      const found = new Map((await states.all(sql.list(ids))).map((row) => [row.id, row]));
      for (const id of ids) {
        const row = found.get(id);
        if (!row) result.set(id, 'gone');
        else if (row.account_status !== 'active') result.set(id, 'suspended');
        else if (Number(row.revoked) === 1) result.set(id, 'revoked');
      }
      return result;
    },
    /** The user's live sessions' ids. */
    liveIds: (userId: number, now: number): Promise<string[]> => liveIds.values<string>(userId, now),
    list: (userId: number, now: number): Promise<SessionRow[]> => list.all(userId, now),
    touch: async (id: string, now: number): Promise<void> => void (await touch.run(now, id)),
    /** `touch` for many sessions, in one statement and in one lock order on PostgreSQL. */
    async touchMany(ids: readonly string[], now: number): Promise<void> {
      if (touchMany) await touchMany.run(now, ids);
      else for (const id of ids) await touch.run(now, id);
    },
    /** The live session whose current refresh token this is. */
    byRefresh: (hash: string, now: number) => byRefresh.get(hash, now),
    /** The session a refresh token was already used for, if it was: when, and whether the session is still live. */
    usedRefresh: (hash: string, now: number) => used.get(hash, now),
    /** Whether the user ever held a session from this address. */
    hasAddress: async (userId: number, ip: string): Promise<boolean> => (await hasAddress.get(userId, ip)) !== undefined,
    /** The session a refresh token belongs to, whatever its state (to recognise a device, or to log it out). */
    namedByRefresh: (hash: string) => namedBy.get(hash),
    /**
     * Replaces the session's refresh token, remembering the old one as used; false (nothing changed)
     * when `oldHash` is no longer current because another refresh rotated it first.
     */
    rotate,
    /**
     * Replaces whatever refresh token the session holds now (for a grace answer), remembering it as
     * used; false when the session is revoked or another refresh rotated it meanwhile.
     */
    async rotateCurrent(id: string, newHash: string, now: number): Promise<boolean> {
      const currentHash = await current.value<string | null>(id);
      return typeof currentHash === 'string' && rotate(id, currentHash, newHash, now);
    },
  };
}
