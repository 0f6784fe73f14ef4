// One-time codes by mail: six digits, valid 10 minutes, 5 tries; for password resets and email verification.
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import type { App, InJob } from '../context.ts';
import type { Purpose } from '../storage/stores/codes.ts';

export const codeLifetime = 600;
export const codeTries = 5;
/** Codes mailed per user and purpose in an hour, and to one address (any user, any purpose). */
export const codeMailsPerHour = 5;
export const codeMailsPerAddressPerHour = 3;
/** Wrong guesses per user and purpose in an hour, across codes: asking for new codes buys no more. */
export const codeGuessesPerHour = 10;

const hash = (userId: number, purpose: Purpose, code: string) => createHash('sha256').update(`${userId}:${purpose}:${code}`).digest('hex');

const texts: Record<Purpose, { subject: string; body: (code: string) => string }> = {
  reset: {
    subject: 'Your Parley password reset code',
    body: (code) => `Your code to reset your Parley password is ${code}.\n\nIt works for 10 minutes. If you did not ask for it, ignore this mail: your password stays as it is.\n`,
  },
  verify: {
    subject: 'Confirm your email address for Parley',
    body: (code) => `Your code to confirm this email address on Parley is ${code}.\n\nSend it with verify_email within 10 minutes.\n`,
  },
};

/** How long until another code may be mailed to this user (for this purpose) and address; 0 when one may now. */
export async function codeMailWait(app: Pick<App, 'store' | 'now'>, userId: number, purpose: Purpose, to: string): Promise<number> {
  const since = app.now() - 3600;
  const mine = await app.store.codes.mailsToUser(userId, purpose, since);
  const theirs = await app.store.codes.mailsToAddress(to, since);
  const waits = [
    mine.count >= codeMailsPerHour ? mine.first! + 3600 - app.now() : 0,
    theirs.count >= codeMailsPerAddressPerHour ? theirs.first! + 3600 - app.now() : 0,
  ];
  return Math.max(0, ...waits);
}

/**
 * Makes a new code (replacing any earlier one) inside the open transaction, and mails it once
 * committed. The caller checks `codeMailWait` first. The code's tries are what is left of the hour's
 * guesses, at most `codeTries`.
 */
export async function sendCode(app: InJob, userId: number, purpose: Purpose, to: string): Promise<void> {
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  const now = app.now();
  const tries = Math.max(0, Math.min(codeTries, codeGuessesPerHour - (await app.store.codes.failuresSince(userId, purpose, now - 3600))));
  await app.store.codes.put(userId, purpose, { hash: hash(userId, purpose, code), sentTo: to, expiresAt: now + codeLifetime, tries });
  await app.store.codes.logMail(userId, purpose, to, now);
  app.job.after((committed) => {
    if (!committed) return;
    const { subject, body } = texts[purpose];
    app.mail.send({ to, subject, text: body(code) }).catch((error: unknown) => app.log.error('mail failed', { to, purpose, error }));
  });
}

/**
 * Checks a code; a wrong one spends a try, and a code with no tries left or past its time is dead.
 * Returns the address it was sent to when it is right (and the code is used up).
 */
export async function useCode(app: App, userId: number, purpose: Purpose, code: string): Promise<string | undefined> {
  const row = await app.store.codes.get(userId, purpose);
  if (!row || row.expires_at <= app.now() || row.tries_left <= 0) return undefined;
  const given = Buffer.from(hash(userId, purpose, code));
  if (!timingSafeEqual(given, Buffer.from(row.code_hash))) {
    await app.store.codes.spendTry(userId, purpose, app.now());
    return undefined;
  }
  await app.store.codes.remove(userId, purpose);
  return row.sent_to;
}
