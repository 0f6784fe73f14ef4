// Files in events: how an uploaded file is shown (attachments, pictures), which uploads a caller may use, and a conversation's shared files.
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { isImageType } from '../files/inspect.ts';
import { memberOf, membership } from './membership.ts';
import { later, type Handlers } from './handler.ts';
import type { Ctx } from '../context.ts';
import type { FileRow } from '../storage/stores/files.ts';
import { attachmentView } from '../delivery/views.ts';

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
      const query = { conversation: conversation_id, reader: ctx.caller.user.id, before: before ?? null, floor: member.cleared_id, size: limit ?? limits.filesPage.default, attachments: limits.attachments };
      // Read after the commit, away from the queue of work (on SQLite on a reader thread).
      return later(async () => {
        const { value, ms } = await ctx.reads.run('files', query);
        return { data: { conversation_id, ...value }, ms };
      });
    },
  },
} satisfies Partial<Handlers>;
