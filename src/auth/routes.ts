// The HTTP routes: ping, register, login, verify and logout, as the seed backend answered them.
import { closeCodes } from '../../protocol/index.ts';
import type { App } from '../context.ts';
import type { Request, Response, Routes } from '../transport/http.ts';
import { clearLoginCookie, readLoginToken, setLoginCookie } from './cookies.ts';
import { newAccountProblem, readFields } from './credentials.ts';
import { createThrottle, createWindowLimit } from '../throttle.ts';

const text = (status: number, body: string): Response => ({ status, body });

function tooMany(waitMs: number, what: string): Response {
  const seconds = Math.ceil(waitMs / 1000);
  return { status: 429, body: `${what}: retry in ${seconds} seconds`, headers: [['Retry-After', String(seconds)]] };
}

export function authRoutes(app: App): Routes {
  // Failed logins wait 1 s, doubling with each further failure up to 15 min: per account, and per address (4× as many).
  const failures = app.settings.LOGIN_MAX_FAILURES;
  const accounts = createThrottle({ limit: failures, baseMs: 1000, maxMs: 15 * 60_000 });
  const addresses = createThrottle({ limit: 4 * failures, baseMs: 1000, maxMs: 15 * 60_000 });
  const registrations = createWindowLimit(app.settings.REGISTRATIONS_PER_HOUR, 3600_000);

  async function register(request: Request): Promise<Response> {
    const fields = readFields(request.body, ['username', 'password', 'fullname'] as const);
    if ('problem' in fields) return text(400, fields.problem);
    const problem = newAccountProblem(app.settings, fields.values);
    if (problem) return text(400, problem);
    const { username, password, fullname } = fields.values;
    if (app.store.users.byUsername(username)) return text(409, 'username already exists');
    const wait = registrations(request.ip, Date.now());
    if (wait > 0) return tooMany(wait, 'too many registrations from this address');
    const passwordHash = await app.passwords.hash(password);
    // Checked again by the insert: another registration may have taken the name while hashing.
    const id = app.store.users.insert({ username, fullname, passwordHash, now: app.now() });
    if (id === null) return text(409, 'username already exists');
    if (!(await app.commit.durable())) return text(500, 'internal server error');
    app.log.info('user registered', { user: username, ip: request.ip });
    return text(201, 'registered');
  }

  async function login(request: Request): Promise<Response> {
    const fields = readFields(request.body, ['username', 'password'] as const);
    if ('problem' in fields) return text(400, fields.problem);
    const { username, password } = fields.values;
    const account = username.toLowerCase();
    const wait = Math.max(accounts.wait(account, Date.now()), addresses.wait(request.ip, Date.now()));
    if (wait > 0) {
      app.log.warn('login throttled', { user: username, ip: request.ip, waitMs: wait });
      return tooMany(wait, 'too many failed logins');
    }
    const user = app.store.users.byUsername(username);
    if (!(await app.passwords.verify(user?.password_hash, password)) || !user) {
      app.log.warn('login failed', { user: username, ip: request.ip });
      accounts.fail(account, Date.now());
      addresses.fail(request.ip, Date.now());
      return text(401, 'mismatch username and password');
    }
    accounts.forget(account);
    const { token } = await app.tokens.issue(user, app.now());
    if (!(await app.commit.durable())) return text(500, 'internal server error');
    app.log.info('logged in', { user: user.username, ip: request.ip });
    return { status: 202, body: 'login successful', headers: [['Set-Cookie', setLoginCookie(app.settings, token)]] };
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
    const token = readLoginToken(request.cookie);
    const verified = token ? await app.tokens.verify(token, app.now()) : undefined;
    if (verified?.ok) {
      app.store.sessions.revoke(verified.sessionId, app.now());
      await app.commit.durable();
      const { code, reason } = closeCodes.logged_out;
      app.registry.closeSession(verified.sessionId, code, reason);
      app.log.info('logged out', { user: verified.user.username, ip: request.ip });
    }
    return { status: 204, headers: [['Set-Cookie', clearLoginCookie(app.settings)]] };
  }

  return {
    '/misc/ping': { GET: () => text(200, 'pong') },
    '/register': { POST: register },
    '/auth/login': { POST: login },
    '/auth/verify': { GET: verify },
    '/auth/logout': { POST: logout },
  };
}
