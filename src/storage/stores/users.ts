// Users: accounts, looked up by id or by username without regard to case.
import { dialect, inList, likePattern, type Sql } from '../engine/sql.ts';

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
  /** A person; a bot (an API token, an owner); or a webhook's integration (a secret URL, one conversation). */
  kind: 'person' | 'bot' | 'webhook';
  account_status: 'active' | 'suspended';
  notify_default: 'all' | 'mentions' | 'none';
  notify_reactions: number;
  /** Who may put them in a conversation without asking; anyone else invites them. */
  who_may_add: 'everyone' | 'contacts' | 'nobody';
  /** The file that is their face, if any. */
  avatar_file_id: string | null;
};

/**
 * Usernames are compared without regard to case: SQLite's column is COLLATE NOCASE, PostgreSQL's is
 * citext. Full names are matched the same way (LIKE is case-insensitive for ASCII in SQLite; ILIKE).
 */
// admin_list_users: the accounts after `after` in username order are walked, `examine` ($5) at most, and those
// of them that match are the page; a filter that few match ends the walk with a short page and a `next`.
const listing = (filter: string) => ({
  sqlite: `SELECT * FROM (SELECT * FROM users WHERE username > $2 COLLATE NOCASE ORDER BY username COLLATE NOCASE LIMIT $5)
            WHERE (username LIKE $1 ESCAPE '\\' OR fullname LIKE $1 ESCAPE '\\') AND ${filter}
            ORDER BY username COLLATE NOCASE LIMIT $4`,
  postgres: `SELECT * FROM (SELECT * FROM users WHERE username > $2 ORDER BY username LIMIT $5) walked
              WHERE (username LIKE $1 ESCAPE '\\' OR fullname ILIKE $1 ESCAPE '\\') AND ${filter}
              ORDER BY username LIMIT $4`,
});
/** The username the walk of `examine` ($2) accounts after `after` ($1) ended at; none when fewer were left. */
const walkedTo = {
  sqlite: 'SELECT username FROM users WHERE username > $1 COLLATE NOCASE ORDER BY username COLLATE NOCASE LIMIT 1 OFFSET $2 - 1',
  postgres: 'SELECT username FROM users WHERE username > $1 ORDER BY username LIMIT 1 OFFSET $2 - 1',
};

export function usersStore(sql: Sql) {
  const insert = sql.prepare<{ id: number }>(
    'INSERT INTO users (username, fullname, password_hash, created_at, last_online) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING RETURNING id',
  );
  // No password: '!' is no hash argon2 can read, so it matches nothing. Nobody adds one without asking but its owner (mayAdd).
  const insertProgram = sql.prepare<{ id: number }>(
    `INSERT INTO users (username, fullname, password_hash, created_at, last_online, kind, who_may_add) VALUES ($1, $2, '!', $3, $3, $4, 'nobody')
     ON CONFLICT (username) DO NOTHING RETURNING id`,
  );
  const byId = sql.prepare<UserRow>('SELECT * FROM users WHERE id = $1');
  const byIds = sql.prepare<UserRow>(dialect`SELECT * FROM users WHERE ${inList('id', '$1')}`);
  const setLastOnlineMany = sql.prepare(dialect`UPDATE users SET last_online = $1 WHERE ${inList('id', '$2')}`);
  const byUsername = sql.prepare<UserRow>('SELECT * FROM users WHERE username = $1');
  const setLastOnline = sql.prepare('UPDATE users SET last_online = $1 WHERE id = $2');
  const setProfile = sql.prepare('UPDATE users SET fullname = $2, bio = $3, email = $4, email_verified = $5 WHERE id = $1');
  const remove = sql.prepare('DELETE FROM users WHERE id = $1');
  // No foreign key deletes these with the user on PostgreSQL (see the event log's migration).
  const forgetAddressed = sql.prepare('DELETE FROM event_users WHERE user_id = $1');
  const hold = sql.prepare('INSERT INTO held_usernames (username, until) VALUES ($1, $2) ON CONFLICT (username) DO UPDATE SET until = excluded.until');
  const held = sql.prepare('SELECT 1 FROM held_usernames WHERE username = $1 AND until > $2');
  const setRole = sql.prepare('UPDATE users SET role = $1 WHERE id = $2');
  const setAccountStatus = sql.prepare('UPDATE users SET account_status = $1 WHERE id = $2');
  const list = sql.prepare<UserRow>(listing('(CAST($3 AS TEXT) IS NULL OR account_status = $3)'));
  const listWalkedTo = sql.prepare(walkedTo);
  const counts = sql.prepare<{ total: number; active_24h: number; active_7d: number; suspended: number }>(
    `SELECT count(*) AS total, count(*) FILTER (WHERE last_online >= $1) AS active_24h,
            count(*) FILTER (WHERE last_online >= $2) AS active_7d, count(*) FILTER (WHERE account_status = 'suspended') AS suspended
       FROM users`,
  );
  const setPassword = sql.prepare('UPDATE users SET password_hash = $1 WHERE id = $2');
  const setStatus = sql.prepare('UPDATE users SET status = $1, status_text = $2 WHERE id = $3');
  const setWhoMayAdd = sql.prepare('UPDATE users SET who_may_add = $1 WHERE id = $2');
  // search_users: people whose username or full name starts with the query, in the order of their lowered
  // usernames (SQLite's NOCASE index; on PostgreSQL an index of lower(username) in code-point order, whatever
  // the database's collation), a page at a time and never more than about `examine` of them looked at. Both
  // names' index ranges come first, `examine` + 1 entries of each at most: when neither has more, every
  // match after `after` is among them, and the page is sorted from those alone. A prefix that more names
  // start with is read as list_channels reads: the usernames after `after` are walked, `examine` at most,
  // and a short page ends at the last one looked at. The matches are LIKE's, as they were; the ranges only
  // bound what is read. Those who blocked the viewer are left out one by one (a lookup in the blocks' key),
  // not by reading first everyone who blocked them: nothing bounds how many that is.
  const name = { sqlite: 'username', postgres: 'lower(username::text) COLLATE "C"' };
  const lowered = (param: string) => ({ sqlite: param, postgres: `lower(${param})` });
  const matches = (pattern: string, viewer: string) => dialect`(username LIKE ${pattern} ESCAPE '\\' OR fullname ${{ sqlite: 'LIKE', postgres: 'ILIKE' }} ${pattern} ESCAPE '\\')
       AND NOT EXISTS (SELECT 1 FROM blocks WHERE blocks.user_id = id AND blocks.blocked_id = ${viewer})`;
  const fullname = { sqlite: 'fullname COLLATE NOCASE', postgres: 'lower(fullname) COLLATE "C"' };
  // Those whose username ($1 ≤ name < $2) or full name starts with the query, the usernames after $3.
  const inUsernames = dialect`${name} >= ${lowered('$1')} AND ${name} < ${lowered('$2')} AND ${name} > ${lowered('$3')}`;
  const inFullnames = dialect`${fullname} >= ${lowered('$1')} AND ${fullname} < ${lowered('$2')}`;
  // How many entries each range has, up to `$4` + 1: index-only walks.
  const ranges = sql.prepare<{ by_username: number; by_fullname: number }>(dialect`
    SELECT (SELECT count(*) FROM (SELECT 1 FROM users WHERE ${inUsernames} LIMIT $4 + 1) AS u) AS by_username,
           (SELECT count(*) FROM (SELECT 1 FROM users WHERE ${inFullnames} LIMIT $4 + 1) AS f) AS by_fullname`);
  const among = sql.prepare<UserRow>(dialect`
    SELECT * FROM users WHERE id IN (SELECT id FROM users WHERE ${inUsernames} UNION ALL SELECT id FROM users WHERE ${inFullnames})
       AND ${name} > ${lowered('$3')} AND ${matches('$4', '$5')} ORDER BY ${name} LIMIT $6`);
  // The usernames `$2` + 1 and `$2` + 2 places after `$1`, if there are: an index-only walk.
  const floor = sql.prepare(dialect`SELECT username FROM users WHERE ${name} > ${lowered('$1')} ORDER BY ${name} LIMIT 2 OFFSET $2`);
  // The usernames after `$1`, up to the one `$2` + 1 places after it (or the last), walked in order until the page is full.
  const walk = sql.prepare<UserRow>(dialect`
    SELECT * FROM users WHERE ${name} > ${lowered('$1')}
       AND ${name} <= coalesce((SELECT ${name} FROM users WHERE ${name} > ${lowered('$1')} ORDER BY ${name} LIMIT 1 OFFSET $2), (SELECT max(${name}) FROM users))
       AND ${matches('$3', '$4')}
     ORDER BY ${name} LIMIT $5`);

  return {
    /** Returns the new user's id, or null when the username is taken (in any case). */
    insert: async (user: { username: string; fullname: string; passwordHash: string; now: number }): Promise<number | null> =>
      (await insert.get(user.username, user.fullname, user.passwordHash, user.now, user.now))?.id ?? null,
    /** A bot's or a webhook's account, without a password; null when the username is taken. */
    insertProgram: async (account: { username: string; fullname: string; kind: 'bot' | 'webhook'; now: number }): Promise<number | null> =>
      (await insertProgram.get(account.username, account.fullname, account.now, account.kind))?.id ?? null,
    byId: (id: number) => byId.get(id),
    /** These users (those that exist), in no particular order. */
    byIds: (ids: readonly number[]): Promise<UserRow[]> => (ids.length ? byIds.all(sql.list(ids)) : Promise.resolve([])),
    setLastOnlineMany: async (ids: readonly number[], at: number): Promise<void> => void (ids.length && (await setLastOnlineMany.run(at, sql.list(ids)))),
    byUsername: (username: string) => byUsername.get(username),
    setLastOnline: async (id: number, at: number): Promise<void> => void (await setLastOnline.run(at, id)),
    setProfile: async (id: number, profile: { fullname: string; bio: string; email: string | null; emailVerified: boolean }): Promise<void> =>
      void (await setProfile.run(id, profile.fullname, profile.bio, profile.email, profile.emailVerified ? 1 : 0)),
    /** Deletes the account and keeps its username from new registrations until `until`. */
    async remove(id: number, username: string, until: number): Promise<void> {
      await remove.run(id);
      await forgetAddressed.run(id);
      await hold.run(username, until);
    },
    isHeld: async (username: string, now: number): Promise<boolean> => (await held.get(username, now)) !== undefined,
    setRole: async (id: number, role: UserRow['role']): Promise<void> => void (await setRole.run(role, id)),
    setAccountStatus: async (id: number, status: UserRow['account_status']): Promise<void> => void (await setAccountStatus.run(status, id)),
    /**
     * Up to `limit` accounts whose username or full name starts with `prefix` (and of `status`, if given),
     * after `after` in username order, of the `examine` accounts after it at most; `walkedTo`: where those
     * ended when the page is not full and more are left (where the next page goes on from).
     */
    async list(prefix: string, status: UserRow['account_status'] | null, after: string, limit: number, examine: number): Promise<{ rows: UserRow[]; walkedTo: string | undefined }> {
      const rows = await list.all(likePattern(prefix), after, status, limit, examine);
      return { rows, walkedTo: rows.length < limit ? await listWalkedTo.value<string>(after, examine) : undefined };
    },
    counts: async (now: number) => (await counts.get(now - 86_400, now - 7 * 86_400))!,
    setPassword: async (id: number, passwordHash: string): Promise<void> => void (await setPassword.run(passwordHash, id)),
    setStatus: async (id: number, status: UserRow['status'], text: string): Promise<void> => void (await setStatus.run(status, text, id)),
    setWhoMayAdd: async (id: number, who: UserRow['who_may_add']): Promise<void> => void (await setWhoMayAdd.run(who, id)),
    /**
     * Up to `limit` users whose username or full name starts with `prefix`, after `after` in username order,
     * leaving out those who blocked `viewerId`, from about `examine` looked at; `next`: the username the next
     * page goes on after (a short page may have one), or null when nothing is left.
     */
    async search(viewerId: number, prefix: string, after: string, limit: number, examine: number): Promise<{ rows: UserRow[]; next: string | null }> {
      const pattern = likePattern(prefix);
      const range = [prefix, `${prefix}\u{10FFFF}`, after];
      const counted = (await ranges.get(...range, examine))!;
      if (counted.by_username + counted.by_fullname === 0) return { rows: [], next: null };
      if (counted.by_username <= examine && counted.by_fullname <= examine) {
        const rows = await among.all(...range, pattern, viewerId, limit + 1);
        return { rows: rows.slice(0, limit), next: rows.length > limit ? rows[limit - 1]!.username : null };
      }
      const rows = await walk.all(after, examine - 1, pattern, viewerId, limit + 1);
      if (rows.length > limit) return { rows: rows.slice(0, limit), next: rows[limit - 1]!.username };
      const [last, beyond] = await floor.values<string>(after, examine - 1);
      return { rows, next: beyond === undefined ? null : last! };
    },
  };
}
