// Writes a Response through uWebSockets.js: whole bodies at once, streamed bodies chunk by chunk as the client reads them.
import type { Readable } from 'node:stream';
import type { HttpResponse as UwsResponse } from 'uWebSockets.js';
import type { Exchange } from './body.ts';

/** A body read from elsewhere (a stored file): exactly `size` bytes, sent as fast as the client takes them. */
export type StreamedBody = { readonly size: number; readonly stream: Readable };

export type Header = readonly [string, string];

/**
 * `Content-Length` is written by uWS from the body; a route must not set it. Without a
 * `Content-Type` header the body is sent as `text/plain; charset=utf-8`.
 */
export type Response = { status: number; body?: string | Uint8Array | StreamedBody; headers?: readonly Header[] };

const statusText: Record<number, string> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 206: 'Partial Content', 304: 'Not Modified',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  413: 'Payload Too Large', 416: 'Range Not Satisfiable', 426: 'Upgrade Required', 429: 'Too Many Requests',
  500: 'Internal Server Error', 503: 'Service Unavailable',
};

function head(res: UwsResponse, response: Response, extra: readonly Header[]): void {
  res.writeStatus(`${response.status} ${statusText[response.status] ?? ''}`);
  for (const [name, value] of extra) res.writeHeader(name, value);
  for (const [name, value] of response.headers ?? []) res.writeHeader(name, value);
  if (response.status !== 204 && response.status !== 304 && !response.headers?.some(([name]) => name.toLowerCase() === 'content-type')) {
    res.writeHeader('Content-Type', 'text/plain; charset=utf-8');
  }
}

const isStreamed = (body: Response['body']): body is StreamedBody => typeof body === 'object' && !(body instanceof Uint8Array);

/**
 * Sends `response` (with the `extra` headers first) unless the client has gone away. `closeConnection`
 * ends the connection after it: the rest of a request body that was not read cannot be skipped.
 */
export function send(res: UwsResponse, exchange: Exchange, response: Response, extra: readonly Header[], closeConnection = false): void {
  const { body } = response;
  if (isStreamed(body)) return sendStream(res, exchange, response, body, extra);
  if (exchange.aborted || exchange.answered) return;
  exchange.answered = true;
  res.cork(() => {
    head(res, response, extra);
    // No body at all for 204 and 304, and no Content-Length either unless the connection must close.
    if (response.status === 204 || response.status === 304) {
      if (closeConnection) res.endWithoutBody(0, true);
      else res.endWithoutBody();
    }
    else res.end(body ?? '', closeConnection);
  });
}

/**
 * Streams `body` with backpressure: each chunk is offered with tryEnd; when the socket cannot take it
 * all, the file stream pauses until uWS reports the socket writable, and the rest of that chunk goes
 * first. A client that goes away stops the file stream; a file stream that fails or comes up short
 * closes the connection, so the client sees a body shorter than its Content-Length, never a wrong one.
 * (uWS forbids touching a response once tryEnd has sent its last byte, so no `closeConnection` here.)
 */
function sendStream(res: UwsResponse, exchange: Exchange, response: Response, body: StreamedBody, extra: readonly Header[]): void {
  const { stream, size } = body;
  if (exchange.aborted || exchange.answered) {
    stream.destroy();
    return;
  }
  exchange.answered = true;
  exchange.onAbort.push(() => stream.destroy());
  let started = false;
  let finished = false;
  let pending: { chunk: Uint8Array; offset: number } | undefined;

  const offer = (chunk: Uint8Array): void => {
    const offset = res.getWriteOffset();
    let ok = false;
    res.cork(() => {
      if (!started) head(res, response, extra);
      started = true;
      [ok, finished] = res.tryEnd(chunk, size);
    });
    if (finished) stream.destroy();
    else if (!ok) {
      pending = { chunk, offset };
      stream.pause();
    }
  };
  res.onWritable((offset) => {
    if (!pending || exchange.aborted || finished) return true;
    const [ok, done] = res.tryEnd(pending.chunk.subarray(offset - pending.offset), size);
    finished = done;
    if (done) stream.destroy();
    else if (ok) {
      pending = undefined;
      stream.resume();
    }
    return ok;
  });
  const cut = () => {
    if (exchange.aborted || finished) return;
    finished = true;
    if (started) return void res.close(); // mid-body: only a closed connection tells the client the body is incomplete
    res.cork(() => {
      head(res, { status: 500 }, extra);
      res.end('internal server error', true);
    });
  };
  stream.on('data', (chunk: Buffer) => {
    if (!exchange.aborted && !finished) offer(chunk);
  });
  stream.on('error', cut);
  stream.on('end', () => {
    if (pending) return; // the last chunk is still going out; onWritable finishes it
    if (size === 0 && !finished) return offer(new Uint8Array(0));
    cut(); // the stream ended before `size` bytes were sent
  });
}
