// The `typing` event: a member says they are typing, or stopped (the service that pushes it is src/typing.ts).
import { events, limits, type EventReply, type EventRequest } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { memberOf } from './membership.ts';
import type { Ctx } from '../context.ts';
import type { Outcome } from '../storage/engine/commit.ts';
import { alone, type Handlers } from './handler.ts';

type Typed = { readonly ctx: Ctx; readonly input: EventRequest<'typing'> };

/**
 * Typing events, those of a batch together: their memberships and their typists' statuses read in one
 * statement each for all of them. Each is checked as alone: a member, not too often, and only an
 * invisible member's is kept to themself (typing shows you are online).
 */
async function typed(events: readonly Typed[]): Promise<Outcome<EventReply<'typing'>>[]> {
  const { store } = events[0]!.ctx;
  const [memberships, users] = await Promise.all([
    store.conversations.withMembers(events.map(({ ctx, input }) => [input.conversation_id, ctx.caller.user.id] as const)),
    store.users.byIds([...new Set(events.map(({ ctx }) => ctx.caller.user.id))]),
  ]);
  const invisible = new Set(users.filter((user) => user.status === 'invisible').map((user) => user.id));
  return Promise.all(events.map(async ({ ctx, input: { conversation_id, is_typing } }, i) => {
    const me = ctx.caller.user;
    try {
      if (!memberships[i]) throw fail('not_in_conversation', { username: me.username, id: conversation_id });
      if ((await ctx.typing.wait(conversation_id, me.id)) > 0) {
        throw fail('typing_too_often', { limit: limits.typingPerWindow, seconds: limits.typingWindowSeconds });
      }
      if (!invisible.has(me.id)) ctx.job.after((committed) => committed && ctx.typing.set(conversation_id, me, is_typing));
      return { value: { conversation_id, is_typing } };
    } catch (error) {
      return { error };
    }
  }));
}

export const typingHandlers = {
  typing: {
    schema: events.typing.request,
    guard: memberOf,
    many: typed,
    run: alone(typed),
  },
} satisfies Partial<Handlers>;
