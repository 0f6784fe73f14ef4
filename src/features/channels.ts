// Channels: finding and joining public conversations, and bans that keep people out of a group or channel.
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { conversationView } from './conversations.ts';
import { aPerson, asAdmin, memberOf } from './membership.ts';
import { laterRead, tell, type Handlers } from './handler.ts';
import { cursorAfter } from '../reads/paging.ts';

export const channelHandlers = {
  list_channels: {
    schema: events.list_channels.request,
    async run(ctx, { query, before, limit }) {
      const input = { reader: ctx.caller.user.id, query: query?.trim() || null, before: before ?? null, size: limit ?? limits.channelsPage.default, examined: limits.channelsExamined };
      // Read after the commit, away from the queue of work (on SQLite on a reader thread).
      return laterRead(ctx, 'channels', input);
    },
  },
  join_channel: {
    schema: events.join_channel.request,
    async run(ctx, { conversation_id }) {
      const me = ctx.caller.user;
      await aPerson(ctx, 'join channels: it joins those it is added to');
      const channel = await ctx.store.conversations.byId(conversation_id);
      // A group is invite only: to an outsider it is no channel at all.
      if (channel?.kind !== 'channel') throw fail('no_such_channel', { id: conversation_id });
      if (await ctx.store.members.get(conversation_id, me.id)) throw fail('already_in_channel', { id: conversation_id });
      if (await ctx.store.members.isBanned(conversation_id, me.id)) throw fail('banned', { username: me.username, id: conversation_id });
      if ((await ctx.store.members.countToAdd(conversation_id)) >= limits.members) throw fail('too_many_members', { limit: limits.members });
      await ctx.store.members.add(conversation_id, me.id, ctx.now());
      // An invitation to it is answered: it must not come back should they leave.
      await ctx.store.invitations.remove(conversation_id, me.id);
      const data = { conversation: await conversationView(ctx, channel), added: [me.username], by: me.username };
      return tell(data, { conversation: conversation_id, joined: [me.id] });
    },
  },
  ban_member: {
    schema: events.ban_member.request,
    guard: memberOf,
    async run(ctx, { conversation_id, username }) {
      const { member: mine } = await asAdmin(ctx, conversation_id, 'ban members', 'ban anyone');
      const me = ctx.caller.user;
      if (username.toLowerCase() === me.username.toLowerCase()) throw fail('not_yourself', { action: 'ban', hint: ': use leave_conversation' });
      const user = await ctx.store.users.byUsername(username);
      if (!user) throw fail('no_such_user', { username });
      const member = await ctx.store.members.get(conversation_id, user.id);
      if (member && member.role !== 'member' && mine.role !== 'owner') throw fail('outranked', { username: user.username, id: conversation_id, action: 'ban' });
      if (await ctx.store.members.isBanned(conversation_id, user.id)) throw fail('already_banned', { username: user.username, id: conversation_id });
      if ((await ctx.store.members.banCountToBan(conversation_id)) >= limits.bansPerConversation) throw fail('too_many_bans', { limit: limits.bansPerConversation });
      await ctx.store.members.ban(conversation_id, user.id, me.id, ctx.now());
      if (member) await ctx.store.members.remove(conversation_id, user.id);
      return tell({ conversation_id, username: user.username, by: me.username }, { conversation: conversation_id, left: member ? [user.id] : [] });
    },
  },
  unban_member: {
    schema: events.unban_member.request,
    guard: memberOf,
    async run(ctx, { conversation_id, username }) {
      await asAdmin(ctx, conversation_id, 'unban members');
      const user = await ctx.store.users.byUsername(username);
      if (!user || !(await ctx.store.members.unban(conversation_id, user.id))) throw fail('not_banned', { username, id: conversation_id });
      // Bans are the admins' business: only they are told.
      const admins = (await ctx.store.members.list(conversation_id)).filter((member) => member.role !== 'member').map((member) => member.user_id);
      return tell({ conversation_id, username: user.username, by: ctx.caller.user.username }, { users: admins });
    },
  },
  get_banned: {
    schema: events.get_banned.request,
    guard: memberOf,
    async run(ctx, { conversation_id, after, limit }) {
      await asAdmin(ctx, conversation_id, 'see who is banned');
      const query = { conversation: conversation_id, from: cursorAfter(after, 2), limit: limit ?? limits.bannedPage.default };
      return laterRead(ctx, 'banned', query);
    },
  },
} satisfies Partial<Handlers>;
