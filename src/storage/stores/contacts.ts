// Contacts (a two-way relation, stored as one row each way) and blocks (one-way, with effects both ways).
import { dialect, inList, type Sql } from '../engine/sql.ts';
import type { UserRow } from './users.ts';
import { capLock } from './caps.ts';

/** SQL: messages `m` from people the reader (parameter `param`) blocked are not shown to them, nor counted. */
export const notBlocked = (param: string) => `(m.sender_id IS NULL OR m.sender_id NOT IN (SELECT blocked_id FROM blocks WHERE user_id = ${param}))`;

/** Members of conversation $1 who blocked user $2 (PostgreSQL's plan starts from the side its statistics say is smaller). */
const blockersText = 'SELECT blocks.user_id FROM blocks JOIN members ON members.conversation_id = $1 AND members.user_id = blocks.user_id WHERE blocks.blocked_id = $2';
/** Members of conversation $1 whom user $2 blocked (at most `blocksPerUser`). */
const blockedInText = 'SELECT blocks.blocked_id FROM blocks JOIN members ON members.conversation_id = $1 AND members.user_id = blocks.blocked_id WHERE blocks.user_id = $2';
/**
 * The same on SQLite, whose plan for that join reads every blocker of the user (nothing bounds them:
 * 20,000 cost 1–2 ms a message): the two lists, the conversation's members (at most a thousand) and the
 * user's blockers, are read as they meet, in the order of user ids both indexes keep. From the first
 * blocker, the first member at or after them, then the next blocker at or after that member, and so on:
 * each a seek (members' key, blocks_by_blocked), about as many as the shorter list has entries.
 */
const meetingText = `WITH RECURSIVE step (blocker, member) AS (
    SELECT first.user_id, (SELECT user_id FROM members WHERE conversation_id = $1 AND user_id >= first.user_id ORDER BY user_id LIMIT 1)
      FROM (SELECT user_id FROM blocks WHERE blocked_id = $2 ORDER BY user_id LIMIT 1) AS first
    UNION ALL
    SELECT next.user_id, (SELECT user_id FROM members WHERE conversation_id = $1 AND user_id >= next.user_id ORDER BY user_id LIMIT 1)
      FROM step JOIN blocks AS next ON next.blocked_id = $2 AND next.user_id = (
        SELECT user_id FROM blocks WHERE blocked_id = $2 AND user_id >= step.member AND user_id > step.blocker ORDER BY user_id LIMIT 1))
  SELECT blocker AS user_id FROM step WHERE blocker = member`;

/**
 * Members of a conversation who blocked a user, on SQLite. Most people are blocked by nobody: one seek
 * says so, as fast as the join was (the walk's own setup costs a few microseconds more).
 */
export function sqliteBlockers(local: NonNullable<Sql['local']>): (conversationId: number, userId: number) => number[] {
  const anyone = local.prepare('SELECT 1 FROM blocks WHERE blocked_id = $1 LIMIT 1');
  const meeting = local.prepare<{ user_id: number }>(meetingText);
  return (conversationId, userId) => (anyone.get(userId) ? meeting.all(conversationId, userId).map((row) => row.user_id) : []);
}

/** A contact, and where it stands in the order of adding. */
export type ContactRow = UserRow & { place: number };

export type BlockedRow = { username: string; fullname: string; blocked_at: number; blocked_id: number };

export function contactsStore(sql: Sql) {
  // The adder's row is their choice (chosen 1); the other side's row is not, until they add back.
  const insert = sql.prepare('INSERT INTO contacts (user_id, contact_id, added_at, chosen) VALUES ($1, $2, $3, 1), ($2, $1, $3, 0)');
  const exists = sql.prepare('SELECT 1 FROM contacts WHERE user_id = $1 AND contact_id = $2');
  const chosenRow = sql.prepare<{ chosen: number }>('SELECT chosen FROM contacts WHERE user_id = $1 AND contact_id = $2');
  const choose = sql.prepare('UPDATE contacts SET chosen = 1 WHERE user_id = $1 AND contact_id = $2');
  // `rowid` keeps the order of adding (an identity column of that name on PostgreSQL); contacts_in_order
  // walks a user's contacts in that order from where the page before ended.
  const page = sql.prepare<ContactRow>(`SELECT users.*, contacts.rowid AS place FROM contacts JOIN users ON users.id = contacts.contact_id
      WHERE contacts.user_id = $1 AND contacts.rowid > $2 ORDER BY contacts.rowid LIMIT $3`);
  const count = sql.prepare('SELECT count(*) FROM contacts WHERE user_id = $1');
  const lockCap = capLock(sql);
  const ids = sql.prepare('SELECT contact_id FROM contacts WHERE user_id = $1');
  const removeBoth = sql.prepare('DELETE FROM contacts WHERE (user_id = $1 AND contact_id = $2) OR (user_id = $2 AND contact_id = $1)');
  const block = sql.prepare('INSERT INTO blocks (user_id, blocked_id, blocked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING');
  const unblock = sql.prepare('DELETE FROM blocks WHERE user_id = $1 AND blocked_id = $2');
  // On PostgreSQL, before a block is made or lifted: both people's member rows in every conversation they
  // share, locked for update in one order until the commit. What either of them is doing there holds a share
  // of their own row (a send, a receipts round, any event checked against their membership) and was
  // decided with the blocks as they were: it is numbered before the change, and what comes after waits
  // for it and reads the blocks afresh. Otherwise a message or receipt decided before the block could be
  // numbered after it and reach a socket that sync (which hides by the blocks as they are) keeps it from.
  const lockShared = sql.local ? undefined : sql.prepare(`
    SELECT 1 FROM members
     WHERE user_id IN ($1, $2)
       AND conversation_id IN (SELECT conversation_id FROM members WHERE user_id = $1 INTERSECT SELECT conversation_id FROM members WHERE user_id = $2)
     ORDER BY conversation_id, user_id FOR UPDATE`);
  const blockedEither = sql.prepare('SELECT 1 FROM blocks WHERE (user_id = $1 AND blocked_id = $2) OR (user_id = $2 AND blocked_id = $1)');
  const blocks = sql.prepare('SELECT 1 FROM blocks WHERE user_id = $1 AND blocked_id = $2');
  const blockedAt = sql.prepare('SELECT blocked_at FROM blocks WHERE user_id = $1 AND blocked_id = $2');
  // Most recent first, from blocks_in_order: a page below the (blocked_at, blocked_id) the page before ended at.
  const blockedPage = sql.prepare<BlockedRow>(`SELECT users.username, users.fullname, blocks.blocked_at, blocks.blocked_id FROM blocks JOIN users ON users.id = blocks.blocked_id
      WHERE blocks.user_id = $1 AND (blocks.blocked_at, blocks.blocked_id) < ($2, $3)
      ORDER BY blocks.blocked_at DESC, blocks.blocked_id DESC LIMIT $4`);
  const blockCount = sql.prepare('SELECT count(*) FROM blocks WHERE user_id = $1');
  // Blocks are looked up for the people at hand, each in one of the two indexes: however many people
  // blocked someone (nothing bounds that), a page of them or their contacts costs a lookup a person.
  const blockedAmong = sql.prepare(dialect`
    SELECT blocked_id FROM blocks WHERE user_id = $1 AND ${inList('blocked_id', '$2')}
    UNION SELECT user_id FROM blocks WHERE blocked_id = $1 AND ${inList('user_id', '$2')}`);
  const unblockedOf = sql.prepare<{ user_id: number; contact_id: number }>(dialect`
    SELECT user_id, contact_id FROM contacts WHERE ${inList('user_id', '$1')}
       AND NOT EXISTS (SELECT 1 FROM blocks WHERE blocks.user_id = contacts.user_id AND blocks.blocked_id = contacts.contact_id)
       AND NOT EXISTS (SELECT 1 FROM blocks WHERE blocks.user_id = contacts.contact_id AND blocks.blocked_id = contacts.user_id)`);
  const blocksAmong = sql.prepare<{ conversation_id: number; user_id: number; blocked_id: number }>(dialect`
    SELECT blocker.conversation_id, blocks.user_id, blocks.blocked_id
      FROM members AS blocker
      JOIN blocks ON blocks.user_id = blocker.user_id
      JOIN members AS blocked ON blocked.conversation_id = blocker.conversation_id AND blocked.user_id = blocks.blocked_id
     WHERE ${inList('blocker.conversation_id', '$1')}`);
  const blockersIn = sql.prepare(blockersText);
  const blockingIn = sql.prepare(`${blockersText} UNION ${blockedInText}`);
  const blockers = sql.local && sqliteBlockers(sql.local);
  const blockedIn = sql.local?.prepare<{ blocked_id: number }>(blockedInText);

  return {
    add: async (userId: number, contactId: number, now: number): Promise<void> => void (await insert.run(userId, contactId, now)),
    exists: async (userId: number, contactId: number): Promise<boolean> => (await exists.get(userId, contactId)) !== undefined,
    /** Whether `contactId` is `userId`'s contact, and if so whether by `userId`'s own choice (added, or added back) or only because they added `userId`. */
    relation: async (userId: number, contactId: number): Promise<'none' | 'chosen' | 'added_by_them'> => {
      const row = await chosenRow.get(userId, contactId);
      return row === undefined ? 'none' : row.chosen === 1 ? 'chosen' : 'added_by_them';
    },
    /** `userId` adds back `contactId`, who added them: now their choice too. */
    choose: async (userId: number, contactId: number): Promise<void> => void (await choose.run(userId, contactId)),
    /** Up to `limit` of a user's contacts in the order of adding, after the one at `place` (0: from the first). */
    page: (userId: number, place: number, limit: number): Promise<ContactRow[]> => page.all(userId, place, limit),
    /**
     * The contacts of each of two people, counted toward the cap before one adds the other (which writes a
     * row on each side): no other unit of any node counts or adds contacts of either until COMMIT.
     */
    async countsToAdd(userId: number, contactId: number): Promise<[number, number]> {
      await lockCap('contacts', [userId, contactId]);
      return [(await count.value<number>(userId)) ?? 0, (await count.value<number>(contactId)) ?? 0];
    },
    ids: (userId: number): Promise<number[]> => ids.values<number>(userId),
    /** Ends the relation both ways; false when there was none. */
    remove: async (userId: number, contactId: number): Promise<boolean> => (await removeBoth.run(userId, contactId)) > 0,
    /** False when already blocked. */
    async block(userId: number, blockedId: number, now: number): Promise<boolean> {
      await lockShared?.run(userId, blockedId);
      return (await block.run(userId, blockedId, now)) === 1;
    },
    /** False when not blocked. */
    async unblock(userId: number, blockedId: number): Promise<boolean> {
      await lockShared?.run(userId, blockedId);
      return (await unblock.run(userId, blockedId)) === 1;
    },
    /** Whether `blockerId` blocked `blockedId`. */
    blocks: async (blockerId: number, blockedId: number): Promise<boolean> => (await blocks.get(blockerId, blockedId)) !== undefined,
    /** Whether either of two people blocked the other. */
    blockedEither: async (a: number, b: number): Promise<boolean> => (await blockedEither.get(a, b)) !== undefined,
    /** When `blockerId` blocked `blockedId`; undefined when they did not. */
    blockedAt: (blockerId: number, blockedId: number): Promise<number | undefined> => blockedAt.value<number>(blockerId, blockedId),
    /** Up to `limit` of the people a user blocked, most recent first, after the block `from` [blocked_at, blocked_id] (null: from the first). */
    blockedPage: (userId: number, from: readonly number[] | null, limit: number): Promise<BlockedRow[]> =>
      blockedPage.all(userId, ...(from ?? [Number.MAX_SAFE_INTEGER, 0]), limit),
    /** The people a user blocked, counted toward the cap before blocking one more, one unit of any node at a time per user. */
    async blockCountToBlock(userId: number): Promise<number> {
      await lockCap('blocks', [userId]);
      return (await blockCount.value<number>(userId)) ?? 0;
    },
    /** Those of `people` the user blocked or was blocked by. */
    blockedAmong: (userId: number, people: readonly number[]): Promise<number[]> =>
      (people.length ? blockedAmong.values<number>(userId, sql.list(people)) : Promise.resolve([])),
    /** The contacts of each of these users, but those on either side of a block with them. */
    unblockedOf: (userIds: readonly number[]) => (userIds.length ? unblockedOf.all(sql.list(userIds)) : Promise.resolve([])),
    /** Who blocked whom among the members of each of these conversations. */
    blocksAmong: (conversationIds: readonly number[]) => (conversationIds.length ? blocksAmong.all(sql.list(conversationIds)) : Promise.resolve([])),
    /** Members of a conversation who blocked this user. */
    blockersIn: async (conversationId: number, userId: number): Promise<number[]> => (blockers ? blockers(conversationId, userId) : blockersIn.values<number>(conversationId, userId)),
    /** Members of a conversation on either side of a block with this user: what shows the user's presence (typing, receipts) is hidden from them. */
    async blockingIn(conversationId: number, userId: number): Promise<number[]> {
      if (!blockers) return blockingIn.values<number>(conversationId, userId);
      return [...new Set([...blockers(conversationId, userId), ...blockedIn!.all(conversationId, userId).map((row) => row.blocked_id)])];
    },
  };
}
