// Sessions: started with their cookies (a password login, a single sign-on); ended in the unit of work with
// their devices, their sockets closed once it is committed.
import { closeCodes, type CloseName } from '../../protocol/index.ts';
import { inJob, type App, type InJob } from '../context.ts';
import type { Store, UserRow } from '../storage/index.ts';
import type { Header } from '../transport/send.ts';
import { readLoginToken, readRefreshToken, setLoginCookie, setRefreshCookie } from './cookies.ts';
import { hashRefresh } from './tokens.ts';

/**
 * A new session for the user, committed (with whatever `also` writes in the same unit of work), and the
 * `login-token` and `refresh-token` cookies that hold it.
 */
export async function startSession(
  app: App,
  user: UserRow,
  client: { userAgent: string; ip: string },
  also?: (store: Store, sessionId: string) => Promise<void>,
): Promise<Header[]> {
  const issued = app.tokens.issue(user, app.now(), client);
  await app.commit.run(async ({ store }) => {
    await store.sessions.create(issued.session);
    await also?.(store, issued.sessionId);
  });
  const [token, refresh] = [await issued.token(), issued.refresh];
  return [['Set-Cookie', setLoginCookie(app.settings, token)], ['Set-Cookie', setRefreshCookie(app.settings, refresh)]];
}

/**
 * Ends the session of a request's login token, or of its refresh token when the login token has expired
 * (the browser drops it after its hour); returns the sessions ended and whose they were.
 */
export async function logOut(app: App, cookie: string): Promise<{ sessions: string[]; username: string | undefined }> {
  const token = readLoginToken(cookie);
  const verified = token ? await app.tokens.verify(token, app.now()) : undefined;
  const refreshToken = readRefreshToken(cookie);
  const named = refreshToken ? await app.store.sessions.namedByRefresh(hashRefresh(refreshToken)) : undefined;
  const sessions = new Set<string>();
  if (verified?.ok) sessions.add(verified.sessionId);
  if (named) sessions.add(named.id);
  if (sessions.size) await app.commit.run((job) => endSessions(inJob(app, job), [...sessions], 'logged_out'));
  return { sessions: [...sessions], username: verified?.ok ? verified.user.username : undefined };
}

/**
 * Revokes these sessions (inside the unit of work), removes the devices they registered (no more
 * notifications) and closes their sockets with a reason once committed.
 */
export async function endSessions(app: InJob, sessionIds: readonly string[], why: CloseName): Promise<void> {
  const now = app.now();
  for (const id of sessionIds) await app.store.sessions.revoke(id, now);
  await app.store.devices.dropForSessions(sessionIds);
  const { code, reason } = closeCodes[why];
  app.job.after((committed) => {
    // After the batch's replies: a socket that ends its own session gets its answer first.
    if (!committed) return;
    queueMicrotask(() => sessionIds.forEach((id) => app.registry.closeSession(id, code, reason)));
    app.cluster.close({ sessions: [...sessionIds] }, code, reason);
  });
}

/** Sessions looked up in one unit of work by closeEndedSessions. */
const auditChunk = 500;

/**
 * Closes this node's sockets whose sessions ended on another node of a cluster while its close could
 * not reach this one (Redis away, or this node's subscription being restored), once what says so is
 * committed: suspended (4009), deleted (4003), or otherwise logged out (4005: the database does not
 * keep whether it was a logout, a revocation or a password change). Expired sessions are the expiry
 * sweep's. A unit of work, like every read: it sees what is committed and nothing half done.
 */
export async function closeEndedSessions(app: Pick<App, 'registry' | 'store' | 'log' | 'commit'>): Promise<void> {
  const here = new Map(app.registry.sessions());
  const ids = [...here.keys()];
  let closed = 0;
  // A unit per `auditChunk` sessions, one after another: each holds its batch (and in a cluster the
  // event counter every node's commits wait for) a few milliseconds, not as long as all of them would.
  for (let start = 0; start < ids.length; start += auditChunk) {
    await app.commit.run(async (job) => {
      const ended = await job.store.sessions.ended(ids.slice(start, start + auditChunk));
      job.after((committed) => {
        if (!committed) return;
        for (const [sessionId, why] of ended) {
          const close = why === 'gone' ? closeCodes.user_gone : why === 'suspended' ? closeCodes.suspended : closeCodes.logged_out;
          app.registry.closeSession(sessionId, close.code, close.reason.replace('{username}', here.get(sessionId)!));
        }
        closed += ended.size;
      });
    });
  }
  if (closed > 0) app.log.info('closed the sockets of sessions ended elsewhere', { sessions: closed });
}

