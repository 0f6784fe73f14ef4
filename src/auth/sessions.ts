// Ending sessions: revoked in the unit of work with their devices, their sockets closed once it is committed.
import { closeCodes, type CloseName } from '../../protocol/index.ts';
import type { App, InJob } from '../context.ts';

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

