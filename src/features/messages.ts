// Messages: sending (every member's sockets told), reading history, editing, deleting and reacting.
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { isAdmin, memberOf, membership, visibleMessage } from './membership.ts';
import { forReader, listedFor, sharedMessages, type SharedMessage } from './message-view.ts';
import { tell, type Handlers } from './handler.ts';
import { mentionsIn } from './mentions.ts';
import { notifyMessage, notifyReaction } from './notify.ts';
import { attachmentView, ownFiles } from './files.ts';
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

export const messageHandlers = {
  send_message: {
    schema: events.send_message.request,
    guard: memberOf,
    async run(ctx, { conversation_id, content, reply_id, client_id, attachments }) {
      const me = ctx.caller.user;
      const fileIds = attachments ?? [];
      if (content.trim() === '' && fileIds.length === 0) throw fail('empty_message');
      const clientId = client_id ?? null;
      const earlier = clientId === null ? undefined : await ctx.store.messages.byClientId(me.id, clientId);
      if (earlier !== undefined) {
        // Sent before under this name: the message as it is now, and nothing pushed again, as long as
        // the sender may still see it (here, after any clear_chat); else the name is just taken.
        const row = await ctx.store.messages.byId(earlier);
        const member = row?.conversation_id === conversation_id ? await ctx.store.members.get(conversation_id, me.id) : undefined;
        if (!row || !member || row.id <= member.cleared_id) throw fail('client_id_used', { client_id: clientId! });
        return forReader((await sharedMessages(ctx.store, [row]))[0]!, me.username);
      }
      checkLength(ctx, content);
      const files = await ownFiles(ctx, fileIds);
      const { conversation } = await membership(ctx, conversation_id);
      if (conversation.kind === 'direct') {
        // Someone you blocked cannot be written to; someone who blocked you is simply never shown what you write.
        const other = (await ctx.store.conversations.members(conversation_id)).find((member) => member.id !== me.id);
        if (other && (await ctx.store.contacts.blocks(me.id, other.id))) throw fail('you_blocked', { username: other.username });
      }
      const replyId = reply_id ?? null;
      const replied = replyId === null ? undefined : await ctx.store.messages.byId(replyId);
      if (replyId !== null && replied?.conversation_id !== conversation_id) throw fail('no_such_reply', { reply_id: replyId, conversation_id });
      const sentAt = ctx.now();
      // Who holds devices to notify does not depend on the insert: asked beside it (one round trip on PostgreSQL).
      const [id, holders] = await Promise.all([
        ctx.store.messages.insert({ conversationId: conversation_id, senderId: me.id, replyId, content, sentAt, clientId }),
        ctx.store.devices.holdersIn(conversation_id, me.id),
      ]);
      const mentions = await mentionsIn(ctx.store, conversation_id, content);
      await ctx.store.mentions.record(id, mentions.map((member) => member.id));
      await notifyMessage(ctx, conversation, me, content, mentions.map((member) => member.id), holders);
      ctx.job.after((committed) => {
        if (!committed) return;
        ctx.receipts.sent(conversation_id, id, me.id);
        // A sent message ends its sender's typing, once the message itself is out.
        queueMicrotask(() => ctx.typing.set(conversation_id, me, false));
      });
      await ctx.store.files.attach(id, conversation_id, files.map((file) => file.id));
      const replyTo = replied
        ? {
          id: replied.id, sender_username: replied.sender_username, content: preview(replied.content), deleted: replied.deleted_at !== null,
          attachments: (await ctx.store.files.ofMessages([replied.id])).map(attachmentView),
        }
        : null;
      const message = {
        id, sender_username: me.username, conversation_id, reply_id: replyId, content, sent_at: sentAt,
        edited_at: null, deleted: false, reactions: [], reply_to: replyTo, mentions: mentions.map((member) => member.username), attachments: files.map(attachmentView),
      };
      return tell(message, { conversation: conversation_id, message: id, actor: me.id });
    },
  },
  get_messages: {
    schema: events.get_messages.request,
    guard: memberOf,
    async run(ctx, { conversation_id, before, after, limit }) {
      const me = ctx.caller.user;
      const { member } = await membership(ctx, conversation_id);
      if (before != null && after != null) throw fail('before_and_after');
      const rows = await ctx.store.messages.page(conversation_id, me.id, { before: before ?? null, after: after ?? null, floor: member.cleared_id }, limit ?? limits.messagesPage);
      const messages = (await sharedMessages(ctx.store, rows)).map((message) => listedFor(message, me.username));
      const newest = Math.max(0, ...rows.map((row) => row.id));
      // Handing messages to a socket delivers them.
      if (newest > member.delivered_id) ctx.job.after((committed) => committed && ctx.receipts.fetched(conversation_id, me.id, newest));
      return { conversation_id, messages };
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
