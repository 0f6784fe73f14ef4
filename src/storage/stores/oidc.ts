// Single sign-on: provider accounts linked to Parley accounts, logins waiting for a provider's answer,
// and the sessions a provider started (with the ID token its logout takes back).
import { dialect, inList, type Sql } from '../engine/sql.ts';
import type { UserRow } from './users.ts';

/** A login sent to a provider: what its answer must match, and where the browser goes once logged in. */
export type PendingLogin = { provider: string; code_verifier: string; nonce: string; return_to: string; expires_at: number };

export function oidcStore(sql: Sql) {
  const link = sql.prepare('INSERT INTO oidc_links (provider, subject, user_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING');
  const linked = sql.prepare<UserRow>('SELECT users.* FROM oidc_links JOIN users ON users.id = oidc_links.user_id WHERE provider = $1 AND subject = $2');
  const anyLink = sql.prepare('SELECT 1 FROM oidc_links WHERE user_id = $1 LIMIT 1');
  const unlinkAll = sql.prepare<{ provider: string; subject: string }>('DELETE FROM oidc_links WHERE user_id = $1 RETURNING provider, subject');
  const unlinkOne = sql.prepare<{ provider: string; subject: string }>('DELETE FROM oidc_links WHERE user_id = $1 AND provider = $2 RETURNING provider, subject');
  const rememberUnlinked = sql.prepare('INSERT INTO oidc_unlinked (provider, subject, user_id, unlinked_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING');
  const wasUnlinked = sql.prepare('SELECT 1 FROM oidc_unlinked WHERE provider = $1 AND subject = $2 AND user_id = $3');
  const startedBy = sql.prepare(dialect`SELECT o.session_id FROM oidc_sessions AS o JOIN sessions AS s ON s.id = o.session_id
    WHERE s.user_id = $1 AND s.revoked_at IS NULL AND ${inList('o.provider', '$2', 'text')}`);
  // Two at most: more than one account with the address links none of them.
  const byEmail = sql.prepare<UserRow>('SELECT * FROM users WHERE lower(email) = lower($1) AND email_verified = 1 LIMIT 2');
  const begin = sql.prepare('INSERT INTO oidc_logins (state, provider, code_verifier, nonce, return_to, expires_at) VALUES ($1, $2, $3, $4, $5, $6)');
  const take = sql.prepare<PendingLogin>('DELETE FROM oidc_logins WHERE state = $1 RETURNING provider, code_verifier, nonce, return_to, expires_at');
  const prune = sql.prepare('DELETE FROM oidc_logins WHERE expires_at <= $1');
  const remember = sql.prepare('INSERT INTO oidc_sessions (session_id, provider, id_token) VALUES ($1, $2, $3)');
  const ofSession = sql.prepare<{ provider: string; id_token: string }>('SELECT provider, id_token FROM oidc_sessions WHERE session_id = $1');

  return {
    /** Links the provider's account to a Parley account; false when it was already linked (to whichever). */
    link: async (provider: string, subject: string, userId: number, now: number): Promise<boolean> => (await link.run(provider, subject, userId, now)) === 1,
    /** The Parley account the provider's account is linked to. */
    linked: (provider: string, subject: string): Promise<UserRow | undefined> => linked.get(provider, subject),
    /** Whether the account is linked to any provider's. */
    isLinked: async (userId: number): Promise<boolean> => (await anyLink.value(userId)) !== undefined,
    /**
     * Removes the account's links (to every provider, or to this one), remembering each so that the provider's
     * account is not linked to it again by email; the links removed.
     */
    async unlink(userId: number, provider: string | null, now: number): Promise<{ provider: string; subject: string }[]> {
      const removed = provider === null ? await unlinkAll.all(userId) : await unlinkOne.all(userId, provider);
      for (const link of removed) await rememberUnlinked.run(link.provider, link.subject, userId, now);
      return removed;
    },
    /** Whether an admin unlinked this provider's account from this Parley account. */
    wasUnlinked: async (provider: string, subject: string, userId: number): Promise<boolean> => (await wasUnlinked.value(provider, subject, userId)) !== undefined,
    /** The account's sessions not revoked that these providers started. */
    sessionsStartedBy: (userId: number, providers: readonly string[]): Promise<string[]> => startedBy.values<string>(userId, sql.list(providers)),
    /** Accounts whose verified email is this one (two at most). */
    withVerifiedEmail: (email: string): Promise<UserRow[]> => byEmail.all(email),
    begin: async (state: string, login: PendingLogin): Promise<void> =>
      void (await begin.run(state, login.provider, login.code_verifier, login.nonce, login.return_to, login.expires_at)),
    /** The login this state names, removed: a provider's answer is taken once. */
    take: (state: string): Promise<PendingLogin | undefined> => take.get(state),
    /** Forgets logins that expired by `now`. */
    prune: async (now: number): Promise<void> => void (await prune.run(now)),
    /** Notes that a provider started this session, with the ID token it gave. */
    remember: async (sessionId: string, provider: string, idToken: string): Promise<void> => void (await remember.run(sessionId, provider, idToken)),
    ofSession: (sessionId: string) => ofSession.get(sessionId),
  };
}
