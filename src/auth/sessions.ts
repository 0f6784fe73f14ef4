// Ending sessions: revoked in the unit of work with their devices, their sockets closed once it is committed.
import { closeCodes, type CloseName } from '../../protocol/index.ts';
import type { InJob } from '../context.ts';

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
