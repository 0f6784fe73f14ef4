// Contacts: a two-way relation, stored as one row each way.
import type { Db } from './db.ts';
import type { UserRow } from './users.ts';

export function contactsStore(db: Db) {
  const insert = db.prepare<[number, number, number]>('INSERT INTO contacts (user_id, contact_id, added_at) VALUES (?, ?, ?)');
  const exists = db.prepare<[number, number], number>('SELECT 1 FROM contacts WHERE user_id = ? AND contact_id = ?').pluck();
  const list = db.prepare<[number], UserRow>(
    'SELECT users.* FROM contacts JOIN users ON users.id = contacts.contact_id WHERE contacts.user_id = ? ORDER BY contacts.rowid',
  );
  const ids = db.prepare<[number], number>('SELECT contact_id FROM contacts WHERE user_id = ?').pluck();
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
  };
}
