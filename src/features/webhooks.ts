// Incoming webhooks: made, listed, given new secrets and deleted by members; what is POSTed to one is sent by src/hooks/.
import { randomBytes } from 'node:crypto';
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { newSecret } from '../auth/bot-tokens.ts';
import { logAndDeliver } from '../delivery/fanout.ts';
import { aPerson, isAdmin, memberOf, membership, notDirect } from './membership.ts';
import { conversationView } from './conversations.ts';
import { leave } from './members.ts';
import type { Ctx } from '../context.ts';
import type { WebhookRow } from '../storage/stores/webhooks.ts';
import type { Handlers } from './handler.ts';

const url = (id: number, secret: string) => `/hooks/${id}/${secret}`;

/** A webhook the caller may manage: its creator, or an owner or admin of its conversation; else the answer for one that does not exist. */
async function managedWebhook(ctx: Ctx, id: number, action: string): Promise<WebhookRow> {
  const me = await aPerson(ctx, action);
  const hook = await ctx.store.webhooks.byId(id);
  const member = hook && (await ctx.store.members.get(hook.conversation_id, me.id));
  if (!hook || !member || (hook.creator_id !== me.id && !isAdmin(member))) throw fail('no_such_webhook', { id });
  return hook;
}

/** The webhook's account: a username nobody chose (`hook_` and 12 hex digits), its full name the webhook's. */
async function webhookAccount(ctx: Ctx, name: string): Promise<{ id: number; username: string }> {
  for (;;) {
    const username = `hook_${randomBytes(6).toString('hex')}`;
    const id = await ctx.store.users.insertProgram({ username, fullname: name, kind: 'webhook', now: ctx.now() });
    if (id !== null) return { id, username };
  }
}

const webhookView = (row: WebhookRow) => ({
  id: row.id, conversation_id: row.conversation_id, name: row.name, username: row.username, creator: row.creator, created_at: row.created_at,
});

export const webhookHandlers = {
  create_webhook: {
    schema: events.create_webhook.request,
    guard: memberOf,
    async run(ctx, { conversation_id, name }) {
      const me = await aPerson(ctx, 'make webhooks');
      const { conversation } = await membership(ctx, conversation_id);
      notDirect(conversation, 'add a webhook');
      if ((await ctx.store.webhooks.count(conversation_id)) >= limits.webhooksPerConversation) throw fail('too_many_webhooks', { limit: limits.webhooksPerConversation });
      const account = await webhookAccount(ctx, name);
      const now = ctx.now();
      await ctx.store.members.add(conversation_id, account.id, now);
      const { secret, hash } = newSecret();
      const id = await ctx.store.webhooks.create({ conversationId: conversation_id, userId: account.id, creatorId: me.id, name, secretHash: hash, now });
      // The members hear of a new member as add_members tells them; the URL is the caller's alone.
      const added = { conversation: await conversationView(ctx, conversation), added: [account.username], by: me.username };
      await logAndDeliver(ctx, 'add_members', added, { conversation: conversation_id, joined: [account.id] });
      ctx.log.info('webhook created', { webhook: id, conversation: conversation_id, by: me.username });
      return { id, username: account.username, url: url(id, secret) };
    },
  },
  get_webhooks: {
    schema: events.get_webhooks.request,
    guard: memberOf,
    run: async (ctx, { conversation_id }) => (await ctx.store.webhooks.ofConversation(conversation_id)).map(webhookView),
  },
  rotate_webhook_secret: {
    schema: events.rotate_webhook_secret.request,
    async run(ctx, { webhook_id }) {
      const hook = await managedWebhook(ctx, webhook_id, 'rotate webhook secrets');
      const { secret, hash } = newSecret();
      await ctx.store.webhooks.rotate(hook.id, hash);
      ctx.log.info('webhook secret rotated', { webhook: hook.id, by: ctx.caller.user.username });
      return { id: hook.id, username: hook.username, url: url(hook.id, secret) };
    },
  },
  delete_webhook: {
    schema: events.delete_webhook.request,
    async run(ctx, { webhook_id }) {
      const hook = await managedWebhook(ctx, webhook_id, 'delete webhooks');
      await ctx.store.webhooks.remove(hook.id);
      // Its account leaves (unless an admin removed it already); its messages stay, under its name.
      const member = await ctx.store.members.get(hook.conversation_id, hook.user_id);
      if (member) {
        const { data, audience } = await leave(ctx, hook.conversation_id, { id: hook.user_id, username: hook.username }, member.role);
        await logAndDeliver(ctx, 'leave_conversation', data, audience);
      }
      ctx.log.info('webhook deleted', { webhook: hook.id, by: ctx.caller.user.username });
      return { webhook_id: hook.id };
    },
  },
} satisfies Partial<Handlers>;
