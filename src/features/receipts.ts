// The events about receipts: marking read, and who has been delivered and has read a message (the
// service that gathers and pushes receipts is src/receipts.ts).
import { events } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { memberOf, visibleMessage } from './membership.ts';
import type { Handlers } from './handler.ts';

export const receiptHandlers = {
  mark_read: {
    schema: events.mark_read.request,
    guard: memberOf,
    async run(ctx, { conversation_id, message_id }) {
      const me = ctx.caller.user;
      const { message, member } = await visibleMessage(ctx, message_id);
      if (message.conversation_id !== conversation_id) throw fail('no_such_message', { id: message_id });
      if (message_id > member.read_id) {
        await ctx.store.members.read(conversation_id, me.id, message_id);
        ctx.job.after((committed) => committed && ctx.receipts.read(conversation_id, me.id));
      }
      return { conversation_id, read_id: Math.max(member.read_id, message_id) };
    },
  },
  get_receipts: {
    schema: events.get_receipts.request,
    async run(ctx, { message_id }) {
      const { message } = await visibleMessage(ctx, message_id);
      // Nobody on either side of a block with the caller: their receipts are not pushed to the caller either.
      const hidden = new Set(await ctx.store.contacts.blockingIn(message.conversation_id, ctx.caller.user.id));
      const others = (await ctx.store.members.list(message.conversation_id)).filter((member) => member.user_id !== message.sender_id && !hidden.has(member.user_id));
      return {
        message_id,
        delivered: others.filter((member) => member.delivered_id >= message_id).map((member) => member.username),
        read: others.filter((member) => member.read_id >= message_id).map((member) => member.username),
      };
    },
  },
} satisfies Partial<Handlers>;
