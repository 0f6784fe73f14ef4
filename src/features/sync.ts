// Catching up after a disconnect: the event log replayed from the last seq a client saw.
import { events, limits } from '../../protocol/index.ts';
import { later, type Handlers } from './handler.ts';

export const syncHandlers = {
  sync: {
    schema: events.sync.request,
    async run(ctx, { since, limit }) {
      const latest = await ctx.store.events.latest();
      // Too old for the log, or from a future this database never had (a restore, a reset): reload.
      if (since < (await ctx.store.events.prunedThrough()) || since > latest) return { events: [], next: latest, has_more: false, reset: true };
      const { id, username } = ctx.caller.user;
      // Bounded in bytes too: a page of big events must not fill a slow socket's buffer on every reconnect.
      const bytes = Math.min(limits.syncPageBytes, ctx.settings.MAX_BACKPRESSURE / 4);
      // Read after the commit, up to the log's end as it is now: what is logged later is pushed to the socket as it comes.
      const query = { reader: { id, username }, since, through: latest, size: limit ?? limits.syncPage.default, bytes };
      return later(async () => {
        const { value, ms } = await ctx.reads.run('sync', query);
        return { data: { ...value, reset: false }, ms };
      });
    },
  },
} satisfies Partial<Handlers>;
