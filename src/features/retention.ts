// Retention: how many days a conversation keeps its messages (the deleting is src/expire-messages.ts).
import { events } from '../../protocol/index.ts';
import type { Ctx } from '../context.ts';
import { asAdmin, memberOf } from './membership.ts';
import { tell, type Handlers } from './handler.ts';

/** The days that apply: the conversation's own, else the server's; null keeps messages for ever. */
const effective = (ctx: Ctx, days: number | null) => days ?? (ctx.settings.RETENTION_DAYS || null);

export const retentionHandlers = {
  set_retention: {
    schema: events.set_retention.request,
    guard: memberOf,
    async run(ctx, { conversation_id, days }) {
      await asAdmin(ctx, conversation_id, 'change how long it keeps messages');
      await ctx.store.retention.set(conversation_id, days);
      ctx.log.info('retention set', { conversation: conversation_id, days, by: ctx.caller.user.username });
      return tell({ conversation_id, days, effective_days: effective(ctx, days), by: ctx.caller.user.username }, { conversation: conversation_id });
    },
  },
  get_retention: {
    schema: events.get_retention.request,
    guard: memberOf,
    async run(ctx, { conversation_id }) {
      const days = await ctx.store.retention.of(conversation_id);
      return { conversation_id, days, effective_days: effective(ctx, days) };
    },
  },
} satisfies Partial<Handlers>;
