// Login tokens: HS256 JWTs naming a user and a session row; a token is only as good as its session.
import { SignJWT, jwtVerify } from 'jose';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Store, UserRow } from '../storage/index.ts';
import type { Logger } from '../log.ts';
import { readOrCreateSecret } from '../secret-file.ts';

/** A session lives as long as its refresh token: 30 days from the last refresh's login. */
export const refreshLifetime = 30 * 86_400;

export const hashRefresh = (token: string): string => createHash('sha256').update(token).digest('hex');

export type Verified =
  | { ok: true; user: UserRow; sessionId: string; expiresAt: number }
  | { ok: false; problem: 'invalid' }
  | { ok: false; problem: 'user_gone'; username: string };

export type Issued = { sessionId: string; refresh: string; session: Parameters<Store['sessions']['create']>[0]; token(): Promise<string> };

export type Tokens = {
  /**
   * A new session for the user: the row to store (in a unit of work), its refresh token, and its first
   * login token, to sign once the row is committed.
   */
  issue(user: UserRow, now: number, client?: { userAgent: string; ip: string }): Issued;
  /** A new login token for a live session. */
  sign(user: UserRow, sessionId: string, now: number): Promise<string>;
  verify(token: string, now: number): Promise<Verified>;
};

/** The shortest secret accepted from the generated file: what Parley writes is 32 random bytes. */
const secretBytes = 32;

/**
 * The signing key: JWTSECRET when set; otherwise 32 random bytes made once and kept in a 0600 file
 * beside the database, so tokens outlive restarts without a fixed demo secret. A file that is
 * there but shorter (emptied, truncated) stops the start: signing with it would fail every login.
 */
export function loadSecret(configured: string | undefined, dbPath: string, log: Logger): Uint8Array {
  if (configured !== undefined) {
    if (Buffer.byteLength(configured) < secretBytes) log.warn('JWTSECRET is shorter than 32 bytes; a longer secret is safer');
    return new TextEncoder().encode(configured);
  }
  const file = join(dirname(dbPath), 'jwt-secret');
  const fix = 'delete it to have a new one made (everyone then logs in again), or set JWTSECRET';
  const { content: secret, created } = readOrCreateSecret(file, () => randomBytes(secretBytes), 'JWT secret', fix);
  if (created) log.info('generated a JWT secret', { file });
  if (secret.length < secretBytes) throw new Error(`the JWT secret file ${file} holds ${secret.length} bytes, fewer than the ${secretBytes} Parley writes: ${fix}`);
  return new Uint8Array(secret);
}

/** `lifetime`: seconds a login token lives (LOGIN_TOKEN_SECONDS). */
export function createTokens(secret: Uint8Array, store: Store, lifetime: number): Tokens {
  const sign = (user: UserRow, sessionId: string, now: number) =>
    new SignJWT({ username: user.username, sid: sessionId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(String(user.id))
      .setIssuedAt(now)
      .setExpirationTime(now + lifetime)
      .sign(secret);
  return {
    issue(user, now, client) {
      const sessionId = randomBytes(18).toString('base64url');
      const refresh = randomBytes(32).toString('base64url');
      const session = { id: sessionId, userId: user.id, createdAt: now, expiresAt: now + refreshLifetime, ...client, refreshHash: hashRefresh(refresh) };
      return { sessionId, refresh, session, token: () => sign(user, sessionId, now) };
    },
    sign,
    async verify(token, now) {
      let claims;
      try {
        ({ payload: claims } = await jwtVerify(token, secret, { algorithms: ['HS256'], currentDate: new Date(now * 1000), requiredClaims: ['exp', 'sub', 'sid'] }));
      } catch {
        return { ok: false, problem: 'invalid' };
      }
      const { sub, sid, username } = claims;
      // Parley writes `sub` as a plain decimal id: " 7", "0x7" or "7.0" name nobody.
      if (typeof sub !== 'string' || !/^[1-9][0-9]{0,15}$/.test(sub) || typeof sid !== 'string' || typeof username !== 'string') {
        return { ok: false, problem: 'invalid' };
      }
      const user = await store.users.byId(Number(sub));
      if (!user) return { ok: false, problem: 'user_gone', username };
      const until = await store.sessions.activeUntil(sid, user.id, now);
      if (until === undefined) return { ok: false, problem: 'invalid' };
      // A socket lives as long as its session: a refresh renews the login token over HTTP, and open sockets stay.
      return { ok: true, user, sessionId: sid, expiresAt: until };
    },
  };
}
