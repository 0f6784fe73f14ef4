// Files as events see them: uploads (made over HTTP, POST /files) named by id, attached to messages, used as pictures, and listed per conversation.
import * as v from 'valibot';
import { event, id, limits, fields, seconds, conversationId, conversationGuard as guard, pageLimit, cursor, readLater } from '../spec.ts';

/** A file id as POST /files answers it: 32 hexadecimal digits. */
export function fileId(message: string) {
  return v.pipe(v.string(message), v.regex(/^[0-9a-f]{32}$/, message));
}

const path = (what: string) => v.pipe(v.string(), v.description(`${what}: a path on this server (resolve it against the server's URL), fetched with the login cookie`));

export const Attachment = v.object({
  id: v.pipe(v.string(), v.description('the file id, as POST /files answered')),
  name: v.pipe(v.string(), v.description('the name it was uploaded with, for display only')),
  size: v.pipe(v.number(), v.integer(), v.description('bytes')),
  type: v.pipe(v.string(), v.description('the media type, from the bytes themselves (`application/octet-stream` when unknown)')),
  width: v.pipe(v.optional(v.number()), v.description('images only, in pixels as shown')),
  height: v.pipe(v.optional(v.number()), v.description('images only')),
  url: path('the file: `/files/{id}`'),
  thumbnail_url: v.pipe(v.optional(v.string()), v.description(`images only: \`/files/{id}/thumbnail\`, a WebP of at most ${limits.thumbnailSide} × ${limits.thumbnailSide}`)),
});

/** `avatar_url` of people and conversations. */
export const avatarUrl = v.pipe(v.nullable(v.string()), v.description('their picture: `/files/{id}` on this server (any signed-in user may fetch it, and its `/thumbnail`), or null'));

/** The avatar field of update_profile and update_conversation: a file id, or null to remove the picture. */
export const avatar = (what: string) =>
  v.pipe(
    v.nullish(fileId('avatar must be a file id (32 hexadecimal digits, as POST /files answered) or null')),
    v.description(`optional; an image you uploaded, as ${what} picture; null removes it`),
  );

export const SharedFile = v.object({
  ...Attachment.entries,
  message_id: v.pipe(id, v.description('the message that carries it')),
  sender_username: v.string(),
  sent_at: seconds,
});

export const get_files = event({
  summary: `Lists the files shared in a conversation (those its messages carry, as you see them: after your clear_chat point, not deleted, not from people you blocked), newest message first, a page at a time: the "media" tab. ${readLater}`,
  request: fields({
    conversation_id: conversationId,
    before: cursor('before', 'a message id: only files of older messages (the `next` of the previous page)'),
    limit: pageLimit(limits.filesPage.max, limits.filesPage.default),
  }),
  reply: v.object({
    conversation_id: id,
    files: v.pipe(v.array(SharedFile), v.description('newest message first; a message\'s files in their order, never split across pages (a page may hold more than `limit` when one message alone does)')),
    next: v.pipe(v.nullable(v.number()), v.description('the `before` of the next page, or null on the last page')),
  }),
  guard,
  errors: [],
  cost: 2,
});
