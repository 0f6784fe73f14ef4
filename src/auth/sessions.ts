// Ending sessions: revoked in the database with the batch, their sockets closed once it is committed.
import { closeCodes, type CloseName } from '../../protocol/index.ts';
import type { App } from '../context.ts';

/** Revokes these sessions (inside the open batch) and closes their sockets with a reason once committed. */
export function endSessions(app: App, sessionIds: readonly string[], why: CloseName): void {
  const now = app.now();
  app.commit.run(() => {
    for (const id of sessionIds) app.store.sessions.revoke(id, now);
  });
  const { code, reason } = closeCodes[why];
  app.commit.after((committed) => {
    // After the batch's replies: a socket that ends its own session gets its answer first.
    if (committed) queueMicrotask(() => sessionIds.forEach((id) => app.registry.closeSession(id, code, reason)));
  });
}
