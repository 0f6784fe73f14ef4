// How stored things are shown: a message as the protocol's message object, with reactions as each reader
// sees them; files as attachments and pictures.
import type * as v from 'valibot';
import type { events } from '../../protocol/index.ts';
import type { MessageRow } from '../storage/stores/messages.ts';
import type { Store } from '../storage/index.ts';
import type { Attachment } from '../../protocol/events/files.ts';
import type { AttachmentRow } from '../storage/stores/files.ts';

/** Where a file is downloaded: a path on this server. */
export const fileUrl = (id: string) => `/files/${id}`;

/** A person's or conversation's picture, or null. */
export const avatarUrl = (fileId: string | null): string | null => (fileId === null ? null : fileUrl(fileId));

export function attachmentView(row: AttachmentRow): v.InferOutput<typeof Attachment> {
  return {
    id: row.id,
    name: row.name,
    size: row.size,
    type: row.type,
    ...(row.width === null || row.height === null ? {} : { width: row.width, height: row.height }),
    url: fileUrl(row.id),
    ...(row.thumbnail_key === null ? {} : { thumbnail_url: `${fileUrl(row.id)}/thumbnail` }),
  };
}

type ConversationMessage = v.InferOutput<(typeof events)['send_message']['reply']>;

/** One emoji's reactions with who reacted: the form the event log keeps, the same for every reader. */
export type SharedReaction = { emoji: string; count: number; users: string[] };
export type SharedMessage = Omit<ConversationMessage, 'reactions'> & { reactions: SharedReaction[] };

/** Events whose data holds reactions, and so differs per reader: `me` is theirs. */
export const personal: ReadonlySet<string> = new Set(['edit_message', 'react', 'unreact']);

type Attachments = SharedMessage['attachments'];

function shared(row: MessageRow, reactions: SharedReaction[], mentions: string[], files: Map<number, Attachments>, participants: string[]): SharedMessage {
  return {
    id: row.id,
    sender_username: row.sender_username,
    conversation_id: row.conversation_id,
    reply_id: row.reply_id,
    content: row.content,
    sent_at: row.sent_at,
    edited_at: row.edited_at,
    deleted: row.deleted_at !== null,
    reactions,
    reply_to:
      row.reply_id === null || row.reply_content === null
        ? null
        : { id: row.reply_id, sender_username: row.reply_sender ?? 'deleted user', content: row.reply_content, deleted: row.reply_deleted_at !== null, attachments: files.get(row.reply_id) ?? [] },
    mentions,
    attachments: files.get(row.id) ?? [],
    thread_id: row.thread_id,
    also_to_conversation: row.also_sent === 1,
    thread: row.thread_reply_count === null
      ? null
      : { reply_count: row.thread_reply_count, last_reply_id: row.thread_last_reply_id!, last_reply_at: row.thread_last_reply_at!, participants },
  };
}

/** Items grouped by the message they belong to, in the order given. */
function byMessage<T, U>(items: readonly T[], messageOf: (item: T) => number, view: (item: T) => U): Map<number, U[]> {
  const grouped = new Map<number, U[]>();
  for (const item of items) {
    let list = grouped.get(messageOf(item));
    if (!list) grouped.set(messageOf(item), (list = []));
    list.push(view(item));
  }
  return grouped;
}

/**
 * Messages as the log keeps them: their reactions, their mentions, their files (and those of the messages
 * they reply to), one query each, and the participants of the threads under them (a query only when some have one).
 */
export async function sharedMessages(store: Store, rows: readonly MessageRow[]): Promise<SharedMessage[]> {
  const ids = rows.map((row) => row.id);
  const reactions = byMessage(await store.messages.reactions(ids), (reaction) => reaction.message_id, (reaction) => ({
    emoji: reaction.emoji, count: reaction.count, users: JSON.parse(reaction.users) as string[],
  }));
  const mentions = byMessage(await store.mentions.of(ids), (mention) => mention.message_id, (mention) => mention.username);
  const replied = rows.flatMap((row) => (row.reply_id === null ? [] : [row.reply_id]));
  const files = byMessage(await store.files.ofMessages([...new Set([...ids, ...replied])]), (file) => file.message_id, attachmentView);
  const roots = rows.flatMap((row) => (row.thread_reply_count === null ? [] : [row.id]));
  const participants = byMessage(await store.threads.participants(roots), (participant) => participant.root_id, (participant) => participant.username);
  return rows.map((row) => shared(row, reactions.get(row.id) ?? [], mentions.get(row.id) ?? [], files, participants.get(row.id) ?? []));
}

/** A message as `username` sees it. */
export function forReader(message: SharedMessage, username: string): ConversationMessage {
  return {
    ...message,
    reactions: message.reactions.map(({ emoji, count, users }) => ({ emoji, count, me: users.includes(username) })),
  };
}

/** A message as `username` sees it in a list of one conversation's messages, which names the conversation once. */
export function listedFor(message: SharedMessage, username: string): Omit<ConversationMessage, 'conversation_id'> {
  const { conversation_id: _, ...listed } = forReader(message, username);
  return listed;
}

/** An event's data as `username` receives it: only the personal events change. */
export function personalise(type: string, data: unknown, username: string): unknown {
  return personal.has(type) ? forReader(data as SharedMessage, username) : data;
}
