// When to try a failed notification again: exponential backoff with jitter, capped, a push service's
// Retry-After honoured, and a time after which it is given up.

export type RetryPolicy = {
  /** The first wait, in ms; each further attempt doubles it… */
  baseMs: number;
  /** …up to this. */
  capMs: number;
  /** Give up this long (ms) after the notification was queued (the TTL: past it the push service would drop it anyway). */
  giveUpMs: number;
};

export const defaultRetryPolicy = (ttlSeconds: number): RetryPolicy => ({ baseMs: 1000, capMs: 10 * 60_000, giveUpMs: ttlSeconds * 1000 });

/**
 * The time of the next attempt, or 'give_up'. `attempts`: how many were made (1 after the first);
 * the wait is between half and all of `baseMs × 2^(attempts−1)` (capped), at random, so devices that
 * failed together do not come back together; never shorter than the service's `retryAfterMs`.
 */
export function nextAttempt(
  policy: RetryPolicy,
  failure: { attempts: number; queuedAt: number; now: number; retryAfterMs?: number | undefined },
  random: () => number = Math.random,
): number | 'give_up' {
  const step = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(failure.attempts - 1, 40));
  const wait = Math.max(step / 2 + random() * (step / 2), failure.retryAfterMs ?? 0);
  const at = Math.round(failure.now + wait);
  return at >= failure.queuedAt + policy.giveUpMs ? 'give_up' : at;
}

const day = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const month = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const time = '\\d{2}:\\d{2}:\\d{2}';
/** The three forms of HTTP-date (RFC 9110 5.6.7); each says or means GMT. */
const imfFixdate = new RegExp(`^${day}, \\d{2} ${month} \\d{4} ${time} GMT$`);
const rfc850 = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \\d{2}-${month}-\\d{2} ${time} GMT$`);
const asctime = new RegExp(`^${day} ${month} [ \\d]\\d ${time} \\d{4}$`);

/**
 * A Retry-After header in ms from `now`: delay-seconds (`120`) or an HTTP date (in any of its three
 * forms); undefined when absent or neither. A date in the past means now.
 */
export function retryAfterMs(header: string | undefined, now: number): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  // Date.parse alone would take far looser text, and read an asctime date in local time.
  const at = imfFixdate.test(text) || rfc850.test(text) ? Date.parse(text) : asctime.test(text) ? Date.parse(`${text} GMT`) : NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
