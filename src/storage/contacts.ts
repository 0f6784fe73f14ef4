// Contacts (a two-way relation, stored as one row each way) and blocks (one-way, with effects both ways).
import type { Db } from './db.ts';
import type { UserRow } from './users.ts';

export function contactsStore(db: Db) {
  const insert = db.prepare<[number, number, number]>('INSERT INTO contacts (user_id, contact_id, added_at) VALUES (?, ?, ?)');
  const exists = db.prepare<[number, number], number>('SELECT 1 FROM contacts WHERE user_id = ? AND contact_id = ?').pluck();
  const list = db.prepare<[number], UserRow>(
    'SELECT users.* FROM contacts JOIN users ON users.id = contacts.contact_id WHERE contacts.user_id = ? ORDER BY contacts.rowid',
  );
  const ids = db.prepare<[number], number>('SELECT contact_id FROM contacts WHERE user_id = ?').pluck();
  const removeBoth = db.prepare<{ a: number; b: number }>(
    'DELETE FROM contacts WHERE (user_id = :a AND contact_id = :b) OR (user_id = :b AND contact_id = :a)',
  );
  const block = db.prepare<[number, number, number]>('INSERT INTO blocks (user_id, blocked_id, blocked_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
  const unblock = db.prepare<[number, number]>('DELETE FROM blocks WHERE user_id = ? AND blocked_id = ?');
  const blockedEither = db.prepare<{ a: number; b: number }, number>(
    'SELECT 1 FROM blocks WHERE (user_id = :a AND blocked_id = :b) OR (user_id = :b AND blocked_id = :a)',
  ).pluck();
  const blocks = db.prepare<[number, number], number>('SELECT 1 FROM blocks WHERE user_id = ? AND blocked_id = ?').pluck();
  const blockedList = db.prepare<[number], { username: string; fullname: string; blocked_at: number }>(
    'SELECT users.username, users.fullname, blocks.blocked_at FROM blocks JOIN users ON users.id = blocks.blocked_id WHERE blocks.user_id = ? ORDER BY blocks.blocked_at DESC, users.username',
  );
  const blockedIds = db.prepare<{ user: number }, number>(
    'SELECT blocked_id FROM blocks WHERE user_id = :user UNION SELECT user_id FROM blocks WHERE blocked_id = :user',
  ).pluck();
  const blockersIn = db.prepare<[number, number], number>(
    'SELECT blocks.user_id FROM blocks JOIN members ON members.conversation_id = ? AND members.user_id = blocks.user_id WHERE blocks.blocked_id = ?',
  ).pluck();
  const addBoth = db.transaction((a: number, b: number, now: number) => {
    insert.run(a, b, now);
    insert.run(b, a, now);
  });

  return {
    add(userId: number, contactId: number, now: number): void {
      addBoth(userId, contactId, now);
    },
    exists: (userId: number, contactId: number): boolean => exists.get(userId, contactId) !== undefined,
    list: (userId: number): UserRow[] => list.all(userId),
    ids: (userId: number): number[] => ids.all(userId),
    /** Ends the relation both ways; false when there was none. */
    remove: (userId: number, contactId: number): boolean => removeBoth.run({ a: userId, b: contactId }).changes > 0,
    /** False when already blocked. */
    block: (userId: number, blockedId: number, now: number): boolean => block.run(userId, blockedId, now).changes === 1,
    /** False when not blocked. */
    unblock: (userId: number, blockedId: number): boolean => unblock.run(userId, blockedId).changes === 1,
    /** Whether `blockerId` blocked `blockedId`. */
    blocks: (blockerId: number, blockedId: number): boolean => blocks.get(blockerId, blockedId) !== undefined,
    /** Whether either of two people blocked the other. */
    blockedEither: (a: number, b: number): boolean => blockedEither.get({ a, b }) !== undefined,
    blocked: (userId: number) => blockedList.all(userId),
    /** Members of a conversation who blocked this user. */
    blockersIn: (conversationId: number, userId: number): number[] => blockersIn.all(conversationId, userId),
    /** Everyone the user blocked or was blocked by. */
    blockedIds: (userId: number): number[] => blockedIds.all({ user: userId }),
  };
}
