// Catching up after a disconnect: the event log replayed from the last seq a client saw.
import { events, limits } from '../../protocol/index.ts';
import { personalise } from './message-view.ts';
import type { Handlers } from './handler.ts';

export const syncHandlers = {
  sync: {
    schema: events.sync.request,
    run(ctx, { since, limit }) {
      const pruned = ctx.store.events.prunedThrough();
      if (since < pruned) return { events: [], next: ctx.store.events.latest(), has_more: false, reset: true };
      const { username } = ctx.caller.user;
      const size = limit ?? limits.syncPage.default;
      const rows = ctx.store.events.after(ctx.caller.user.id, since, size + 1);
      const page = rows.slice(0, size);
      return {
        events: page.map((row) => ({ type: row.type, success: true as const, data: personalise(row.type, JSON.parse(row.data), username), seq: row.seq })),
        next: page.at(-1)?.seq ?? since,
        has_more: rows.length > size,
        reset: false,
      };
    },
  },
} satisfies Partial<Handlers>;
