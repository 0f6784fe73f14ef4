// Events about incoming webhooks: a secret URL that posts into one conversation, and the body it takes.
import * as v from 'valibot';
import { event, fields, id, integer, limits, seconds, conversationId, conversationGuard as guard } from '../spec.ts';

export const Webhook = v.object({
  id,
  conversation_id: v.number(),
  name: v.pipe(v.string(), v.description('the full name its messages show')),
  username: v.pipe(v.string(), v.description('the account it posts as: a member of the conversation')),
  creator: v.pipe(v.nullable(v.string()), v.description('who made it; null once their account is deleted')),
  created_at: seconds,
});

const withUrl = v.object({
  id,
  username: v.string(),
  url: v.pipe(v.string(), v.description('`/hooks/{id}/{secret}` on this server, shown this once (only the secret\'s hash is kept): `POST` a JSON body to it')),
});

const webhookId = integer('expected webhook_id as integer');

export const create_webhook = event({
  summary: `Makes an incoming webhook for a group or channel you are a member of: an account named \`name\` joins it (members are pushed \`add_members\`) and posts what is POSTed to the URL. At most ${limits.webhooksPerConversation} a conversation.`,
  request: fields({
    conversation_id: conversationId,
    name: v.pipe(
      v.string('name must be a string'),
      v.check((text) => text.trim() !== '', 'name should not be blank'),
      v.maxLength(limits.name, `name must be at most ${limits.name} characters long`),
    ),
  }),
  guard,
  reply: withUrl,
  errors: ['not_for_bots', 'direct_fixed', 'too_many_webhooks'],
});

export const get_webhooks = event({
  summary: 'Lists a conversation\'s webhooks (any member may).',
  request: fields({ conversation_id: conversationId }),
  guard,
  reply: v.array(Webhook),
  errors: [],
});

export const rotate_webhook_secret = event({
  summary: 'Gives a webhook a new secret URL; the old one answers 404 at once. Its creator, or an owner or admin of the conversation.',
  request: fields({ webhook_id: webhookId }),
  reply: withUrl,
  errors: ['not_for_bots', 'no_such_webhook'],
});

export const delete_webhook = event({
  summary: 'Deletes a webhook: its URL answers 404 and its account leaves the conversation (its messages stay). Its creator, or an owner or admin of the conversation.',
  request: fields({ webhook_id: webhookId }),
  reply: v.object({ webhook_id: v.number() }),
  errors: ['not_for_bots', 'no_such_webhook'],
  fanout: 'The conversation is pushed `leave_conversation` for the webhook\'s account.',
});
