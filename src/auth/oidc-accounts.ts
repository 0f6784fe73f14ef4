// Whose account a single sign-on opens: the one linked to the provider's account, else the one with the
// same verified email when the operator allows linking, else a new one named after the provider's claim.
import { randomBytes } from 'node:crypto';
import { limits } from '../../protocol/index.ts';
import type { InJob } from '../context.ts';
import type { Store, UserRow } from '../storage/index.ts';
import type { OidcProvider } from './oidc-settings.ts';

/** What the provider says about the person: the ID token's claims over the userinfo endpoint's. */
export type Claims = Readonly<Record<string, unknown>> & { readonly sub: string };

/**
 * A password hash argon2 cannot read, so no password matches it: an account made by single sign-on has
 * no password until its owner sets one with a reset code sent to its verified email.
 */
const noPassword = '!single-sign-on';

/** The email the provider vouches for, lower-cased; none when it does not say the address is verified. */
export function verifiedEmail(claims: Claims): string | undefined {
  const { email, email_verified: verified } = claims;
  return typeof email === 'string' && /^[^@\s]+@[^@\s]+$/.test(email) && verified === true ? email.toLowerCase() : undefined;
}

/** Whether the provider's `email_domains` let this person in: any when it lists none, else a verified email in one of them. */
export function domainAllowed(provider: OidcProvider, claims: Claims): boolean {
  if (provider.email_domains.length === 0) return true;
  const email = verifiedEmail(claims);
  return email !== undefined && provider.email_domains.includes(email.slice(email.lastIndexOf('@') + 1));
}

/** Usernames to try for a new account, from the claim (or the email's local part): made valid, then numbered while taken. */
function* usernames(provider: OidcProvider, claims: Claims): Generator<string> {
  const { min, max } = limits.username;
  const claimed = claims[provider.username_claim];
  const source = typeof claimed === 'string' && claimed.trim() ? claimed : (verifiedEmail(claims)?.split('@')[0] ?? 'user');
  // Accents dropped (José → Jose), then anything outside letters, digits, '_', '.' and '-' left out.
  let base = source.normalize('NFKD').replace(/[^A-Za-z0-9_.-]/g, '').slice(0, max - 4);
  if (base.length < min) base = base ? `${base}-user` : 'user';
  yield base;
  for (let n = 2; n < 100; n++) yield `${base}-${n}`;
  yield `${base.slice(0, max - 9)}-${randomBytes(4).toString('hex')}`;
}

/**
 * The account for this sign-in, in the unit of work: `returning` when the provider's account is linked,
 * `linked` when it has just been linked to the only account with its verified email (when the provider's
 * `link_by_email` allows), `created` when a new account was made; `undefined` when no username was free.
 */
export async function accountFor(app: InJob, provider: OidcProvider, claims: Claims): Promise<{ user: UserRow; how: 'returning' | 'linked' | 'created' } | undefined> {
  const { store } = app;
  const now = app.now();
  const known = await store.oidc.linked(provider.name, claims.sub);
  if (known) return { user: known, how: 'returning' };
  const email = verifiedEmail(claims);
  if (email && provider.link_by_email) {
    const owners = await store.oidc.withVerifiedEmail(email);
    // An admin took this link away (admin_unlink_sso): it is not made again behind their back.
    if (owners.length === 1 && !(await store.oidc.wasUnlinked(provider.name, claims.sub, owners[0]!.id))) {
      await store.oidc.link(provider.name, claims.sub, owners[0]!.id, now);
      return { user: owners[0]!, how: 'linked' };
    }
  }
  const name = typeof claims.name === 'string' ? claims.name.trim().slice(0, limits.name) : '';
  for (const username of usernames(provider, claims)) {
    if (await store.users.isHeld(username, now)) continue;
    const fullname = name || username;
    const id = await store.users.insert({ username, fullname, passwordHash: noPassword, now });
    if (id === null) continue;
    if (!(await store.oidc.link(provider.name, claims.sub, id, now))) {
      // Another node linked this provider's account meanwhile (the same person's login finishing there at
      // the same moment): theirs is the account, and this new one goes.
      await store.users.remove(id, username, now);
      const linked = await store.oidc.linked(provider.name, claims.sub);
      return linked && { user: linked, how: 'returning' };
    }
    if (email) await store.users.setProfile(id, { fullname, bio: '', email, emailVerified: true });
    return { user: (await store.users.byId(id))!, how: 'created' };
  }
  return undefined;
}

/**
 * Removes the account's links to every provider (or to `provider`): the providers unlinked, and the sessions
 * of the account they started, still to be ended by the caller. Empty when it had no such link.
 */
export async function unlinkAccount(store: Store, userId: number, provider: string | null, now: number): Promise<{ providers: string[]; sessions: string[] }> {
  const providers = [...new Set((await store.oidc.unlink(userId, provider, now)).map((link) => link.provider))].sort();
  return { providers, sessions: providers.length ? await store.oidc.sessionsStartedBy(userId, providers) : [] };
}
