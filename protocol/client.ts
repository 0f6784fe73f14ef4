// The typed client of one socket: requests matched to replies by `ref`, pushes by type. Works over a
// browser WebSocket or the `ws` package alike; connect.ts builds the reconnecting client on it.
import type { Envelope, ErrorEnvelope, EventInput, EventReply, EventType, PushData, PushType, Ref } from './index.ts';
import type { ErrorCode } from './errors.ts';

/** The part of the WebSocket interface the client needs (browsers and `ws` both have it). */
export type SocketLike = {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
};

/** An error reply, as a rejection of `request`. */
export class RequestError extends Error {
  readonly type: string;
  readonly code: ErrorCode;
  constructor(envelope: ErrorEnvelope) {
    super(envelope.error);
    this.name = 'RequestError';
    this.type = envelope.type;
    this.code = envelope.code;
  }
}

/**
 * A request the reconnecting client could not see answered. `sent: true`: the connection was lost
 * after it went out, so the server may or may not have handled it (retry what is safe to repeat);
 * `sent: false`: it never left, because the client is signed out or closed.
 */
export class Disconnected extends Error {
  readonly type: string;
  readonly sent: boolean;
  constructor(type: string, sent: boolean, why: string) {
    super(sent ? `${type}: the connection was lost before the reply (${why}); it may or may not have been handled` : `${type}: not sent, ${why}`);
    this.name = 'Disconnected';
    this.type = type;
    this.sent = sent;
  }
}

export type Closed = { code: number; reason: string };

export type Client = {
  /** Resolves once the socket is open; rejects if it closes first. */
  readonly opened: Promise<void>;
  /** Resolves with the close code and reason when the socket closes. */
  readonly closed: Promise<Closed>;
  /** Sends an event and resolves to the reply's `data`, or rejects with a RequestError. */
  request<T extends EventType>(type: T, ...fields: {} extends EventInput<T> ? [EventInput<T>?] : [EventInput<T>]): Promise<EventReply<T>>;
  /** Sends any frame with a fresh `ref` and resolves to whatever envelope answers it, success or not. */
  call(frame: Record<string, unknown>): Promise<Envelope>;
  /** Listens for a push; returns a function that stops listening. */
  on<T extends PushType>(type: T, listener: (data: PushData<T>) => void): () => void;
  close(code?: number, reason?: string): void;
};

/**
 * Wraps one socket. `tap`, when given, sees every envelope that arrives, replies included, in the
 * order they arrive and before any request resolves (a promise would run later, after pushes that
 * followed the reply in the same read).
 */
export function createClient(socket: SocketLike, tap?: (envelope: Envelope) => void): Client {
  const pending = new Map<Ref, { resolve: (envelope: Envelope) => void; reject: (error: Error) => void }>();
  const listeners = new Map<string, Set<(data: never) => void>>();
  let nextRef = 1;
  let closedWith: Closed | undefined;

  // The `ws` package throws an 'error' event nobody listens to; the 'close' that follows tells the rest.
  socket.addEventListener('error', () => {});
  const opened = new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve());
    socket.addEventListener('close', (event) => reject(new Error(`socket closed before opening: ${event.code} ${event.reason}`)));
  });
  opened.catch(() => {}); // a caller that only awaits `closed` must not see an unhandled rejection
  const closed = new Promise<Closed>((resolve) => {
    socket.addEventListener('close', (event) => {
      closedWith = { code: event.code, reason: event.reason };
      for (const { reject } of pending.values()) reject(new Error(`socket closed: ${event.code} ${event.reason}`));
      pending.clear();
      resolve(closedWith);
    });
  });

  socket.addEventListener('message', (event) => {
    if (typeof event.data !== 'string') return; // the server only sends text frames
    const envelope = JSON.parse(event.data) as Envelope;
    tap?.(envelope);
    const waiting = envelope.ref === undefined ? undefined : pending.get(envelope.ref);
    if (waiting && envelope.ref !== undefined) {
      pending.delete(envelope.ref);
      waiting.resolve(envelope);
      return;
    }
    if (!envelope.success) return;
    for (const listener of listeners.get(envelope.type) ?? []) listener(envelope.data as never);
  });

  function call(frame: Record<string, unknown>): Promise<Envelope> {
    if (closedWith) return Promise.reject(new Error(`socket closed: ${closedWith.code} ${closedWith.reason}`));
    const ref = nextRef++;
    return new Promise<Envelope>((resolve, reject) => {
      pending.set(ref, { resolve, reject });
      socket.send(JSON.stringify({ ...frame, ref }));
    });
  }

  return {
    opened,
    closed,
    call,
    async request(type, ...fields) {
      const envelope = await call({ ...fields[0], type });
      if (!envelope.success) throw new RequestError(envelope);
      return envelope.data as never;
    },
    on(type, listener) {
      let set = listeners.get(type);
      if (!set) listeners.set(type, (set = new Set()));
      set.add(listener as (data: never) => void);
      return () => set.delete(listener as (data: never) => void);
    },
    close(code, reason) {
      socket.close(code, reason);
    },
  };
}
