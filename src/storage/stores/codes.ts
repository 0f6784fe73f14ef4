// One-time codes: one live code per user and purpose, stored hashed, with an expiry and a number of
// tries; and the mails and wrong guesses of the last hours, which bound how many codes and guesses there are.
import type { Sql } from '../engine/sql.ts';

export type Purpose = 'reset' | 'verify';
export type CodeRow = { code_hash: string; sent_to: string; expires_at: number; tries_left: number };

export function codesStore(sql: Sql) {
  const upsert = sql.prepare(
    `INSERT INTO one_time_codes (user_id, purpose, code_hash, sent_to, expires_at, tries_left) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (user_id, purpose) DO UPDATE SET code_hash = excluded.code_hash, sent_to = excluded.sent_to,
       expires_at = excluded.expires_at, tries_left = excluded.tries_left`,
  );
  const get = sql.prepare<CodeRow>('SELECT code_hash, sent_to, expires_at, tries_left FROM one_time_codes WHERE user_id = $1 AND purpose = $2');
  const spend = sql.prepare('UPDATE one_time_codes SET tries_left = tries_left - 1 WHERE user_id = $1 AND purpose = $2');
  const remove = sql.prepare('DELETE FROM one_time_codes WHERE user_id = $1 AND purpose = $2');
  const logMail = sql.prepare('INSERT INTO code_mails (user_id, purpose, address, sent_at) VALUES ($1, $2, $3, $4)');
  const mailsToUser = sql.prepare<{ count: number; first: number | null }>(
    'SELECT count(*) AS count, min(sent_at) AS first FROM code_mails WHERE user_id = $1 AND purpose = $2 AND sent_at > $3',
  );
  const mailsToAddress = sql.prepare<{ count: number; first: number | null }>('SELECT count(*) AS count, min(sent_at) AS first FROM code_mails WHERE address = $1 AND sent_at > $2');
  const logFailure = sql.prepare('INSERT INTO code_failures (user_id, purpose, failed_at) VALUES ($1, $2, $3)');
  const failures = sql.prepare('SELECT count(*) FROM code_failures WHERE user_id = $1 AND purpose = $2 AND failed_at > $3');
  const pruneMails = sql.prepare('DELETE FROM code_mails WHERE sent_at <= $1');
  const pruneFailures = sql.prepare('DELETE FROM code_failures WHERE failed_at <= $1');

  return {
    /** Replaces any earlier code for the same purpose. */
    put: async (userId: number, purpose: Purpose, code: { hash: string; sentTo: string; expiresAt: number; tries: number }): Promise<void> =>
      void (await upsert.run(userId, purpose, code.hash, code.sentTo, code.expiresAt, code.tries)),
    get: (userId: number, purpose: Purpose): Promise<CodeRow | undefined> => get.get(userId, purpose),
    /** A wrong guess: the code has one try less, and the hour's guesses one more. */
    async spendTry(userId: number, purpose: Purpose, now: number): Promise<void> {
      await spend.run(userId, purpose);
      await logFailure.run(userId, purpose, now);
    },
    logMail: async (userId: number, purpose: Purpose, address: string, now: number): Promise<void> => void (await logMail.run(userId, purpose, address, now)),
    /** Codes mailed to a user for a purpose since `since`, and when the first of them went. */
    mailsToUser: async (userId: number, purpose: Purpose, since: number) => (await mailsToUser.get(userId, purpose, since))!,
    /** Codes mailed to an address (any user, any purpose) since `since`. */
    mailsToAddress: async (address: string, since: number) => (await mailsToAddress.get(address, since))!,
    failuresSince: async (userId: number, purpose: Purpose, since: number): Promise<number> => (await failures.value<number>(userId, purpose, since)) ?? 0,
    /** Forgets mails and failures from before `cutoff`. */
    async prune(cutoff: number): Promise<void> {
      await pruneMails.run(cutoff);
      await pruneFailures.run(cutoff);
    },
    remove: async (userId: number, purpose: Purpose): Promise<void> => void (await remove.run(userId, purpose)),
  };
}
