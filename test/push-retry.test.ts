// The retry policy as a pure function: exponential backoff with jitter, a cap, Retry-After honoured, a give-up time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRetryPolicy, nextAttempt, retryAfterMs, type RetryPolicy } from '../src/push/retry.ts';

const policy: RetryPolicy = { baseMs: 1000, capMs: 60_000, giveUpMs: 3_600_000 };
const failure = (attempts: number, extra: { now?: number; retryAfterMs?: number } = {}) => ({ attempts, queuedAt: 0, now: extra.now ?? 10_000, retryAfterMs: extra.retryAfterMs });

test('each failure waits between half and all of a doubling step, up to the cap', () => {
  const waits = (random: number) => [1, 2, 3, 4, 7, 8, 30].map((attempts) => (nextAttempt(policy, failure(attempts), () => random) as number) - 10_000);
  assert.deepEqual(waits(0), [500, 1000, 2000, 4000, 30_000, 30_000, 30_000]);
  assert.deepEqual(waits(0.999999), [1000, 2000, 4000, 8000, 60_000, 60_000, 60_000]);
  assert.deepEqual(waits(0.5), [750, 1500, 3000, 6000, 45_000, 45_000, 45_000]);
});

test('Retry-After is waited for at least, even past the cap', () => {
  assert.equal(nextAttempt(policy, failure(1, { retryAfterMs: 120_000 }), () => 0), 130_000);
  assert.equal(nextAttempt(policy, failure(5, { retryAfterMs: 10 }), () => 0), 10_000 + 8000, 'a short Retry-After does not shorten the backoff');
});

test('past the give-up time the notification is given up', () => {
  assert.equal(nextAttempt(policy, failure(3, { now: 3_590_000 }), () => 0), 3_592_000);
  assert.equal(nextAttempt(policy, failure(3, { now: 3_598_000 }), () => 0), 'give_up');
  assert.equal(nextAttempt(policy, failure(1, { retryAfterMs: 3_600_000 }), () => 0), 'give_up', 'a Retry-After beyond it too');
  assert.equal(nextAttempt(defaultRetryPolicy(0), failure(1, { now: 0 }), () => 0), 'give_up', 'TTL 0: now or never');
  assert.deepEqual(defaultRetryPolicy(86_400), { baseMs: 1000, capMs: 600_000, giveUpMs: 86_400_000 });
  assert.equal(typeof nextAttempt(policy, failure(1_000_000, { now: 0 })), 'number', 'a huge attempt count is capped, not Infinity');
});

test('Retry-After in seconds or as an HTTP date, in each of its three forms', () => {
  const now = Date.parse('2026-11-22T10:00:00Z');
  assert.equal(retryAfterMs('120', now), 120_000);
  assert.equal(retryAfterMs(' 0 ', now), 0);
  assert.equal(retryAfterMs('Sun, 22 Nov 2026 10:01:30 GMT', now), 90_000);
  assert.equal(retryAfterMs('Sunday, 22-Nov-26 10:01:30 GMT', now), 90_000);
  assert.equal(retryAfterMs('Sun Nov 22 10:01:30 2026', now), 90_000, 'asctime is GMT, not local time');
  assert.equal(retryAfterMs('Sun, 22 Nov 2026 09:00:00 GMT', now), 0, 'a date past is now');
  for (const bad of [undefined, '', '-5', '1.5', 'soon', '2026-11-22T10:01:30Z', 'Sun, 22 Nov 2026 10:01:30 PST', '12345678901']) {
    assert.equal(retryAfterMs(bad, now), undefined, String(bad));
  }
});
