// What the features ask of the cluster: whether users are online anywhere, room for one more socket of
// a user, and pushes and closes for the sockets on the other nodes. A node alone answers from its own
// registry and has no one to tell.
import type { Registry } from '../registry.ts';
import { createHolds, createWindowLimit, type HoldKey, type Release } from '../throttle.ts';

/** Closing sockets on every node: those of these sessions, or all of a user's. */
export type CloseTarget = { sessions: string[] } | { user: number };

/** A socket registered here: whether the user may have it (at most `max` sockets cluster-wide), and whether it brought them online cluster-wide. */
export type Opened = { admitted: boolean; online: boolean };

export type ClusterSeam = {
  /**
   * A socket of the user was registered here (`first`: their first here). Not admitted when the user
   * now has more than `max` sockets over all the nodes: the caller closes it.
   */
  opened(userId: number, first: boolean, max: number): Promise<Opened>;
  /** A socket of the user was removed here (`last`: their last here); true when they just went offline cluster-wide. */
  closed(userId: number, last: boolean): Promise<boolean>;
  /** Which of these users have a socket on some node: one question for a whole list (a page, a conversation's members). */
  online(userIds: readonly number[]): Promise<ReadonlySet<number>>;
  /** How many users have a socket on some node. */
  onlineCount(): Promise<number>;
  /** Sends a push that is not logged (typing, a failed slash command) to these users' sockets on the other nodes. */
  push(event: 'typing' | 'command_failed', users: readonly number[], text: string): void;
  /**
   * Sends a `user_status` about `about.user` to these users' sockets on every node, this one included,
   * all in one order (Redis's): `told`. In a cluster only while the user's presence is still
   * `about.present`, so that an announcement overtaken by a later change (one node slower than
   * another) is never the last word: `stale`, and nothing is sent. Alone, or with Redis away, it goes
   * to this node's sockets at once: `here`.
   */
  announce(users: readonly number[], text: string, about: { user: number; present: boolean }): Promise<'told' | 'stale' | 'here'>;
  /** Closes sockets on the other nodes (this node closes its own). */
  close(target: CloseTarget, code: number, reason: string): void;
  /** A window limit held across the nodes (createWindowLimit's): answers the wait, 0 when `count` events (default 1) were counted. */
  window(name: string, limit: number, windowMs: number): (key: string, count?: number) => Promise<number>;
  /** Holds counted across the nodes (createHolds'): a release when every key had room, undefined when one had none. */
  hold(name: string): (entries: readonly HoldKey[]) => Promise<Release | undefined>;
};

export type LocalPresence = Pick<Registry, 'isOnline' | 'socketCount' | 'onlineCount' | 'push'>;

/** What this node alone knows: the answer of a node alone, and a cluster node's while Redis is unavailable. */
export const local = {
  opened: (registry: LocalPresence, userId: number, first: boolean, max: number): Opened => {
    const admitted = registry.socketCount(userId) <= max;
    return { admitted, online: admitted && first };
  },
  online: (registry: LocalPresence, userIds: readonly number[]): Set<number> => new Set(userIds.filter((id) => registry.isOnline(id))),
};

export function aloneSeam(registry: LocalPresence): ClusterSeam {
  return {
    opened: async (userId, first, max) => local.opened(registry, userId, first, max),
    closed: async (_userId, last) => last,
    online: async (userIds) => local.online(registry, userIds),
    onlineCount: async () => registry.onlineCount(),
    push() {},
    async announce(users, text) {
      registry.push(users, text);
      return 'here';
    },
    close() {},
    window(_name, limit, windowMs) {
      const allowed = createWindowLimit(limit, windowMs);
      return async (key, count) => allowed(key, Date.now(), count);
    },
    hold() {
      const held = createHolds();
      return async (entries) => held(entries);
    },
  };
}
