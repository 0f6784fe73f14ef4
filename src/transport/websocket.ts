// The WebSocket side: authenticate in the upgrade, register the socket, dispatch each frame, clean up once.
import type { HttpRequest, HttpResponse, TemplatedApp, us_socket_context_t } from 'uWebSockets.js';
import { closeCodes } from '../../protocol/index.ts';
import { readLoginToken } from '../auth/cookies.ts';
import { dispatch, dispatchBinary } from '../dispatch.ts';
import { connected, disconnected } from '../features/presence.ts';
import { createConnection, type SocketData } from './connection.ts';
import { originAllowed } from './http.ts';
import { uWS } from './uws.ts';
import { newBucket, take, type Bucket } from '../throttle.ts';
import { failureText } from '../envelope.ts';
import { errorText } from '../../protocol/errors.ts';
import type { App, Ctx } from '../context.ts';

export const frameLimit = 64 * 1024;
/** uWS cuts a socket off without a close frame past its own limit; up to here a client is told why (1009). */
const hardFrameLimit = 4 * frameLimit;
const frameTooLarge = closeCodes.frame_too_large.reason.replace('{limit}', String(frameLimit));

type Data = SocketData & { ctx?: Ctx; bucket?: Bucket };

const decoder = new TextDecoder();

function refusal(name: 'login_required' | 'invalid_token'): Data['auth'] {
  return { ok: false, ...closeCodes[name] };
}

export function serveWebSocket(server: TemplatedApp, app: App): void {
  server.ws<Data>('/ws', {
    maxPayloadLength: hardFrameLimit,
    // A reader that falls behind is never skipped silently: past the hard limit uWS cuts it off; the
    // registry's sweep closes it with a reason as soon as it passes MAX_BACKPRESSURE.
    maxBackpressure: 4 * app.settings.MAX_BACKPRESSURE,
    closeOnBackpressureLimit: 1,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    compression: uWS.DISABLED,

    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      const origin = req.getHeader('origin');
      const ip = Buffer.from(res.getRemoteAddressAsText()).toString();
      // Browsers always send Origin; a page on a foreign site must not ride on the user's cookie.
      if (origin && !originAllowed(app, origin, req.getHeader('host'))) {
        app.log.warn('websocket from a foreign origin refused', { origin, ip });
        res.writeStatus('403 Forbidden').writeHeader('Content-Type', 'text/plain; charset=utf-8').end('origin not allowed');
        return;
      }
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const accept = (auth: Data['auth']) => res.upgrade<Data>({ auth, ip }, key, protocol, extensions, context);

      const token = readLoginToken(req.getHeader('cookie'));
      if (!token) return accept(refusal('login_required'));
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      app.tokens.verify(token, app.now()).then(
        (verified) => {
          if (aborted) return;
          // Not corked, unlike every other late answer: in the uWS v20.30 binary, cork() after an
          // asynchronous upgrade can misread the upgraded socket's state as "Connection: close" and
          // drop the fresh socket (fixed upstream: uNetworking/uWebSockets PR #1929).
          if (verified.ok) {
            const { user, sessionId, expiresAt } = verified;
            return accept({ ok: true, userId: user.id, username: user.username, sessionId, expiresAt });
          }
          app.log.warn('token refused', { route: '/ws', problem: verified.problem, ip });
          const refused =
            verified.problem === 'user_gone'
              ? { ok: false as const, code: closeCodes.user_gone.code, reason: closeCodes.user_gone.reason.replace('{username}', verified.username) }
              : refusal('invalid_token');
          accept(refused);
        },
        (error: unknown) => {
          app.log.error('upgrade failed', { error });
          if (!aborted) res.cork(() => res.writeStatus('500 Internal Server Error').end('internal server error'));
        },
      );
    },

    open(ws) {
      const data = ws.getUserData();
      const { auth } = data;
      if (!auth.ok) return ws.end(auth.code, auth.reason);
      const limit = app.settings.MAX_SOCKETS_PER_USER;
      if (app.registry.socketCount(auth.userId) >= limit) {
        app.log.warn('socket refused: too many for the user', { user: auth.username, limit, ip: data.ip });
        return ws.end(closeCodes.too_many_sockets.code, closeCodes.too_many_sockets.reason.replace('{limit}', String(limit)));
      }
      const connection = createConnection(ws, { id: auth.userId, username: auth.username }, auth.sessionId, auth.expiresAt, data.ip);
      data.ctx = { ...app, caller: connection };
      data.bucket = newBucket(app.settings.RATE_LIMIT_BURST, performance.now());
      connected(app, connection);
      app.log.info('connected', { user: auth.username, socket: connection.id, ip: data.ip });
    },

    message(ws, message, isBinary) {
      const { ctx, bucket } = ws.getUserData();
      if (!ctx || !bucket) return;
      const { RATE_LIMIT_EVENTS: rate, RATE_LIMIT_BURST: burst } = app.settings;
      if (!take(bucket, rate, burst, performance.now())) {
        if (bucket.refused > burst) {
          app.log.warn('socket closed for flooding', { user: ctx.caller.user.username, ip: ctx.caller.ip });
          return ctx.caller.end(closeCodes.flooding.code, closeCodes.flooding.reason);
        }
        return ctx.commit.after(() => ctx.caller.send(failureText('root', errorText('rate_limited', { rate, burst }), 'rate_limited')));
      }
      if (message.byteLength > frameLimit) {
        app.log.warn('frame too large', { user: ctx.caller.user.username, bytes: message.byteLength });
        return ctx.caller.end(closeCodes.frame_too_large.code, frameTooLarge);
      }
      if (isBinary) dispatchBinary(ctx);
      else dispatch(ctx, decoder.decode(message));
    },

    close(ws, code) {
      const { ctx } = ws.getUserData();
      if (!ctx) return;
      ctx.caller.closed = true;
      disconnected(app, ctx.caller);
      app.log.info('disconnected', { user: ctx.caller.user.username, socket: ctx.caller.id, code });
    },
  });
}
