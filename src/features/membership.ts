// Who may do what in a conversation: membership (a non-member learns nothing), roles, and who may be added or only invited.
import { fail } from '../errors.ts';
import { logAndDeliver } from '../delivery/fanout.ts';
import { notifyInvited } from './notify.ts';
import type { Ctx } from '../context.ts';
import type { UserRow } from '../storage/index.ts';
import type { ConversationRow, Membership } from '../storage/stores/conversations.ts';
import type { MemberRow } from '../storage/stores/members.ts';
import type { MessageRow } from '../storage/stores/messages.ts';

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

/** The caller, when a person: a bot's token does not make bots, conversations or webhooks. */
export async function aPerson(ctx: Ctx, action: string): Promise<UserRow> {
  const me = await ctx.store.users.byId(ctx.caller.user.id);
  if (!me || me.kind !== 'person') throw fail('not_for_bots', { action });
  return me;
}

/**
 * Whether the caller may put `row` in a conversation without asking (their `who_may_add`); else they
 * are invited. Only whether, never why: `contacts` and `nobody` look the same to a stranger.
 */
export async function mayAdd(ctx: Ctx, row: UserRow): Promise<boolean> {
  if (row.who_may_add === 'everyone') return true;
  // A bot's owner adds it; anyone else invites it, and its program answers.
  if (row.kind === 'bot' && (await ctx.store.bots.byUserId(row.id))?.owner_id === ctx.caller.user.id) return true;
  // A contact they chose: someone who merely added them (add_contact writes both sides) does not count.
  return row.who_may_add === 'contacts' && (await ctx.store.contacts.relation(row.id, ctx.caller.user.id)) === 'chosen';
}

/**
 * Invites people to a conversation: each told (`invitation`, logged for them alone) and notified, but
 * not again while an invitation of theirs to it is pending. Returns their usernames.
 */
export async function invite(ctx: Ctx, conversation: ConversationRow, invitees: readonly UserRow[]): Promise<string[]> {
  const me = ctx.caller.user;
  const now = ctx.now();
  const fresh: UserRow[] = [];
  for (const user of invitees) {
    const id = await ctx.store.invitations.insert(conversation.id, user.id, me.id, now);
    if (id === undefined) continue;
    fresh.push(user);
    const invitation = { id, conversation_id: conversation.id, name: conversation.name, kind: conversation.kind, description: conversation.description, by: me.username, invited_at: now };
    await logAndDeliver(ctx, 'invitation', { invitation }, { users: [user.id] });
  }
  await notifyInvited(ctx, conversation, me, fresh);
  return invitees.map((user) => user.username);
}
