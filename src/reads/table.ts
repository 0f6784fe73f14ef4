// Reads that run away from the queue of work, once the unit that asked for them is committed: on SQLite
// on reader threads with their own read-only connections (storage/sqlite/readers.ts), on PostgreSQL on
// the pool's connections. Each takes a store and plain data and gives plain data back (it crosses threads):
// what the reply needs from the unit (a membership's floor, a log's end) comes in that data.
import type { Store } from '../storage/index.ts';
import type { SearchQuery } from '../storage/stores/search.ts';
import { forReader, listedFor, personalise, sharedMessages, attachmentView, avatarUrl } from '../delivery/views.ts';
import { conversationPage } from './conversation-list.ts';
import { pageOf } from './paging.ts';
import { startShare } from '../thread-share.ts';

type Reader = { id: number; username: string };

export const reads = {
  async search(store: Store, query: SearchQuery) {
    const found = await store.search.find(query);
    return { next: found.next, snippets: found.rows.map((row) => row.snippet), shown: await sharedMessages(store, found.rows) };
  },

  conversations: conversationPage,

  /**
   * A page of `reader`'s contacts in the order of adding, after `from` ([place]; null: the first), and
   * those of them on either side of a block with the reader (their presence is not shown).
   */
  async contacts(store: Store, { reader, from, limit }: { reader: number; from: number[] | null; limit: number }) {
    const { rows, next } = pageOf(await store.contacts.page(reader, from?.[0] ?? 0, limit + 1), limit, (row) => [row.place]);
    return { rows, next, blocked: await store.contacts.blockedAmong(reader, rows.map((row) => row.id)) };
  },

  /**
   * A page of the people whose username or full name starts with `query`, after `after` in username
   * order, but those who blocked `reader`, from about `examined` looked at; and those of them `reader` blocked.
   */
  async users(store: Store, { reader, query, after, size, examined }: { reader: number; query: string; after: string; size: number; examined: number }) {
    const { rows, next } = await store.users.search(reader, query, after, size, examined);
    return { rows, next, blocked: await store.contacts.blockedAmong(reader, rows.map((row) => row.id)) };
  },

  /** A conversation's members, and those of them on either side of a block with `reader`. */
  async members(store: Store, { conversation, reader }: { conversation: number; reader: number }) {
    const rows = await store.members.list(conversation);
    return { rows, blocked: await store.contacts.blockedAmong(reader, rows.map((row) => row.user_id)) };
  },

  /** A page of the people `reader` blocked, most recent first, after `from` ([blocked_at, blocked_id]; null: the first). */
  async blocked(store: Store, { reader, from, limit }: { reader: number; from: number[] | null; limit: number }) {
    const { rows, next } = pageOf(await store.contacts.blockedPage(reader, from, limit + 1), limit, (row) => [row.blocked_at, row.blocked_id]);
    return { blocked: rows.map(({ username, fullname, blocked_at }) => ({ username, fullname, blocked_at })), next };
  },

  /** A page of the people banned from `conversation`, longest banned first, after `from` ([banned_at, user_id]; null: the first). */
  async banned(store: Store, { conversation, from, limit }: { conversation: number; from: number[] | null; limit: number }) {
    const { rows, next } = pageOf(await store.members.banned(conversation, from, limit + 1), limit, (row) => [row.banned_at, row.user_id]);
    return { banned: rows.map(({ username, fullname, banned_by, banned_at }) => ({ username, fullname, banned_by, banned_at })), next };
  },

  /** A page of the channels `reader` may join or is in, whose name holds `query`; at most `examined` looked at (a short page then ends at `next`). */
  async channels(store: Store, { reader, query, before, size, examined }: { reader: number; query: string | null; before: number | null; size: number; examined: number }) {
    const { rows, floor } = await store.channels.page(reader, query, before, size + 1, examined);
    const shown = rows.slice(0, size);
    const next = rows.length > size ? shown.at(-1)!.id : floor;
    return {
      channels: shown.map((row) => ({
        id: row.id, name: row.name, description: row.description, member_count: row.member_count, created_at: row.created_at, joined: row.joined === 1,
        avatar_url: avatarUrl(row.avatar_file_id),
      })),
      has_more: next !== null,
      next,
    };
  },

  /**
   * A page of a conversation's messages as `reader` sees them (`mainOnly`: thread replies left out, but
   * those also sent to it); `floor`: their cleared point. `newest`: the page's latest id (0: none).
   */
  async messages(
    store: Store,
    { conversation, reader, before, after, floor, limit, mainOnly }: { conversation: number; reader: Reader; before: number | null; after: number | null; floor: number; limit: number; mainOnly: boolean },
  ) {
    const rows = await store.messages.page(conversation, reader.id, { before, after, floor }, limit, mainOnly);
    const messages = (await sharedMessages(store, rows)).map((message) => listedFor(message, reader.username));
    return { messages, newest: Math.max(0, ...rows.map((row) => row.id)) };
  },

  /** A thread as `reader` sees it: its root, and a page of its replies above `floor` (their cleared point), as `messages` reads a conversation's. */
  async thread(store: Store, { root, reader, before, after, floor, limit }: { root: number; reader: Reader; before: number | null; after: number | null; floor: number; limit: number }) {
    const [rootRow, rows] = await Promise.all([store.messages.byId(root), store.messages.threadPage(root, reader.id, { before, after, floor }, limit)]);
    const [shown, ...replies] = await sharedMessages(store, [rootRow!, ...rows]);
    return { root: listedFor(shown!, reader.username), messages: replies.map((message) => listedFor(message, reader.username)) };
  },

  /** A page of the threads `reader` follows (see `threads.followed`), each root as they see it, with their unread count. */
  async followedThreads(store: Store, { reader, conversation, before, unreadOnly, limit }: { reader: Reader; conversation: number | null; before: number | null; unreadOnly: boolean; limit: number }) {
    const rows = await store.threads.followed(reader.id, { conversation, before, unreadOnly, limit: limit + 1 });
    const page = rows.slice(0, limit);
    const roots = new Map((await sharedMessages(store, await store.messages.several(page.map((row) => row.root_id)))).map((root) => [root.id, root]));
    return {
      // A root gone since (its conversation deleted) is left out.
      threads: page.flatMap((row) => {
        const root = roots.get(row.root_id);
        return root ? [{ root: forReader(root, reader.username), unread_count: row.unread }] : [];
      }),
      next: rows.length > limit ? page.at(-1)!.last_reply_id : null,
    };
  },

  /** A page of files shared in a conversation, newest first, `size` of them or more: a message's files are never split over two pages. */
  async files(store: Store, { conversation, reader, before, floor, size, attachments }: { conversation: number; reader: number; before: number | null; floor: number; size: number; attachments: number }) {
    // Whole messages only: read enough rows to hold one more message's files than the page.
    const rows = await store.files.shared(conversation, reader, before, floor, size + attachments);
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
      files: page.map((row) => ({ ...attachmentView(row), message_id: row.message_id, sender_username: row.sender_username, sent_at: row.sent_at })),
      next: count < rows.length ? page.at(-1)!.message_id : null,
    };
  },

  /**
   * The logged events `reader` may see after `since` and up to `through` (the log's end when the sync
   * was asked: what came later is pushed), at most `size` and, past the first, `bytes` of them.
   */
  async sync(store: Store, { reader, since, through, size, bytes: budget }: { reader: Reader; since: number; through: number; size: number; bytes: number }) {
    const rows = (await store.events.after(reader.id, since, size + 1)).filter((row) => row.seq <= through);
    let bytes = 0;
    let count = 0;
    while (count < Math.min(size, rows.length) && (count === 0 || bytes + rows[count]!.data.length <= budget)) bytes += rows[count++]!.data.length;
    const page = rows.slice(0, count);
    return {
      events: page.map((row) => ({ type: row.type, success: true as const, data: personalise(row.type, JSON.parse(row.data), reader.username), seq: row.seq })),
      next: page.at(-1)?.seq ?? since,
      has_more: rows.length > count,
    };
  },
};

export type ReadName = keyof typeof reads;
export type ReadInput<K extends ReadName> = Parameters<(typeof reads)[K]>[1];
export type ReadValue<K extends ReadName> = Awaited<ReturnType<(typeof reads)[K]>>;

export type Reads = {
  /** Runs a read; `ms` is its share of the time of the thread where it ran, to charge to whoever asked. */
  run<K extends ReadName>(name: K, input: ReadInput<K>): Promise<{ value: ReadValue<K>; ms: number }>;
  close(): Promise<void>;
};

/** Runs a read on `store` (committed data outside any unit), timed: its share of this thread's time while it ran. */
export async function runRead<K extends ReadName>(store: Store, name: K, input: ReadInput<K>): Promise<{ value: ReadValue<K>; ms: number }> {
  const end = startShare();
  const value = (await (reads[name](store, input as never) as Promise<ReadValue<K>>).finally(end));
  return { value, ms: end() };
}

/** Reads on this thread, on `store`'s own connections: PostgreSQL's pool, or a handler test's database. */
export const inProcessReads = (store: Store): Reads => ({ run: (name, input) => runRead(store, name, input), close: async () => {} });
