// The HTTP side of uWebSockets.js: one entry for every route, with CORS, 404/405, body limits and error handling.
import type { HttpRequest as UwsRequest, HttpResponse as UwsResponse, TemplatedApp } from 'uWebSockets.js';
import type { App } from '../context.ts';
import { createClientAddress } from './proxy.ts';

export type Request = {
  readonly method: string;
  readonly path: string;
  readonly origin: string;
  readonly cookie: string;
  readonly authorization: string;
  readonly userAgent: string;
  readonly ip: string;
  readonly body: string;
};

export type Response = { status: number; body?: string; headers?: readonly (readonly [string, string])[] };
export type Route = (request: Request) => Response | Promise<Response>;
export type Routes = Record<string, Partial<Record<'GET' | 'POST', Route>>>;

export const bodyLimit = 64 * 1024;

const statusText: Record<number, string> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized',
  403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 413: 'Payload Too Large', 426: 'Upgrade Required', 429: 'Too Many Requests',
  500: 'Internal Server Error', 503: 'Service Unavailable',
};

/** Whether a browser page at `origin` may use this server: allowlisted, or the server's own origin. */
export function originAllowed(app: App, origin: string, host: string): boolean {
  return app.settings.CORS_ALLOW_ORIGIN.includes(origin) || origin === `http://${host}` || origin === `https://${host}`;
}

function write(res: UwsResponse, response: Response, extra: readonly (readonly [string, string])[], closeConnection = false): void {
  res.cork(() => {
    res.writeStatus(`${response.status} ${statusText[response.status] ?? ''}`);
    for (const [name, value] of extra) res.writeHeader(name, value);
    for (const [name, value] of response.headers ?? []) res.writeHeader(name, value);
    if (response.status === 204) {
      res.endWithoutBody(); // an explicit `undefined` length makes uWS send nothing at all
    } else {
      if (!response.headers?.some(([name]) => name === 'Content-Type')) res.writeHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(response.body ?? '', closeConnection);
    }
  });
}

/** Collects a request body; undefined once it passes `limit` bytes. */
function readBody(res: UwsResponse, limit: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    res.onData((chunk, isLast) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > limit) {
        done = true;
        return resolve(undefined);
      }
      chunks.push(Buffer.from(chunk.slice(0))); // uWS reuses the chunk's memory once this callback returns
      if (isLast) {
        done = true;
        resolve(Buffer.concat(chunks).toString('utf8'));
      }
    });
  });
}

export function serveHttp(server: TemplatedApp, app: App, routes: Routes): void {
  const clientAddress = createClientAddress(app.settings);
  server.any('/*', (res: UwsResponse, req: UwsRequest) => {
    // The request object is only valid until this function returns: read everything now.
    const method = req.getMethod().toUpperCase();
    const path = req.getUrl();
    const origin = req.getHeader('origin');
    const host = req.getHeader('host');
    const requestedHeaders = req.getHeader('access-control-request-headers');
    const contentLength = Number(req.getHeader('content-length') || 0);
    const request = { method, path, origin, cookie: req.getHeader('cookie'), authorization: req.getHeader('authorization'), userAgent: req.getHeader('user-agent'), ip: clientAddress(res, req) };

    const cors: [string, string][] = app.settings.CORS_ALLOW_ORIGIN.includes(origin)
      ? [['Access-Control-Allow-Origin', origin], ['Access-Control-Allow-Credentials', 'true'], ['Vary', 'Origin']]
      : [];
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!route) return write(res, { status: 404, body: `not found: ${method} ${path}` }, cors);
    const allow = [...Object.keys(route), 'OPTIONS'].join(', ');
    if (method === 'OPTIONS') {
      const preflight: [string, string][] = cors.length
        ? [['Access-Control-Allow-Methods', allow], ['Access-Control-Allow-Headers', requestedHeaders || 'Content-Type'], ['Access-Control-Max-Age', '600']]
        : [];
      return write(res, { status: 204, headers: [['Allow', allow], ...preflight] }, cors);
    }
    const target = route[method as 'GET' | 'POST'];
    if (!target) return write(res, { status: 405, body: `method not allowed: use ${allow}`, headers: [['Allow', allow]] }, cors);
    // A cross-site form or script must not change state with the user's cookie.
    if (method === 'POST' && origin && !originAllowed(app, origin, host)) {
      app.log.warn('request from a foreign origin refused', { path, origin, ip: request.ip });
      return write(res, { status: 403, body: 'origin not allowed' }, cors);
    }
    if (contentLength > bodyLimit) return write(res, { status: 413, body: `request body too large: the limit is ${bodyLimit} bytes` }, cors, true);

    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const body = method === 'POST' ? readBody(res, bodyLimit) : Promise.resolve('');
    body
      .then(async (text) => {
        if (text === undefined) return { response: { status: 413, body: `request body too large: the limit is ${bodyLimit} bytes` }, close: true };
        return { response: await target({ ...request, body: text }), close: false };
      })
      .catch((error: unknown) => {
        app.log.error('route failed', { method, path, error });
        return { response: { status: 500, body: 'internal server error' }, close: false };
      })
      .then(({ response, close }) => {
        if (!aborted) write(res, response, cors, close);
      })
      .catch((error: unknown) => app.log.error('response failed', { method, path, error }));
  });
}
