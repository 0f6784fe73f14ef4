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

/** What a batch's replies change in their threads: each thread's summary, and who follows it from now on. */
export type ThreadChanges = { summaries: ThreadReplies[]; joined: Map<string, NewFollower>; started: Map<string, NewFollower> };

/**
 * What a batch's replies change (each thread and follower once): every reply counts in its thread's
 * summary; its sender and those it mentions follow the thread (again, if they had stopped); the root's
 * sender follows it as it starts (unless they chose otherwise).
 */
export function threadChanges(replies: readonly ThreadReply[]): ThreadChanges {
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
  return { summaries: [...summaries.values()], joined, started };
}

/** Writes what a batch's replies change: a statement or two for the whole batch, none when it has no reply in a thread. */
export async function recordReplies(store: Store, changes: ThreadChanges): Promise<void> {
  if (changes.summaries.length === 0) return;
  await Promise.all([store.threads.replied(changes.summaries), store.threads.follow([...changes.joined.values()], [...changes.started.values()])]);
}

/**
 * Who should be notified of each reply that stays in its thread: of the members holding devices, those who
 * follow it once the batch is written (read before it, and only when some hold devices). A reply also sent
 * to the conversation, and any other message, notifies as messages do: it is not in the map.
 */
export async function notifiedOfReplies(store: Store, replies: readonly ThreadReply[], changes: ThreadChanges): Promise<Map<number, readonly number[]>> {
  const notified = new Map<number, readonly number[]>();
  const held = replies.filter(({ message, holders }) => !message.alsoSent && holders.length > 0);
  if (held.length === 0) return notified;
  const known = await store.threads.followsOf([...new Set(held.map(({ message }) => message.threadId))]);
  const chose = new Set(known.map((row) => `${row.root_id}:${row.user_id}`));
  const following = new Set([
    ...known.flatMap((row) => (row.following === 1 ? [`${row.root_id}:${row.user_id}`] : [])), ...changes.joined.keys(),
    ...[...changes.started.keys()].filter((key) => !chose.has(key)),
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
