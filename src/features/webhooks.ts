// Incoming webhooks: made, listed, given new secrets and deleted by members; what is POSTed to one is sent by src/hooks/.
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { newSecret } from '../auth/bot-tokens.ts';
import { aPerson, memberOf, membership, notDirect } from './membership.ts';
import { accountLeaves, joinedAccount, managed } from './integrations.ts';
import type { Ctx } from '../context.ts';
import type { WebhookRow } from '../storage/stores/webhooks.ts';
import type { Handlers } from './handler.ts';

const url = (id: number, secret: string) => `/hooks/${id}/${secret}`;

/** A webhook the caller may manage (see `managed`); else the answer for one that does not exist. */
async function managedWebhook(ctx: Ctx, id: number, action: string): Promise<WebhookRow> {
  const hook = await managed(ctx, await ctx.store.webhooks.byId(id), action);
  if (!hook) throw fail('no_such_webhook', { id });
  return hook;
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
      // The members hear of a new member; the URL is the caller's alone.
      const account = await joinedAccount(ctx, conversation, name);
      const { secret, hash } = newSecret();
      const id = await ctx.store.webhooks.create({ conversationId: conversation_id, userId: account.id, creatorId: me.id, name, secretHash: hash, now: ctx.now() });
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
      await accountLeaves(ctx, hook.conversation_id, { id: hook.user_id, username: hook.username });
      ctx.log.info('webhook deleted', { webhook: hook.id, by: ctx.caller.user.username });
      return { webhook_id: hook.id };
    },
  },
} satisfies Partial<Handlers>;
