// The HTTP routes: ping, register, login, verify and logout as the seed backend answered them; and
// the few a browser needs before a socket can open: refresh, forgot-password and reset-password.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inJob, type App } from '../context.ts';
import type { Store, UserRow } from '../storage/index.ts';
import type { Request, Response, Routes } from '../transport/http.ts';
import { clearLoginCookie, clearRefreshCookie, readLoginToken, readRefreshToken, setLoginCookie, setRefreshCookie } from './cookies.ts';
import { newAccountProblem, passwordProblem, readFields } from './credentials.ts';
import { hashRefresh } from './tokens.ts';
import { codeMailWait, sendCode, useCode } from './codes.ts';
import { endSessions, logOut, startSession } from './sessions.ts';
import { checkPassword, secondsText } from './attempts.ts';
import { checkSecondFactor } from './second-factor.ts';
import { PasswordsBusy } from './passwords.ts';

const text = (status: number, body: string): Response => ({ status, body });

function tooMany(waitMs: number, what: string): Response {
  const seconds = Math.ceil(waitMs / 1000);
  return { status: 429, body: `${what}: retry in ${secondsText(waitMs)}`, headers: [['Retry-After', String(seconds)]] };
}

/** What `GET /` tells someone who opens the server in a browser or with curl. */
const welcome = `Parley chat server

Everything happens over one WebSocket of typed JSON events: connect to /ws with the login-token cookie.

  GET  /                    this page
  GET  /protocol            the protocol reference: every event, field, error and close code
  GET  /misc/ping           pong
  POST /register            {"username", "password", "fullname"}
  POST /auth/login          {"username", "password"}, and "code" with two-factor login: sets the login-token and refresh-token cookies
  GET  /auth/verify         who the login-token cookie belongs to
  POST /auth/refresh        new cookies for the refresh-token cookie
  POST /auth/logout         ends the session
  GET  /auth/oidc/:provider           single sign-on: to the provider (OIDC_PROVIDERS), ?return_to=/path
  GET  /auth/oidc/:provider/callback  the provider's answer: sets the login-token and refresh-token cookies
  POST /auth/oidc/logout    ends the session, and the provider's when it started it
  POST /auth/forgot-password  {"username"}: mails a code to the account's verified email
  POST /auth/reset-password   {"username", "code", "new_password"}
  GET  /ws                  the WebSocket
  POST /files               upload a file (multipart "file", or raw bytes with ?filename=)
  POST /hooks/:id/:secret   an incoming webhook: {"content", "attachments"?, "client_id"?} posted to its conversation
  POST /hooks/:id/:secret/files  a file for that webhook to attach (as POST /files takes one)
  GET  /files/:id           download a file
  GET  /files/:id/thumbnail  an image's thumbnail
  GET  /exports/:id         your export's zip, once (request_export)
  GET  /push/key            the Web Push public key
  GET  /healthz             200 while the process runs
  GET  /readyz              200 when the server can serve
  GET  /metrics             Prometheus metrics, with METRICS_TOKEN

Quick start with curl and wscat: the README of the Parley repository; the rest is in its docs/ folder.
`;
const reference = readFileSync(new URL('../../protocol/README.md', import.meta.url), 'utf8');

const serverBusy = () => tooMany(1000, 'server busy: too many password checks at once');

export function authRoutes(app: App): Routes {
  /** A new password's hash, or the 429 to answer when every hash slot is taken. */
  async function hashOrBusy(password: string, from: string): Promise<string | Response> {
    try {
      return await app.passwords.hash(password, from);
    } catch (error) {
      if (error instanceof PasswordsBusy) return serverBusy();
      throw error;
    }
  }

  // Held across the nodes of a cluster: an address cannot multiply them by spreading over nodes.
  const registrations = app.cluster.window('registrations', app.settings.REGISTRATIONS_PER_HOUR, 3600_000);
  const resets = app.cluster.window('resets', app.settings.REGISTRATIONS_PER_HOUR, 3600_000);

  async function register(request: Request): Promise<Response> {
    if (app.settings.PASSWORD_LOGIN === 'off') return text(403, 'registration is off: accounts come from single sign-on');
    const fields = readFields(request.body, ['username', 'password', 'fullname'] as const);
    if ('problem' in fields) return text(400, fields.problem);
    const problem = newAccountProblem(app.settings, fields.values);
    if (problem) return text(400, problem);
    const { username, password, fullname } = fields.values;
    // Counted before the name is looked at: taken names cannot be probed beyond the limit.
    const wait = await registrations(request.ip);
    if (wait > 0) {
      app.metrics.refused('registration');
      return tooMany(wait, 'too many registrations from this address');
    }
    if ((await app.store.users.byUsername(username)) || (await app.store.users.isHeld(username, app.now()))) return text(409, 'username already exists');
    const passwordHash = await hashOrBusy(password, request.ip);
    if (typeof passwordHash !== 'string') return passwordHash;
    // Checked again by the insert: another registration may have taken the name while hashing.
    const id = await app.commit.run(({ store }) => store.users.insert({ username, fullname, passwordHash, now: app.now() }));
    if (id === null) return text(409, 'username already exists');
    app.log.info('user registered', { user: username, ip: request.ip });
    return text(201, 'registered');
  }

  async function login(request: Request): Promise<Response> {
    if (app.settings.PASSWORD_LOGIN === 'off') return text(403, 'password login is off: log in with single sign-on');
    const fields = readFields(request.body, ['username', 'password'] as const, ['code'] as const);
    if ('problem' in fields) return text(400, fields.problem);
    const { username, password, code } = fields.values;
    const user = await app.store.users.byUsername(username);
    const refreshToken = readRefreshToken(request.cookie);
    const checked = await checkPassword(app, { account: username, user, ip: request.ip, refreshToken }, password);
    if (!checked.ok) {
      switch (checked.why) {
        case 'wrong':
          app.log.warn('login failed', { user: username, ip: request.ip });
          app.metrics.login('failed');
          return text(401, 'mismatch username and password');
        case 'throttled':
          app.log.warn('login throttled', { user: username, ip: request.ip, waitMs: checked.waitMs });
          app.metrics.refused('login');
          return tooMany(checked.waitMs, 'too many failed logins');
        case 'busy':
          app.log.warn('login refused: checks already running for this address', { user: username, ip: request.ip });
          app.metrics.refused('login');
          return tooMany(checked.waitMs, 'too many logins at once from this address');
        case 'server_busy':
          app.log.warn('login refused: too many password checks at once', { user: username, ip: request.ip });
          app.metrics.refused('login');
          return serverBusy();
      }
    }
    if (!user) return text(401, 'mismatch username and password'); // checkPassword is never ok without a user
    const second = await checkSecondFactor(app, { user, ip: request.ip, refreshToken }, code);
    if (!second.ok) {
      switch (second.why) {
        case 'missing':
          app.metrics.login('second_factor');
          return text(401, 'second factor required');
        case 'wrong':
          app.log.warn('login failed: wrong second factor', { user: user.username, ip: request.ip });
          app.metrics.login('failed');
          return text(401, 'invalid code');
        case 'throttled':
          app.log.warn('login throttled: wrong codes', { user: user.username, ip: request.ip, waitMs: second.waitMs });
          app.metrics.refused('login');
          return tooMany(second.waitMs, 'too many wrong codes');
        case 'busy':
          app.log.warn('login refused: checks already running for this address', { user: user.username, ip: request.ip });
          app.metrics.refused('login');
          return tooMany(second.waitMs, 'too many logins at once from this address');
      }
    }
    if (user.account_status === 'suspended') {
      app.log.warn('login refused: account suspended', { user: user.username, ip: request.ip });
      app.metrics.login('suspended');
      return text(403, 'account suspended');
    }
    if (app.settings.PASSWORD_LOGIN === 'unlinked' && (await app.store.oidc.isLinked(user.id))) return text(403, 'this account logs in with single sign-on');
    const cookies = await startSession(app, user, { userAgent: request.userAgent, ip: request.ip });
    app.log.info('logged in', { user: user.username, ip: request.ip });
    app.metrics.login('ok');
    return { status: 202, body: 'login successful', headers: cookies };
  }

  /**
   * Rotates the refresh token and issues a new login token; a refresh token used twice revokes its session,
   * unless it comes again within REFRESH_GRACE_SECONDS of its rotation (below).
   */
  async function refresh(request: Request): Promise<Response> {
    const given = readRefreshToken(request.cookie);
    if (!given) return text(401, 'refresh-token required');
    const hash = hashRefresh(given);
    const now = app.now();
    const clear = [['Set-Cookie', clearLoginCookie(app.settings)], ['Set-Cookie', clearRefreshCookie(app.settings)]] as const;
    /** Both cookies anew, once `rotated` has committed a fresh refresh token for the session. */
    async function renewed(user: UserRow, sessionId: string, rotated: (store: Store, next: string) => Promise<boolean>): Promise<Response | undefined> {
      const next = randomBytes(32).toString('base64url');
      const done = await app.commit.run(async ({ store }) => {
        if (!(await rotated(store, hashRefresh(next)))) return false;
        await store.sessions.touch(sessionId, now);
        return true;
      });
      if (!done) return undefined;
      const token = await app.tokens.sign(user, sessionId, now);
      return { status: 200, body: 'refreshed', headers: [['Set-Cookie', setLoginCookie(app.settings, token)], ['Set-Cookie', setRefreshCookie(app.settings, next)]] };
    }
    const session = await app.store.sessions.byRefresh(hash, now);
    if (session) {
      const user = await app.store.users.byId(session.user_id);
      if (!user || user.account_status === 'suspended') return { status: 401, body: 'invalid refresh-token', headers: clear };
      const answer = await renewed(user, session.id, (store, next) => store.sessions.rotate(session.id, hash, next, now));
      if (answer) return answer;
      // Another refresh with the same token rotated it in the meantime: this one is the second of two.
    }
    const reused = await app.store.sessions.usedRefresh(hash, now);
    // A token rotated less than REFRESH_GRACE_SECONDS ago comes again: two tabs refreshing at once, or a
    // client whose answer was lost retrying. It gets a usable pair: the session's current refresh token
    // (which that answer handed out) is rotated again and becomes used. So a copied token replayed in the
    // grace cannot give a second holder who goes on unnoticed: of the owner and the replayer, whoever
    // comes later with the token the other's answer made used ends the session as below.
    const grace = reused && reused.live === 1 && now - reused.used_at < app.settings.REFRESH_GRACE_SECONDS ? await app.store.users.byId(reused.user_id) : undefined;
    if (reused && grace && grace.account_status !== 'suspended') {
      app.log.debug('refresh token taken again in its grace', { session: reused.session_id, ip: request.ip });
      // Tried again when another grace answer rotated the same session between our read and our write (PostgreSQL).
      for (let tries = 0; tries < 3; tries++) {
        const answer = await renewed(grace, reused.session_id, (store, next) => store.sessions.rotateCurrent(reused.session_id, next, now));
        if (answer) return answer;
      }
      return { status: 401, body: 'invalid refresh-token', headers: clear };
    }
    if (reused) {
      // Someone replayed a token that was already rotated: the session is compromised, so it ends.
      await app.commit.run((job) => endSessions(inJob(app, job), [reused.session_id], 'refresh_reused'));
      app.log.warn('refresh token reused: session revoked', { session: reused.session_id, ip: request.ip });
      return { status: 401, body: 'refresh-token already used: the session is revoked, log in again', headers: clear };
    }
    return { status: 401, body: 'invalid refresh-token', headers: clear };
  }

  /** Mails a reset code to the account's verified email; the answer is the same whether or not there is one. */
  async function forgotPassword(request: Request): Promise<Response> {
    const fields = readFields(request.body, ['username'] as const);
    if ('problem' in fields) return text(400, fields.problem);
    const wait = await resets(request.ip);
    if (wait > 0) {
      app.metrics.refused('password_reset');
      return tooMany(wait, 'too many reset requests from this address');
    }
    const user = await app.store.users.byUsername(fields.values.username);
    if (user?.email && user.email_verified === 1) {
      // Past its hourly mails the account gets no more codes; the answer stays the same (it tells nothing).
      if ((await codeMailWait(app, user.id, 'reset', user.email)) > 0) {
        app.log.warn('password reset code not sent: too many this hour', { user: user.username, ip: request.ip });
      } else {
        await app.commit.run((job) => sendCode(inJob(app, job), user.id, 'reset', user.email!));
        app.log.info('password reset code sent', { user: user.username, ip: request.ip });
      }
    }
    return text(202, 'if the account has a verified email, a code is on its way');
  }

  async function resetPassword(request: Request): Promise<Response> {
    const fields = readFields(request.body, ['username', 'code', 'new_password'] as const);
    if ('problem' in fields) return text(400, fields.problem);
    const { username, code, new_password: password } = fields.values;
    const problem = passwordProblem(app.settings, password);
    if (problem) return text(400, problem);
    const wait = await resets(request.ip);
    if (wait > 0) return tooMany(wait, 'too many reset requests from this address');
    const user = await app.store.users.byUsername(username);
    // A wrong code's spent try is committed like any write.
    const sentTo = user && (await app.commit.run((job) => useCode(inJob(app, job), user.id, 'reset', code)));
    if (!user || sentTo === undefined) return text(400, 'invalid or expired code');
    const passwordHash = await hashOrBusy(password, request.ip);
    if (typeof passwordHash !== 'string') return passwordHash;
    await app.commit.run(async (job) => {
      await job.store.users.setPassword(user.id, passwordHash);
      await endSessions(inJob(app, job), await job.store.sessions.liveIds(user.id, app.now()), 'password_changed');
    });
    app.log.info('password reset', { user: user.username, ip: request.ip });
    return text(200, 'password reset: log in with the new password');
  }

  async function verify(request: Request): Promise<Response> {
    const token = readLoginToken(request.cookie);
    if (!token) return text(401, 'login-token required');
    const verified = await app.tokens.verify(token, app.now());
    if (!verified.ok) {
      app.log.warn('token refused', { route: request.path, problem: verified.problem, ip: request.ip });
      return text(401, 'invalid login-token');
    }
    return text(200, `Hello, ${verified.user.username}`);
  }

  async function logout(request: Request): Promise<Response> {
    const { sessions, username } = await logOut(app, request.cookie);
    if (sessions.length) app.log.info('logged out', { user: username, sessions: sessions.length, ip: request.ip });
    return { status: 204, headers: [['Set-Cookie', clearLoginCookie(app.settings)], ['Set-Cookie', clearRefreshCookie(app.settings)]] };
  }

  return {
    '/': { GET: () => text(200, welcome) },
    '/protocol': { GET: () => text(200, reference) },
    '/misc/ping': { GET: () => text(200, 'pong') },
    '/register': { POST: register },
    '/auth/login': { POST: login },
    '/auth/verify': { GET: verify },
    '/auth/logout': { POST: logout },
    '/auth/refresh': { POST: refresh },
    '/auth/forgot-password': { POST: forgotPassword },
    '/auth/reset-password': { POST: resetPassword },
  };
}
