// What webhooks and slash commands share: an account of their own that joins one conversation to post there, and leaves it when they go.
import { randomBytes } from 'node:crypto';
import { logAndDeliver } from '../delivery/fanout.ts';
import { conversationView } from './conversations.ts';
import { leave } from './members.ts';
import { aPerson, isAdmin } from './membership.ts';
import type { Ctx } from '../context.ts';
import type { ConversationRow } from '../storage/stores/conversations.ts';

type Account = { id: number; username: string };

/** A new integration account: a username nobody chose (`hook_` and 12 hex digits), its full name `name`. */
export async function newAccount(ctx: Ctx, name: string): Promise<Account> {
  for (;;) {
    const username = `hook_${randomBytes(6).toString('hex')}`;
    const id = await ctx.store.users.insertProgram({ username, fullname: name, kind: 'webhook', now: ctx.now() });
    if (id !== null) return { id, username };
  }
}

/** The integration's account made a member of the conversation: the members are told as add_members tells them, `by` the caller. */
export async function accountJoins(ctx: Ctx, conversation: ConversationRow, account: Account): Promise<void> {
  await ctx.store.members.add(conversation.id, account.id, ctx.now());
  const added = { conversation: await conversationView(ctx, conversation), added: [account.username], by: ctx.caller.user.username };
  await logAndDeliver(ctx, 'add_members', added, { conversation: conversation.id, joined: [account.id] });
}

/** A new integration account (see `newAccount`) made a member of the conversation (see `accountJoins`). */
export async function joinedAccount(ctx: Ctx, conversation: ConversationRow, name: string): Promise<Account> {
  const account = await newAccount(ctx, name);
  await accountJoins(ctx, conversation, account);
  return account;
}

/**
 * The integration (a webhook, a slash command), when the caller, a person, may manage it: its creator or
 * an owner or admin of its conversation, a member still; undefined otherwise, as for one that does not exist.
 */
export async function managed<R extends { conversation_id: number; creator_id: number | null }>(ctx: Ctx, row: R | undefined, action: string): Promise<R | undefined> {
  const me = await aPerson(ctx, action);
  const member = row && (await ctx.store.members.get(row.conversation_id, me.id));
  return member && (row.creator_id === me.id || isAdmin(member)) ? row : undefined;
}

/** The integration's account leaves its conversation (unless an admin removed it already); its messages stay, under its name. */
export async function accountLeaves(ctx: Ctx, conversationId: number, account: { id: number; username: string }): Promise<void> {
  const member = await ctx.store.members.get(conversationId, account.id);
  if (!member) return;
  const { data, audience } = await leave(ctx, conversationId, account, member.role);
  await logAndDeliver(ctx, 'leave_conversation', data, audience);
}
