// Events about messages in a conversation: sending, reading, editing, deleting, reacting and searching.
import * as v from 'valibot';
import { event, id, integer, limits, seconds, fields, conversationId, conversationGuard as guard, pageLimit, cursor, readLater } from '../spec.ts';
import { Attachment, fileId } from './files.ts';

const replyId = v.pipe(v.nullable(id), v.description('the message replied to, or null'));

export const Reaction = v.object({
  emoji: v.string(),
  count: v.number(),
  me: v.pipe(v.boolean(), v.description('whether you (the receiver) reacted with it')),
});

export const ReplyPreview = v.object({
  id,
  sender_username: v.string(),
  content: v.pipe(v.string(), v.description(`its first ${limits.preview} characters; empty once it is deleted`)),
  deleted: v.boolean(),
  attachments: v.pipe(v.array(Attachment), v.description('the files it carries, as on the message (none once it is deleted)')),
});

export const ThreadSummary = v.object({
  reply_count: v.pipe(v.number(), v.description('replies in the thread, deleted ones (tombstones) included')),
  last_reply_id: v.pipe(id, v.description('the newest reply: a reply with a greater id is news to this summary (count it in once)')),
  last_reply_at: seconds,
  participants: v.pipe(v.array(v.string()), v.description(`the first ${limits.threadParticipants} people who replied, in the order they first did`)),
});

const sender = v.pipe(v.string(), v.description('"deleted user" once the sender\'s account is gone'));
const messageFields = {
  content: v.pipe(v.string(), v.description('empty once deleted')),
  sent_at: seconds,
  edited_at: v.pipe(v.nullable(seconds), v.description('when it was last edited, or null')),
  deleted: v.pipe(v.boolean(), v.description('a tombstone: the content and reactions are gone')),
  reactions: v.pipe(v.array(Reaction), v.description('one entry per emoji, in the order they were first used')),
  reply_to: v.pipe(v.nullable(ReplyPreview), v.description('for a reply, a preview of the message replied to')),
  mentions: v.pipe(v.array(v.string()), v.description('the members it @mentioned when it was sent (`@username` in its content), in order; empty once deleted')),
  attachments: v.pipe(v.array(Attachment), v.description('the files it carries, in order; none once deleted')),
  thread_id: v.pipe(v.nullable(id), v.description('for a reply in a thread, the thread\'s root message; else null')),
  also_to_conversation: v.pipe(v.boolean(), v.description('a thread reply sent to the conversation too (shown in its main list); false for other messages')),
  thread: v.pipe(v.nullable(ThreadSummary), v.description('for a message with replies in a thread, their summary; else null')),
};

export const Message = v.object({ id, sender_username: sender, reply_id: replyId, ...messageFields });
/** A message with its conversation, in the seed's field order. */
export const ConversationMessage = v.object({ id, sender_username: sender, conversation_id: id, reply_id: replyId, ...messageFields });

// Blank content is refused by the handler (empty_message) unless the message carries files.
const content = v.pipe(v.string('expected content as string'), v.description('may be blank only when the message carries files'));
export const messageId = integer('expected message_id as integer');

export const send_message = event({
  summary: 'Sends a message to a conversation the caller is a member of. Content starting with a slash command the conversation offers (`/name` then a space or the end; its own, or in a group or channel a server-wide one) is not a message: nothing is stored or pushed, the command runs exactly as `run_command {conversation_id, text: content}` runs it (its checks and cost, its tries, the `command_failed` error and push), after the commit, and the reply is `run_command`\'s: `{command, response_type, text, message, attempts}` (told from a message by its `response_type`), possibly after replies to later frames. Such a send takes no `attachments`, `reply_id` or `thread_id`, and its `client_id` is not recorded: sent again, the command runs again (as `run_command` has no idempotency). Any other content is a message as before, `/shrug` (no such command) included; start it with `//` (or a space) to send a command\'s name as words: `//deploy` is stored as written.',
  request: fields({
    conversation_id: conversationId,
    content,
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
    attachments: v.pipe(
      v.nullish(v.pipe(
        v.array(fileId('attachments must be a list of file ids (32 hexadecimal digits each, as POST /files answered)'), 'attachments must be a list of file ids (32 hexadecimal digits each, as POST /files answered)'),
        v.maxLength(limits.attachments, `a message may carry at most ${limits.attachments} files`),
      )),
      v.description(`optional; ids of files you uploaded (POST /files), at most ${limits.attachments}, in the order to show them; a file listed twice is attached once`),
    ),
    thread_id: v.pipe(
      v.nullish(integer('if thread_id is provided then expected integer')),
      v.description('optional; replies in the thread of this message of the same conversation (a reply in a thread: its thread); null means none'),
    ),
    also_to_conversation: v.pipe(
      v.nullish(v.boolean('also_to_conversation must be true or false')),
      v.description('optional, with thread_id; true: the reply shows in the conversation\'s main list too'),
    ),
  }),
  reply: ConversationMessage,
  guard,
  errors: ['empty_message', 'client_id_used', 'content_too_long', 'command_alone', 'not_for_bots', 'command_failed', 'no_such_file', 'you_blocked', 'no_such_reply', 'no_such_thread', 'also_without_thread'],
  fanout: 'The same success event is pushed once to every other socket of every member, the sender\'s other sockets included.',
});

export const get_messages = event({
  summary: `Returns a page of a conversation's messages that you can see: newest first, or oldest first from \`after\`. ${readLater}`,
  request: fields({
    conversation_id: conversationId,
    before: cursor('before', 'a message id: only older messages, newest first'),
    after: cursor('after', 'a message id: only newer messages, oldest first (not with `before`)'),
    limit: pageLimit(limits.messagesPage, limits.messagesPage),
    without_thread_replies: v.pipe(
      v.nullish(v.boolean('without_thread_replies must be true or false')),
      v.description('optional; true: thread replies are left out, but those also sent to the conversation (read them with get_thread)'),
    ),
  }),
  reply: v.object({ conversation_id: id, messages: v.array(Message) }),
  guard,
  errors: ['before_and_after'],
  cost: 2,
});

export const edit_message = event({
  summary: 'Changes the content of a message you sent; its files stay.',
  request: fields({ message_id: messageId, content }),
  reply: ConversationMessage,
  errors: ['no_such_message', 'sender_only', 'message_deleted', 'empty_message', 'content_too_long'],
  fanout: 'The same success event is pushed to every socket of every member (each with its own `me` in reactions).',
});

export const delete_message = event({
  summary: 'Deletes a message (its sender, or an owner or admin of the conversation): its content, reactions and files go (a file nothing else refers to is removed, for its uploader too), a tombstone stays, and the event log forgets the content and files too.',
  request: fields({ message_id: messageId }),
  reply: ConversationMessage,
  errors: ['no_such_message', 'message_deleted', 'cannot_delete'],
  fanout: 'The same success event is pushed to every socket of every member.',
});

const emoji = v.pipe(
  v.string('emoji must be a single emoji'),
  v.maxLength(limits.emoji, 'emoji must be a single emoji'),
  v.maxGraphemes(1, 'emoji must be a single emoji'),
  v.emoji('emoji must be a single emoji'),
);

export const react = event({
  summary: 'Adds your reaction (one emoji) to a message; each person reacts with each emoji once.',
  request: fields({ message_id: messageId, emoji }),
  reply: ConversationMessage,
  errors: ['no_such_message', 'message_deleted', 'already_reacted', 'too_many_reactions'],
  fanout: 'The same success event is pushed to every socket of every member (each with its own `me` in reactions).',
});

export const unreact = event({
  summary: 'Takes back your reaction with an emoji.',
  request: fields({ message_id: messageId, emoji }),
  reply: ConversationMessage,
  errors: ['no_such_message', 'not_reacted'],
  fanout: 'The same success event is pushed to every socket of every member (each with its own `me` in reactions).',
});

export const search_messages = event({
  summary: 'Full-text search over the messages you can still see, newest first, each hit with a highlighted snippet. It reads once the frame is committed, away from the queue every frame waits in: it sees everything you sent before it, and its reply may come after the replies to frames you sent after it (match them by `ref`).',
  request: fields({
    query: v.pipe(
      v.string('query must be a string'),
      v.maxLength(limits.searchQuery, `query may be at most ${limits.searchQuery} characters`),
      v.description('words (all must match; `word*` matches a prefix) and "quoted phrases"; case and accents are ignored'),
    ),
    conversation_id: v.pipe(v.nullish(integer('expected conversation_id as integer')), v.description('optional; only this conversation (one you are a member of)')),
    before: cursor('before', 'a message id: only older hits (the `next` of the previous page)'),
    limit: pageLimit(limits.searchPage.max, limits.searchPage.default),
  }),
  reply: v.object({
    messages: v.array(v.object({
      ...ConversationMessage.entries,
      snippet: v.pipe(v.string(), v.description('HTML: the text around the hits, escaped, each hit in <mark></mark>')),
    })),
    has_more: v.pipe(v.boolean(), v.description('more may be found: ask again with `before` = `next`')),
    next: v.pipe(v.nullable(v.number()), v.description('the `before` of the next page, or null when every match has been looked at. A search examines at most 2,000 matches, so a page can be short (even empty) with more to come')),
  }),
  errors: ['bad_search', 'not_in_conversation'],
  cost: 10,
});
