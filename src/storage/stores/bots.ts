// Bots: accounts a program holds by an API token (kept hashed), each owned by the person who made it.
import type { Sql } from '../engine/sql.ts';

export type BotRow = {
  user_id: number;
  username: string;
  fullname: string;
  avatar_file_id: string | null;
  owner: string;
  session_id: string;
  created_at: number;
  account_status: 'active' | 'suspended';
};

const listed = `SELECT bots.user_id, users.username, users.fullname, users.avatar_file_id, owners.username AS owner, bots.session_id,
                       bots.created_at, users.account_status
                  FROM bots JOIN users ON users.id = bots.user_id JOIN users AS owners ON owners.id = bots.owner_id`;

export function botsStore(sql: Sql) {
  const insert = sql.prepare('INSERT INTO bots (user_id, owner_id, token_hash, session_id, created_at) VALUES ($1, $2, $3, $4, $5)');
  const byTokenHash = sql.prepare<{ user_id: number; session_id: string; owner_status: 'active' | 'suspended' }>(
    'SELECT bots.user_id, bots.session_id, owners.account_status AS owner_status FROM bots JOIN users AS owners ON owners.id = bots.owner_id WHERE bots.token_hash = $1',
  );
  const byUserId = sql.prepare<BotRow & { owner_id: number }>(`${listed.replace('bots.user_id,', 'bots.user_id, bots.owner_id,')} WHERE bots.user_id = $1`);
  const ofOwner = sql.prepare<BotRow>(`${listed} WHERE bots.owner_id = $1 ORDER BY bots.user_id`);
  const all = sql.prepare<BotRow>(`${listed} ORDER BY bots.user_id`);
  const count = sql.prepare('SELECT count(*) FROM bots WHERE owner_id = $1');
  const ids = sql.prepare('SELECT user_id FROM bots WHERE owner_id = $1');
  const sessions = sql.prepare('SELECT session_id FROM bots WHERE owner_id = $1');
  const rotate = sql.prepare('UPDATE bots SET token_hash = $1, session_id = $2 WHERE user_id = $3');

  return {
    create: async (bot: { userId: number; ownerId: number; tokenHash: string; sessionId: string; now: number }): Promise<void> =>
      void (await insert.run(bot.userId, bot.ownerId, bot.tokenHash, bot.sessionId, bot.now)),
    /** The bot whose current token hashes to this, if any, and whether its owner is suspended. */
    byTokenHash: (hash: string) => byTokenHash.get(hash),
    byUserId: (userId: number) => byUserId.get(userId),
    ofOwner: (ownerId: number): Promise<BotRow[]> => ofOwner.all(ownerId),
    /** Every bot of every owner (for administrators). */
    all: (): Promise<BotRow[]> => all.all(),
    count: async (ownerId: number): Promise<number> => Number(await count.value(ownerId)),
    /** The user ids of the owner's bots. */
    idsOf: (ownerId: number): Promise<number[]> => ids.values<number>(ownerId),
    /** The sessions the owner's bots' tokens open. */
    sessionsOf: (ownerId: number): Promise<string[]> => sessions.values<string>(ownerId),
    /** A new token (hashed) and the session it opens sockets in. */
    rotate: async (userId: number, tokenHash: string, sessionId: string): Promise<void> => void (await rotate.run(tokenHash, sessionId, userId)),
  };
}
