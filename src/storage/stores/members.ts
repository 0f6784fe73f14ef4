// Members of conversations: roles, each member's own settings and receipt points, and bans.
import { dialect, inList, type Sql } from '../engine/sql.ts';

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

/** A member's receipt point to move: [conversation, user, message id]. */
export type Point = readonly [conversationId: number, userId: number, messageId: number];

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
  const insert = sql.prepare(
    `INSERT INTO members (conversation_id, user_id, position, joined_at, role)
     VALUES ($1, $2, (SELECT coalesce(max(position), -1) + 1 FROM members WHERE conversation_id = $1), $3, $4)
     ON CONFLICT DO NOTHING`,
  );
  const remove = sql.prepare('DELETE FROM members WHERE conversation_id = $1 AND user_id = $2');
  const setRole = sql.prepare('UPDATE members SET role = $1 WHERE conversation_id = $2 AND user_id = $3');
  // Who inherits a conversation whose owner leaves: the longest-standing admin, else the longest-standing member.
  const successor = sql.prepare("SELECT user_id FROM members WHERE conversation_id = $1 ORDER BY CASE WHEN role = 'admin' THEN 0 ELSE 1 END, joined_at, position LIMIT 1");
  const setFavorite = sql.prepare('UPDATE members SET favorite = $1 WHERE conversation_id = $2 AND user_id = $3');
  const setPinned = sql.prepare('UPDATE members SET pinned = $1 WHERE conversation_id = $2 AND user_id = $3');
  const setCleared = sql.prepare('UPDATE members SET cleared_id = $1 WHERE conversation_id = $2 AND user_id = $3');
  const greatest = { sqlite: 'max', postgres: 'greatest' };
  const read = sql.prepare(dialect`UPDATE members SET read_id = $3, delivered_id = ${greatest}(delivered_id, $3)
      WHERE conversation_id = $1 AND user_id = $2 AND read_id < $3`);
  const delivered = sql.prepare('UPDATE members SET delivered_id = $3 WHERE conversation_id = $1 AND user_id = $2 AND delivered_id < $3');
  const deliveredTo = sql.prepare(dialect`UPDATE members SET delivered_id = $3 WHERE conversation_id = $1 AND delivered_id < $3 AND ${inList('user_id', '$2')}`);
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
  // Many members' points at once: on PostgreSQL in one statement (the rows locked first by lockAll), on
  // SQLite a row at a time.
  const points = 'unnest(CAST($1 AS bigint[]), CAST($2 AS bigint[]), CAST($3 AS bigint[])) AS p (conversation_id, user_id, message_id)';
  const readMany = sql.local ? undefined : sql.prepare<{ conversation_id: number; user_id: number }>(`
    UPDATE members SET read_id = p.message_id, delivered_id = greatest(delivered_id, p.message_id) FROM ${points}
     WHERE members.conversation_id = p.conversation_id AND members.user_id = p.user_id AND members.read_id < p.message_id
    RETURNING members.conversation_id, members.user_id`);
  const deliveredMany = sql.local ? undefined : sql.prepare(`
    UPDATE members SET delivered_id = p.message_id FROM ${points}
     WHERE members.conversation_id = p.conversation_id AND members.user_id = p.user_id AND members.delivered_id < p.message_id`);
  // Every member row of some conversations, locked for update in one order on PostgreSQL before a round of
  // receipts moves some of them: an UPDATE … FROM unnest locks in whatever order its plan reads the rows,
  // and a round moves read points and delivered points in two statements, so rounds on two nodes locked the
  // same rows in opposite orders and deadlocked (every second or so under concurrent senders on three nodes).
  // FOR NO KEY UPDATE: sends' FOR KEY SHARE of their sender's row does not wait for it.
  const lockAll = sql.local ? undefined : sql.prepare(`
    SELECT 1 FROM members WHERE conversation_id = ANY(CAST($1 AS bigint[])) ORDER BY conversation_id, user_id FOR NO KEY UPDATE`);
  const readOne = sql.local?.prepare('UPDATE members SET read_id = $3, delivered_id = max(delivered_id, $3) WHERE conversation_id = $1 AND user_id = $2 AND read_id < $3');
  const deliveredOne = sql.local?.prepare('UPDATE members SET delivered_id = $3 WHERE conversation_id = $1 AND user_id = $2 AND delivered_id < $3');
  const listMany = sql.prepare<MemberListRow & { conversation_id: number }>(dialect`
    SELECT members.conversation_id, members.user_id, users.username, users.fullname, users.status, members.role, members.read_id, members.delivered_id,
           members.joined_at, users.avatar_file_id
      FROM members JOIN users ON users.id = members.user_id
     WHERE ${inList('members.conversation_id', '$1')}
     ORDER BY members.conversation_id, members.position`);
  const openPeriod = sql.prepare('INSERT INTO member_periods (conversation_id, user_id, from_seq) VALUES ($1, $2, $3)');
  const closePeriod = sql.prepare('UPDATE member_periods SET to_seq = $1 WHERE conversation_id = $2 AND user_id = $3 AND to_seq IS NULL');
  const dropPeriods = sql.prepare('DELETE FROM member_periods WHERE conversation_id = $1');

  const pointParams = (given: readonly Point[]): unknown[] => {
    const sorted = [...given].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return [0, 1, 2].map((i) => sorted.map((point) => point[i]));
  };

  return {
    get: (conversationId: number, userId: number): Promise<MemberRow | undefined> => get.get(conversationId, userId),
    list: (conversationId: number): Promise<MemberListRow[]> => list.all(conversationId),
    count: async (conversationId: number): Promise<number> => (await count.value<number>(conversationId)) ?? 0,
    /** Adds a member (after the others), a plain member unless `role` says otherwise; false when they already were one. */
    add: async (conversationId: number, userId: number, now: number, role: Role = 'member'): Promise<boolean> => (await insert.run(conversationId, userId, now, role)) === 1,
    remove: async (conversationId: number, userId: number): Promise<void> => void (await remove.run(conversationId, userId)),
    setRole: async (conversationId: number, userId: number, role: Role): Promise<void> => void (await setRole.run(role, conversationId, userId)),
    successor: (conversationId: number): Promise<number | undefined> => successor.value<number>(conversationId),
    setFavorite: async (conversationId: number, userId: number, favorite: boolean): Promise<void> => void (await setFavorite.run(favorite ? 1 : 0, conversationId, userId)),
    setPinned: async (conversationId: number, userId: number, pinned: boolean): Promise<void> => void (await setPinned.run(pinned ? 1 : 0, conversationId, userId)),
    setCleared: async (conversationId: number, userId: number, clearedId: number): Promise<void> => void (await setCleared.run(clearedId, conversationId, userId)),
    /** Moves the read point (and the delivered point with it) up to `messageId`, never back; true when it moved. */
    read: async (conversationId: number, userId: number, messageId: number): Promise<boolean> => (await read.run(conversationId, userId, messageId)) === 1,
    /** Moves the delivered point up to `messageId`; true when it moved. */
    delivered: async (conversationId: number, userId: number, messageId: number): Promise<boolean> => (await delivered.run(conversationId, userId, messageId)) === 1,
    /** Moves several members' delivered points up to `messageId` in one statement. */
    async deliveredTo(conversationId: number, userIds: readonly number[], messageId: number): Promise<void> {
      if (userIds.length) await deliveredTo.run(conversationId, sql.list(userIds), messageId);
    },
    /** Locks the member rows of these conversations until the commit, in one order (PostgreSQL; SQLite's writer is alone). */
    async lockAll(conversationIds: readonly number[]): Promise<void> {
      if (lockAll && conversationIds.length) await lockAll.run([...conversationIds].sort((a, b) => a - b));
    },
    /** Moves read points (and delivered ones with them), never back; returns the [conversation, user] of those that moved. */
    async readMany(given: readonly Point[]): Promise<[number, number][]> {
      if (given.length === 0) return [];
      if (readOne) return given.filter((point) => readOne.run(...point).changes === 1).map(([conversation, user]) => [conversation, user]);
      const rows = await readMany!.all(...pointParams(given));
      return rows.map((row) => [row.conversation_id, row.user_id]);
    },
    /** Moves delivered points, never back (one statement for all on PostgreSQL). */
    async deliveredMany(given: readonly Point[]): Promise<void> {
      if (given.length === 0) return;
      if (deliveredOne) for (const point of given) deliveredOne.run(...point);
      else await deliveredMany!.run(...pointParams(given));
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
    banCount: async (conversationId: number): Promise<number> => (await banCount.value<number>(conversationId)) ?? 0,
    /** The event log shows a member the conversation's events from `seq` on… */
    openPeriod: async (conversationId: number, userId: number, seq: number): Promise<void> => void (await openPeriod.run(conversationId, userId, seq)),
    /** …through `seq`, when they leave. */
    closePeriod: async (conversationId: number, userId: number, seq: number): Promise<void> => void (await closePeriod.run(seq, conversationId, userId)),
    dropPeriods: async (conversationId: number): Promise<void> => void (await dropPeriods.run(conversationId)),
  };
}
