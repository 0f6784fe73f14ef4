// Retention: how many days a conversation keeps its messages (the deleting is src/expire-messages.ts).
import { events } from '../../protocol/index.ts';
import { asAdmin, memberOf } from './membership.ts';
import { tell, type Handlers } from './handler.ts';

export const retentionHandlers = {
  set_retention: {
    schema: events.set_retention.request,
    guard: memberOf,
    async run(ctx, { conversation_id, days }) {
      await asAdmin(ctx, conversation_id, 'change how long it keeps messages');
      await ctx.store.retention.set(conversation_id, days);
      const effective = days ?? (ctx.settings.RETENTION_DAYS || null);
      ctx.log.info('retention set', { conversation: conversation_id, days, by: ctx.caller.user.username });
      return tell({ conversation_id, days, effective_days: effective, by: ctx.caller.user.username }, { conversation: conversation_id });
    },
  },
} satisfies Partial<Handlers>;
