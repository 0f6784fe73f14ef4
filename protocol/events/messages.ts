// Events about messages in a conversation.
import * as v from 'valibot';
import { event, id, integer, limits, seconds, fields } from '../spec.ts';

const replyId = v.pipe(v.nullable(id), v.description('the message replied to, or null'));

export const Message = v.object({
  id,
  sender_username: v.string(),
  reply_id: replyId,
  content: v.string(),
  sent_at: seconds,
});

const conversationId = integer('expected conversation_id as integer');

export const send_message = event({
  summary: 'Sends a message to a conversation the caller is a member of.',
  request: fields({
    conversation_id: conversationId,
    content: v.pipe(
      v.string('expected content as string'),
      v.check((text) => text.trim() !== '', 'message content should be non empty string'),
    ),
    reply_id: v.pipe(
      v.nullish(integer('if reply_id is provided then expected integer')),
      v.description('optional; a message of the same conversation; null means none'),
    ),
    client_id: v.pipe(
      v.nullish(
        v.pipe(
          v.string(`client_id must be a string of 1 to ${limits.clientId} characters`),
          v.minLength(1, `client_id must be a string of 1 to ${limits.clientId} characters`),
          v.maxLength(limits.clientId, `client_id must be a string of 1 to ${limits.clientId} characters`),
        ),
      ),
      v.description('optional; your name for this message: sending it again returns the message already sent and pushes nothing'),
    ),
  }),
  reply: v.object({ ...Message.entries, conversation_id: id }),
  guard: { fields: ['conversation_id'], errors: ['not_in_conversation'] },
  errors: ['content_too_long', 'no_such_reply'],
  fanout: 'The same success event is pushed once to every other socket of every member, the sender\'s other sockets included.',
});

export const get_messages = event({
  summary: `Returns up to ${limits.messagesPage} messages of a conversation, newest first, with ids below \`before\` when given.`,
  request: fields({
    conversation_id: conversationId,
    before: v.pipe(
      v.nullish(integer('expected before as integer')),
      v.description('optional; a message id: only older messages are returned'),
    ),
  }),
  reply: v.object({ conversation_id: id, messages: v.array(Message) }),
  guard: { fields: ['conversation_id'], errors: ['not_in_conversation'] },
  errors: [],
});
