// Single sign-on with OpenID Connect: /auth/oidc/<provider> sends the browser to the provider (authorization
// code flow with PKCE, state and nonce), its callback opens a session with the same cookies as a password
// login, and /auth/oidc/logout ends the session and, when the provider can, the provider's session too.
import * as client from 'openid-client';
import { inJob, type App } from '../context.ts';
import type { Request, Response, Routes } from '../transport/http.ts';
import type { Header } from '../transport/send.ts';
import { clearLoginCookie, clearRefreshCookie, clearStateCookie, readStateCookie, setStateCookie } from './cookies.ts';
import { accountFor, domainAllowed, verifiedEmail, type Claims } from './oidc-accounts.ts';
import type { OidcProvider } from './oidc-settings.ts';
import { logOut, startSession } from './sessions.ts';

/** Seconds a person has at the provider between leaving Parley and coming back. */
const loginSeconds = 600;
/** Logins one address may start in 10 minutes (each is a row until it is used or expires). */
const startsPerAddress = 60;

const text = (status: number, body: string, headers: Header[] = []): Response => ({ status, body, headers });
const noStore: Header = ['Cache-Control', 'no-store'];

/** Why an answer failed openid-client's checks, in words a person can pass on. */
function checkFailure(error: unknown): string {
  if (error instanceof client.ResponseBodyError) return `the provider refused the code (${error.error})`;
  const failure = error as { code?: string; cause?: { claim?: string; cause?: { claim?: string } } };
  const claim = failure.cause?.claim ?? failure.cause?.cause?.claim;
  if (failure.code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED') return claim === 'exp' ? 'the ID token has expired' : `the ID token's ${claim ?? 'time'} is out of range`;
  if (failure.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED') return claim ? `the ID token's "${claim}" claim does not match this login` : "the ID token's claims do not match this login";
  return "the provider's answer failed a check";
}

export function oidcRoutes(app: App): Routes {
  const { settings } = app;
  const providers = new Map(settings.OIDC_PROVIDERS.map((provider) => [provider.name, provider]));
  if (providers.size === 0 || !settings.PUBLIC_URL) return {};
  const publicUrl = settings.PUBLIC_URL;
  // Where a login may end: this server, or a page on an origin CORS_ALLOW_ORIGIN trusts (a separate SPA).
  const returnOrigins = new Set([new URL(publicUrl).origin, ...settings.CORS_ALLOW_ORIGIN]);
  const redirectUri = (provider: OidcProvider) => `${publicUrl}/auth/oidc/${provider.name}/callback`;
  const starts = app.cluster.window('oidc-starts', startsPerAddress, 600_000);

  // Each provider's metadata, found once (a failure is tried again by the next login); http:// issuers are
  // only ever local (settings check).
  const configs = new Map<string, Promise<client.Configuration>>();
  async function configOf(provider: OidcProvider): Promise<client.Configuration | Response> {
    let config = configs.get(provider.name);
    if (!config) {
      const local = new URL(provider.issuer).protocol === 'http:';
      config = client.discovery(new URL(provider.issuer), provider.client_id, undefined, client.ClientSecretBasic(provider.client_secret), local ? { execute: [client.allowInsecureRequests] } : {});
      configs.set(provider.name, config);
    }
    try {
      return await config;
    } catch (error) {
      configs.delete(provider.name);
      app.log.error('identity provider unusable', { provider: provider.name, issuer: provider.issuer, error });
      return text(502, `the identity provider ${provider.name} cannot be used now: the server log says why`);
    }
  }

  /** The return_to a login may end at: a path here, or an address on a trusted origin; undefined when it is neither. */
  function returnTarget(asked: string | null): string | undefined {
    if (asked === null) return `${publicUrl}/`;
    const absolute = asked.startsWith('/') && !asked.startsWith('//') && !asked.startsWith('/\\') ? `${publicUrl}${asked}` : asked;
    if (!URL.canParse(absolute)) return undefined;
    const url = new URL(absolute);
    return returnOrigins.has(url.origin) ? url.href : undefined;
  }

  async function start(request: Request): Promise<Response> {
    const provider = providers.get(request.params.provider!);
    if (!provider) return text(404, `no single sign-on provider named ${request.params.provider}`);
    const returnTo = returnTarget(request.query.get('return_to'));
    if (returnTo === undefined) return text(400, 'return_to must be a path on this server or an address on an origin of CORS_ALLOW_ORIGIN');
    const wait = await starts(request.ip);
    if (wait > 0) return text(429, 'too many single sign-ons started from this address', [['Retry-After', String(Math.ceil(wait / 1000))]]);
    const config = await configOf(provider);
    if (!(config instanceof client.Configuration)) return config;
    const [state, nonce, verifier] = [client.randomState(), client.randomNonce(), client.randomPKCECodeVerifier()];
    await app.commit.run(({ store }) => store.oidc.begin(state, { provider: provider.name, code_verifier: verifier, nonce, return_to: returnTo, expires_at: app.now() + loginSeconds }));
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri(provider),
      scope: provider.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { status: 303, headers: [['Location', url.href], ['Set-Cookie', setStateCookie(settings, state, loginSeconds)], noStore] };
  }

  async function callback(request: Request): Promise<Response> {
    const provider = providers.get(request.params.provider!);
    if (!provider) return text(404, `no single sign-on provider named ${request.params.provider}`);
    const clearState: Header = ['Set-Cookie', clearStateCookie(settings)];
    const refuse = (status: number, why: string, detail: Record<string, unknown> = {}): Response => {
      app.log.warn('single sign-on refused', { provider: provider.name, why, ip: request.ip, ...detail });
      app.metrics.login('failed');
      return text(status, `single sign-on failed: ${why}`, [clearState, noStore]);
    };
    // The state ties the answer to the browser that set out (its cookie) and to one pending login (taken once).
    const state = request.query.get('state');
    if (!state || state !== readStateCookie(request.cookie)) return refuse(400, 'this answer is not for a login this browser started');
    const pending = await app.commit.run(({ store }) => store.oidc.take(state));
    if (!pending || pending.provider !== provider.name || pending.expires_at <= app.now()) return refuse(400, 'this login is unknown, used or expired: start again');
    const error = request.query.get('error');
    if (error) return refuse(401, `the provider answered ${error}`, { description: request.query.get('error_description') });
    const config = await configOf(provider);
    if (!(config instanceof client.Configuration)) return config;
    let tokens;
    try {
      tokens = await client.authorizationCodeGrant(config, new URL(`${redirectUri(provider)}?${request.query}`), {
        pkceCodeVerifier: pending.code_verifier,
        expectedState: state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
    } catch (problem) {
      return refuse(401, checkFailure(problem), { error: problem });
    }
    const idToken = tokens.claims()!;
    let claims: Claims = idToken;
    // Many providers put the profile (name, email) at the userinfo endpoint, not in the ID token.
    if (config.serverMetadata().userinfo_endpoint && tokens.access_token) {
      try {
        claims = { ...(await client.fetchUserInfo(config, tokens.access_token, idToken.sub)), ...idToken };
      } catch (problem) {
        return refuse(502, 'the provider did not answer who you are', { error: problem });
      }
    }
    if (!domainAllowed(provider, claims)) return refuse(403, 'your email domain may not log in here', { subject: claims.sub, email: verifiedEmail(claims) ?? null });
    const found = await app.commit.run((job) => accountFor(inJob(app, job), provider, claims));
    if (!found) return refuse(409, 'no free username could be made from your name', { subject: claims.sub });
    if (found.user.account_status === 'suspended') return refuse(403, 'account suspended', { user: found.user.username });
    const cookies = await startSession(app, found.user, { userAgent: request.userAgent, ip: request.ip }, (store, sessionId) => store.oidc.remember(sessionId, provider.name, tokens.id_token!));
    app.log.info('logged in with single sign-on', { user: found.user.username, provider: provider.name, account: found.how, ip: request.ip });
    app.metrics.login('ok');
    return { status: 303, headers: [['Location', pending.return_to], ...cookies, clearState, noStore] };
  }

  /** Ends the session as /auth/logout does, then sends the browser to end the provider's session when it started this one and can. */
  async function logout(request: Request): Promise<Response> {
    const { sessions, username } = await logOut(app, request.cookie);
    const started = sessions.length ? await app.store.oidc.ofSession(sessions[0]!) : undefined;
    const provider = started && providers.get(started.provider);
    if (sessions.length) app.log.info('logged out', { user: username, sessions: sessions.length, provider: provider?.name, ip: request.ip });
    let location = `${publicUrl}/`;
    const config = provider && (await configOf(provider));
    if (config instanceof client.Configuration && config.serverMetadata().end_session_endpoint) {
      location = client.buildEndSessionUrl(config, { id_token_hint: started!.id_token, post_logout_redirect_uri: `${publicUrl}/` }).href;
    }
    return { status: 303, headers: [['Location', location], ['Set-Cookie', clearLoginCookie(settings)], ['Set-Cookie', clearRefreshCookie(settings)], noStore] };
  }

  return {
    '/auth/oidc/logout': { POST: logout },
    '/auth/oidc/:provider': { GET: start },
    '/auth/oidc/:provider/callback': { GET: callback },
  };
}
