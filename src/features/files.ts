// Files in events: how an uploaded file is shown (attachments, pictures), which uploads a caller may use, and a conversation's shared files.
import type * as v from 'valibot';
import { events, limits } from '../../protocol/index.ts';
import type { Attachment } from '../../protocol/events/files.ts';
import { fail } from '../errors.ts';
import { isImageType } from '../files/inspect.ts';
import { memberOf, membership } from './membership.ts';
import type { Handlers } from './handler.ts';
import type { Ctx } from '../context.ts';
import type { AttachmentRow, FileRow } from '../storage/stores/files.ts';

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

/** The caller's own uploads, in the order named (each once); any other id is refused as unknown. */
export async function ownFiles(ctx: Ctx, ids: readonly string[]): Promise<FileRow[]> {
  const wanted = [...new Set(ids)];
  const found = new Map((await ctx.store.files.mine(wanted, ctx.caller.user.id)).map((row) => [row.id, row]));
  return wanted.map((id) => {
    const row = found.get(id);
    if (!row) throw fail('no_such_file', { id });
    return row;
  });
}

/** A picture for a person or a conversation: an image the caller uploaded; null (no picture) passes. */
export async function ownImage(ctx: Ctx, id: string | null): Promise<string | null> {
  if (id === null) return null;
  const [row] = await ownFiles(ctx, [id]);
  if (!isImageType(row!.type)) throw fail('not_an_image', { id });
  return id;
}

/** Sets a picture in place of `before`; the one it replaces is removed unless something else refers to it. */
export async function replacePicture(ctx: Ctx, before: string | null, after: string | null, set: (fileId: string | null) => Promise<void>): Promise<void> {
  await set(after);
  if (before !== null && before !== after) await ctx.store.files.remove([before], ctx.now());
}

export const fileHandlers = {
  get_files: {
    schema: events.get_files.request,
    guard: memberOf,
    async run(ctx, { conversation_id, before, limit }) {
      const { member } = await membership(ctx, conversation_id);
      const size = limit ?? limits.filesPage.default;
      // Whole messages only: read enough rows to hold one more message's files than the page.
      const rows = await ctx.store.files.shared(conversation_id, ctx.caller.user.id, before ?? null, member.cleared_id, size + limits.attachments);
      let count = 0;
      while (count < rows.length) {
        const message = rows[count]!.message_id;
        let end = count;
        while (end < rows.length && rows[end]!.message_id === message) end++;
        if (count > 0 && end > size) break;
        count = end;
      }
      const page = rows.slice(0, count);
      return {
        conversation_id,
        files: page.map((row) => ({ ...attachmentView(row), message_id: row.message_id, sender_username: row.sender_username, sent_at: row.sent_at })),
        next: count < rows.length ? page.at(-1)!.message_id : null,
      };
    },
  },
} satisfies Partial<Handlers>;
