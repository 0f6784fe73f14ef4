// Users: accounts, looked up by id or by username without regard to case.
import type { Db } from './db.ts';

export type UserRow = {
  id: number;
  username: string;
  fullname: string;
  password_hash: string;
  created_at: number;
  last_online: number;
};

export function usersStore(db: Db) {
  const insert = db.prepare<[string, string, string, number, number]>(
    'INSERT INTO users (username, fullname, password_hash, created_at, last_online) VALUES (?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING',
  );
  const byId = db.prepare<[number], UserRow>('SELECT * FROM users WHERE id = ?');
  const byUsername = db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?');
  const setLastOnline = db.prepare<[number, number]>('UPDATE users SET last_online = ? WHERE id = ?');

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
  };
}
