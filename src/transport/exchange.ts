// One owner of each uWebSockets.js HTTP response's life: nothing else holds the uWS response, and every touch of it checks here first.
import type { HttpResponse as UwsResponse } from 'uWebSockets.js';

export type Header = readonly [string, string];

/**
 * A request's response and body, as uWS lends them. uWS throws (taking the process down) when a
 * response is touched after the client went away or after it was ended, and body chunks can still
 * arrive after either (the rest of a body the answer did not wait for): so the response lives only
 * in here, every method does nothing once it is gone, and chunks reach no one then.
 */
export type Exchange = {
  /** The client went away (or the connection was closed): the response is gone. */
  readonly aborted: boolean;
  /** The response was ended: uWS has let go of it. */
  readonly finished: boolean;
  /** Every byte of the body has arrived (from the start for a request without one). */
  readonly bodyEnded: boolean;
  /** Bytes of the body that have arrived so far. */
  readonly received: number;
  /** The body's length as Content-Length declares it; undefined for a chunked one. */
  readonly bodyLength: number | undefined;
  /** True once, while the response is still there: the caller is the one to answer. */
  claim(): boolean;
  /** Runs `stop` when the client goes away. */
  onAbort(stop: () => void): void;
  /** From now on the body's chunks go to `take`, and no longer to whoever took them before. */
  onBody(take: (chunk: ArrayBuffer, isLast: boolean) => void): void;
  pause(): void;
  resume(): void;
  /** Runs `write` corked (its writes leave in one packet); it may end the response. */
  cork(write: () => void): void;
  writeHead(status: string, headers: readonly Header[]): void;
  end(body: string | Uint8Array, closeConnection: boolean): void;
  endWithoutBody(closeConnection: boolean): void;
  /** [the chunk was taken whole, the response is complete]: [false, true] once the response is gone. */
  tryEnd(chunk: Uint8Array, totalSize: number): [boolean, boolean];
  writeOffset(): number;
  onWritable(write: (offset: number) => boolean): void;
  /** Closes the connection at once: the client sees a body cut short. */
  close(): void;
};

/** Takes over `res` at the start of its request handler; `bodyLength` is 0 for a request without a body, undefined for a chunked one. */
export function createExchange(res: UwsResponse, bodyLength: number | undefined): Exchange {
  let aborted = false;
  let finished = false;
  let claimed = false;
  let paused = false;
  let bodyEnded = bodyLength === 0;
  let received = 0;
  let take: (chunk: ArrayBuffer, isLast: boolean) => void = () => {};
  const stops: (() => void)[] = [];
  const live = () => !aborted && !finished;
  /** Before an end: a socket left paused would never read the next request, nor time out. */
  const unpause = () => {
    if (paused) res.resume();
    paused = false;
  };

  res.onAborted(() => {
    aborted = true;
    for (const stop of stops) stop();
  });
  res.onData((chunk, isLast) => {
    if (aborted) return;
    received += chunk.byteLength;
    if (isLast) bodyEnded = true;
    if (!finished) take(chunk, isLast);
  });

  return {
    get aborted() {
      return aborted;
    },
    get finished() {
      return finished;
    },
    get bodyEnded() {
      return bodyEnded;
    },
    get received() {
      return received;
    },
    bodyLength,
    claim() {
      if (!live() || claimed) return false;
      claimed = true;
      return true;
    },
    onAbort(stop) {
      stops.push(stop);
    },
    onBody(next) {
      take = next;
    },
    pause() {
      if (!live() || paused) return;
      paused = true;
      res.pause();
    },
    resume() {
      if (live()) unpause();
    },
    cork(write) {
      if (live()) res.cork(write);
    },
    writeHead(status, headers) {
      if (!live()) return;
      res.writeStatus(status);
      for (const [name, value] of headers) res.writeHeader(name, value);
    },
    end(body, closeConnection) {
      if (!live()) return;
      unpause();
      finished = true;
      res.end(body, closeConnection);
    },
    endWithoutBody(closeConnection) {
      if (!live()) return;
      unpause();
      finished = true;
      if (closeConnection) res.endWithoutBody(0, true);
      else res.endWithoutBody();
    },
    tryEnd(chunk, totalSize) {
      if (!live()) return [false, true];
      unpause();
      const [ok, done] = res.tryEnd(chunk, totalSize);
      if (done) finished = true;
      return [ok, done];
    },
    writeOffset: () => (live() ? res.getWriteOffset() : 0),
    onWritable(write) {
      if (live()) res.onWritable((offset) => (live() ? write(offset) : true));
    },
    close() {
      if (!live()) return;
      finished = true;
      res.close();
    },
  };
}
