// Threads: what replies in a thread change as they are sent (summaries, followers), reading a thread, and following threads.
import type { Store } from '../storage/index.ts';
import type { NewMessage } from '../storage/stores/messages.ts';
import type { NewFollower, ThreadReplies } from '../storage/stores/threads.ts';

/** A reply in a thread as a batch sends it: the message, its root's sender, whom it mentions, and who of its conversation hold devices. */
export type ThreadReply = { message: NewMessage & { threadId: number }; rootSenderId: number | null; mentioned: readonly number[]; holders: readonly number[] };

/**
 * Records a batch's replies in their threads: each thread's summary, and its followers (the repliers and
 * those they mention follow it, again if they had stopped; its root's sender as the thread starts, unless
 * they chose otherwise). A few statements for the whole batch, none when it has no reply in a thread.
 * Returns who should be notified of each reply that stays in its thread: of the members holding devices,
 * those who follow it (a reply also sent to the conversation notifies as any message does).
 */
export async function recordReplies(store: Store, replies: readonly ThreadReply[]): Promise<Map<number, readonly number[]>> {
  const notified = new Map<number, readonly number[]>();
  if (replies.length === 0) return notified;
  const roots = [...new Set(replies.map(({ message }) => message.threadId))];
  const known = await store.threads.followsOf(roots);
  const summaries = new Map<number, ThreadReplies>();
  const joined = new Map<string, NewFollower>();
  for (const { message, mentioned } of replies) {
    const { threadId: rootId, id } = message;
    const summary = summaries.get(rootId);
    if (summary) Object.assign(summary, { count: summary.count + 1, lastId: id, lastAt: message.sentAt });
    else summaries.set(rootId, { rootId, conversationId: message.conversationId, count: 1, lastId: id, lastAt: message.sentAt });
    const sender = joined.get(`${rootId}:${message.senderId}`);
    if (sender) Object.assign(sender, { repliedId: sender.repliedId ?? id, readId: id });
    else joined.set(`${rootId}:${message.senderId}`, { rootId, userId: message.senderId, repliedId: id, readId: id });
    for (const userId of mentioned) if (!joined.has(`${rootId}:${userId}`)) joined.set(`${rootId}:${userId}`, { rootId, userId, repliedId: null, readId: 0 });
  }
  const chose = new Set(known.map((row) => `${row.root_id}:${row.user_id}`));
  const started = [...new Map(replies.flatMap(({ message, rootSenderId }) => {
    const key = `${message.threadId}:${rootSenderId}`;
    return rootSenderId === null || chose.has(key) || joined.has(key) ? [] : [[key, { rootId: message.threadId, userId: rootSenderId, repliedId: null, readId: 0 }] as const];
  })).values()];
  // In this order on the batch's connection: a follower's thread exists before them.
  await Promise.all([store.threads.replied([...summaries.values()]), store.threads.follow([...joined.values()], started)]);
  const following = new Set([
    ...known.flatMap((row) => (row.following === 1 ? [`${row.root_id}:${row.user_id}`] : [])), ...joined.keys(),
    ...started.map((row) => `${row.rootId}:${row.userId}`),
  ]);
  for (const { message, holders } of replies) {
    if (!message.alsoSent) notified.set(message.id, holders.filter((holder) => following.has(`${message.threadId}:${holder}`)));
  }
  return notified;
}
