// A wrapper around one uWebSockets.js socket that is never touched after it closes (that would crash the process).
import type { WebSocket } from 'uWebSockets.js';

export type SocketData = {
  /** Set by the upgrade: who the socket belongs to, or why it must be closed as soon as it opens. */
  auth: { ok: true; userId: number; username: string; sessionId: string; expiresAt: number } | { ok: false; code: number; reason: string };
  ip: string;
  connection?: Connection;
};

export type Connection = {
  readonly id: number;
  readonly user: { readonly id: number; readonly username: string };
  readonly sessionId: string;
  /** When the login token the socket opened with expires (Unix seconds). */
  readonly expiresAt: number;
  readonly ip: string;
  closed: boolean;
  send(text: string): void;
  end(code: number, reason: string): void;
  subscribe(topic: string): void;
  /** Publishes to every subscriber of the topic but this socket. */
  publishToOthers(topic: string, text: string): void;
  cork(work: () => void): void;
  /** Bytes sent to this socket but not yet written to the network. */
  buffered(): number;
};

let lastId = 0;

export function createConnection(ws: WebSocket<SocketData>, user: Connection['user'], sessionId: string, expiresAt: number, ip: string): Connection {
  const connection: Connection = {
    id: ++lastId,
    user,
    sessionId,
    expiresAt,
    ip,
    closed: false,
    send(text) {
      if (!connection.closed) ws.send(text, false);
    },
    end(code, reason) {
      if (connection.closed) return;
      connection.closed = true;
      ws.end(code, reason);
    },
    subscribe(topic) {
      if (!connection.closed) ws.subscribe(topic);
    },
    publishToOthers(topic, text) {
      if (!connection.closed) ws.publish(topic, text, false);
    },
    cork(work) {
      if (connection.closed) work();
      else ws.cork(work);
    },
    buffered: () => (connection.closed ? 0 : ws.getBufferedAmount()),
  };
  return connection;
}
