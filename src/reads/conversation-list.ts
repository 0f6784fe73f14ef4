// Listing a member's conversations a page at a time: the cursor that continues a page, and the page itself, read after the commit.
import { limits, type EventRequest } from '../../protocol/index.ts';
import { pageOf, readCursor } from './paging.ts';
import { listedFor, sharedMessages, avatarUrl } from '../delivery/views.ts';
import type { Store } from '../storage/index.ts';
import type { RankedListRow } from '../storage/stores/conversations.ts';

type Listing = EventRequest<'list_conversations'>;
export type ListOrder = Listing['sort'];

/** Where a page ends: the key that continues after `row` in this order. */
const keyOf = (sort: ListOrder, row: RankedListRow) => (sort === 'recent' ? [row.activity, row.last_id, row.id] : [row.id]);

/** A cursor read back; `bad_cursor` when it is not one of this order's. */
export const parseCursor = (sort: ListOrder, after: string): number[] => readCursor(after, sort === 'recent' ? 3 : 1);

/**
 * What a page's read takes, all plain data: `from`, the parsed cursor; `pendingReads`, the read points
 * the reader's own sending moved that are not written yet (receipts', by conversation); `now` for the
 * notification levels in effect.
 */
export type PageQuery = {
  reader: { id: number; username: string }; filter: NonNullable<Listing['filter']>; sort: ListOrder; from: number[] | null; limit: number;
  pendingReads: Record<number, number>; now: number;
};

/**
 * A page of the reader's conversations, each with its unread count and last message: at most `limit`
 * after `from`, in creation order or by activity. The database orders and cuts them, so only the page
 * is read message by message.
 */
export async function conversationPage(store: Store, { reader, filter, sort, from, limit, pendingReads, now }: PageQuery) {
  const rows = sort === 'recent'
    ? await store.conversations.pageByActivity(reader.id, filter, from as [number, number, number] | null, limit + 1)
    : await store.conversations.pageByCreation(reader.id, filter, from?.[0] ?? 0, limit + 1);
  const { rows: page, next } = pageOf(rows, limit, (row) => keyOf(sort, row));
  // Sending shows you read what came before: your own latest message counts, even before its receipt batch moved your point.
  const wanted = page.map((row) => ({ conversation: row.id, floor: row.cleared_id, readUpTo: Math.max(row.read_id, row.cleared_id, pendingReads[row.id] ?? 0) }));
  const summaries = await store.messages.summaries(reader.id, wanted, limits.unreadCap);
  const unread = new Map(page.map((row, i) => [row.id, summaries[i]!.unread]));
  const lastRows = summaries.flatMap(({ last }) => (last ? [last] : []));
  const last = new Map((await sharedMessages(store, lastRows)).map((message) => [message.conversation_id, message]));
  const levels = await store.notifications.levels(reader.id, now);
  const items = page.map((row) => {
    const message = last.get(row.id);
    return {
      id: row.id,
      name: row.name,
      kind: row.kind,
      description: row.description,
      role: row.role,
      member_count: row.member_count,
      unread_count: unread.get(row.id)!,
      last_message: message ? listedFor(message, reader.username) : null,
      favorite: row.favorite === 1,
      pinned: row.pinned === 1,
      created_at: row.created_at,
      notifications: levels.get(row.id) ?? null,
      avatar_url: avatarUrl(row.avatar_file_id),
    };
  });
  return { items, next };
}

export type ConversationPage = Awaited<ReturnType<typeof conversationPage>>;
