// The one owner of live sockets: who is connected, on which sockets and sessions, and fan-out to them
// through uWebSockets.js topics: one per user (all their sockets) and one per conversation (all its members' sockets).
import type { Connection } from './connection.ts';
import type { Metrics } from './metrics.ts';

export const userTopic = (userId: number) => `user:${userId}`;
export const conversationTopic = (conversationId: number) => `conversation:${conversationId}`;

export type Registry = ReturnType<typeof createRegistry>;

/** `publish` sends to every socket subscribed to a topic; `subscribers` tells how many there are. */
export function createRegistry(publish: (topic: string, text: string) => void, subscribers: (topic: string) => number, metrics: Pick<Metrics, 'delivered'>) {
  const byUser = new Map<number, Set<Connection>>();
  const bySession = new Map<string, Set<Connection>>();
  let sockets = 0;

  function addTo<K>(map: Map<K, Set<Connection>>, key: K, connection: Connection): number {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(connection);
    return set.size;
  }

  function removeFrom<K>(map: Map<K, Set<Connection>>, key: K, connection: Connection): number {
    const set = map.get(key);
    if (!set?.delete(connection)) return -1;
    if (set.size === 0) map.delete(key);
    return set.size;
  }

  return {
    /** Registers a socket and subscribes it to its user's and conversations' topics; true when it is the user's first. */
    add(connection: Connection, conversationIds: Iterable<number>): boolean {
      connection.subscribe(userTopic(connection.user.id));
      for (const id of conversationIds) connection.subscribe(conversationTopic(id));
      addTo(bySession, connection.sessionId, connection);
      sockets++;
      return addTo(byUser, connection.user.id, connection) === 1;
    },
    /** Unregisters a socket; true when it was the user's last (the user just went offline). */
    remove(connection: Connection): boolean {
      removeFrom(bySession, connection.sessionId, connection);
      const left = removeFrom(byUser, connection.user.id, connection);
      if (left >= 0) sockets--;
      return left === 0;
    },
    isOnline: (userId: number): boolean => byUser.has(userId),
    /** How many users have a socket open. */
    onlineCount: (): number => byUser.size,
    /** How many sockets are registered, over all users. */
    socketTotal: (): number => sockets,
    socketCount: (userId: number): number => byUser.get(userId)?.size ?? 0,
    /** Each online user with their number of sockets here. */
    *counts(): Iterable<readonly [userId: number, sockets: number]> {
      for (const [userId, set] of byUser) yield [userId, set.size] as const;
    },
    /** Each session with a socket here, with its user's name. */
    *sessions(): Iterable<readonly [sessionId: string, username: string]> {
      for (const [sessionId, set] of bySession) yield [sessionId, set.values().next().value!.user.username] as const;
    },
    /** Subscribes every live socket of these users to a topic, e.g. members to a new conversation. */
    subscribe(userIds: Iterable<number>, topic: string): void {
      for (const userId of userIds) for (const connection of byUser.get(userId) ?? []) connection.subscribe(topic);
    },
    /** Unsubscribes every live socket of these users from a topic, e.g. a member who left. */
    unsubscribe(userIds: Iterable<number>, topic: string): void {
      for (const userId of userIds) for (const connection of byUser.get(userId) ?? []) connection.unsubscribe(topic);
    },
    /** Closes every socket of a session, e.g. after logout. */
    closeSession(sessionId: string, code: number, reason: string): void {
      for (const connection of [...(bySession.get(sessionId) ?? [])]) connection.end(code, reason);
    },
    /** Closes every live socket for which `which` holds; returns them. */
    closeWhere(which: (connection: Connection) => boolean, code: number, reason: string): Connection[] {
      const closed = [...byUser.values()].flatMap((set) => [...set]).filter(which);
      for (const connection of closed) connection.end(code, reason);
      return closed;
    },
    /** Sends one serialised payload to every subscriber of a topic but `skip` (which gets its reply instead). */
    publish(topic: string, text: string, skip?: Connection): void {
      metrics.delivered(subscribers(topic) - (skip ? 1 : 0));
      if (skip) skip.publishToOthers(topic, text);
      else publish(topic, text);
    },
    /** Sends one serialised payload to every socket of each online user but `skip`. */
    push(userIds: Iterable<number>, text: string, skip?: Connection): void {
      let reached = 0;
      for (const userId of userIds) {
        const connections = byUser.get(userId);
        if (!connections) continue;
        reached += connections.size;
        if (skip && skip.user.id === userId) {
          reached--;
          skip.publishToOthers(userTopic(userId), text);
        } else publish(userTopic(userId), text);
      }
      metrics.delivered(reached);
    },
  };
}
