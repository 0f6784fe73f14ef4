// Events about threads: reading one, following threads, listing those you follow and marking them read.
import * as v from 'valibot';
import { event, id, integer, limits, fields, pageLimit, cursor, readLater } from '../spec.ts';
import { ConversationMessage, Message, messageId } from './messages.ts';

const threadMessage = v.pipe(messageId, v.description('the thread\'s root, or any reply in it'));
const root = v.pipe(id, v.description('the thread\'s root message'));

export const get_thread = event({
  summary: `Returns a thread: its root (with its summary, also once deleted) and a page of its replies that you can see, newest first, or oldest first from \`after\`. ${readLater}`,
  request: fields({
    message_id: threadMessage,
    before: cursor('before', 'a message id: only older replies, newest first'),
    after: cursor('after', 'a message id: only newer replies, oldest first (not with `before`)'),
    limit: pageLimit(limits.messagesPage, limits.messagesPage),
  }),
  reply: v.object({ conversation_id: id, root: Message, messages: v.pipe(v.array(Message), v.description('replies in the thread')) }),
  errors: ['no_such_message', 'before_and_after'],
  cost: 2,
});

const following = v.object({ message_id: root, following: v.boolean() });

export const follow_thread = event({
  summary: 'Follows a thread (even one with no reply yet): its replies notify you as your level for its conversation allows, and get_threads lists it. Replying in a thread, or being mentioned in a reply, follows it too; so does starting it (the root\'s sender, unless they chose otherwise).',
  request: fields({ message_id: threadMessage }),
  reply: following,
  errors: ['no_such_message'],
  fanout: 'The same success event is pushed to your other sockets.',
});

export const unfollow_thread = event({
  summary: 'Stops following a thread: its replies no longer notify you (unless they mention you, which follows it again), and get_threads leaves it out.',
  request: fields({ message_id: threadMessage }),
  reply: following,
  errors: ['no_such_message'],
  fanout: 'The same success event is pushed to your other sockets.',
});

export const mark_thread_read = event({
  summary: 'Marks every reply of a thread you follow read, up to its newest (your own replies are never unread; the reply that makes you follow a thread marks it read up to there).',
  request: fields({ message_id: threadMessage }),
  reply: v.object({ message_id: root, read_id: v.pipe(v.number(), v.description('the newest reply read (0: the thread has none)')) }),
  errors: ['no_such_message'],
  fanout: 'The same success event is pushed to your other sockets.',
});

export const FollowedThread = v.object({
  root: ConversationMessage,
  unread_count: v.pipe(v.number(), v.description(`others' replies after your read point that you can see, counted up to ${limits.unreadCap}`)),
});

export const get_threads = event({
  summary: `Lists the threads you follow that have replies, in conversations you are in, the one with the newest reply first. ${readLater}`,
  request: fields({
    conversation_id: v.pipe(v.nullish(integer('expected conversation_id as integer')), v.description('optional; only this conversation\'s (one you are a member of)')),
    unread_only: v.pipe(v.nullish(v.boolean('unread_only must be true or false')), v.description('optional; true: only threads with unread replies')),
    before: cursor('before', 'the `next` of the previous page'),
    limit: pageLimit(limits.threadsPage.max, limits.threadsPage.default),
  }),
  reply: v.object({
    threads: v.array(FollowedThread),
    next: v.pipe(v.nullable(v.number()), v.description('the `before` of the next page, or null when this is the last one')),
  }),
  errors: ['not_in_conversation'],
  cost: 2,
});
