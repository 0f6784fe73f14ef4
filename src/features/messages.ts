// Messages: sending (every member's sockets told) and reading a conversation's history.
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import type { Ctx } from '../context.ts';
import type { Handlers } from './handler.ts';

/** The seed checks membership before the other fields; a non-member gets the answer for a missing conversation. */
function memberOf(ctx: Ctx, { conversation_id }: { conversation_id: number }): void {
  if (!ctx.store.conversations.isMember(conversation_id, ctx.caller.user.id)) {
    throw fail('not_in_conversation', { username: ctx.caller.user.username, id: conversation_id });
  }
}

/** Replies that return a message sent before under the same client_id: nothing is pushed for them. */
const repeats = new WeakSet<object>();

export const messageHandlers = {
  send_message: {
    schema: events.send_message.request,
    guard: memberOf,
    run(ctx, { conversation_id, content, reply_id, client_id }) {
      const me = ctx.caller.user;
      const clientId = client_id ?? null;
      const earlier = clientId === null ? undefined : ctx.store.messages.byClientId(me.id, clientId);
      if (earlier) {
        repeats.add(earlier); // the row is already the reply, field for field
        return earlier;
      }
      const limit = ctx.settings.MAX_MESSAGE_LENGTH;
      if (content.length > limit && [...content].length > limit) throw fail('content_too_long', { limit });
      const replyId = reply_id ?? null;
      if (replyId !== null && !ctx.store.messages.inConversation(replyId, conversation_id)) {
        throw fail('no_such_reply', { reply_id: replyId, conversation_id });
      }
      const sentAt = ctx.now();
      const id = ctx.store.messages.insert({ conversationId: conversation_id, senderId: me.id, replyId, content, sentAt, clientId });
      return { id, sender_username: me.username, conversation_id, reply_id: replyId, content, sent_at: sentAt };
    },
    fanout: (_ctx, input, message) => (repeats.has(message) ? undefined : { conversation: input.conversation_id }),
  },
  get_messages: {
    schema: events.get_messages.request,
    guard: memberOf,
    run: (ctx, { conversation_id, before }) => ({
      conversation_id,
      messages: ctx.store.messages.page(conversation_id, before ?? null, limits.messagesPage),
    }),
  },
} satisfies Partial<Handlers>;
