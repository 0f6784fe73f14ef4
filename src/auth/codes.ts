// One-time codes by mail: six digits, valid 10 minutes, 5 tries; for password resets and email verification.
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import type { App } from '../context.ts';
import type { Purpose } from '../storage/codes.ts';

export const codeLifetime = 600;
export const codeTries = 5;

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

/** Makes a new code (replacing any earlier one) inside the open transaction, and mails it once committed. */
export function sendCode(app: App, userId: number, purpose: Purpose, to: string): void {
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  app.store.codes.put(userId, purpose, { hash: hash(userId, purpose, code), sentTo: to, expiresAt: app.now() + codeLifetime, tries: codeTries });
  app.commit.after((committed) => {
    if (!committed) return;
    const { subject, body } = texts[purpose];
    app.mail.send({ to, subject, text: body(code) }).catch((error: unknown) => app.log.error('mail failed', { to, purpose, error }));
  });
}

/**
 * Checks a code; a wrong one spends a try, and a code with no tries left or past its time is dead.
 * Returns the address it was sent to when it is right (and the code is used up).
 */
export function useCode(app: App, userId: number, purpose: Purpose, code: string): string | undefined {
  const row = app.store.codes.get(userId, purpose);
  if (!row || row.expires_at <= app.now() || row.tries_left <= 0) return undefined;
  const given = Buffer.from(hash(userId, purpose, code));
  if (!timingSafeEqual(given, Buffer.from(row.code_hash))) {
    app.store.codes.spendTry(userId, purpose);
    return undefined;
  }
  app.store.codes.remove(userId, purpose);
  return row.sent_to;
}
