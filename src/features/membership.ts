// Who may do what in a conversation: membership (a non-member learns nothing) and roles.
import { fail } from '../errors.ts';
import type { Ctx } from '../context.ts';
import type { ConversationRow } from '../storage/stores/conversations.ts';
import type { MemberRow } from '../storage/stores/members.ts';
import type { MessageRow } from '../storage/stores/messages.ts';

export type Membership = { conversation: ConversationRow; member: MemberRow };

/** What the guard found, for the handler of the same unit to take instead of looking again. */
const found = new WeakMap<Ctx, { conversationId: number } & Membership>();

/** The caller's membership of a conversation; a non-member gets the answer for one that does not exist. */
export async function membership(ctx: Ctx, conversationId: number): Promise<Membership> {
  const me = ctx.caller.user;
  const guarded = found.get(ctx);
  if (guarded?.conversationId === conversationId) {
    found.delete(ctx); // taken once: whatever the handler then changes, it looks up afresh
    return { conversation: guarded.conversation, member: guarded.member };
  }
  const both = await ctx.store.conversations.withMember(conversationId, me.id);
  if (!both) throw fail('not_in_conversation', { username: me.username, id: conversationId });
  return both;
}

/**
 * The guard of every event that names a conversation: membership first, as the seed checks it.
 * One lookup (the membership and the conversation together), which the handler then reuses.
 */
export async function memberOf(ctx: Ctx, { conversation_id }: { conversation_id: number }): Promise<void> {
  found.delete(ctx);
  const both = await membership(ctx, conversation_id);
  found.set(ctx, { conversationId: conversation_id, ...both });
}

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
