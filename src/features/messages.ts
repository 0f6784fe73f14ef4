// Messages: sending (every member's sockets told), reading history, editing, deleting and reacting.
import { commandText, events, limits, type EventReply, type EventRequest } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { isAdmin, memberOf, membership, visibleMessage } from './membership.ts';
import { forReader, listedFor, sharedMessages, type SharedMessage, attachmentView } from '../delivery/views.ts';
import { alone, later, runsCommand, tell, type Handlers, type RunsCommand, type Told } from './handler.ts';
import type { Outcome } from '../storage/engine/commit.ts';
import type { MessageRow, NewMessage, SendContext } from '../storage/stores/messages.ts';
import type { FileRow } from '../storage/stores/files.ts';
import { mentionsIn } from './mentions.ts';
import { notifyMessages, notifyReaction } from './notify.ts';
import { ownFiles } from './files.ts';
import { notifiedOfReplies, recordReplies, threadChanges, type ThreadReply } from './threads.ts';
import type { Ctx } from '../context.ts';

function checkLength(ctx: Ctx, content: string): void {
  const limit = ctx.settings.MAX_MESSAGE_LENGTH;
  if (content.length > limit && [...content].length > limit) throw fail('content_too_long', { limit });
}

/** The start of a message, as replies to it show it. */
const preview = (content: string) => [...content].slice(0, limits.preview).join('');

/** A message as the log keeps it (reactions with who reacted), freshly read. */
async function sharedMessage(ctx: Ctx, id: number): Promise<SharedMessage> {
  const row = await ctx.store.messages.byId(id);
  if (!row) throw fail('no_such_message', { id });
  return (await sharedMessages(ctx.store, [row]))[0]!;
}

/** A changed message, told to every member (but those who blocked the caller): each reader's `me` is filled in when it is sent. */
async function changed(ctx: Ctx, id: number) {
  const message = await sharedMessage(ctx, id);
  return tell(message as unknown as ReturnType<typeof forReader>, { conversation: message.conversation_id, message: id, actor: ctx.caller.user.id });
}

type Send = { readonly ctx: Ctx; readonly input: EventRequest<'send_message'> };
type Sent = EventReply<'send_message'>;

/** A send sent before under its client id: the message as it is now, and nothing pushed again, as long as the sender may still see it; else the name is just taken. */
async function sentBefore(ctx: Ctx, earlier: number, conversationId: number, clientId: string): Promise<Sent> {
  const me = ctx.caller.user;
  const row = await ctx.store.messages.byId(earlier);
  const member = row?.conversation_id === conversationId ? await ctx.store.members.get(conversationId, me.id) : undefined;
  if (!row || !member || row.id <= member.cleared_id) throw fail('client_id_used', { client_id: clientId });
  return forReader((await sharedMessages(ctx.store, [row]))[0]!, me.username) as Sent;
}

/**
 * Sends messages: the sends of a batch together (a group of units), so that on PostgreSQL they cost
 * a few statements between them, not a dozen each: what each depends on is read in one statement, ids
 * reserved beside it, the messages written in one and their notifications queued in one. Each send
 * is checked as one on its own would be, in the same order, and fails alone. What only some messages
 * have (attachments, a reply, @mentions, a client id used before) costs statements of its own.
 */
export async function sendMessages(sends: readonly Send[]): Promise<Outcome<Sent | Told<Sent> | RunsCommand>[]> {
  const store = sends[0]!.ctx.store;
  const threadIds = [...new Set(sends.flatMap(({ input }) => (input.thread_id == null ? [] : [input.thread_id])))];
  const [contexts, ids, targets] = await Promise.all([
    store.messages.sendContext(sends.map(({ ctx, input }) => ({ conversationId: input.conversation_id, senderId: ctx.caller.user.id, clientId: input.client_id ?? null }))),
    store.messages.reserveIds(sends.length),
    store.threads.targets(threadIds),
  ]);
  const targetOf = new Map(targets.map((target) => [target.id, target]));
  const outcomes: Outcome<Sent | Told<Sent> | RunsCommand>[] = new Array(sends.length);
  /** Client ids taken by sends before in this group: a send again under one is answered once that is written. */
  const named = new Set<string>();
  const again: number[] = [];
  const written: {
    i: number; message: NewMessage; files: FileRow[]; mentions: { id: number; username: string }[]; replied?: MessageRow; context: SendContext; starterId: number | null;
  }[] = [];
  for (const [i, { ctx, input }] of sends.entries()) {
    const me = ctx.caller.user;
    const context = contexts[i]!;
    const { conversation_id, content, reply_id, client_id, attachments, thread_id, also_to_conversation } = input;
    try {
      const { membership } = context;
      if (!membership) throw fail('not_in_conversation', { username: me.username, id: conversation_id });
      const fileIds = attachments ?? [];
      if (content.trim() === '' && fileIds.length === 0) throw fail('empty_message');
      const clientId = client_id ?? null;
      if (context.earlier !== undefined) {
        outcomes[i] = { value: await sentBefore(ctx, context.earlier, conversation_id, clientId!) };
        continue;
      }
      checkLength(ctx, content);
      // A slash command of the conversation (or a server-wide one it offers) is run, not posted: after the commit, as run_command runs it.
      const command = content.startsWith('/') ? commandText.exec(content)?.[1] : undefined;
      if (command !== undefined && (await store.commands.named(conversation_id, command, membership.conversation.kind !== 'direct'))) {
        // Run as it is: a command has no files, reply or thread to take along, and they are not dropped unsaid.
        if (fileIds.length || reply_id != null || thread_id != null) throw fail('command_alone', { command });
        outcomes[i] = { value: runsCommand({ conversation_id, text: content }) };
        continue;
      }
      if (clientId !== null) {
        const name = `${me.id}:${clientId}`;
        if (named.has(name)) {
          again.push(i);
          continue;
        }
        named.add(name);
      }
      const files = fileIds.length ? await ownFiles(ctx, fileIds) : [];
      // Someone you blocked cannot be written to; someone who blocked you is simply never shown what you write.
      if (context.other?.blocked) throw fail('you_blocked', { username: context.other.username });
      const replyId = reply_id ?? null;
      const replied = replyId === null ? undefined : await store.messages.byId(replyId);
      if (replyId !== null && replied?.conversation_id !== conversation_id) throw fail('no_such_reply', { reply_id: replyId, conversation_id });
      // A thread is named by any message of it the sender can see, as messages are: a reply in a thread names its root's.
      const threadId = thread_id ?? null;
      if (also_to_conversation && threadId === null) throw fail('also_without_thread');
      const target = threadId === null ? undefined : targetOf.get(threadId);
      if (threadId !== null && (target?.conversation_id !== conversation_id || target.id <= membership.member.cleared_id)) throw fail('no_such_thread', { thread_id: threadId, conversation_id });
      const mentions = content.includes('@') ? await mentionsIn(store, conversation_id, content) : [];
      const message = {
        id: ids[written.length]!, conversationId: conversation_id, senderId: me.id, replyId, content, sentAt: ctx.now(), clientId,
        threadId: target?.root_id ?? null, alsoSent: target !== undefined && also_to_conversation === true,
      };
      // The root's sender follows the thread as it starts.
      const starterId = target?.has_replies === 0 ? target.root_sender_id : null;
      written.push({ i, message, files, mentions, replied, context, starterId });
    } catch (error) {
      outcomes[i] = { error };
    }
  }
  await store.messages.insertMany(written.map(({ message }) => message));
  const threadReplies = written.flatMap(({ message, starterId, mentions, context }): ThreadReply[] =>
    message.threadId === null ? [] : [{ message: { ...message, threadId: message.threadId }, starterId, mentioned: mentions.map((member) => member.id), holders: context.holders }]);
  const changes = threadChanges(threadReplies);
  const notified = await notifiedOfReplies(store, threadReplies, changes);
  const ctx = sends[0]!.ctx;
  await Promise.all([
    recordReplies(store, changes),
    // Only what some messages have costs statements (and promises) of its own.
    ...written.flatMap(({ message, mentions, files }) => [
      ...(mentions.length ? [store.mentions.record(message.id, mentions.map((member) => member.id))] : []),
      ...(files.length ? [store.files.attach(message.id, message.conversationId, files.map((file) => file.id))] : []),
    ]),
    notifyMessages(ctx, written.map(({ message, mentions, context, i }) => ({
      conversation: context.membership!.conversation, sender: sends[i]!.ctx.caller.user, id: message.id,
      mentioned: mentions.map((member) => member.id), holders: notified.get(message.id) ?? context.holders, job: sends[i]!.ctx.job,
      threadId: message.alsoSent ? null : message.threadId,
    }))),
  ]);
  for (const { i, message, files, mentions, replied, context } of written) {
    const { ctx: own } = sends[i]!;
    const me = own.caller.user;
    const { id, conversationId } = message;
    own.job.after((committed) => {
      if (!committed) return;
      // A reply that stays in its thread does not mark the conversation's main list read for its sender.
      own.receipts.sent(conversationId, id, message.threadId !== null && !message.alsoSent ? null : me.id);
      // A sent message ends its sender's typing, once the message itself is out.
      queueMicrotask(() => own.typing.set(conversationId, me, false));
    });
    const replyTo = replied
      ? {
        id: replied.id, sender_username: replied.sender_username, content: preview(replied.content), deleted: replied.deleted_at !== null,
        attachments: (await store.files.ofMessages([replied.id])).map(attachmentView),
      }
      : null;
    const data = {
      id, sender_username: me.username, conversation_id: conversationId, reply_id: message.replyId, content: message.content, sent_at: message.sentAt,
      edited_at: null, deleted: false, reactions: [], reply_to: replyTo, mentions: mentions.map((member) => member.username), attachments: files.map(attachmentView),
      thread_id: message.threadId, also_to_conversation: message.alsoSent, thread: null,
    };
    outcomes[i] = { value: tell(data, { conversation: conversationId, message: id, actor: me.id, blocking: context.blockers }) };
  }
  // Sent again under a client id a send before in this group took: answered as any send again is.
  for (const i of again) {
    const { ctx: own, input } = sends[i]!;
    try {
      const earlier = await store.messages.byClientId(own.caller.user.id, input.client_id!);
      outcomes[i] = { value: await sentBefore(own, earlier!, input.conversation_id, input.client_id!) };
    } catch (error) {
      outcomes[i] = { error };
    }
  }
  return outcomes;
}

export const messageHandlers = {
  send_message: {
    schema: events.send_message.request,
    guard: memberOf,
    many: sendMessages,
    run: alone(sendMessages),
  },
  get_messages: {
    schema: events.get_messages.request,
    guard: memberOf,
    async run(ctx, { conversation_id, before, after, limit, without_thread_replies }) {
      const me = ctx.caller.user;
      const { member } = await membership(ctx, conversation_id);
      if (before != null && after != null) throw fail('before_and_after');
      const query = {
        conversation: conversation_id, reader: { id: me.id, username: me.username }, before: before ?? null, after: after ?? null, floor: member.cleared_id,
        limit: limit ?? limits.messagesPage, mainOnly: without_thread_replies === true,
      };
      // Read after the commit, away from the queue of work (on SQLite on a reader thread).
      return later(async () => {
        const { value: { messages, newest }, ms } = await ctx.reads.run('messages', query);
        // Handing messages to a socket delivers them.
        if (newest > member.delivered_id) ctx.receipts.fetched(conversation_id, me.id, newest);
        return { data: { conversation_id, messages }, ms };
      });
    },
  },
  edit_message: {
    schema: events.edit_message.request,
    async run(ctx, { message_id, content }) {
      const { message } = await visibleMessage(ctx, message_id);
      if (message.sender_id !== ctx.caller.user.id) throw fail('sender_only', { id: message_id });
      if (message.deleted_at !== null) throw fail('message_deleted', { id: message_id });
      // A caption may be taken away from files; a message of words alone keeps some.
      if (content.trim() === '' && (await ctx.store.files.ofMessages([message_id])).length === 0) throw fail('empty_message');
      checkLength(ctx, content);
      const now = ctx.now();
      await ctx.store.messages.edit(message_id, content, now);
      // sync must not replay the words the sender took back.
      await ctx.store.events.revise(message_id, content, now, preview(content));
      return changed(ctx, message_id);
    },
  },
  delete_message: {
    schema: events.delete_message.request,
    async run(ctx, { message_id }) {
      const { message, member } = await visibleMessage(ctx, message_id);
      if (message.deleted_at !== null) throw fail('message_deleted', { id: message_id });
      if (message.sender_id !== ctx.caller.user.id && !isAdmin(member)) throw fail('cannot_delete', { id: message_id });
      await ctx.store.messages.tombstone(message_id, ctx.now());
      await ctx.store.mentions.drop(message_id);
      // Its files go for everyone: those nothing else refers to are removed (their bytes once no file refers to them).
      await ctx.store.files.remove(await ctx.store.files.detach(message_id), ctx.now());
      const tombstone = await sharedMessage(ctx, message_id);
      // The log forgets the content too: every event about the message now holds the tombstone.
      await ctx.store.events.tombstone(message_id, tombstone);
      return tell(forReader(tombstone, ctx.caller.user.username), { conversation: message.conversation_id, message: message_id, actor: ctx.caller.user.id });
    },
  },
  react: {
    schema: events.react.request,
    async run(ctx, { message_id, emoji }) {
      const me = ctx.caller.user;
      const { message, conversation } = await visibleMessage(ctx, message_id);
      if (message.deleted_at !== null) throw fail('message_deleted', { id: message_id });
      if (!(await ctx.store.messages.react(message_id, me.id, emoji, ctx.now()))) throw fail('already_reacted', { id: message_id, emoji });
      if ((await ctx.store.messages.reactionsBy(message_id, me.id)) > limits.reactionsPerUser) throw fail('too_many_reactions', { limit: limits.reactionsPerUser });
      await notifyReaction(ctx, conversation, message, me, emoji);
      return changed(ctx, message_id);
    },
  },
  unreact: {
    schema: events.unreact.request,
    async run(ctx, { message_id, emoji }) {
      await visibleMessage(ctx, message_id);
      if (!(await ctx.store.messages.unreact(message_id, ctx.caller.user.id, emoji))) throw fail('not_reacted', { id: message_id, emoji });
      return changed(ctx, message_id);
    },
  },
} satisfies Partial<Handlers>;
