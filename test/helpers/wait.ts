// Waiting in tests: for a condition (until), for an answer that may never come (answered), and, where time
// itself is what is tested, for a while (sleep).
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/**
 * Resolves once `done()` holds, looking every 10 ms; fails after `timeoutMs` naming `what`: a text, or a
 * function giving what was seen so far (called only then).
 */
export async function until(what: string | (() => unknown), done: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !done(); await sleep(10)) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${typeof what === 'string' ? what : JSON.stringify(what())}`);
  }
}

/**
 * Resolves as `reply` does, or fails after `timeoutMs` with `why()` (what the server said, say): a request a
 * server never answers then fails its test by name, not the file's 5-minute timeout.
 */
export async function answered<T>(reply: Promise<T>, why: () => string, timeoutMs = 30_000): Promise<T> {
  const silent = Symbol('silent');
  const first = await Promise.race([reply, sleep(timeoutMs, silent, { ref: false })]);
  if (first === silent) throw new Error(`no answer within ${timeoutMs} ms; ${why()}`);
  return first as T;
}
