// Typing: who is typing where, pushed to the other online members; never stored, and it ends by itself.
import { events, limits, type EventReply, type EventRequest } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { pushText } from '../envelope.ts';
import { memberOf } from './membership.ts';
import type { App, Ctx } from '../context.ts';
import type { Outcome } from '../storage/engine/commit.ts';
import { alone, type Handlers } from './handler.ts';

type User = { readonly id: number; readonly username: string };

export type Typing = ReturnType<typeof createTyping>;

export function createTyping(app: Pick<App, 'store' | 'registry' | 'log' | 'cluster'>) {
  /** `conversation:user` → the timer that ends it. */
  const active = new Map<string, { timer: NodeJS.Timeout; conversationId: number; user: User }>();
  // Counted over every node of a cluster: a client spreading its sockets over nodes gets no more.
  const allowed = app.cluster.window('typing', limits.typingPerWindow, limits.typingWindowSeconds * 1000);

  /**
   * Pushes a typing change to the conversation's other members but those on either side of a block with
   * the typist (typing shows presence, which a block hides both ways); never stored, so read outside any unit of work.
   */
  async function tell(conversationId: number, user: User, isTyping: boolean): Promise<void> {
    const hidden = new Set(await app.store.contacts.blockingIn(conversationId, user.id));
    const others = (await app.store.conversations.members(conversationId)).flatMap((member) => (member.id === user.id || hidden.has(member.id) ? [] : [member.id]));
    const text = pushText('typing', { conversation_id: conversationId, username: user.username, is_typing: isTyping });
    app.registry.push(others, text);
    app.cluster.push('typing', others, text);
  }
  const told = (conversationId: number, user: User, isTyping: boolean) =>
    void tell(conversationId, user, isTyping).catch((error: unknown) => app.log.warn('typing not pushed', { error }));

  function stop(key: string): void {
    const found = active.get(key);
    if (!found) return;
    clearTimeout(found.timer);
    active.delete(key);
    told(found.conversationId, found.user, false);
  }

  return {
    /** Milliseconds the user must wait before another typing event in the conversation (counted over every node); 0 when counted. */
    wait: (conversationId: number, userId: number): Promise<number> => allowed(`${conversationId}:${userId}`),
    /** Starts, keeps alive or stops a user's typing; only changes are pushed. */
    set(conversationId: number, user: User, isTyping: boolean): void {
      const key = `${conversationId}:${user.id}`;
      const found = active.get(key);
      if (!isTyping) return stop(key);
      if (found) return void found.timer.refresh();
      const timer = setTimeout(() => stop(key), limits.typingSeconds * 1000).unref();
      active.set(key, { timer, conversationId, user });
      told(conversationId, user, true);
    },
    /** A user's last socket closed: whatever they were typing ends. */
    gone(userId: number): void {
      for (const [key, { user }] of active) if (user.id === userId) stop(key);
    },
    /** At shutdown: forget every timer without telling anyone. */
    clear(): void {
      for (const { timer } of active.values()) clearTimeout(timer);
      active.clear();
    },
  };
}

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
