// Catching up after a disconnect: the event log replayed from the last seq a client saw.
import { events, limits } from '../../protocol/index.ts';
import { personalise } from './message-view.ts';
import type { Handlers } from './handler.ts';

export const syncHandlers = {
  sync: {
    schema: events.sync.request,
    async run(ctx, { since, limit }) {
      const latest = await ctx.store.events.latest();
      // Too old for the log, or from a future this database never had (a restore, a reset): reload.
      if (since < (await ctx.store.events.prunedThrough()) || since > latest) return { events: [], next: latest, has_more: false, reset: true };
      const { username } = ctx.caller.user;
      const size = limit ?? limits.syncPage.default;
      const rows = await ctx.store.events.after(ctx.caller.user.id, since, size + 1);
      // Bounded in bytes too: a page of big events must not fill a slow socket's buffer on every reconnect.
      const budget = Math.min(limits.syncPageBytes, ctx.settings.MAX_BACKPRESSURE / 4);
      let bytes = 0;
      let count = 0;
      while (count < Math.min(size, rows.length) && (count === 0 || bytes + rows[count]!.data.length <= budget)) bytes += rows[count++]!.data.length;
      const page = rows.slice(0, count);
      return {
        events: page.map((row) => ({ type: row.type, success: true as const, data: personalise(row.type, JSON.parse(row.data), username), seq: row.seq })),
        next: page.at(-1)?.seq ?? since,
        has_more: rows.length > count,
        reset: false,
      };
    },
  },
} satisfies Partial<Handlers>;
