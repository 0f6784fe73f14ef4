// Login sessions: each token names one, so a session can be revoked before its token expires; each
// holds its current refresh token (hashed) and remembers the used ones, to catch a stolen one replayed.
import type { Db } from './db.ts';

export type SessionRow = { id: string; created_at: number; last_seen_at: number | null; user_agent: string; ip: string };

export function sessionsStore(db: Db) {
  const insert = db.prepare<[string, number, number, number, string, string, string | null, number | null]>(
    'INSERT INTO sessions (id, user_id, created_at, expires_at, user_agent, ip, refresh_hash, refresh_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const active = db.prepare<[string, number, number], number>(
    'SELECT expires_at FROM sessions WHERE id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?',
  ).pluck();
  const revoke = db.prepare<[number, string]>('UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  const liveIds = db.prepare<[number, number], string>('SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?').pluck();
  const list = db.prepare<[number, number], SessionRow>(
    `SELECT id, created_at, last_seen_at, user_agent, ip FROM sessions
      WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC, rowid DESC`,
  );
  const touch = db.prepare<[number, string]>('UPDATE sessions SET last_seen_at = ? WHERE id = ?');
  const byRefresh = db.prepare<[string, number], { id: string; user_id: number }>(
    'SELECT id, user_id FROM sessions WHERE refresh_hash = ? AND revoked_at IS NULL AND refresh_expires_at > ?',
  );
  const used = db.prepare<[number, string], { session_id: string; user_id: number; used_at: number; live: number }>(
    `SELECT used_refresh_tokens.session_id, sessions.user_id, used_refresh_tokens.used_at,
            sessions.revoked_at IS NULL AND sessions.refresh_expires_at > ? AS live
       FROM used_refresh_tokens JOIN sessions ON sessions.id = used_refresh_tokens.session_id WHERE hash = ?`,
  );
  const hasAddress = db.prepare<[number, string], number>('SELECT 1 FROM sessions WHERE user_id = ? AND ip = ? LIMIT 1').pluck();
  // The session a refresh token names, live or not, current or already rotated.
  const namedBy = db.prepare<{ hash: string }, { id: string; user_id: number }>(
    `SELECT id, user_id FROM sessions WHERE refresh_hash = :hash
     UNION ALL
     SELECT sessions.id, sessions.user_id FROM used_refresh_tokens JOIN sessions ON sessions.id = used_refresh_tokens.session_id WHERE hash = :hash`,
  );
  const rotate = db.prepare<[string, string]>('UPDATE sessions SET refresh_hash = ? WHERE id = ?');
  const remember = db.prepare<[string, string, number]>('INSERT OR IGNORE INTO used_refresh_tokens (hash, session_id, used_at) VALUES (?, ?, ?)');

  return {
    create(session: { id: string; userId: number; createdAt: number; expiresAt: number; userAgent?: string; ip?: string; refreshHash?: string | null }): void {
      insert.run(session.id, session.userId, session.createdAt, session.expiresAt, session.userAgent ?? '', session.ip ?? '', session.refreshHash ?? null, session.refreshHash ? session.expiresAt : null);
    },
    /** When the session ends, while it is live. */
    activeUntil: (id: string, userId: number, now: number): number | undefined => active.get(id, userId, now),
    /** Returns whether the session was active until now. */
    revoke: (id: string, now: number): boolean => revoke.run(now, id).changes === 1,
    /** The user's live sessions' ids. */
    liveIds: (userId: number, now: number): string[] => liveIds.all(userId, now),
    list: (userId: number, now: number): SessionRow[] => list.all(userId, now),
    touch(id: string, now: number): void {
      touch.run(now, id);
    },
    /** The live session whose current refresh token this is. */
    byRefresh: (hash: string, now: number) => byRefresh.get(hash, now),
    /** The session a refresh token was already used for, if it was: when, and whether the session is still live. */
    usedRefresh: (hash: string, now: number) => used.get(now, hash),
    /** Whether the user ever held a session from this address. */
    hasAddress: (userId: number, ip: string): boolean => hasAddress.get(userId, ip) !== undefined,
    /** The session a refresh token belongs to, whatever its state (to recognise a device, or to log it out). */
    namedByRefresh: (hash: string): { id: string; user_id: number } | undefined => namedBy.get({ hash }),
    /** Replaces the session's refresh token, remembering the old one as used. */
    rotate(id: string, oldHash: string, newHash: string, now: number): void {
      remember.run(oldHash, id, now);
      rotate.run(newHash, id);
    },
  };
}
