// Threads: what replies in a thread change as they are sent (summaries, followers), reading a thread, and following threads.
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { membership, visibleMessage } from './membership.ts';
import { later, laterRead, tell, type Handlers } from './handler.ts';
import type { Ctx } from '../context.ts';
import type { Store } from '../storage/index.ts';
import type { NewMessage } from '../storage/stores/messages.ts';
import type { NewFollower, ThreadReplies } from '../storage/stores/threads.ts';

/**
 * A reply in a thread as a batch sends it: the message, its root's sender when the thread starts with it
 * (else null), whom it mentions, and who of its conversation hold devices.
 */
export type ThreadReply = { message: NewMessage & { threadId: number }; starterId: number | null; mentioned: readonly number[]; holders: readonly number[] };

/**
 * Records a batch's replies in their threads: each thread's summary, and its followers (the repliers and
 * those they mention follow it, again if they had stopped; the root's sender as the thread starts). A few
 * statements for the whole batch, none when it has no reply in a thread. Returns who should be notified
 * of each reply that stays in its thread: of the members holding devices, those who follow it (read only
 * when some hold devices; a reply also sent to the conversation notifies as any message does).
 */
export async function recordReplies(store: Store, replies: readonly ThreadReply[]): Promise<Map<number, readonly number[]>> {
  const notified = new Map<number, readonly number[]>();
  if (replies.length === 0) return notified;
  const held = replies.filter(({ message, holders }) => !message.alsoSent && holders.length > 0);
  const known = await store.threads.followsOf([...new Set(held.map(({ message }) => message.threadId))]);
  const summaries = new Map<number, ThreadReplies>();
  const joined = new Map<string, NewFollower>();
  const started = new Map<string, NewFollower>();
  for (const { message, mentioned, starterId } of replies) {
    const { threadId: rootId, id } = message;
    const summary = summaries.get(rootId);
    if (summary) Object.assign(summary, { count: summary.count + 1, lastId: id, lastAt: message.sentAt });
    else summaries.set(rootId, { rootId, conversationId: message.conversationId, count: 1, lastId: id, lastAt: message.sentAt });
    const sender = joined.get(`${rootId}:${message.senderId}`);
    if (sender) Object.assign(sender, { repliedId: sender.repliedId ?? id, readId: id });
    else joined.set(`${rootId}:${message.senderId}`, { rootId, userId: message.senderId, repliedId: id, readId: id });
    for (const userId of mentioned) if (!joined.has(`${rootId}:${userId}`)) joined.set(`${rootId}:${userId}`, { rootId, userId, repliedId: null, readId: 0 });
    if (starterId !== null) started.set(`${rootId}:${starterId}`, { rootId, userId: starterId, repliedId: null, readId: 0 });
  }
  for (const key of joined.keys()) started.delete(key);
  await Promise.all([store.threads.replied([...summaries.values()]), store.threads.follow([...joined.values()], [...started.values()])]);
  if (held.length === 0) return notified;
  const following = new Set([
    ...known.flatMap((row) => (row.following === 1 ? [`${row.root_id}:${row.user_id}`] : [])), ...joined.keys(),
    ...[...started.keys()].filter((key) => !known.some((row) => `${row.root_id}:${row.user_id}` === key)),
  ]);
  for (const { message, holders } of held) notified.set(message.id, holders.filter((holder) => following.has(`${message.threadId}:${holder}`)));
  return notified;
}

/** The thread a message the caller can see belongs to (its own, for a root): its root's id and the caller's membership. */
async function threadOf(ctx: Ctx, messageId: number) {
  const found = await visibleMessage(ctx, messageId);
  return { ...found, root: found.message.thread_id ?? found.message.id };
}

/** Follows a thread or stops, for the caller; their other sockets are told. */
async function setFollowing(ctx: Ctx, messageId: number, on: boolean) {
  const { root } = await threadOf(ctx, messageId);
  await ctx.store.threads.setFollowing(root, ctx.caller.user.id, on);
  return tell({ message_id: root, following: on }, { users: [ctx.caller.user.id] });
}

export const threadHandlers = {
  get_thread: {
    schema: events.get_thread.request,
    async run(ctx, { message_id, before, after, limit }) {
      const me = ctx.caller.user;
      const { root, member, conversation } = await threadOf(ctx, message_id);
      if (before != null && after != null) throw fail('before_and_after');
      const query = { root, reader: { id: me.id, username: me.username }, before: before ?? null, after: after ?? null, floor: member.cleared_id, limit: limit ?? limits.messagesPage };
      // Read after the commit, away from the queue of work (on SQLite on a reader thread).
      return later(async () => {
        const { value, ms } = await ctx.reads.run('thread', query);
        return { data: { conversation_id: conversation.id, ...value }, ms };
      });
    },
  },
  get_threads: {
    schema: events.get_threads.request,
    async run(ctx, { conversation_id, unread_only, before, limit }) {
      const me = ctx.caller.user;
      if (conversation_id != null) await membership(ctx, conversation_id);
      return laterRead(ctx, 'followedThreads', {
        reader: { id: me.id, username: me.username }, conversation: conversation_id ?? null, before: before ?? null, unreadOnly: unread_only === true,
        limit: limit ?? limits.threadsPage.default,
      });
    },
  },
  follow_thread: {
    schema: events.follow_thread.request,
    run: (ctx, { message_id }) => setFollowing(ctx, message_id, true),
  },
  unfollow_thread: {
    schema: events.unfollow_thread.request,
    run: (ctx, { message_id }) => setFollowing(ctx, message_id, false),
  },
  mark_thread_read: {
    schema: events.mark_thread_read.request,
    async run(ctx, { message_id }) {
      const { root } = await threadOf(ctx, message_id);
      const readId = (await ctx.store.threads.lastReply(root)) ?? 0;
      await ctx.store.threads.markRead(root, ctx.caller.user.id, readId);
      return tell({ message_id: root, read_id: readId }, { users: [ctx.caller.user.id] });
    },
  },
} satisfies Partial<Handlers>;
