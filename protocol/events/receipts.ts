// Events about who has seen what: delivered and read points, and who is typing.
import * as v from 'valibot';
import { event, id, fields, limits, conversationId, conversationGuard as guard } from '../spec.ts';
import { messageId } from './messages.ts';

export const mark_read = event({
  summary: 'Moves your read point in a conversation up to a message (never backwards).',
  request: fields({ conversation_id: conversationId, message_id: messageId }),
  reply: v.object({ conversation_id: id, read_id: v.pipe(v.number(), v.description('your read point now (unchanged when `message_id` is older)')) }),
  guard,
  errors: ['no_such_message'],
  fanout: `Members are pushed a \`receipt\`, gathered for ${limits.receiptDelayMs} ms.`,
});

export const get_receipts = event({
  summary: 'Who has a message delivered, and who has read it (its sender aside).',
  cost: 2,
  request: fields({ message_id: messageId }),
  reply: v.object({
    message_id: id,
    delivered: v.pipe(v.array(v.string()), v.description('usernames of members it has reached (readers included)')),
    read: v.pipe(v.array(v.string()), v.description('usernames of members who have read it')),
  }),
  errors: ['no_such_message'],
});

export const typing = event({
  summary: `Tells the other online members you are typing, or stopped. Not stored and not in \`sync\`; it ends by itself after ${limits.typingSeconds} s without a repeat.`,
  request: fields({
    conversation_id: conversationId,
    is_typing: v.boolean('expected is_typing as boolean'),
  }),
  reply: v.object({ conversation_id: id, is_typing: v.boolean() }),
  guard,
  errors: ['typing_too_often'],
  fanout: 'A `typing` push goes to every socket of the other online members when your state changes (a repeat of `true` only keeps it alive).',
});
