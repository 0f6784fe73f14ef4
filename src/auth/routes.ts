// The HTTP routes: ping, register, login, verify and logout, as the seed backend answered them.
import { closeCodes } from '../../protocol/index.ts';
import type { App } from '../context.ts';
import type { Request, Response, Routes } from '../transport/http.ts';
import { clearLoginCookie, readLoginToken, setLoginCookie } from './cookies.ts';
import { newAccountProblem, readFields } from './credentials.ts';

const text = (status: number, body: string): Response => ({ status, body });

export function authRoutes(app: App): Routes {
  async function register(request: Request): Promise<Response> {
    const fields = readFields(request.body, ['username', 'password', 'fullname'] as const);
    if ('problem' in fields) return text(400, fields.problem);
    const problem = newAccountProblem(app.settings, fields.values);
    if (problem) return text(400, problem);
    const { username, password, fullname } = fields.values;
    if (app.store.users.byUsername(username)) return text(409, 'username already exists');
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
    const user = app.store.users.byUsername(username);
    if (!(await app.passwords.verify(user?.password_hash, password)) || !user) {
      app.log.warn('login failed', { user: username, ip: request.ip });
      return text(401, 'mismatch username and password');
    }
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
