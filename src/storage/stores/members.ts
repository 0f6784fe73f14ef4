// Members of conversations: roles, each member's own settings and receipt points, and bans.
import { dialect, inList, type Sql } from '../engine/sql.ts';
import { capLock } from './caps.ts';

export type Role = 'owner' | 'admin' | 'member';

export type MemberRow = {
  role: Role;
  favorite: number;
  pinned: number;
  cleared_id: number;
  delivered_id: number;
  read_id: number;
  joined_at: number;
};

/** A member's receipt points to move: up to these message ids (0: not that one), never back; a read point moves the delivered one with it. */
export type Move = readonly [conversationId: number, userId: number, readId: number, deliveredId: number];

/** A member whose points a move changed: before and after. */
export type Moved = { conversation_id: number; user_id: number; read_before: number; delivered_before: number; read_id: number; delivered_id: number };

export type MemberListRow = { user_id: number; username: string; fullname: string; status: string; role: Role; read_id: number; delivered_id: number; joined_at: number; avatar_file_id: string | null };

export type BanRow = { username: string; fullname: string; banned_by: string | null; banned_at: number; user_id: number };

export function membersStore(sql: Sql) {
  const get = sql.prepare<MemberRow>(
    'SELECT role, favorite, pinned, cleared_id, delivered_id, read_id, joined_at FROM members WHERE conversation_id = $1 AND user_id = $2',
  );
  const list = sql.prepare<MemberListRow>(
    `SELECT members.user_id, users.username, users.fullname, users.status, members.role, members.read_id, members.delivered_id, members.joined_at, users.avatar_file_id
       FROM members JOIN users ON users.id = members.user_id
      WHERE members.conversation_id = $1 ORDER BY members.position`,
  );
  const count = sql.prepare('SELECT count(*) FROM members WHERE conversation_id = $1');
  const lockCap = capLock(sql);
  const insert = sql.prepare(
    `INSERT INTO members (conversation_id, user_id, position, joined_at, role)
     VALUES ($1, $2, (SELECT coalesce(max(position), -1) + 1 FROM members WHERE conversation_id = $1), $3, $4)
     ON CONFLICT DO NOTHING`,
  );
  const remove = sql.prepare('DELETE FROM members WHERE conversation_id = $1 AND user_id = $2');
  const conversationsOf = sql.prepare('SELECT conversation_id FROM members WHERE user_id = $1 ORDER BY conversation_id');
  const setRole = sql.prepare('UPDATE members SET role = $1 WHERE conversation_id = $2 AND user_id = $3');
  // Who inherits a conversation whose owner leaves: the longest-standing admin, else the longest-standing member.
  const successor = sql.prepare("SELECT user_id FROM members WHERE conversation_id = $1 ORDER BY CASE WHEN role = 'admin' THEN 0 ELSE 1 END, joined_at, position LIMIT 1");
  const setFavorite = sql.prepare('UPDATE members SET favorite = $1 WHERE conversation_id = $2 AND user_id = $3');
  const setPinned = sql.prepare('UPDATE members SET pinned = $1 WHERE conversation_id = $2 AND user_id = $3');
  const setCleared = sql.prepare('UPDATE members SET cleared_id = $1 WHERE conversation_id = $2 AND user_id = $3');
  const greatest = { sqlite: 'max', postgres: 'greatest' };
  const read = sql.prepare(dialect`UPDATE members SET read_id = $3, delivered_id = ${greatest}(delivered_id, $3)
      WHERE conversation_id = $1 AND user_id = $2 AND read_id < $3`);
  const ban = sql.prepare('INSERT INTO bans (conversation_id, user_id, banned_by, banned_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING');
  const unban = sql.prepare('DELETE FROM bans WHERE conversation_id = $1 AND user_id = $2');
  const isBanned = sql.prepare('SELECT 1 FROM bans WHERE conversation_id = $1 AND user_id = $2');
  const banCount = sql.prepare('SELECT count(*) FROM bans WHERE conversation_id = $1');
  // Longest banned first, from bans_in_order: a page above the (banned_at, user_id) the page before ended at.
  const banned = sql.prepare<BanRow>(
    `SELECT users.username, users.fullname, banner.username AS banned_by, bans.banned_at, bans.user_id
       FROM bans JOIN users ON users.id = bans.user_id LEFT JOIN users AS banner ON banner.id = bans.banned_by
      WHERE bans.conversation_id = $1 AND (bans.banned_at, bans.user_id) > ($2, $3)
      ORDER BY bans.banned_at, bans.user_id LIMIT $4`,
  );
  // Many members' points at once. On PostgreSQL in one statement that first locks just the rows it moves, in
  // (conversation, user) order: two nodes' rounds then take their locks in one order and cannot deadlock
  // (two UPDATE … FROM unnest statements locked in their plans' order and did, every second or so under
  // concurrent senders on three nodes), and a round locks the members it moves, not every member of its
  // conversations (a thousand in a full channel). FOR NO KEY UPDATE: sends' FOR KEY SHARE of their sender's
  // row does not wait for it. The UPDATE waits for nothing more: every row it changes is locked already.
  // On SQLite (its writer is alone) a row at a time.
  const move = sql.local ? undefined : sql.prepare<Moved>(`
    WITH p AS (SELECT * FROM unnest(CAST($1 AS bigint[]), CAST($2 AS bigint[]), CAST($3 AS bigint[]), CAST($4 AS bigint[])) AS p (conversation_id, user_id, read_id, delivered_id)),
    locked AS (
      SELECT members.conversation_id, members.user_id, members.read_id, members.delivered_id, greatest(members.read_id, p.read_id) AS read_to,
             greatest(members.delivered_id, p.read_id, p.delivered_id) AS delivered_to
        FROM members JOIN p ON p.conversation_id = members.conversation_id AND p.user_id = members.user_id
       ORDER BY members.conversation_id, members.user_id FOR NO KEY UPDATE OF members)
    UPDATE members SET read_id = locked.read_to, delivered_id = locked.delivered_to FROM locked
     WHERE members.conversation_id = locked.conversation_id AND members.user_id = locked.user_id
       AND (locked.read_to > locked.read_id OR locked.delivered_to > locked.delivered_id)
    RETURNING members.conversation_id, members.user_id, locked.read_id AS read_before, locked.delivered_id AS delivered_before, members.read_id, members.delivered_id`);
  const pointsOne = sql.local?.prepare<{ read_id: number; delivered_id: number }>('SELECT read_id, delivered_id FROM members WHERE conversation_id = $1 AND user_id = $2');
  const moveOne = sql.local?.prepare('UPDATE members SET read_id = $3, delivered_id = $4 WHERE conversation_id = $1 AND user_id = $2');
  const listMany = sql.prepare<MemberListRow & { conversation_id: number }>(dialect`
    SELECT members.conversation_id, members.user_id, users.username, users.fullname, users.status, members.role, members.read_id, members.delivered_id,
           members.joined_at, users.avatar_file_id
      FROM members JOIN users ON users.id = members.user_id
     WHERE ${inList('members.conversation_id', '$1')}
     ORDER BY members.conversation_id, members.position`);
  const openPeriod = sql.prepare('INSERT INTO member_periods (conversation_id, user_id, from_seq) VALUES ($1, $2, $3)');
  const closePeriod = sql.prepare('UPDATE member_periods SET to_seq = $1 WHERE conversation_id = $2 AND user_id = $3 AND to_seq IS NULL');
  const dropPeriods = sql.prepare('DELETE FROM member_periods WHERE conversation_id = $1');

  return {
    get: (conversationId: number, userId: number): Promise<MemberRow | undefined> => get.get(conversationId, userId),
    list: (conversationId: number): Promise<MemberListRow[]> => list.all(conversationId),
    count: async (conversationId: number): Promise<number> => (await count.value<number>(conversationId)) ?? 0,
    /** The members, counted toward the cap before adding: no other unit of any node counts or adds to this conversation until COMMIT. */
    async countToAdd(conversationId: number): Promise<number> {
      await lockCap('members', [conversationId]);
      return (await count.value<number>(conversationId)) ?? 0;
    },
    /** Adds a member (after the others), a plain member unless `role` says otherwise; false when they already were one. */
    add: async (conversationId: number, userId: number, now: number, role: Role = 'member'): Promise<boolean> => (await insert.run(conversationId, userId, now, role)) === 1,
    remove: async (conversationId: number, userId: number): Promise<void> => void (await remove.run(conversationId, userId)),
    /** The ids of the conversations a user is a member of. */
    conversationsOf: (userId: number): Promise<number[]> => conversationsOf.values<number>(userId),
    setRole: async (conversationId: number, userId: number, role: Role): Promise<void> => void (await setRole.run(role, conversationId, userId)),
    successor: (conversationId: number): Promise<number | undefined> => successor.value<number>(conversationId),
    setFavorite: async (conversationId: number, userId: number, favorite: boolean): Promise<void> => void (await setFavorite.run(favorite ? 1 : 0, conversationId, userId)),
    setPinned: async (conversationId: number, userId: number, pinned: boolean): Promise<void> => void (await setPinned.run(pinned ? 1 : 0, conversationId, userId)),
    setCleared: async (conversationId: number, userId: number, clearedId: number): Promise<void> => void (await setCleared.run(clearedId, conversationId, userId)),
    /** Moves the read point (and the delivered point with it) up to `messageId`, never back; true when it moved. */
    read: async (conversationId: number, userId: number, messageId: number): Promise<boolean> => (await read.run(conversationId, userId, messageId)) === 1,
    /** Moves these members' points (a round of receipts); returns those that moved, before and after. */
    async move(given: readonly Move[]): Promise<Moved[]> {
      if (given.length === 0) return [];
      if (move) return move.all(...[0, 1, 2, 3].map((i) => given.map((point) => point[i])));
      const moved: Moved[] = [];
      for (const [conversationId, userId, readTo, deliveredTo] of given) {
        const before = pointsOne!.get(conversationId, userId);
        if (!before) continue;
        const readId = Math.max(before.read_id, readTo);
        const deliveredId = Math.max(before.delivered_id, readTo, deliveredTo);
        if (readId === before.read_id && deliveredId === before.delivered_id) continue;
        moveOne!.run(conversationId, userId, readId, deliveredId);
        moved.push({ conversation_id: conversationId, user_id: userId, read_before: before.read_id, delivered_before: before.delivered_id, read_id: readId, delivered_id: deliveredId });
      }
      return moved;
    },
    /** The members of these conversations, each conversation's in order. */
    listMany: (conversationIds: readonly number[]) => (conversationIds.length ? listMany.all(sql.list(conversationIds)) : Promise.resolve([])),
    ban: async (conversationId: number, userId: number, bannedBy: number, now: number): Promise<void> => void (await ban.run(conversationId, userId, bannedBy, now)),
    /** True when they were banned. */
    unban: async (conversationId: number, userId: number): Promise<boolean> => (await unban.run(conversationId, userId)) === 1,
    isBanned: async (conversationId: number, userId: number): Promise<boolean> => (await isBanned.get(conversationId, userId)) !== undefined,
    /** Up to `limit` of the people banned from a conversation, longest banned first, after the ban `from` [banned_at, user_id] (null: from the first). */
    banned: (conversationId: number, from: readonly number[] | null, limit: number): Promise<BanRow[]> =>
      banned.all(conversationId, ...(from ?? [Number.MIN_SAFE_INTEGER, 0]), limit),
    /** The bans, counted toward the cap before banning, one unit of any node at a time per conversation. */
    async banCountToBan(conversationId: number): Promise<number> {
      await lockCap('bans', [conversationId]);
      return (await banCount.value<number>(conversationId)) ?? 0;
    },
    /** The event log shows a member the conversation's events from `seq` on… */
    openPeriod: async (conversationId: number, userId: number, seq: number): Promise<void> => void (await openPeriod.run(conversationId, userId, seq)),
    /** …through `seq`, when they leave. */
    closePeriod: async (conversationId: number, userId: number, seq: number): Promise<void> => void (await closePeriod.run(seq, conversationId, userId)),
    dropPeriods: async (conversationId: number): Promise<void> => void (await dropPeriods.run(conversationId)),
  };
}
