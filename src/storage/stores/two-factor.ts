// Two-factor login: each account's sealed TOTP secret (pending until confirmed), the last time step
// accepted, and its one-time recovery codes (keyed hashes).
import type { Sql } from '../engine/sql.ts';

export type TwoFactorRow = { secret: string; enabled_at: number | null; last_step: number };

export function twoFactorStore(sql: Sql) {
  const get = sql.prepare<TwoFactorRow>('SELECT secret, enabled_at, last_step FROM two_factor WHERE user_id = $1');
  // A set-up not yet confirmed is replaced; one that is on stays as it is.
  const begin = sql.prepare(
    `INSERT INTO two_factor (user_id, secret) VALUES ($1, $2)
     ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, last_step = 0 WHERE two_factor.enabled_at IS NULL`,
  );
  const enable = sql.prepare('UPDATE two_factor SET enabled_at = $2, last_step = $3 WHERE user_id = $1 AND enabled_at IS NULL');
  const useStep = sql.prepare('UPDATE two_factor SET last_step = $2 WHERE user_id = $1 AND enabled_at IS NOT NULL AND last_step < $2');
  const addRecoveryCode = sql.prepare('INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)');
  const useRecoveryCode = sql.prepare('DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2');
  const removeRecoveryCodes = sql.prepare('DELETE FROM recovery_codes WHERE user_id = $1');
  const remove = sql.prepare('DELETE FROM two_factor WHERE user_id = $1');

  return {
    get: (userId: number): Promise<TwoFactorRow | undefined> => get.get(userId),
    /** Starts a set-up with a new sealed secret; false when two-factor login is already on. */
    begin: async (userId: number, secret: string): Promise<boolean> => (await begin.run(userId, secret)) > 0,
    /**
     * Turns a pending set-up on, `step` being the time step of the code that confirmed it (used up), with
     * new recovery codes; false when there was no pending set-up (or it was confirmed meanwhile).
     */
    async enable(userId: number, now: number, step: number, recoveryHashes: readonly string[]): Promise<boolean> {
      if ((await enable.run(userId, now, step)) === 0) return false;
      await removeRecoveryCodes.run(userId);
      for (const hash of recoveryHashes) await addRecoveryCode.run(userId, hash);
      return true;
    },
    /** Takes a TOTP code's time step: false when a code of that step or a later one was accepted already. */
    useStep: async (userId: number, step: number): Promise<boolean> => (await useStep.run(userId, step)) > 0,
    /** Uses up a recovery code: false when the account has no such code (never had, or used it). */
    useRecoveryCode: async (userId: number, hash: string): Promise<boolean> => (await useRecoveryCode.run(userId, hash)) > 0,
    /** Turns two-factor login off (or drops a pending set-up): the secret and the recovery codes go. */
    async remove(userId: number): Promise<boolean> {
      await removeRecoveryCodes.run(userId);
      return (await remove.run(userId)) > 0;
    },
  };
}
