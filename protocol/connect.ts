// The client an app holds for hours: reconnects with backoff, keeps the login token alive, catches up
// with `sync` so the app sees every logged event once and in order, and resends unanswered messages.
import { afterClose } from './errors.ts';
import { AuthError, refreshLogin, type CookieJar } from './auth.ts';
import { createClient, Disconnected, RequestError, type Client, type SocketLike } from './client.ts';
import { createEventStream, memoryStorage, type Listener, type SeqStorage, type StreamEventType } from './stream.ts';
import type { Envelope, EventInput, EventReply, EventType, SuccessEnvelope } from './index.ts';

export type ConnectOptions = {
  /** The server's address, such as `https://chat.example.com`; the socket is its `/ws`. */
  url: string;
  /** Outside a browser: the jar from `login()` (a browser sends its own cookies). */
  cookies?: CookieJar;
  /** Outside a browser: a WebSocket class that takes `{headers}`, such as the `ws` package's. */
  WebSocket?: new (url: string, options?: never) => SocketLike;
  /** Where the last delivered `seq` is kept; `localStorage` when there is one, else memory. */
  storage?: SeqStorage;
  /** Waits between attempts: `baseMs` doubling up to `maxMs`, each taken at random from its upper half. */
  backoff?: { baseMs?: number; maxMs?: number };
  /** A connection quiet for `everyMs` is pinged; one that then stays silent for `timeoutMs` is dropped. */
  ping?: { everyMs?: number; timeoutMs?: number };
  /** Seconds a login token lives (the server's LOGIN_TOKEN_SECONDS) when the jar cannot tell. */
  tokenLifetime?: number;
};

export type ConnectionState =
  | { status: 'connecting' }
  | { status: 'open' }
  | { status: 'reconnecting'; attempt: number; in_ms: number }
  | { status: 'signed_out'; code: number; reason: string }
  | { status: 'closed' };

export type ParleyClient = {
  readonly state: ConnectionState;
  /** Listens for state changes; returns a function that stops listening. */
  onState(listener: (state: ConnectionState) => void): () => void;
  /**
   * Listens for events: every logged event the user may see (their own included) reaches `on` once,
   * in `seq` order, across reconnects; `user_status` and `typing` as they come; `reset` when the log
   * no longer reaches back (reload state with the `get_` events).
   */
  on<T extends StreamEventType>(type: T, listener: Listener<T>): () => void;
  /**
   * Sends an event once the connection is open and resolves to the reply's `data`; rejects with a
   * RequestError (the server said no) or Disconnected. `send_message` gets a `client_id` and is sent
   * again after a reconnect until it is answered, so it is stored exactly once.
   */
  request<T extends EventType>(type: T, ...fields: {} extends EventInput<T> ? [EventInput<T>?] : [EventInput<T>]): Promise<EventReply<T>>;
  /** Closes for good. */
  close(): void;
};

/** A request until it is answered. `sent`: on the current socket; `tried`: on any socket so far. */
type Outgoing = { frame: Record<string, unknown> & { type: string }; sent: boolean; tried: boolean; resolve: (data: never) => void; reject: (error: Error) => void };

const syncPage = 500;
/** How long a message refused by the rate limit waits before it goes again. */
const rateLimitedRetryMs = 1000;
/** The longest wait between tries of a renewal that did not get through. */
const renewalRetryMaxMs = 5000;

/** A `client_id` unique for this sender: 128 random bits (crypto.randomUUID needs a secure context). */
function clientId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function webSocketHere(): NonNullable<ConnectOptions['WebSocket']> {
  const here = (globalThis as { WebSocket?: ConnectOptions['WebSocket'] }).WebSocket;
  if (!here) throw new TypeError("connect: this runtime has no WebSocket; pass one as the WebSocket option (the 'ws' package's)");
  return here;
}

export function connect(options: ConnectOptions): ParleyClient {
  const { url, cookies } = options;
  const WebSocketClass = options.WebSocket ?? webSocketHere();
  const socketUrl = new URL('/ws', url.replace(/^http/, 'ws')).href;
  const { baseMs = 500, maxMs = 30_000 } = options.backoff ?? {};
  const { everyMs = 20_000, timeoutMs = 10_000 } = options.ping ?? {};
  // Typed here rather than from the DOM's types, so that the client also typechecks for Node alone.
  const stream = createEventStream(options.storage ?? (globalThis as { localStorage?: SeqStorage }).localStorage ?? memoryStorage());
  const stateListeners = new Set<(state: ConnectionState) => void>();
  const outbox: Outgoing[] = [];
  let state: ConnectionState = { status: 'connecting' };
  let socket: Client | undefined;
  let raw: SocketLike | undefined;
  /** Bumped whenever a socket is given up: whatever an older socket still does is ignored. */
  let generation = 0;
  let attempt = 0;
  let username: string | undefined;
  let lastHeard = 0;
  let pinged = false;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let renewal: ReturnType<typeof setTimeout> | undefined;
  let refreshing: Promise<void> | undefined;

  const ended = () => state.status === 'signed_out' || state.status === 'closed';

  function setState(next: ConnectionState): void {
    state = next;
    for (const listener of stateListeners) listener(next);
  }

  function open(): void {
    const mine = ++generation;
    if (state.status !== 'connecting') setState({ status: 'connecting' });
    const headers = cookies ? { headers: { cookie: cookies.header('/ws') } } : undefined;
    raw = new WebSocketClass(socketUrl, headers as never);
    const client = createClient(raw, (envelope) => {
      if (mine === generation) heard(envelope);
    });
    socket = client;
    stream.hold();
    lastHeard = performance.now();
    pinged = false;
    watch(mine);
    client.closed.then(({ code, reason }) => mine === generation && lost(code, reason));
    catchUp(client, mine).catch((error: unknown) => {
      // The server refused a handshake request; a socket that closed is handled above, with its code.
      if (error instanceof RequestError) abandon(client, error.message);
    });
  }

  /** After each open: who we are, then every event missed since the last delivered one, page by page. */
  async function catchUp(client: Client, mine: number): Promise<void> {
    await client.opened;
    const self = await client.request('self');
    if (mine !== generation) return;
    if (username !== undefined && self.username !== username) return end('signed_out', 4002, `the cookies now belong to '${self.username}'`);
    username = self.username;
    let since = stream.since(username);
    for (;;) {
      const page = await client.request('sync', { since, limit: syncPage });
      if (mine !== generation) return;
      if (page.reset) stream.reset(page.next);
      else stream.synced(page.events as SuccessEnvelope[]);
      since = page.next;
      if (!page.has_more) break;
    }
    stream.caughtUp();
    attempt = 0;
    // What waited goes first, before anything the app asks when it hears the state change.
    for (const item of outbox) if (!item.sent) transmit(item, client);
    setState({ status: 'open' });
  }

  /** Every frame from the current socket, in order: logged events go to the stream at once. */
  function heard(envelope: Envelope): void {
    lastHeard = performance.now();
    pinged = false;
    if (envelope.success && envelope.seq !== undefined) return stream.live(envelope);
    if (envelope.ref !== undefined) return; // a reply: its request resolves
    if (envelope.success) return stream.live(envelope);
    // A refusal without `ref` (a frame the server could not read): which request it answers is
    // unknown, so the socket is given up and what was pending is settled as at a disconnect.
    abandon(socket!, envelope.error);
  }

  function transmit(item: Outgoing, client: Client): void {
    item.sent = item.tried = true;
    const mine = generation;
    client.call(item.frame).then(
      (envelope) => {
        if (mine !== generation) return;
        // A message refused by the rate limit waits a moment and goes again (its client_id keeps it once).
        if (!envelope.success && envelope.code === 'rate_limited' && item.frame.type === 'send_message') {
          item.sent = false;
          setTimeout(() => mine === generation && !item.sent && socket && transmit(item, socket), rateLimitedRetryMs);
          return;
        }
        remove(item);
        if (envelope.success) item.resolve(envelope.data as never);
        else item.reject(new RequestError(envelope));
      },
      () => {
        // Its socket closed: `lost` settles it.
      },
    );
  }

  function remove(item: Outgoing): void {
    const index = outbox.indexOf(item);
    if (index >= 0) outbox.splice(index, 1);
  }

  /** Liveness: while something is awaited (the open, a reply, a ping's answer) silence past timeoutMs drops the socket. */
  function watch(mine: number): void {
    clearTimeout(watchdog);
    if (mine !== generation) return;
    const quiet = performance.now() - lastHeard;
    const idle = state.status === 'open' && !pinged;
    const limit = idle ? everyMs : timeoutMs;
    if (quiet < limit) {
      watchdog = setTimeout(() => watch(mine), limit - quiet);
      return;
    }
    if (!idle) return abandon(socket!, `no answer within ${timeoutMs} ms`);
    pinged = true;
    lastHeard = performance.now();
    socket!.request('ping').catch(() => {});
    watchdog = setTimeout(() => watch(mine), timeoutMs);
  }

  /** Gives up a socket that may never close by itself, and goes on as if it had closed. */
  function abandon(client: Client, why: string): void {
    if (client !== socket) return;
    const given = raw as SocketLike & { terminate?: () => void };
    lost(1006, why);
    client.close(4000, why.slice(0, 120));
    given.terminate?.(); // the `ws` package: drop the connection now rather than after a closing handshake
  }

  function lost(code: number, reason: string): void {
    generation++;
    socket = undefined;
    clearTimeout(watchdog);
    stream.drop();
    // Pending requests reject, but unanswered messages wait to be sent again (their client_id makes that safe).
    for (const item of [...outbox]) {
      if (!item.sent) continue;
      item.sent = false;
      if (item.frame.type === 'send_message') continue;
      remove(item);
      item.reject(new Disconnected(item.frame.type, true, `${code} ${reason}`.trim()));
    }
    if (ended()) return;
    const then = afterClose(code);
    if (then === 'signed_out') return end('signed_out', code, reason);
    if (then === 'reconnect') return reconnect();
    refresh().then(reconnect, (error: unknown) => (error instanceof AuthError && error.status === 401 ? end('signed_out', code, error.message) : reconnect()));
  }

  function reconnect(): void {
    if (ended()) return;
    attempt++;
    const cap = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
    const wait = Math.round(cap / 2 + (Math.random() * cap) / 2);
    setState({ status: 'reconnecting', attempt, in_ms: wait });
    retry = setTimeout(open, wait);
  }

  /** One refresh at a time; after each, the next is planned at three quarters of the token's life. */
  function refresh(): Promise<void> {
    refreshing ??= refreshLogin(url, cookies).finally(() => (refreshing = undefined));
    return refreshing.then(() => planRenewal());
  }

  const lifetimeMs = () => (cookies?.tokenLifetime ?? options.tokenLifetime ?? 3600) * 1000;

  function planRenewal(inMs = lifetimeMs() * 0.75, failures = 0): void {
    clearTimeout(renewal);
    if (ended()) return;
    renewal = setTimeout(() => {
      refresh().catch((error: unknown) => {
        // Refused: the session is over (the next socket would be refused too). Out of reach: soon again,
        // 1, 2, 4, then every 5 s: an answer lost on the way may have rotated the refresh token, and the
        // server takes the old one again only for REFRESH_GRACE_SECONDS (30 by default).
        if (error instanceof AuthError && error.status === 401) end('signed_out', 4002, error.message);
        else planRenewal(Math.min(lifetimeMs() / 10, 1000 * 2 ** failures, renewalRetryMaxMs), failures + 1);
      });
    }, inMs);
  }

  function end(status: 'signed_out' | 'closed', code: number, reason: string): void {
    if (ended()) return;
    const client = socket;
    generation++;
    socket = undefined;
    for (const timer of [watchdog, retry, renewal]) clearTimeout(timer);
    stream.drop();
    setState(status === 'closed' ? { status } : { status, code, reason });
    client?.close(1000, 'client closed');
    for (const item of outbox.splice(0)) item.reject(new Disconnected(item.frame.type, item.tried, status === 'closed' ? 'the client is closed' : `signed out: ${reason}`));
  }

  planRenewal();
  open();

  return {
    get state() {
      return state;
    },
    onState(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    on: stream.on,
    request(type, ...fields) {
      const frame: Outgoing['frame'] = { ...fields[0], type };
      if (type === 'send_message' && frame.client_id == null) frame.client_id = clientId();
      return new Promise((resolve, reject) => {
        if (ended()) return reject(new Disconnected(type, false, `the client is ${state.status.replace('_', ' ')}`));
        const item: Outgoing = { frame, sent: false, tried: false, resolve: resolve as (data: never) => void, reject };
        outbox.push(item);
        if (state.status === 'open' && socket) transmit(item, socket);
      });
    },
    close() {
      end('closed', 1000, 'closed by the app');
    },
  };
}

export { login, refreshLogin, createCookieJar, AuthError, type CookieJar } from './auth.ts';
export { RequestError, Disconnected } from './client.ts';
export { memoryStorage, type SeqStorage, type StreamEvents, type StreamEventType, type Listener } from './stream.ts';
export { closeCodes, afterClose } from './errors.ts';
