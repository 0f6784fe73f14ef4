// What the features ask of the cluster: whether a user is online anywhere, and pushes and closes for
// the sockets on the other nodes. A node alone answers from its own registry and has no one to tell.
import type { Registry } from '../registry.ts';
import { createWindowLimit } from '../throttle.ts';

/** Closing sockets on every node: those of these sessions, or all of a user's. */
export type CloseTarget = { sessions: string[] } | { user: number };

export type ClusterSeam = {
  /** A socket of the user was registered here (`first`: their first here); true when they just came online cluster-wide. */
  opened(userId: number, first: boolean): Promise<boolean>;
  /** A socket of the user was removed here (`last`: their last here); true when they just went offline cluster-wide. */
  closed(userId: number, last: boolean): Promise<boolean>;
  /** Whether the user has a socket on some node. */
  online(userId: number): Promise<boolean>;
  /** Sends a push that is not logged (typing, user_status) to these users' sockets on the other nodes. */
  push(event: 'typing' | 'user_status', users: readonly number[], text: string): void;
  /** Closes sockets on the other nodes (this node closes its own). */
  close(target: CloseTarget, code: number, reason: string): void;
  /** A window limit held across the nodes (createWindowLimit's): answers the wait, 0 when counted. */
  window(name: string, limit: number, windowMs: number): (key: string) => Promise<number>;
};

export function aloneSeam(registry: Pick<Registry, 'isOnline'>): ClusterSeam {
  return {
    opened: async (_userId, first) => first,
    closed: async (_userId, last) => last,
    online: async (userId) => registry.isOnline(userId),
    push() {},
    close() {},
    window(_name, limit, windowMs) {
      const allowed = createWindowLimit(limit, windowMs);
      return async (key) => allowed(key, Date.now());
    },
  };
}
