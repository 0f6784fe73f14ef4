// The one owner of live sockets: who is connected, on which sockets and sessions, and fan-out to them.
import type { Connection } from './transport/connection.ts';

const userTopic = (userId: number) => `user:${userId}`;

export type Registry = ReturnType<typeof createRegistry>;

/** `publish` sends to every socket subscribed to a topic (uWebSockets.js pub/sub). */
export function createRegistry(publish: (topic: string, text: string) => void) {
  const byUser = new Map<number, Set<Connection>>();
  const bySession = new Map<string, Set<Connection>>();

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
    /** Registers a socket; true when it is the user's first (the user just came online). */
    add(connection: Connection): boolean {
      connection.subscribe(userTopic(connection.user.id));
      addTo(bySession, connection.sessionId, connection);
      return addTo(byUser, connection.user.id, connection) === 1;
    },
    /** Unregisters a socket; true when it was the user's last (the user just went offline). */
    remove(connection: Connection): boolean {
      removeFrom(bySession, connection.sessionId, connection);
      return removeFrom(byUser, connection.user.id, connection) === 0;
    },
    isOnline: (userId: number): boolean => byUser.has(userId),
    socketCount: (userId: number): number => byUser.get(userId)?.size ?? 0,
    /** Closes every socket of a session, e.g. after logout. */
    closeSession(sessionId: string, code: number, reason: string): void {
      for (const connection of [...(bySession.get(sessionId) ?? [])]) connection.end(code, reason);
    },
    closeAll(code: number, reason: string): void {
      for (const set of [...byUser.values()]) for (const connection of [...set]) connection.end(code, reason);
    },
    /** Sends one serialised payload to every socket of each online user, except `skip` (which has its reply). */
    push(userIds: Iterable<number>, text: string, skip?: Connection): void {
      for (const userId of userIds) {
        if (!byUser.has(userId)) continue;
        if (skip && skip.user.id === userId) skip.publishToOthers(userTopic(userId), text);
        else publish(userTopic(userId), text);
      }
    },
  };
}
