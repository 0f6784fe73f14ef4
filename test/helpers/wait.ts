// Waiting in tests: for a condition (until), and, where time itself is what is tested, for a while (sleep).
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
