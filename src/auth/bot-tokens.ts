// Bots' API tokens and webhooks' secrets: 32 random bytes shown once, kept as their sha-256; a bot's token names its session.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../storage/index.ts';
import type { Verified } from './tokens.ts';
import type { App } from '../context.ts';
import { readLoginToken } from './cookies.ts';

/** A bot's session lives until its token is rotated or the bot deleted: its end is a century away. */
export const botSessionSeconds = 100 * 365 * 86_400;

/** Tells a bot's token apart from a login token at a glance (in logs, in a leaked-secret scan). */
const tokenPrefix = 'parley_bot_';

/** A secret as it is kept: its sha-256, in hex. */
export const hashSecret = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A new secret: what to show once, and the hash to keep. */
export function newSecret(prefix = ''): { secret: string; hash: string } {
  const secret = `${prefix}${randomBytes(32).toString('base64url')}`;
  return { secret, hash: hashSecret(secret) };
}

export const newBotToken = () => newSecret(tokenPrefix);
export const newSessionId = (): string => randomBytes(18).toString('base64url');

/** Whether `given` hashes to `hash`, compared in constant time. */
export function secretMatches(given: string, hash: string): boolean {
  const a = Buffer.from(hashSecret(given), 'hex');
  const b = Buffer.from(hash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The bot a `Bearer` token belongs to, as `tokens.verify` answers for a login token: found by the
 * token's hash (a lookup by a hash of 256 random bits leaks nothing through its timing), and only as
 * good as its session, which rotating the token or deleting the bot ends.
 */
export async function verifyBotToken(store: Store, token: string, now: number): Promise<Verified> {
  if (!token.startsWith(tokenPrefix)) return { ok: false, problem: 'invalid' };
  const bot = await store.bots.byTokenHash(hashSecret(token));
  const user = bot && (await store.users.byId(bot.user_id));
  // A suspended owner's bots open nothing either: a suspension is not dodged through one's bots.
  if (!bot || !user || bot.owner_status === 'suspended') return { ok: false, problem: 'invalid' };
  const until = await store.sessions.activeUntil(bot.session_id, user.id, now);
  if (until === undefined) return { ok: false, problem: 'invalid' };
  return { ok: true, user, sessionId: bot.session_id, expiresAt: until };
}

export type Presented = { readonly token: string; readonly bot: boolean };

/**
 * The token a request carries: a bot's API token as `Authorization: Bearer <token>` (a program sets the
 * header; no browser can on a WebSocket), else a person's login cookie; undefined when neither.
 */
export function presentedToken(authorization: string, cookie: string): Presented | undefined {
  const bearer = /^Bearer +(\S+) *$/i.exec(authorization)?.[1];
  if (bearer) return { token: bearer, bot: true };
  const token = readLoginToken(cookie);
  return token ? { token, bot: false } : undefined;
}

/** Whose token it is: a bot's by its hash, a person's login token by its signature; either only while its session is live. */
export const verifyPresented = (app: Pick<App, 'store' | 'tokens'>, { token, bot }: Presented, now: number): Promise<Verified> =>
  bot ? verifyBotToken(app.store, token, now) : app.tokens.verify(token, now);
