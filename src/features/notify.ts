// Who is notified, on their devices, of what happens while they have no socket open: a message (a
// mention most of all), being added or invited to a conversation, a new direct conversation, a reaction
// to their message. Queued in the unit of work of the event itself, so a crash loses none; the push worker sends
// them once the unit is committed.
import { previewLater } from '../push/payload.ts';
import type { ConversationRef } from '../push/types.ts';
import type { InJob } from '../context.ts';
import type { Job } from '../storage/engine/commit.ts';
import type { Store, UserRow } from '../storage/index.ts';
import type { ConversationRow } from '../storage/stores/conversations.ts';
import type { MemberNotification } from '../storage/stores/outbox.ts';

/** Of these users, those with no socket open on any node of the cluster (asked once for all of them). */
async function offline(ctx: InJob, userIds: readonly number[]): Promise<number[]> {
  const online = await ctx.cluster.online(userIds);
  return userIds.filter((id) => !online.has(id));
}

const refOf = (conversation: Pick<ConversationRow, 'id' | 'name' | 'kind'>): ConversationRef => ({ id: conversation.id, name: conversation.name, direct: conversation.kind === 'direct' });

/** Queues for the offline among `queued.recipients`, and wakes the worker once that is committed. */
async function queue(ctx: InJob, queued: Omit<MemberNotification, 'recipients' | 'now'>, recipients: readonly number[]): Promise<void> {
  const away = await offline(ctx, recipients);
  if (away.length === 0) return;
  const rows = await ctx.store.outbox.forMembers({ ...queued, recipients: away, now: ctx.now() * 1000 });
  if (rows > 0) ctx.job.after((committed) => committed && ctx.push.wake());
}

/**
 * A new message, as notifications see it (its words are read when the notification goes). `holders`: the
 * members but its sender who hold devices (of a reply that stays in its thread, those who follow it);
 * `threadId`: the root of the thread such a reply stays in, else null; `job`: the unit of work that sends it.
 */
export type SentMessage = {
  conversation: ConversationRow; sender: { id: number; username: string }; id: number; mentioned: readonly number[]; holders: readonly number[];
  threadId: number | null; job: Job<Store>;
};

/**
 * New messages (a batch's): to each member with a device and no socket open but the sender, as their
 * level allows (`mentions`: only when it mentions them; `none`: never), not to those who blocked the
 * sender, and to those who are `busy` only when it is a direct message or mentions them. A reply that
 * stays in its thread is queued apart from the conversation's messages (`outboxKey`), naming its thread.
 * Who is online is asked once for all of them, and all are queued in one statement.
 */
export async function notifyMessages(ctx: Omit<InJob, 'job'>, sent: readonly SentMessage[]): Promise<void> {
  const held = sent.filter((message) => message.holders.length > 0);
  if (held.length === 0) return;
  const online = await ctx.cluster.online([...new Set(held.flatMap((message) => message.holders))]);
  const now = ctx.now() * 1000;
  const queued = held.flatMap(({ conversation, sender, id, mentioned, holders, threadId }): MemberNotification[] => {
    const away = holders.filter((holder) => !online.has(holder));
    if (away.length === 0) return [];
    const common = {
      conversation: refOf(conversation), sender: sender.username, preview: previewLater(ctx.settings.PUSH_PREVIEW), ...(threadId !== null && { thread_id: threadId }),
    };
    return [{
      conversationId: conversation.id,
      actorId: sender.id,
      messageId: id,
      recipients: away,
      notification: { kind: 'message', ...common },
      personalNotification: { kind: 'mention', ...common },
      personal: mentioned,
      urgent: conversation.kind === 'direct' ? holders : mentioned,
      now,
    }];
  });
  if (queued.length === 0) return;
  if ((await ctx.store.outbox.forMembersMany(queued, now)) === 0) return;
  // Each message's own unit wakes the worker once committed: should one of them fail, the others still do.
  for (const { job } of held) job.after((committed) => committed && ctx.push.wake());
}

/** People added to a conversation (`added`), or the other person of a new direct conversation (`direct`): it is about them, as a mention is. */
export async function notifyJoined(ctx: InJob, conversation: Pick<ConversationRow, 'id' | 'name' | 'kind'>, by: { id: number; username: string }, userIds: readonly number[]): Promise<void> {
  const joined = userIds.filter((id) => id !== by.id);
  const kind = conversation.kind === 'direct' ? 'direct' : 'added';
  await queue(ctx, {
    conversationId: conversation.id,
    actorId: by.id,
    notification: { kind, conversation: refOf(conversation), sender: by.username },
    personal: joined,
    urgent: kind === 'direct' ? joined : [],
  }, joined);
}

/**
 * People invited to a conversation: it is about them, as a mention is, so their default level (they
 * have no other for a conversation they are not in) notifies them unless it is `none`; not while `busy`.
 */
export async function notifyInvited(ctx: InJob, conversation: Pick<ConversationRow, 'id' | 'name' | 'kind'>, by: { username: string }, invited: readonly UserRow[]): Promise<void> {
  const wanting = invited.filter((user) => user.notify_default !== 'none' && user.status !== 'busy').map((user) => user.id);
  const away = await offline(ctx, wanting);
  if (away.length === 0) return;
  const devices = await ctx.store.outbox.forUsers({ kind: 'invited', conversation: refOf(conversation), sender: by.username }, away, ctx.now() * 1000);
  if (devices > 0) ctx.job.after((committed) => committed && ctx.push.wake());
}

/** A reaction to someone's message: to its sender, unless they turned reactions off (`notify_reactions`). */
export async function notifyReaction(ctx: InJob, conversation: ConversationRow, message: { id: number; sender_id: number | null }, reactor: { id: number; username: string }, emoji: string): Promise<void> {
  const senderId = message.sender_id;
  if (senderId === null || senderId === reactor.id || (await ctx.store.users.byId(senderId))?.notify_reactions !== 1) return;
  await queue(ctx, {
    conversationId: conversation.id,
    actorId: reactor.id,
    messageId: message.id,
    notification: { kind: 'reaction', conversation: refOf(conversation), sender: reactor.username, emoji, preview: previewLater(ctx.settings.PUSH_PREVIEW) },
    personal: [senderId],
    urgent: [],
  }, [senderId]);
}
