// Request bodies from uWebSockets.js: collected as text for small JSON routes, streamed with backpressure for uploads, or read and dropped before an early answer.
import { Readable } from 'node:stream';
import type { Exchange } from './exchange.ts';

/** Why a streamed body stopped before its end: it passed the route's limit, or the client went away. */
export class BodyCut extends Error {
  constructor(readonly reason: 'too_large' | 'aborted', limit: number) {
    super(reason === 'too_large' ? `request body too large: the limit is ${limit} bytes` : 'the client went away before the body ended');
    this.name = 'BodyCut';
  }
}

const ignore = () => {};

/** Collects a request body; undefined once it passes `limit` bytes, or when the client goes away. */
export function readBody(exchange: Exchange, limit: number): Promise<string | undefined> {
  if (exchange.bodyEnded) return Promise.resolve('');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    exchange.onAbort(() => resolve(undefined));
    exchange.onBody((chunk, isLast) => {
      size += chunk.byteLength;
      if (size > limit) {
        exchange.onBody(ignore);
        return resolve(undefined);
      }
      chunks.push(Buffer.from(chunk.slice(0))); // uWS reuses the chunk's memory once this callback returns
      if (isLast) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/**
 * The body as a Node stream. uWS is paused while the stream holds more than its high-water mark,
 * so however large the body, memory holds at most a socket read or two of it. Past `limit` bytes the
 * stream fails with BodyCut('too_large') and uWS stops reading; `onTooLarge` is told at once.
 * When the client goes away the stream fails with BodyCut('aborted').
 */
export function streamBody(exchange: Exchange, limit: number, onTooLarge: () => void): Readable {
  let size = 0;
  const body = new Readable({ highWaterMark: 64 * 1024, read: () => exchange.resume() });
  // The reader learns of a BodyCut from its reads; one that has not begun to read (it awaits a check
  // first) must not have the failure thrown at the process.
  body.on('error', ignore);
  exchange.onAbort(() => body.destroy(new BodyCut('aborted', limit)));
  if (exchange.bodyEnded) {
    body.push(null);
    return body;
  }
  exchange.onBody((chunk, isLast) => {
    if (body.destroyed) return;
    size += chunk.byteLength;
    if (size > limit) {
      exchange.pause();
      body.destroy(new BodyCut('too_large', limit));
      return onTooLarge();
    }
    const more = body.push(Buffer.from(chunk.slice(0))); // uWS reuses the chunk's memory once this callback returns
    if (isLast) body.push(null);
    else if (!more) exchange.pause();
  });
  return body;
}

/** What is read and dropped of a body before an answer that did not need it: so much, for so long, so many at once. */
export const skipping = { bytes: 1024 * 1024, ms: 5_000, atOnce: 256 } as const;

/**
 * Before an answer given while the body is still coming (a refusal: 401, 403, 413, 429...): reads and
 * drops the rest, so that a client still sending is not cut off (a close with unread bytes is a reset,
 * and the client sees a network error instead of the answer). True when the body ended: the
 * connection can carry the next request. False, at once, when the rest is declared larger than
 * `skipping.bytes`, when `skipping.atOnce` other bodies are being skipped, or once the client goes
 * away; and when the rest passes `skipping.bytes` or takes longer than `skipping.ms`: the answer then
 * goes with a close.
 */
export function createSkipper(): (exchange: Exchange) => Promise<boolean> {
  let underWay = 0;
  return (exchange) => {
    if (exchange.bodyEnded) return Promise.resolve(true);
    const rest = exchange.bodyLength === undefined ? 0 : exchange.bodyLength - exchange.received;
    if (exchange.aborted || rest > skipping.bytes || underWay >= skipping.atOnce) return Promise.resolve(false);
    underWay++;
    return new Promise((resolve) => {
      let skipped = 0;
      let settled = false;
      const done = (ended: boolean) => {
        if (settled) return;
        settled = true;
        exchange.onBody(ignore);
        clearTimeout(timer);
        underWay--;
        resolve(ended);
      };
      const timer = setTimeout(() => done(false), skipping.ms);
      timer.unref();
      exchange.onAbort(() => done(false));
      exchange.onBody((chunk, isLast) => {
        skipped += chunk.byteLength;
        if (isLast) done(true);
        else if (skipped > skipping.bytes) done(false);
      });
      exchange.resume();
    });
  };
}
