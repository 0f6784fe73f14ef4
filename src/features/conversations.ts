// Conversations: creating one (every member told), listing them, and one with its members.
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { conversationTopic } from '../registry.ts';
import type { Handlers } from './handler.ts';

export const conversationHandlers = {
  create_conversation: {
    schema: events.create_conversation.request,
    run(ctx, { name, members }) {
      const me = ctx.caller.user;
      const seen = new Set([me.username.toLowerCase()]);
      const usernames = [me.username];
      const ids = [me.id];
      for (const username of members) {
        if (seen.has(username.toLowerCase())) continue;
        const row = ctx.store.users.byUsername(username);
        if (!row) throw fail('invalid_member', { username });
        seen.add(username.toLowerCase());
        usernames.push(row.username);
        ids.push(row.id);
      }
      const title = name ?? usernames.join(', ').slice(0, limits.name);
      const id = ctx.store.conversations.create({ name: title, creatorId: me.id, memberIds: ids, now: ctx.now() });
      // Only once committed: a rolled-back id would be handed out again, to other people.
      ctx.commit.after((committed) => committed && ctx.registry.subscribe(ids, conversationTopic(id)));
      return { id, name: title, members: usernames };
    },
    fanout: (_ctx, _input, conversation) => ({ conversation: conversation.id }),
  },
  get_conversations: {
    schema: events.get_conversations.request,
    run: (ctx) => ctx.store.conversations.forUser(ctx.caller.user.id),
  },
  get_conversation_info: {
    schema: events.get_conversation_info.request,
    run(ctx, { id }) {
      const me = ctx.caller.user;
      const conversation = ctx.store.conversations.isMember(id, me.id) && ctx.store.conversations.byId(id);
      if (!conversation) throw fail('not_in_conversation_info', { username: me.username, id });
      return { id, name: conversation.name, members: ctx.store.conversations.memberUsernames(id) };
    },
  },
} satisfies Partial<Handlers>;
