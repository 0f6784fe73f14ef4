// Who may do what in a conversation: membership (a non-member learns nothing) and roles.
import { fail } from '../errors.ts';
import type { Ctx } from '../context.ts';
import type { ConversationRow } from '../storage/stores/conversations.ts';
import type { MemberRow } from '../storage/stores/members.ts';
import type { MessageRow } from '../storage/stores/messages.ts';

export type Membership = { conversation: ConversationRow; member: MemberRow };

/**
 * The caller's membership of a conversation (the one the guard found, handed on in `ctx`, when it is
 * that conversation's); a non-member gets the answer for one that does not exist.
 */
export async function membership(ctx: Ctx, conversationId: number): Promise<Membership> {
  const guarded = ctx.membership;
  if (guarded?.conversation.id === conversationId) return guarded;
  const me = ctx.caller.user;
  const both = await ctx.store.conversations.withMember(conversationId, me.id);
  if (!both) throw fail('not_in_conversation', { username: me.username, id: conversationId });
  return both;
}

/**
 * The guard of every event that names a conversation: membership first, as the seed checks it.
 * One lookup (the membership and the conversation together), which dispatch hands to the handler.
 */
export const memberOf = (ctx: Ctx, { conversation_id }: { conversation_id: number }): Promise<Membership> => membership(ctx, conversation_id);

export const isAdmin = (member: MemberRow): boolean => member.role === 'owner' || member.role === 'admin';

/**
 * The caller's membership, when they are the owner or an admin. With `directAction`, a direct
 * conversation is refused first (its people are fixed), from the same lookup.
 */
export async function asAdmin(ctx: Ctx, conversationId: number, action: string, directAction?: string): Promise<Membership> {
  const found = await membership(ctx, conversationId);
  if (directAction !== undefined) notDirect(found.conversation, directAction);
  if (!isAdmin(found.member)) throw fail('admins_only', { id: conversationId, action });
  return found;
}

/** Refuses what a direct conversation cannot do: its people are fixed. */
export function notDirect(conversation: ConversationRow, action: string): void {
  if (conversation.kind === 'direct') throw fail('direct_fixed', { action });
}

/** A message the caller can see (a member, after their clear point); else the answer for one that does not exist. */
export async function visibleMessage(ctx: Ctx, messageId: number): Promise<Membership & { message: MessageRow }> {
  const message = await ctx.store.messages.byId(messageId);
  const member = message && (await ctx.store.members.get(message.conversation_id, ctx.caller.user.id));
  const conversation = member && message.id > member.cleared_id && (await ctx.store.conversations.byId(message.conversation_id));
  if (!message || !member || !conversation) throw fail('no_such_message', { id: messageId });
  return { conversation, member, message };
}
