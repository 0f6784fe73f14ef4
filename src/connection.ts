// A wrapper around one uWebSockets.js socket that is never touched after it closes (that would crash the process).
import type { WebSocket } from 'uWebSockets.js';

import type { WorkBudget } from './throttle.ts';

export type Connection = {
  readonly id: number;
  readonly user: { readonly id: number; readonly username: string };
  readonly sessionId: string;
  /** When the login token the socket opened with expires (Unix seconds). */
  readonly expiresAt: number;
  readonly ip: string;
  closed: boolean;
  /**
   * The server requires two-factor login of this account (TWO_FACTOR_REQUIRED) and it has none yet: only
   * the events that set it up are answered. Cleared once it is on.
   */
  secondFactorDue: boolean;
  send(text: string): void;
  end(code: number, reason: string): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** Publishes to every subscriber of the topic but this socket. */
  publishToOthers(topic: string, text: string): void;
  /** Bytes sent to this socket but not yet written to the network. */
  buffered(): number;
  /** Takes `cost` tokens from the socket's rate-limit bucket; false when there are not that many. */
  spend(cost: number): boolean;
  /** The account's server time on this node, shared by all its sockets here. */
  readonly work: WorkBudget;
};

let lastId = 0;

/**
 * `publish`: the server's publish to a topic. A socket's own sends go through a topic of its own (`~id`):
 * uWS writes what is published to a socket once per turn of the event loop, coalesced, in publish order,
 * where `ws.send` outside a uWS callback costs a write of its own each time; a batch's replies and pushes
 * to one socket leave in one write, and in their order whichever way each went.
 */
export function createConnection(ws: WebSocket<unknown>, user: Connection['user'], sessionId: string, expiresAt: number, ip: string, spend: (cost: number) => boolean, work: WorkBudget, publish: (topic: string, text: string) => void): Connection {
  const id = ++lastId;
  const own = `~${id}`;
  ws.subscribe(own);
  const connection: Connection = {
    id,
    user,
    sessionId,
    expiresAt,
    ip,
    closed: false,
    secondFactorDue: false,
    send(text) {
      if (!connection.closed) publish(own, text);
    },
    end(code, reason) {
      if (connection.closed) return;
      connection.closed = true;
      ws.end(code, reason);
    },
    subscribe(topic) {
      if (!connection.closed) ws.subscribe(topic);
    },
    unsubscribe(topic) {
      if (!connection.closed) ws.unsubscribe(topic);
    },
    publishToOthers(topic, text) {
      if (!connection.closed) ws.publish(topic, text, false);
    },
    buffered: () => (connection.closed ? 0 : ws.getBufferedAmount()),
    spend,
    work,
  };
  return connection;
}

/**
 * A caller without a socket, for an event that arrives over HTTP (a webhook's post) and goes through
 * dispatch as a frame would: `send` gets its reply; it is in no topic, so pushes never reach it, and
 * what is published to others goes to every subscriber (`publish`). Its rate limit is the route's, so
 * `spend` always succeeds; its server time is charged to `work`.
 */
export function createDetachedConnection(user: Connection['user'], sessionId: string, ip: string, work: WorkBudget, send: (text: string) => void, publish: (topic: string, text: string) => void): Connection {
  const connection: Connection = {
    id: ++lastId,
    user,
    sessionId,
    expiresAt: Number.POSITIVE_INFINITY,
    ip,
    closed: false,
    secondFactorDue: false, // a webhook's account has no second factor to set up
    send: (text) => send(text),
    end() {
      connection.closed = true;
    },
    subscribe() {},
    unsubscribe() {},
    publishToOthers: publish,
    buffered: () => 0,
    spend: () => true,
    work,
  };
  return connection;
}
