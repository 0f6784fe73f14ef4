// Invitations: listing yours, and accepting (you join) or declining (nobody is told) them.
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { conversationView } from './conversations.ts';
import { tell, type Handlers } from './handler.ts';
import type { Ctx } from '../context.ts';

/** The caller's pending invitation to a conversation; `no_such_invitation` otherwise. */
async function pendingInvitation(ctx: Ctx, conversationId: number) {
  const invitation = await ctx.store.invitations.get(conversationId, ctx.caller.user.id);
  if (!invitation) throw fail('no_such_invitation', { id: conversationId });
  return invitation;
}

export const invitationHandlers = {
  get_invitations: {
    schema: events.get_invitations.request,
    async run(ctx, { before, limit }) {
      const size = limit ?? limits.invitationsPage.default;
      const rows = await ctx.store.invitations.list(ctx.caller.user.id, before ?? null, size + 1);
      return {
        invitations: rows.slice(0, size).map((row) => ({
          id: row.id, conversation_id: row.conversation_id, name: row.name, kind: row.kind, description: row.description, by: row.inviter, invited_at: row.invited_at,
        })),
        has_more: rows.length > size,
      };
    },
  },
  accept_invitation: {
    schema: events.accept_invitation.request,
    async run(ctx, { conversation_id }) {
      const me = ctx.caller.user;
      const invitation = await pendingInvitation(ctx, conversation_id);
      const conversation = (await ctx.store.conversations.byId(conversation_id))!;
      if (await ctx.store.members.isBanned(conversation_id, me.id)) throw fail('banned', { username: me.username, id: conversation_id });
      if ((await ctx.store.members.countToAdd(conversation_id)) >= limits.members) throw fail('too_many_members', { limit: limits.members });
      // A direct conversation has two owners: neither can lock the other out.
      await ctx.store.members.add(conversation_id, me.id, ctx.now(), conversation.kind === 'direct' ? 'owner' : 'member');
      await ctx.store.invitations.remove(conversation_id, me.id);
      const data = { conversation: await conversationView(ctx, conversation), added: [me.username], by: invitation.inviter };
      return tell(data, { conversation: conversation_id, joined: [me.id] });
    },
  },
  decline_invitation: {
    schema: events.decline_invitation.request,
    async run(ctx, { conversation_id }) {
      const invitation = await pendingInvitation(ctx, conversation_id);
      await ctx.store.invitations.remove(conversation_id, ctx.caller.user.id);
      // A direct conversation asked for and declined is no longer the pair's: either may start another.
      if (invitation.kind === 'direct') await ctx.store.conversations.undirect(conversation_id);
      return tell({ conversation_id }, { users: [ctx.caller.user.id] });
    },
  },
} satisfies Partial<Handlers>;
