// The HTTP side of uWebSockets.js: one entry for every route, with path parameters, CORS, 404/405, body limits and error handling.
import type { Readable } from 'node:stream';
import type { HttpRequest as UwsRequest, HttpResponse as UwsResponse, TemplatedApp } from 'uWebSockets.js';
import type { App } from '../context.ts';
import { createClientAddress } from './proxy.ts';
import { BodyCut, createSkipper, readBody, streamBody } from './body.ts';
import { createExchange, type Exchange, type Header } from './exchange.ts';
import { send, type Response } from './send.ts';
import { errors } from '../../protocol/index.ts';

export type { Response, StreamedBody } from './send.ts';

/** A request as a route sees it, all read before the uWS request object goes away. */
export type RequestHead = {
  readonly method: string;
  readonly path: string;
  readonly origin: string;
  readonly cookie: string;
  readonly authorization: string;
  readonly userAgent: string;
  readonly ip: string;
  /** Every header, by lower-case name; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  /** The query string (`?filename=a.png`), parsed. */
  readonly query: URLSearchParams;
  /** The `:name` segments of the route's pattern (`/files/:id`), percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
};

/** A request whose body was read as text (at most `bodyLimit` bytes; empty for GET). */
export type Request = RequestHead & { readonly body: string };
/** A request whose body arrives as a stream, for a StreamedRoute; `gone` aborts once the client has gone away, before or after its body ended. */
export type StreamedRequest = RequestHead & { readonly body: Readable; readonly gone: AbortSignal };

export type Route = (request: Request) => Response | Promise<Response>;
/**
 * A POST that takes its body as a stream of at most `bodyLimit` bytes. Past the limit (or when
 * Content-Length announces more) the stream fails (BodyCut), and once `run` has settled (having
 * removed whatever it wrote) the client gets 413 with `tooLarge`. When the client hangs up, the
 * stream fails the same way and nothing is answered. A response given before the whole body was
 * read waits for the rest to be skipped (createSkipper), or closes the connection.
 */
export type StreamedRoute = { readonly bodyLimit: number; readonly tooLarge: string; readonly run: (request: StreamedRequest) => Promise<Response> };
export type Routes = Record<string, { GET?: Route; POST?: Route | StreamedRoute }>;

export const bodyLimit = 64 * 1024;

/** Response headers a page on an allowed origin may read besides the safelisted ones: a file's validators, name and range, where an upload went, how long to wait. */
const exposed = 'ETag, Content-Disposition, Content-Length, Content-Range, Accept-Ranges, Location, Retry-After';

/** Whether a browser page at `origin` may use this server: allowlisted, or the server's own origin. */
export function originAllowed(app: Pick<App, 'settings'>, origin: string, host: string): boolean {
  return app.settings.CORS_ALLOW_ORIGIN.includes(origin) || origin === `http://${host}` || origin === `https://${host}`;
}

type Matched = { methods: Routes[string]; params: Record<string, string> };

/** Exact paths are looked up; patterns with `:name` segments are tried in order. A segment that does not decode matches nothing. */
function createMatcher(routes: Routes): (path: string) => Matched | undefined {
  const patterns = Object.keys(routes)
    .filter((pattern) => pattern.includes('/:'))
    .map((pattern) => ({ segments: pattern.split('/'), methods: routes[pattern]! }));
  return (path) => {
    if (Object.hasOwn(routes, path) && !path.includes('/:')) return { methods: routes[path]!, params: {} };
    const segments = path.split('/');
    for (const pattern of patterns) {
      if (pattern.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      const fits = pattern.segments.every((part, i) => {
        const segment = segments[i]!;
        if (!part.startsWith(':')) return part === segment;
        try {
          params[part.slice(1)] = decodeURIComponent(segment);
        } catch {
          return false;
        }
        return segment !== '';
      });
      if (fits) return { methods: pattern.methods, params };
    }
    return undefined;
  };
}

function readHeaders(req: UwsRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  req.forEach((name, value) => {
    headers[name] = Object.hasOwn(headers, name) ? `${headers[name]}, ${value}` : value;
  });
  return headers;
}

/** A Route, once its body has been read whole (any method: an answer then never leaves part of a body behind). */
async function runRoute(route: Route, request: Omit<Request, 'body'>, exchange: Exchange, tooLarge: Response): Promise<Response> {
  const text = await readBody(exchange, bodyLimit);
  return text === undefined ? tooLarge : route({ ...request, body: text });
}

/** A StreamedRoute, with its body as a stream; once it has settled, what it left unread is skipped, not buffered. */
async function runStreamed(route: StreamedRoute, request: Omit<StreamedRequest, 'body' | 'gone'>, exchange: Exchange, tooLarge: Response): Promise<Response> {
  let cut = false;
  const body = streamBody(exchange, route.bodyLimit, () => (cut = true));
  const gone = new AbortController();
  exchange.onAbort(() => gone.abort(new Error('the client went away')));
  try {
    const response = await route.run({ ...request, body, gone: gone.signal });
    return cut ? tooLarge : response;
  } catch (error) {
    if (error instanceof BodyCut) return tooLarge;
    throw error;
  } finally {
    body.destroy();
  }
}

/** `app`: only its settings (CORS, trusted proxies) and log are used. */
export function serveHttp(server: TemplatedApp, app: Pick<App, 'settings' | 'log'> & Partial<Pick<App, 'store'>>, routes: Routes): void {
  const clientAddress = createClientAddress(app.settings);
  const match = createMatcher(routes);
  const skipRest = createSkipper();
  server.any('/*', (res: UwsResponse, req: UwsRequest) => {
    // The request object is only valid until this function returns: read everything now.
    const method = req.getMethod().toUpperCase();
    const path = req.getUrl();
    // As the log shows it: a webhook's URL holds its secret.
    const logged = path.replace(/^(\/hooks\/[^/]*)\/.*$/, '$1/…');
    const headers = readHeaders(req);
    const header = (name: string) => headers[name] ?? '';
    const head = {
      method, path, headers, query: new URLSearchParams(req.getQuery() ?? ''),
      origin: header('origin'), cookie: header('cookie'), authorization: header('authorization'), userAgent: header('user-agent'), ip: clientAddress(res, req),
    };
    // From here on the response is only reached through the exchange.
    const declared = Number(header('content-length') || 0);
    const exchange = createExchange(res, header('transfer-encoding') || !Number.isSafeInteger(declared) ? undefined : declared);
    const cors: Header[] = app.settings.CORS_ALLOW_ORIGIN.includes(head.origin)
      ? [['Access-Control-Allow-Origin', head.origin], ['Access-Control-Allow-Credentials', 'true'], ['Access-Control-Expose-Headers', exposed], ['Vary', 'Origin']]
      : [];
    // An answer that comes before the body has all arrived waits for the rest to be skipped, or closes the connection.
    const reply = (response: Response) => skipRest(exchange)
      .then((ended) => send(exchange, response, cors, !ended))
      .catch((error: unknown) => app.log.error('response failed', { method, path: logged, error }));
    const matched = match(path);
    if (!matched) return void reply({ status: 404, body: `not found: ${method} ${path}` });
    const allow = [...Object.keys(matched.methods), 'OPTIONS'].join(', ');
    if (method === 'OPTIONS') {
      const preflight: Header[] = cors.length
        ? [['Access-Control-Allow-Methods', allow], ['Access-Control-Allow-Headers', header('access-control-request-headers') || 'Content-Type'], ['Access-Control-Max-Age', '600']]
        : [];
      return void reply({ status: 204, headers: [['Allow', allow], ...preflight] });
    }
    const target = matched.methods[method as 'GET' | 'POST'];
    if (!target) return void reply({ status: 405, body: `method not allowed: use ${allow}`, headers: [['Allow', allow]] });
    // A cross-site form or script must not change state with the user's cookie.
    if (method === 'POST' && head.origin && !originAllowed(app, head.origin, header('host'))) {
      app.log.warn('request from a foreign origin refused', { path: logged, origin: head.origin, ip: head.ip });
      return void reply({ status: 403, body: 'origin not allowed' });
    }
    const limit = typeof target === 'function' ? bodyLimit : target.bodyLimit;
    const tooLarge: Response = { status: 413, body: typeof target === 'function' ? `request body too large: the limit is ${limit} bytes` : target.tooLarge };
    if (declared > limit) return void reply(tooLarge);

    const request = { ...head, params: matched.params };
    const answer = typeof target === 'function' ? runRoute(target, request, exchange, tooLarge) : runStreamed(target, request, exchange, tooLarge);
    answer
      .catch((error: unknown): Response => {
        // Once the client has gone away, a failure is its consequence (the body stream broke), not a fault.
        if (exchange.aborted) app.log.debug('route stopped: the client went away', { method, path: logged, error });
        else if (app.store?.driver.unavailable(error)) {
          // PostgreSQL restarting or out of reach: nothing was done; the client may retry shortly.
          app.log.warn('route failed: the database is unavailable', { method, path: logged, error: String(error) });
          return { status: 503, body: errors.unavailable.text, headers: [['Retry-After', '2']] };
        } else app.log.error('route failed', { method, path: logged, error });
        return { status: 500, body: 'internal server error' };
      })
      .then(reply);
  });
}
