// Members of conversations: roles, each member's own settings and receipt points, and bans.
import type { Db } from './db.ts';
import type { Role } from './conversations.ts';

export type MemberRow = {
  role: Role;
  favorite: number;
  pinned: number;
  cleared_id: number;
  delivered_id: number;
  read_id: number;
  joined_at: number;
};

export type MemberListRow = { user_id: number; username: string; fullname: string; status: string; role: Role; read_id: number; delivered_id: number; joined_at: number };

export type BanRow = { username: string; fullname: string; banned_by: string | null; banned_at: number };

export function membersStore(db: Db) {
  const get = db.prepare<[number, number], MemberRow>(
    'SELECT role, favorite, pinned, cleared_id, delivered_id, read_id, joined_at FROM members WHERE conversation_id = ? AND user_id = ?',
  );
  const list = db.prepare<[number], MemberListRow>(
    `SELECT members.user_id, users.username, users.fullname, users.status, members.role, members.read_id, members.delivered_id, members.joined_at
       FROM members JOIN users ON users.id = members.user_id
      WHERE members.conversation_id = ? ORDER BY members.position`,
  );
  const count = db.prepare<[number], number>('SELECT count(*) FROM members WHERE conversation_id = ?').pluck();
  const insert = db.prepare<{ conversation: number; user: number; now: number }>(
    `INSERT INTO members (conversation_id, user_id, position, joined_at)
     VALUES (:conversation, :user, (SELECT coalesce(max(position), -1) + 1 FROM members WHERE conversation_id = :conversation), :now)
     ON CONFLICT DO NOTHING`,
  );
  const remove = db.prepare<[number, number]>('DELETE FROM members WHERE conversation_id = ? AND user_id = ?');
  const setRole = db.prepare<[string, number, number]>('UPDATE members SET role = ? WHERE conversation_id = ? AND user_id = ?');
  // Who inherits a conversation whose owner leaves: the longest-standing admin, else the longest-standing member.
  const successor = db.prepare<[number], number>(
    "SELECT user_id FROM members WHERE conversation_id = ? ORDER BY role = 'admin' DESC, joined_at, position LIMIT 1",
  ).pluck();
  const setFavorite = db.prepare<[number, number, number]>('UPDATE members SET favorite = ? WHERE conversation_id = ? AND user_id = ?');
  const setPinned = db.prepare<[number, number, number]>('UPDATE members SET pinned = ? WHERE conversation_id = ? AND user_id = ?');
  const setCleared = db.prepare<[number, number, number]>('UPDATE members SET cleared_id = ? WHERE conversation_id = ? AND user_id = ?');
  type Point = { conversation: number; user: number; message: number };
  const read = db.prepare<Point>(
    `UPDATE members SET read_id = :message, delivered_id = max(delivered_id, :message)
      WHERE conversation_id = :conversation AND user_id = :user AND read_id < :message`,
  );
  const delivered = db.prepare<Point>(
    'UPDATE members SET delivered_id = :message WHERE conversation_id = :conversation AND user_id = :user AND delivered_id < :message',
  );
  const deliveredTo = db.prepare<{ conversation: number; users: string; message: number }>(
    `UPDATE members SET delivered_id = :message
      WHERE conversation_id = :conversation AND delivered_id < :message AND user_id IN (SELECT value FROM json_each(:users))`,
  );
  const ban = db.prepare<[number, number, number, number]>(
    'INSERT INTO bans (conversation_id, user_id, banned_by, banned_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const unban = db.prepare<[number, number]>('DELETE FROM bans WHERE conversation_id = ? AND user_id = ?');
  const isBanned = db.prepare<[number, number], number>('SELECT 1 FROM bans WHERE conversation_id = ? AND user_id = ?').pluck();
  const banned = db.prepare<[number], BanRow>(
    `SELECT users.username, users.fullname, banner.username AS banned_by, bans.banned_at
       FROM bans JOIN users ON users.id = bans.user_id LEFT JOIN users AS banner ON banner.id = bans.banned_by
      WHERE bans.conversation_id = ? ORDER BY bans.banned_at, users.username`,
  );
  const openPeriod = db.prepare<[number, number, number]>('INSERT INTO member_periods (conversation_id, user_id, from_seq) VALUES (?, ?, ?)');
  const closePeriod = db.prepare<[number, number, number]>(
    'UPDATE member_periods SET to_seq = ? WHERE conversation_id = ? AND user_id = ? AND to_seq IS NULL',
  );
  const dropPeriods = db.prepare<[number]>('DELETE FROM member_periods WHERE conversation_id = ?');

  return {
    get: (conversationId: number, userId: number): MemberRow | undefined => get.get(conversationId, userId),
    list: (conversationId: number): MemberListRow[] => list.all(conversationId),
    count: (conversationId: number): number => count.get(conversationId) ?? 0,
    /** Adds a member (after the others) as a plain member; false when they already were one. */
    add: (conversationId: number, userId: number, now: number): boolean => insert.run({ conversation: conversationId, user: userId, now }).changes === 1,
    remove(conversationId: number, userId: number): void {
      remove.run(conversationId, userId);
    },
    setRole(conversationId: number, userId: number, role: Role): void {
      setRole.run(role, conversationId, userId);
    },
    successor: (conversationId: number): number | undefined => successor.get(conversationId),
    setFavorite(conversationId: number, userId: number, favorite: boolean): void {
      setFavorite.run(favorite ? 1 : 0, conversationId, userId);
    },
    setPinned(conversationId: number, userId: number, pinned: boolean): void {
      setPinned.run(pinned ? 1 : 0, conversationId, userId);
    },
    setCleared(conversationId: number, userId: number, clearedId: number): void {
      setCleared.run(clearedId, conversationId, userId);
    },
    /** Moves the read point (and the delivered point with it) up to `messageId`, never back; true when it moved. */
    read: (conversationId: number, userId: number, messageId: number): boolean => read.run({ conversation: conversationId, user: userId, message: messageId }).changes === 1,
    /** Moves the delivered point up to `messageId`; true when it moved. */
    delivered: (conversationId: number, userId: number, messageId: number): boolean => delivered.run({ conversation: conversationId, user: userId, message: messageId }).changes === 1,
    /** Moves several members' delivered points up to `messageId` in one statement. */
    deliveredTo(conversationId: number, userIds: readonly number[], messageId: number): void {
      if (userIds.length) deliveredTo.run({ conversation: conversationId, users: JSON.stringify(userIds), message: messageId });
    },
    ban(conversationId: number, userId: number, bannedBy: number, now: number): void {
      ban.run(conversationId, userId, bannedBy, now);
    },
    /** True when they were banned. */
    unban: (conversationId: number, userId: number): boolean => unban.run(conversationId, userId).changes === 1,
    isBanned: (conversationId: number, userId: number): boolean => isBanned.get(conversationId, userId) !== undefined,
    banned: (conversationId: number): BanRow[] => banned.all(conversationId),
    /** The event log shows a member the conversation's events from `seq` on… */
    openPeriod(conversationId: number, userId: number, seq: number): void {
      openPeriod.run(conversationId, userId, seq);
    },
    /** …through `seq`, when they leave. */
    closePeriod(conversationId: number, userId: number, seq: number): void {
      closePeriod.run(seq, conversationId, userId);
    },
    dropPeriods(conversationId: number): void {
      dropPeriods.run(conversationId);
    },
  };
}
