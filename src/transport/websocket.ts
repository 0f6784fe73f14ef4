// The WebSocket side: accept the upgrade, authenticate, register the socket, dispatch each frame, clean up once.
import type { HttpRequest, HttpResponse, TemplatedApp, us_socket_context_t, WebSocket } from 'uWebSockets.js';
import { closeCodes, limits } from '../../protocol/index.ts';
import { presentedToken, verifyPresented, type Presented } from '../auth/bot-tokens.ts';
import { dispatch, dispatchBinary, dispatchRefused } from '../dispatch.ts';
import { connected, disconnected } from '../features/presence.ts';
import { accountBudget, createWorkBudgets, newBucket, take, type Bucket } from '../throttle.ts';
import { createConnection, type Connection } from '../connection.ts';
import { secondFactorRequired } from '../auth/second-factor.ts';
import { originAllowed } from './http.ts';
import { createClientAddress } from './proxy.ts';
import { uWS } from './uws.ts';
import { socketContext, type App, type SocketCtx } from '../context.ts';

/** What uWebSockets.js keeps with each socket. */
type SocketData = {
  readonly ip: string;
  /** The login token from the upgrade's cookie, or a bot's API token, checked once the socket is open. */
  readonly token: Presented | undefined;
  /** Set by the close handler: after it, the uWS socket must not be touched. */
  closed: boolean;
  /** Frames that arrived while the token was being checked (binary ones as undefined). */
  waiting: (string | undefined)[] | undefined;
  /** Once the token is good: the connection (closed by the close handler even before it is registered). */
  connection?: Connection;
  /** Once registered: the socket's context (its caller is the connection) and rate-limit bucket. */
  ctx?: SocketCtx;
  bucket?: Bucket;
};

export const frameLimit = 64 * 1024;
/** uWS cuts a socket off without a close frame past its own limit; up to here a client is told why (1009). */
const hardFrameLimit = 4 * frameLimit;
const frameTooLarge = closeCodes.frame_too_large.reason.replace('{limit}', String(frameLimit));
/** Frames a client may send while its token is being checked; they are handled, in order, once it is. */
const framesBeforeAuth = 32;

const decoder = new TextDecoder();

/**
 * Why the token is checked in `open`, not in `upgrade`: jose verifies asynchronously, and in the uWS
 * v20.30 binary an upgrade made after an await either must not be corked (cork() can misread the
 * fresh socket's state as "Connection: close" and drop it; fixed upstream in uWebSockets PR #1929)
 * or, uncorked, prints a warning for every connection. So the upgrade is synchronous, and until the
 * token is verified the socket is not registered and its frames wait; dispatch never sees it.
 */
export function serveWebSocket(server: TemplatedApp, app: App): void {
  const clientAddress = createClientAddress(app.settings);
  // Per node, not shared through Redis: what it guards is this node's queue of work, and a round trip per event would cost more than most events.
  const budgets = createWorkBudgets(app.settings.RATE_LIMIT_WORK_MS, app.settings.RATE_LIMIT_WORK_BURST_MS, limits.searchesAtOnce);
  const touchSession = sessionToucher(app);
  function receive(data: SocketData, frame: string | undefined): void {
    const { ctx, bucket } = data;
    if (!ctx || !bucket) return;
    const { RATE_LIMIT_BURST: burst } = app.settings;
    // Every frame costs one token; dispatch takes more for the events that cost the server more.
    if (!ctx.caller.spend(1)) {
      app.metrics.refused('events');
      if (bucket.refused > burst) {
        app.log.warn('socket closed for flooding', { user: ctx.caller.user.username, ip: ctx.caller.ip });
        return ctx.caller.end(closeCodes.flooding.code, closeCodes.flooding.reason);
      }
      return dispatchRefused(ctx, frame);
    }
    if (frame === undefined) dispatchBinary(ctx);
    else dispatch(ctx, frame);
  }

  async function authenticate(ws: WebSocket<SocketData>, data: SocketData, token: Presented): Promise<void> {
    const verified = await verifyPresented(app, token, app.now());
    if (data.closed) return; // the client left while its token was checked
    if (!verified.ok) {
      app.log.warn('token refused', { route: '/ws', problem: verified.problem, ip: data.ip });
      const { code, reason } = verified.problem === 'user_gone' ? closeCodes.user_gone : closeCodes.invalid_token;
      return ws.end(code, reason.replace('{username}', verified.problem === 'user_gone' ? verified.username : ''));
    }
    const { user, sessionId, expiresAt } = verified;
    if (user.account_status === 'suspended') return ws.end(closeCodes.suspended.code, closeCodes.suspended.reason);
    const limit = app.settings.MAX_SOCKETS_PER_USER;
    const tooMany = closeCodes.too_many_sockets.reason.replace('{limit}', String(limit));
    // This node's own count alone may refuse at once; the count over every node is checked once registered.
    if (app.registry.socketCount(user.id) >= limit) {
      app.log.warn('socket refused: too many for the user', { user: user.username, limit, ip: data.ip });
      return ws.end(closeCodes.too_many_sockets.code, tooMany);
    }
    // Per socket, so it holds in a cluster as on one node: a socket's frames all reach the node it is on.
    const { RATE_LIMIT_EVENTS: rate, RATE_LIMIT_BURST: burst } = app.settings;
    const bucket = newBucket(burst, performance.now());
    const spend = (cost: number) => take(bucket, rate, burst, performance.now(), cost);
    const connection = createConnection(ws, { id: user.id, username: user.username }, sessionId, expiresAt, data.ip, spend, accountBudget(budgets, user.id), (topic, text) => server.publish(topic, text, false));
    data.connection = connection;
    touchSession(sessionId);
    // Registered (subscribed to its topics) before any frame is handled: frames meanwhile keep waiting.
    // Sockets whose tokens were checked at the same time, here or on other nodes, all passed the count
    // above: counted again once registered (over every node in a cluster), past the limit this one goes.
    const admitted = await connected(app, connection);
    if (connection.closed) return;
    if (!admitted) {
      app.log.warn('socket refused: too many for the user', { user: user.username, limit, ip: data.ip });
      return connection.end(closeCodes.too_many_sockets.code, tooMany);
    }
    // A logout or revocation that committed while the token was being checked closed its session's
    // sockets before this one was registered: looked at again now that it is, it cannot slip through.
    if ((await app.store.sessions.activeUntil(sessionId, user.id, app.now())) === undefined) {
      app.log.info('session ended while its socket was opening', { user: user.username, socket: connection.id });
      return connection.end(closeCodes.invalid_token.code, closeCodes.invalid_token.reason);
    }
    // A session a provider started (single sign-on) is exempt: the provider decides how people prove who they
    // are, and such an account may have no password to set a second factor up with.
    connection.secondFactorDue = secondFactorRequired(app.settings, user) && (await app.store.twoFactor.get(user.id))?.enabled_at == null
      && (await app.store.oidc.ofSession(sessionId)) === undefined;
    if (connection.closed) return;
    data.ctx = socketContext(app, connection);
    data.bucket = bucket;
    app.log.info('connected', { user: user.username, socket: connection.id, ip: data.ip });
    const waiting = data.waiting;
    data.waiting = undefined;
    ws.cork(() => {
      for (const frame of waiting ?? []) if (!connection.closed) receive(data, frame);
    });
  }

  server.ws<SocketData>('/ws', {
    maxPayloadLength: hardFrameLimit,
    // A reader that falls behind is never skipped silently: past the hard limit uWS cuts it off; the
    // registry's sweep closes it with a reason as soon as it passes MAX_BACKPRESSURE.
    maxBackpressure: 4 * app.settings.MAX_BACKPRESSURE,
    closeOnBackpressureLimit: 1,
    // uWS pings a socket that has been quiet this long and closes it if nothing comes back.
    idleTimeout: app.settings.IDLE_TIMEOUT,
    sendPingsAutomatically: true,
    compression: uWS.DISABLED,

    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      const origin = req.getHeader('origin');
      const ip = clientAddress(res, req);
      // Browsers always send Origin; a page on a foreign site must not ride on the user's cookie.
      if (origin && !originAllowed(app, origin, req.getHeader('host'))) {
        app.log.warn('websocket from a foreign origin refused', { origin, ip });
        res.writeStatus('403 Forbidden').writeHeader('Content-Type', 'text/plain; charset=utf-8').end('origin not allowed');
        return;
      }
      const token = presentedToken(req.getHeader('authorization'), req.getHeader('cookie'));
      const data: SocketData = { ip, token, closed: false, waiting: [] };
      res.upgrade(data, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },

    open(ws) {
      const data = ws.getUserData();
      if (!data.token) return ws.end(closeCodes.login_required.code, closeCodes.login_required.reason);
      authenticate(ws, data, data.token).catch((error: unknown) => {
        app.log.error('authentication failed', { error, ip: data.ip });
        if (!data.closed) ws.end(1011, 'internal server error');
      });
    },

    message(ws, message, isBinary) {
      const data = ws.getUserData();
      // Checked before decoding: an oversize frame is refused, not read.
      if (message.byteLength > frameLimit) {
        app.log.warn('frame too large', { user: data.ctx?.caller.user.username, bytes: message.byteLength, ip: data.ip });
        return ws.end(closeCodes.frame_too_large.code, frameTooLarge);
      }
      const frame = isBinary ? undefined : decoder.decode(message);
      if (data.ctx) return receive(data, frame);
      if (!data.waiting || data.waiting.length >= framesBeforeAuth) return ws.end(closeCodes.early_flood.code, closeCodes.early_flood.reason);
      data.waiting.push(frame);
    },

    close(ws, code) {
      const data = ws.getUserData();
      data.closed = true;
      const { connection } = data;
      if (!connection) return;
      connection.closed = true;
      disconnected(app, connection).catch((error: unknown) => app.log.error('presence not updated', { error }));
      app.log.info('disconnected', { user: connection.user.username, socket: connection.id, code });
    },
  });
}

/**
 * When each session was last seen (a socket opened with it), written a batch of sessions at a time: one
 * unit in flight per node, each moving every session touched meanwhile in one statement that locks them in
 * one order. A unit per socket, several in one batch in the order the sockets came, locked them in orders
 * that differed from node to node: two nodes opening one person's sockets at once deadlocked now and then.
 */
function sessionToucher(app: App): (sessionId: string) => void {
  let touched = new Set<string>();
  let writing = false;
  function write(): void {
    if (writing || touched.size === 0) return;
    const ids = [...touched];
    touched = new Set();
    writing = true;
    app.commit.run(({ store }) => store.sessions.touchMany(ids, app.now()))
      .catch((error: unknown) => app.log.warn('sessions not touched', { error, sessions: ids.length }))
      .finally(() => {
        writing = false;
        write();
      });
  }
  return (sessionId) => {
    touched.add(sessionId);
    queueMicrotask(write);
  };
}
