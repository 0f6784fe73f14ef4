// One-time codes: one live code per user and purpose, stored hashed, with an expiry and a number of tries.
import type { Db } from './db.ts';

export type Purpose = 'reset' | 'verify';
export type CodeRow = { code_hash: string; sent_to: string; expires_at: number; tries_left: number };

export function codesStore(db: Db) {
  const upsert = db.prepare<[number, string, string, string, number, number]>(
    `INSERT INTO one_time_codes (user_id, purpose, code_hash, sent_to, expires_at, tries_left) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (user_id, purpose) DO UPDATE SET code_hash = excluded.code_hash, sent_to = excluded.sent_to,
       expires_at = excluded.expires_at, tries_left = excluded.tries_left`,
  );
  const get = db.prepare<[number, string], CodeRow>('SELECT code_hash, sent_to, expires_at, tries_left FROM one_time_codes WHERE user_id = ? AND purpose = ?');
  const spend = db.prepare<[number, string]>('UPDATE one_time_codes SET tries_left = tries_left - 1 WHERE user_id = ? AND purpose = ?');
  const remove = db.prepare<[number, string]>('DELETE FROM one_time_codes WHERE user_id = ? AND purpose = ?');

  return {
    /** Replaces any earlier code for the same purpose. */
    put(userId: number, purpose: Purpose, code: { hash: string; sentTo: string; expiresAt: number; tries: number }): void {
      upsert.run(userId, purpose, code.hash, code.sentTo, code.expiresAt, code.tries);
    },
    get: (userId: number, purpose: Purpose): CodeRow | undefined => get.get(userId, purpose),
    spendTry(userId: number, purpose: Purpose): void {
      spend.run(userId, purpose);
    },
    remove(userId: number, purpose: Purpose): void {
      remove.run(userId, purpose);
    },
  };
}
