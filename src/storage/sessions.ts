// Login sessions: each token names one, so a session can be revoked before its token expires.
import type { Db } from './db.ts';

export function sessionsStore(db: Db) {
  const insert = db.prepare<[string, number, number, number]>(
    'INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
  );
  const active = db.prepare<[string, number, number], number>(
    'SELECT 1 FROM sessions WHERE id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?',
  ).pluck();
  const revoke = db.prepare<[number, string]>('UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');

  return {
    create(session: { id: string; userId: number; createdAt: number; expiresAt: number }): void {
      insert.run(session.id, session.userId, session.createdAt, session.expiresAt);
    },
    isActive: (id: string, userId: number, now: number): boolean => active.get(id, userId, now) !== undefined,
    /** Returns whether the session was active until now. */
    revoke: (id: string, now: number): boolean => revoke.run(now, id).changes === 1,
  };
}
