// Two-factor login: TOTP secrets (RFC 6238) sealed for the database, recovery codes, and checking a
// code as passwords are checked (the same guard), each code accepted once on every node.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomInt } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { Store, UserRow } from '../storage/index.ts';
import type { TwoFactorRow } from '../storage/stores/two-factor.ts';
import type { Commit } from '../storage/engine/commit.ts';
import type { Logger } from '../log.ts';
import type { Settings } from '../config.ts';
import { knownPlace, type PasswordGuard } from './attempts.ts';

/** Seconds a TOTP code stands for; a code of the step before or after is taken too (clocks a little apart). */
export const period = 30;
export const recoveryCodeCount = 10;
/** Letters and digits that cannot be mistaken for one another when copied from paper. */
const recoveryAlphabet = 'abcdefghjkmnpqrstuvwxyz23456789';

/**
 * Keys derived (HKDF) from the JWT secret, which lives outside the database: a copy of the database
 * alone gives neither the TOTP secrets (AES-256-GCM, bound to their account) nor a way to test
 * guesses at recovery codes offline (HMAC). A new JWT secret makes both unusable: see docs/two-factor.md.
 */
export type SecondFactorKeys = {
  seal(userId: number, secret: string): string;
  /** The secret, or undefined when it was sealed with another key (the JWT secret changed) or for another account. */
  open(userId: number, sealed: string): string | undefined;
  recoveryHash(userId: number, code: string): string;
};

export function secondFactorKeys(jwtSecret: Uint8Array): SecondFactorKeys {
  const key = (purpose: string) => Buffer.from(hkdfSync('sha256', jwtSecret, 'parley', purpose, 32));
  const sealing = key('two-factor secret');
  const hashing = key('recovery codes');
  return {
    seal(userId, secret) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', sealing, iv).setAAD(Buffer.from(String(userId)));
      const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
    },
    open(userId, text) {
      const bytes = Buffer.from(text, 'base64url');
      try {
        const decipher = createDecipheriv('aes-256-gcm', sealing, bytes.subarray(0, 12)).setAAD(Buffer.from(String(userId)));
        decipher.setAuthTag(bytes.subarray(12, 28));
        return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
      } catch {
        return undefined;
      }
    },
    recoveryHash: (userId, code) => createHmac('sha256', hashing).update(`${userId}:${code}`).digest('hex'),
  };
}

/** A new TOTP secret (160 bits, base32) and the `otpauth://` URI authenticator apps read from a QR code. */
export function newSecret(username: string): { secret: string; uri: string } {
  const secret = new Secret({ size: 20 });
  return { secret: secret.base32, uri: new TOTP({ issuer: 'Parley', label: username, secret, period }).toString() };
}

/** Ten codes of ten characters (about 50 bits each), shown as `abcde-fghjk`. */
export function newRecoveryCodes(): string[] {
  const code = () => Array.from({ length: 10 }, () => recoveryAlphabet[randomInt(recoveryAlphabet.length)]).join('');
  return Array.from({ length: recoveryCodeCount }, () => code().replace(/^(.{5})/, '$1-'));
}

/** What people type: spaces and hyphens left out, any case. */
const normalised = (code: string) => code.replace(/[\s-]/g, '').toLowerCase();

/** The time step of a TOTP code valid at `now` (Unix seconds), or undefined. */
export function codeStep(secret: string, code: string, now: number): number | undefined {
  const given = normalised(code);
  if (!/^\d{6}$/.test(given)) return undefined;
  const delta = TOTP.validate({ token: given, secret: Secret.fromBase32(secret), period, timestamp: now * 1000, window: 1 });
  return delta === null ? undefined : Math.floor(now / period) + delta;
}

/** Whether TWO_FACTOR_REQUIRED covers the account. */
export function secondFactorRequired(settings: Pick<Settings, 'TWO_FACTOR_REQUIRED'>, user: Pick<UserRow, 'role' | 'kind'>): boolean {
  // Bots and webhooks have no password, and log in with a token of their own: there is nothing to add a factor to.
  if (user.kind !== 'person') return false;
  return settings.TWO_FACTOR_REQUIRED === 'everyone' || (settings.TWO_FACTOR_REQUIRED === 'admins' && user.role === 'admin');
}

type Parts = {
  readonly guard: PasswordGuard;
  readonly store: Store;
  readonly commit: Commit<Store>;
  readonly secondFactor: SecondFactorKeys;
  readonly log: Logger;
  now(): number;
};

export type CodeCheck =
  | { ok: true }
  | { ok: false; why: 'missing' }
  | { ok: false; why: 'wrong' }
  | { ok: false; why: 'throttled' | 'busy'; waitMs: number };

/**
 * Checks the second factor of an account whose password was right: at once ok when it has no two-factor
 * login on. `code` is a TOTP code or a recovery code. Counted by the password guard as a password would
 * be, under a name of its own (a right password must not wipe out the wrong codes before it); a TOTP
 * code's step and a recovery code are used up in the database, so a code works once across nodes.
 */
export async function checkSecondFactor(app: Parts, who: { user: UserRow; ip: string; refreshToken?: string }, code: string | undefined): Promise<CodeCheck> {
  const row = await app.store.twoFactor.get(who.user.id);
  if (row?.enabled_at == null) return { ok: true };
  if (code === undefined) return { ok: false, why: 'missing' };
  const attempt = await app.guard.begin(`code\n${who.user.username.toLowerCase()}`, who.ip, await knownPlace(app.store, who.user.id, who));
  if (!('right' in attempt)) return { ok: false, ...attempt };
  let right: boolean;
  try {
    right = await useCode(app, who.user.id, row, code);
  } catch (error) {
    attempt.cancel();
    throw error;
  }
  if (!right) {
    attempt.wrong();
    return { ok: false, why: 'wrong' };
  }
  attempt.right();
  return { ok: true };
}

async function useCode(app: Parts, userId: number, row: TwoFactorRow, code: string): Promise<boolean> {
  const given = normalised(code);
  if (/^\d{6}$/.test(given)) {
    const secret = app.secondFactor.open(userId, row.secret);
    if (secret === undefined) {
      app.log.error('a two-factor secret cannot be opened (was the JWT secret changed?): an admin can reset it with admin_reset_2fa', { user: userId });
      return false;
    }
    const step = codeStep(secret, given, app.now());
    return step !== undefined && (await app.commit.run(({ store }) => store.twoFactor.useStep(userId, step)));
  }
  const hash = app.secondFactor.recoveryHash(userId, given);
  return app.commit.run(({ store }) => store.twoFactor.useRecoveryCode(userId, hash));
}
