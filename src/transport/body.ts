// Request bodies from uWebSockets.js: collected as text for small JSON routes, or streamed with backpressure for uploads.
import { Readable } from 'node:stream';
import type { HttpResponse as UwsResponse } from 'uWebSockets.js';

/** Why a streamed body stopped before its end: it passed the route's limit, or the client went away. */
export class BodyCut extends Error {
  constructor(readonly reason: 'too_large' | 'aborted', limit: number) {
    super(reason === 'too_large' ? `request body too large: the limit is ${limit} bytes` : 'the client went away before the body ended');
    this.name = 'BodyCut';
  }
}

/** What a request's lifetime shares with its body and its response: whether uWS may still be touched. */
export type Exchange = {
  /** The client went away; the uWS response must not be used any more. */
  aborted: boolean;
  /** The response has been ended (or is being streamed); nothing else may be written. */
  answered: boolean;
  /** Every byte of the body has arrived (always true for a request that has none). */
  bodyEnded: boolean;
  /** Run when the client goes away. */
  readonly onAbort: (() => void)[];
};

/** Collects a request body; undefined once it passes `limit` bytes. */
export function readBody(res: UwsResponse, exchange: Exchange, limit: number): Promise<string | undefined> {
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
        exchange.bodyEnded = true;
        resolve(Buffer.concat(chunks).toString('utf8'));
      }
    });
  });
}

/**
 * The body as a Node stream. uWS is paused while the stream holds more than its high-water mark,
 * so however large the body, memory holds at most a socket read or two of it. Past `limit` bytes the
 * stream fails with BodyCut('too_large') and uWS stops reading; `onTooLarge` is told at once.
 * When the client goes away the stream fails with BodyCut('aborted').
 */
export function streamBody(res: UwsResponse, exchange: Exchange, limit: number, onTooLarge: () => void): Readable {
  let size = 0;
  let paused = false;
  const live = () => !exchange.aborted && !exchange.answered;
  const body = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      if (paused && live()) res.resume();
      paused = false;
    },
  });
  // The reader learns of a BodyCut from its reads; one that has not begun to read (it awaits a check
  // first) must not have the failure thrown at the process.
  body.on('error', () => {});
  exchange.onAbort.push(() => body.destroy(new BodyCut('aborted', limit)));
  res.onData((chunk, isLast) => {
    if (body.destroyed) return;
    size += chunk.byteLength;
    if (size > limit) {
      res.pause();
      body.destroy(new BodyCut('too_large', limit));
      return onTooLarge();
    }
    const more = body.push(Buffer.from(chunk.slice(0))); // uWS reuses the chunk's memory once this callback returns
    if (isLast) {
      exchange.bodyEnded = true;
      body.push(null);
    } else if (!more && !paused) {
      paused = true;
      res.pause();
    }
  });
  return body;
}
