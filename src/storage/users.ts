// Users: accounts, looked up by id or by username without regard to case.
import { likePattern, type Db } from './db.ts';

export type UserRow = {
  id: number;
  username: string;
  fullname: string;
  password_hash: string;
  created_at: number;
  last_online: number;
  bio: string;
  email: string | null;
  email_verified: number;
  status: 'online' | 'away' | 'busy' | 'invisible';
  status_text: string;
  role: 'user' | 'admin';
  account_status: 'active' | 'suspended';
};

export function usersStore(db: Db) {
  const insert = db.prepare<[string, string, string, number, number]>(
    'INSERT INTO users (username, fullname, password_hash, created_at, last_online) VALUES (?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING',
  );
  const byId = db.prepare<[number], UserRow>('SELECT * FROM users WHERE id = ?');
  const byUsername = db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?');
  const setLastOnline = db.prepare<[number, number]>('UPDATE users SET last_online = ? WHERE id = ?');
  const setProfile = db.prepare<{ id: number; fullname: string; bio: string; email: string | null; verified: number }>(
    'UPDATE users SET fullname = :fullname, bio = :bio, email = :email, email_verified = :verified WHERE id = :id',
  );
  const remove = db.prepare<[number]>('DELETE FROM users WHERE id = ?');
  const hold = db.prepare<[string, number]>('INSERT INTO held_usernames (username, until) VALUES (?, ?) ON CONFLICT (username) DO UPDATE SET until = excluded.until');
  const held = db.prepare<[string, number], number>('SELECT 1 FROM held_usernames WHERE username = ? AND until > ?').pluck();
  const setRole = db.prepare<[string, number]>('UPDATE users SET role = ? WHERE id = ?');
  const setAccountStatus = db.prepare<[string, number]>('UPDATE users SET account_status = ? WHERE id = ?');
  const list = db.prepare<{ prefix: string; status: string | null; after: string; limit: number }, UserRow>(
    `SELECT * FROM users
      WHERE (username LIKE :prefix ESCAPE '\\' OR fullname LIKE :prefix ESCAPE '\\') AND username > :after COLLATE NOCASE
        AND (:status IS NULL OR account_status = :status)
      ORDER BY username COLLATE NOCASE LIMIT :limit`,
  );
  const counts = db.prepare<{ day: number; week: number }, { total: number; active_24h: number; active_7d: number; suspended: number }>(
    `SELECT count(*) AS total, count(*) FILTER (WHERE last_online >= :day) AS active_24h,
            count(*) FILTER (WHERE last_online >= :week) AS active_7d, count(*) FILTER (WHERE account_status = 'suspended') AS suspended
       FROM users`,
  );
  const setPassword = db.prepare<[string, number]>('UPDATE users SET password_hash = ? WHERE id = ?');
  const setStatus = db.prepare<[string, string, number]>('UPDATE users SET status = ?, status_text = ? WHERE id = ?');
  // Prefix search over usernames and full names; LIKE is case-insensitive for ASCII, as usernames are.
  const search = db.prepare<{ viewer: number; prefix: string; after: string; limit: number }, UserRow>(
    `SELECT * FROM users
      WHERE (username LIKE :prefix ESCAPE '\\' OR fullname LIKE :prefix ESCAPE '\\') AND username > :after COLLATE NOCASE
        AND id NOT IN (SELECT user_id FROM blocks WHERE blocked_id = :viewer)
      ORDER BY username COLLATE NOCASE LIMIT :limit`,
  );

  return {
    /** Returns the new user's id, or null when the username is taken (in any case). */
    insert(user: { username: string; fullname: string; passwordHash: string; now: number }): number | null {
      const result = insert.run(user.username, user.fullname, user.passwordHash, user.now, user.now);
      return result.changes === 1 ? Number(result.lastInsertRowid) : null;
    },
    byId: (id: number) => byId.get(id),
    byUsername: (username: string) => byUsername.get(username),
    setLastOnline(id: number, at: number): void {
      setLastOnline.run(at, id);
    },
    setProfile(id: number, profile: { fullname: string; bio: string; email: string | null; emailVerified: boolean }): void {
      setProfile.run({ id, fullname: profile.fullname, bio: profile.bio, email: profile.email, verified: profile.emailVerified ? 1 : 0 });
    },
    /** Deletes the account and keeps its username from new registrations until `until`. */
    remove(id: number, username: string, until: number): void {
      remove.run(id);
      hold.run(username, until);
    },
    isHeld: (username: string, now: number): boolean => held.get(username, now) !== undefined,
    setRole(id: number, role: UserRow['role']): void {
      setRole.run(role, id);
    },
    setAccountStatus(id: number, status: UserRow['account_status']): void {
      setAccountStatus.run(status, id);
    },
    /** Every account whose username or full name starts with `prefix`, after `after` in username order. */
    list: (prefix: string, status: UserRow['account_status'] | null, after: string, limit: number): UserRow[] =>
      list.all({ prefix: likePattern(prefix), status, after, limit }),
    counts: (now: number) => counts.get({ day: now - 86_400, week: now - 7 * 86_400 })!,
    setPassword(id: number, passwordHash: string): void {
      setPassword.run(passwordHash, id);
    },
    setStatus(id: number, status: UserRow['status'], text: string): void {
      setStatus.run(status, text, id);
    },
    /** Users whose username or full name starts with `prefix`, after `after` in username order, leaving out those who blocked `viewerId`. */
    search: (viewerId: number, prefix: string, after: string, limit: number): UserRow[] =>
      search.all({ viewer: viewerId, prefix: likePattern(prefix), after, limit }),
  };
}
