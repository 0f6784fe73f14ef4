// Members: listing them, adding and removing people, roles, and leaving.
import { avatarUrl } from '../delivery/views.ts';
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { conversationView, removeConversation } from './conversations.ts';
import { asAdmin, invite, mayAdd, memberOf, membership, notDirect } from './membership.ts';
import { invitable, shownOnline, viewer } from './users.ts';
import type { Ctx } from '../context.ts';
import type { UserRow } from '../storage/index.ts';
import { later, tell, type Handlers } from './handler.ts';
import type { Audience } from '../delivery/fanout.ts';
import type { MemberRow } from '../storage/stores/members.ts';
import { notifyJoined } from './notify.ts';

/** A member named by username, with their role; `not_member` otherwise. */
export async function namedMember(ctx: Ctx, conversationId: number, username: string) {
  const user = await ctx.store.users.byUsername(username);
  const member = user && (await ctx.store.members.get(conversationId, user.id));
  if (!user || !member) throw fail('not_member', { username, id: conversationId });
  return { user, member };
}

export const memberHandlers = {
  get_members: {
    schema: events.get_members.request,
    guard: memberOf,
    async run(ctx, { conversation_id }) {
      const reader = ctx.caller.user.id;
      // Read after the commit, away from the queue of work (up to a thousand members); who is online is asked here.
      return later(async () => {
        const { value: { rows, blocked }, ms } = await ctx.reads.run('members', { conversation: conversation_id, reader });
        const seen = viewer(reader, blocked);
        // Presence as the caller may see it: invisible members and blocked people look offline; a block
        // either way also hides how far the other has read (as their receipts are not pushed).
        const online = await shownOnline(ctx, rows.map((member) => ({ id: member.user_id, status: member.status })), seen);
        const data = rows.map((member) => ({
          username: member.username,
          fullname: member.fullname,
          role: member.role,
          is_online: online.has(member.user_id),
          last_read_id: seen.blocked.has(member.user_id) ? 0 : member.read_id,
          joined_at: member.joined_at,
          avatar_url: avatarUrl(member.avatar_file_id),
        }));
        return { data, ms };
      });
    },
  },
  add_members: {
    schema: events.add_members.request,
    guard: memberOf,
    async run(ctx, { conversation_id, members }) {
      const { conversation } = await asAdmin(ctx, conversation_id, 'add members', 'add members');
      const added = new Map<number, string>();
      const invitees = new Map<number, UserRow>();
      for (const username of members) {
        const user = await invitable(ctx, username);
        if (await ctx.store.members.isBanned(conversation_id, user.id)) throw fail('banned', { username: user.username, id: conversation_id });
        if (await ctx.store.members.get(conversation_id, user.id)) continue;
        if (await mayAdd(ctx, user)) added.set(user.id, user.username);
        else invitees.set(user.id, user);
      }
      if (added.size + invitees.size === 0) throw fail('already_members', { id: conversation_id });
      if ((await ctx.store.members.countToAdd(conversation_id)) + added.size > limits.members) throw fail('too_many_members', { limit: limits.members });
      await ctx.quotas.adding(ctx.caller.user.id, added.size + invitees.size);
      const now = ctx.now();
      for (const userId of added.keys()) {
        await ctx.store.members.add(conversation_id, userId, now);
        // Added meanwhile by someone they let add them: an invitation of theirs is answered.
        await ctx.store.invitations.remove(conversation_id, userId);
      }
      const invited = await invite(ctx, conversation, [...invitees.values()]);
      await notifyJoined(ctx, conversation, ctx.caller.user, [...added.keys()]);
      const data = { conversation: await conversationView(ctx, conversation), added: [...added.values()], by: ctx.caller.user.username, ...(invited.length ? { invited } : {}) };
      // Nobody joined: the members have nothing to hear of (those invited have their invitation).
      if (added.size === 0) return data;
      return tell(data, { conversation: conversation_id, joined: [...added.keys()] });
    },
  },
  remove_member: {
    schema: events.remove_member.request,
    guard: memberOf,
    async run(ctx, { conversation_id, username }) {
      const { member: mine } = await asAdmin(ctx, conversation_id, 'remove members', 'remove members');
      if (username.toLowerCase() === ctx.caller.user.username.toLowerCase()) throw fail('not_yourself', { action: 'remove', hint: ': use leave_conversation' });
      const { user, member } = await namedMember(ctx, conversation_id, username);
      if (member.role !== 'member' && mine.role !== 'owner') throw fail('outranked', { username: user.username, id: conversation_id, action: 'remove' });
      await ctx.store.members.remove(conversation_id, user.id);
      // The removed member gets this event, and no later one.
      return tell({ conversation_id, username: user.username, by: ctx.caller.user.username }, { conversation: conversation_id, left: [user.id] });
    },
  },
  set_member_role: {
    schema: events.set_member_role.request,
    guard: memberOf,
    async run(ctx, { conversation_id, username, role }) {
      const { member: mine } = await asAdmin(ctx, conversation_id, 'change roles', 'change roles');
      const me = ctx.caller.user;
      if (username.toLowerCase() === me.username.toLowerCase()) throw fail('not_yourself', { action: 'change the role of', hint: '' });
      const { user, member } = await namedMember(ctx, conversation_id, username);
      if (member.role !== 'member' && mine.role !== 'owner') throw fail('outranked', { username: user.username, id: conversation_id, action: 'change the role of' });
      if (role === 'owner' && mine.role !== 'owner') throw fail('owner_only', { id: conversation_id, action: 'hand over ownership' });
      await ctx.store.members.setRole(conversation_id, user.id, role);
      // One owner at a time: handing ownership over makes the old owner an admin.
      if (role === 'owner') await ctx.store.members.setRole(conversation_id, me.id, 'admin');
      return tell({ conversation_id, username: user.username, role, by: me.username }, { conversation: conversation_id });
    },
  },
  leave_conversation: {
    schema: events.leave_conversation.request,
    guard: memberOf,
    async run(ctx, { conversation_id }) {
      const { conversation, member } = await membership(ctx, conversation_id);
      notDirect(conversation, 'leave it (delete it instead)');
      const { data, audience } = await leave(ctx, conversation_id, ctx.caller.user, member.role);
      return tell(data, audience);
    },
  },
} satisfies Partial<Handlers>;

/**
 * Takes a member out of a conversation. An owner hands it to the longest-standing admin, else member;
 * the last one out deletes it. Returns the `leave_conversation` data and who is to be told.
 */
export async function leave(ctx: Ctx, conversationId: number, user: { id: number; username: string }, role: MemberRow['role']) {
  await ctx.store.members.remove(conversationId, user.id);
  let newOwner: string | null = null;
  const heir = role === 'owner' ? await ctx.store.members.successor(conversationId) : undefined;
  if (heir !== undefined) {
    await ctx.store.members.setRole(conversationId, heir, 'owner');
    newOwner = (await ctx.store.users.byId(heir))?.username ?? null;
  }
  const data = { conversation_id: conversationId, username: user.username, new_owner: newOwner };
  const audience: Audience = (await ctx.store.members.count(conversationId)) === 0
    ? { users: (await removeConversation(ctx, conversationId)).concat(user.id) }
    : { conversation: conversationId, left: [user.id] };
  return { data, audience };
}
