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
  const logMail = db.prepare<[number, string, string, number]>('INSERT INTO code_mails (user_id, purpose, address, sent_at) VALUES (?, ?, ?, ?)');
  const mailsToUser = db.prepare<[number, string, number], { count: number; first: number | null }>(
    'SELECT count(*) AS count, min(sent_at) AS first FROM code_mails WHERE user_id = ? AND purpose = ? AND sent_at > ?',
  );
  const mailsToAddress = db.prepare<[string, number], { count: number; first: number | null }>(
    'SELECT count(*) AS count, min(sent_at) AS first FROM code_mails WHERE address = ? AND sent_at > ?',
  );
  const logFailure = db.prepare<[number, string, number]>('INSERT INTO code_failures (user_id, purpose, failed_at) VALUES (?, ?, ?)');
  const failures = db.prepare<[number, string, number], number>('SELECT count(*) FROM code_failures WHERE user_id = ? AND purpose = ? AND failed_at > ?').pluck();
  const pruneMails = db.prepare<[number]>('DELETE FROM code_mails WHERE sent_at <= ?');
  const pruneFailures = db.prepare<[number]>('DELETE FROM code_failures WHERE failed_at <= ?');

  return {
    /** Replaces any earlier code for the same purpose. */
    put(userId: number, purpose: Purpose, code: { hash: string; sentTo: string; expiresAt: number; tries: number }): void {
      upsert.run(userId, purpose, code.hash, code.sentTo, code.expiresAt, code.tries);
    },
    get: (userId: number, purpose: Purpose): CodeRow | undefined => get.get(userId, purpose),
    /** A wrong guess: the code has one try less, and the hour's guesses one more. */
    spendTry(userId: number, purpose: Purpose, now: number): void {
      spend.run(userId, purpose);
      logFailure.run(userId, purpose, now);
    },
    logMail(userId: number, purpose: Purpose, address: string, now: number): void {
      logMail.run(userId, purpose, address, now);
    },
    /** Codes mailed to a user for a purpose since `since`, and when the first of them went. */
    mailsToUser: (userId: number, purpose: Purpose, since: number) => mailsToUser.get(userId, purpose, since)!,
    /** Codes mailed to an address (any user, any purpose) since `since`. */
    mailsToAddress: (address: string, since: number) => mailsToAddress.get(address, since)!,
    failuresSince: (userId: number, purpose: Purpose, since: number): number => failures.get(userId, purpose, since) ?? 0,
    /** Forgets mails and failures from before `cutoff`. */
    prune(cutoff: number): void {
      pruneMails.run(cutoff);
      pruneFailures.run(cutoff);
    },
    remove(userId: number, purpose: Purpose): void {
      remove.run(userId, purpose);
    },
  };
}
