// Catching up: replaying the event log after the last seq a client saw.
import * as v from 'valibot';
import { event, fields, integer, limits, pageLimit, readLater } from '../spec.ts';

const { default: page, max } = limits.syncPage;

export const sync = event({
  summary: `Returns, oldest first, every logged event after \`since\` that you may see, as the envelopes that were pushed, up to the end of the log when it was asked: what is logged after that is pushed, and may arrive before this reply. ${readLater}`,
  request: fields({
    since: v.pipe(
      integer('since must be a whole number: the last seq you saw, or 0'),
      v.minValue(0, 'since must be a whole number: the last seq you saw, or 0'),
      v.description('the `seq` of the last event you saw; 0 for none'),
    ),
    limit: pageLimit(max, page),
  }),
  reply: v.object({
    events: v.pipe(
      v.array(v.object({ type: v.string(), success: v.literal(true), data: v.unknown(), seq: v.number() })),
      v.description('the envelopes, as pushed (without ref)'),
    ),
    next: v.pipe(v.number(), v.description('the seq to pass as `since` next time')),
    has_more: v.pipe(v.boolean(), v.description(`more events follow: sync again from \`next\`. A page holds at most \`limit\` events and about ${limits.syncPageBytes / 1024} KiB (a quarter of MAX_BACKPRESSURE when that is smaller), but always at least one event`)),
    reset: v.pipe(v.boolean(), v.description('true when the log cannot say what you missed: events after `since` are no longer kept (EVENT_LOG_DAYS), or `since` is beyond the newest seq (the database was restored or replaced). Reload with the get_ events, then sync from `next`')),
  }),
  errors: [],
  cost: 5,
});
