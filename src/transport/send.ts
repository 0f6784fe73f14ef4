// Writes a Response through uWebSockets.js: whole bodies at once, streamed bodies chunk by chunk as the client reads them.
import type { Readable } from 'node:stream';
import type { Exchange, Header } from './exchange.ts';

/** A body read from elsewhere (a stored file): exactly `size` bytes, sent as fast as the client takes them. */
export type StreamedBody = { readonly size: number; readonly stream: Readable };

export type { Header } from './exchange.ts';

/**
 * `Content-Length` is written by uWS from the body; a route must not set it. Without a
 * `Content-Type` header the body is sent as `text/plain; charset=utf-8`.
 */
export type Response = { status: number; body?: string | Uint8Array | StreamedBody; headers?: readonly Header[] };

const statusText: Record<number, string> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 206: 'Partial Content', 303: 'See Other', 304: 'Not Modified',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  413: 'Payload Too Large', 416: 'Range Not Satisfiable', 426: 'Upgrade Required', 429: 'Too Many Requests',
  500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
};

function head(exchange: Exchange, response: Response, extra: readonly Header[]): void {
  const headers = [...extra, ...(response.headers ?? [])];
  if (response.status !== 204 && response.status !== 304 && !response.headers?.some(([name]) => name.toLowerCase() === 'content-type')) {
    headers.push(['Content-Type', 'text/plain; charset=utf-8']);
  }
  exchange.writeHead(`${response.status} ${statusText[response.status] ?? ''}`, headers);
}

const isStreamed = (body: Response['body']): body is StreamedBody => typeof body === 'object' && !(body instanceof Uint8Array);

/**
 * Sends `response` (with the `extra` headers first) unless the client has gone away. `closeConnection`
 * ends the connection after it: for a request whose body was neither read nor skipped to its end.
 */
export function send(exchange: Exchange, response: Response, extra: readonly Header[], closeConnection = false): void {
  const { body } = response;
  if (isStreamed(body)) return sendStream(exchange, response, body, extra);
  if (!exchange.claim()) return;
  exchange.cork(() => {
    head(exchange, response, extra);
    // No body at all for 204 and 304, and no Content-Length either unless the connection must close.
    if (response.status === 204 || response.status === 304) exchange.endWithoutBody(closeConnection);
    else exchange.end(body ?? '', closeConnection);
  });
}

/**
 * Streams `body` with backpressure: each chunk is offered with tryEnd; when the socket cannot take it
 * all, the file stream pauses until uWS reports the socket writable, and the rest of that chunk goes
 * first. A client that goes away stops the file stream; a file stream that fails or comes up short
 * closes the connection, so the client sees a body shorter than its Content-Length, never a wrong one.
 * (uWS forbids touching a response once tryEnd has sent its last byte, so no `closeConnection` here.)
 */
function sendStream(exchange: Exchange, response: Response, body: StreamedBody, extra: readonly Header[]): void {
  const { stream, size } = body;
  if (!exchange.claim()) {
    stream.destroy();
    return;
  }
  exchange.onAbort(() => stream.destroy());
  const gone = () => exchange.aborted || exchange.finished;
  let started = false;
  let pending: { chunk: Uint8Array; offset: number } | undefined;

  const offer = (chunk: Uint8Array): void => {
    const offset = exchange.writeOffset();
    let ok = false;
    exchange.cork(() => {
      if (!started) head(exchange, response, extra);
      started = true;
      [ok] = exchange.tryEnd(chunk, size);
    });
    if (gone()) stream.destroy();
    else if (!ok) {
      pending = { chunk, offset };
      stream.pause();
    }
  };
  exchange.onWritable((offset) => {
    if (!pending) return true;
    const [ok] = exchange.tryEnd(pending.chunk.subarray(offset - pending.offset), size);
    if (gone()) stream.destroy();
    else if (ok) {
      pending = undefined;
      stream.resume();
    }
    return ok;
  });
  const cut = () => {
    if (gone()) return;
    if (started) return exchange.close(); // mid-body: only a closed connection tells the client the body is incomplete
    exchange.cork(() => {
      head(exchange, { status: 500 }, extra);
      exchange.end('internal server error', true);
    });
  };
  stream.on('data', (chunk: Buffer) => {
    if (!gone()) offer(chunk);
  });
  stream.on('error', cut);
  stream.on('end', () => {
    if (pending) return; // the last chunk is still going out; onWritable finishes it
    if (size === 0 && !gone()) return offer(new Uint8Array(0));
    cut(); // the stream ended before `size` bytes were sent
  });
}
