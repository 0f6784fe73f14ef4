// Files: upload records, the messages that carry them, avatars, quota sums, the bytes of uploads
// nothing has used yet, and what may be removed (files nothing refers to, and the stored bytes no
// file refers to any more).
//
// Removing bytes and storing the same bytes again must take turns, also when several servers share
// the database: an upload records its file (and touches its key's `file_blobs` row) before it puts
// its bytes in place, and removing bytes locks that row, checks that no file refers to the key, and
// removes the bytes before committing. So an upload of the same bytes either committed first (and
// the check sees its file) or waits for the row and puts its bytes back after they were removed.
// On SQLite, units of work run one at a time, which gives the same order.
import { dialect, inList, type Sql } from '../engine/sql.ts';
import { notBlocked } from './contacts.ts';

export type FileRow = {
  id: string;
  uploader_id: number | null;
  key: string;
  name: string;
  size: number;
  type: string;
  sha256: string;
  width: number | null;
  height: number | null;
  thumbnail_key: string | null;
  thumbnail_sha256: string | null;
  thumbnail_size: number | null;
  thumbnail_width: number | null;
  thumbnail_height: number | null;
  created_at: number;
  /** The address it was uploaded from, while nothing has used it; null once something has. */
  unattached_from: string | null;
};

/** What a message or a listing shows of a file. */
export type AttachmentRow = Pick<FileRow, 'id' | 'name' | 'size' | 'type' | 'width' | 'height' | 'thumbnail_key'>;

/** A file of a conversation, with the message that carries it. */
export type SharedFileRow = AttachmentRow & { message_id: number; sender_username: string; sent_at: number };

/** A new file record: where its bytes are and what they are. */
export type NewFile = {
  id: string;
  uploaderId: number;
  /** The address it came from, kept until something uses the file. */
  address: string;
  key: string;
  name: string;
  size: number;
  type: string;
  sha256: string;
  width?: number;
  height?: number;
  thumbnail?: { key: string; sha256: string; size: number; width: number; height: number };
  now: number;
};

const attachmentColumns = 'files.id, files.name, files.size, files.type, files.width, files.height, files.thumbnail_key';

/** Nothing refers to the file in `files.id`: no message carries it, nobody has it as their face or a conversation's. */
const unreferenced = `NOT EXISTS (SELECT 1 FROM message_attachments WHERE message_attachments.file_id = files.id)
   AND NOT EXISTS (SELECT 1 FROM users WHERE users.avatar_file_id = files.id)
   AND NOT EXISTS (SELECT 1 FROM conversations WHERE conversations.avatar_file_id = files.id)`;
/** No file refers to the bytes of `file_blobs.key`. */
const unusedBlob = `NOT EXISTS (SELECT 1 FROM files WHERE files.key = file_blobs.key)
   AND NOT EXISTS (SELECT 1 FROM files WHERE files.thumbnail_key = file_blobs.key)`;
/** PostgreSQL locks the rows it picks (skipping those another server is working on); SQLite has nothing to lock. */
const lockSkipping = { sqlite: '', postgres: 'FOR UPDATE SKIP LOCKED' };
/** The advisory lock (a transaction's) under which PostgreSQL counts and records unattached uploads. */
const unattachedLock = 0x50617266; // "Parf"

export function filesStore(sql: Sql) {
  const postgres = sql.engine === 'postgres';
  const insert = sql.prepare(
    `INSERT INTO files (id, uploader_id, key, name, size, type, sha256, width, height,
                        thumbnail_key, thumbnail_sha256, thumbnail_size, thumbnail_width, thumbnail_height, created_at, unattached_from)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
  );
  // Takes the key's row lock on PostgreSQL (waiting for a removal of the same bytes to finish).
  const touchBlob = sql.prepare(
    'INSERT INTO file_blobs (key, recorded_at) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET recorded_at = excluded.recorded_at, orphaned_at = NULL',
  );
  // An uploader's uploads are counted one upload at a time, also across servers.
  const lockUploader = sql.prepare({ sqlite: 'SELECT id FROM users WHERE id = $1', postgres: 'SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE' });
  const used = sql.prepare('SELECT coalesce(sum(size), 0) FROM files WHERE uploader_id = $1');
  // Unattached uploads are counted one upload at a time over every server: on PostgreSQL a lock for the transaction.
  const lockUnattached = sql.prepare({ sqlite: 'SELECT 1', postgres: `SELECT pg_advisory_xact_lock(${unattachedLock})` });
  const unattachedFrom = sql.prepare('SELECT coalesce(sum(size), 0) FROM files WHERE unattached_from = $1');
  const unattachedTotal = sql.prepare('SELECT coalesce(sum(size), 0) FROM files WHERE unattached_from IS NOT NULL');
  const markUsed = sql.prepare(dialect`UPDATE files SET unattached_from = NULL WHERE ${inList('id', '$1', 'text')} AND unattached_from IS NOT NULL`);
  const byId = sql.prepare<FileRow>('SELECT * FROM files WHERE id = $1');
  // Who may download a file: its uploader; anyone signed in, for a face; a member who may see a message carrying it.
  const downloadable = sql.prepare<FileRow>(
    `SELECT files.* FROM files WHERE files.id = $1 AND (
        files.uploader_id = $2
        OR EXISTS (SELECT 1 FROM users WHERE users.avatar_file_id = files.id)
        OR EXISTS (SELECT 1 FROM conversations WHERE conversations.avatar_file_id = files.id AND conversations.deleted_at IS NULL)
        OR EXISTS (SELECT 1 FROM message_attachments AS a
                     JOIN messages AS m ON m.id = a.message_id
                     JOIN members ON members.conversation_id = a.conversation_id AND members.user_id = $2
                    WHERE a.file_id = files.id AND m.id > members.cleared_id AND m.deleted_at IS NULL AND ${notBlocked('$2')}))`,
  );
  // A key-share lock on PostgreSQL: the file cannot be removed until this unit commits.
  const mine = sql.prepare<FileRow>(dialect`SELECT * FROM files WHERE ${inList('id', '$1', 'text')} AND uploader_id = $2 ${{ sqlite: '', postgres: 'FOR KEY SHARE' }}`);
  const attach = sql.prepare({
    sqlite: 'INSERT INTO message_attachments (message_id, conversation_id, position, file_id) SELECT $1, $2, key, value FROM json_each($3)',
    postgres: `INSERT INTO message_attachments (message_id, conversation_id, position, file_id)
               SELECT $1, $2, position - 1, file_id FROM unnest(CAST($3 AS text[])) WITH ORDINALITY AS listed (file_id, position)`,
  });
  const ofMessages = sql.prepare<AttachmentRow & { message_id: number }>(dialect`
    SELECT message_attachments.message_id, ${attachmentColumns}
      FROM message_attachments JOIN files ON files.id = message_attachments.file_id
     WHERE ${inList('message_attachments.message_id', '$1')}
     ORDER BY message_attachments.message_id, message_attachments.position`);
  const detach = sql.prepare('DELETE FROM message_attachments WHERE message_id = $1 RETURNING file_id');
  const attachedIn = sql.prepare('SELECT DISTINCT file_id FROM message_attachments WHERE conversation_id = $1');
  const attachedTo = sql.prepare(dialect`SELECT DISTINCT file_id FROM message_attachments WHERE ${inList('message_id', '$1')}`);
  const shared = sql.prepare<SharedFileRow>(
    `SELECT a.message_id, COALESCE(u.username, 'deleted user') AS sender_username, m.sent_at, ${attachmentColumns}
       FROM message_attachments AS a
       JOIN messages AS m ON m.id = a.message_id
       JOIN files ON files.id = a.file_id
       LEFT JOIN users AS u ON u.id = m.sender_id
      WHERE a.conversation_id = $1 AND a.message_id < $3 AND a.message_id > $4 AND m.deleted_at IS NULL AND ${notBlocked('$2')}
      ORDER BY a.message_id DESC, a.position
      LIMIT $5`,
  );
  const setUserAvatar = sql.prepare('UPDATE users SET avatar_file_id = $1 WHERE id = $2');
  const setConversationAvatar = sql.prepare('UPDATE conversations SET avatar_file_id = $1 WHERE id = $2');
  const lockFiles = sql.prepare(dialect`SELECT id FROM files WHERE ${inList('id', '$1', 'text')} ORDER BY id ${{ sqlite: '', postgres: 'FOR UPDATE' }}`);
  const removeUnreferenced = sql.prepare<{ key: string; thumbnail_key: string | null }>(
    dialect`DELETE FROM files WHERE ${inList('files.id', '$1', 'text')} AND ${unreferenced} RETURNING key, thumbnail_key`,
  );
  const markOrphaned = sql.prepare(dialect`UPDATE file_blobs SET orphaned_at = $2 WHERE ${inList('key', '$1', 'text')} AND orphaned_at IS NULL`);
  const oldestUnattached = sql.prepare<{ id: string; size: number }>(
    dialect`SELECT id, size FROM files WHERE unattached_from IS NOT NULL AND created_at < $1 ORDER BY created_at LIMIT $2 ${lockSkipping}`,
  );
  const stale = sql.prepare(dialect`SELECT id FROM files WHERE created_at < $1 AND ${unreferenced} ORDER BY created_at LIMIT $2 ${lockSkipping}`);
  const orphans = sql.prepare(dialect`SELECT key FROM file_blobs WHERE orphaned_at IS NOT NULL ORDER BY orphaned_at LIMIT $1 ${lockSkipping}`);
  const dropBlobs = sql.prepare(dialect`DELETE FROM file_blobs WHERE ${inList('key', '$1', 'text')} AND ${unusedBlob} RETURNING key`);
  const keepBlobs = sql.prepare(dialect`UPDATE file_blobs SET orphaned_at = NULL WHERE ${inList('key', '$1', 'text')}`);

  /** Removes the files named that nothing refers to (locking them first on PostgreSQL, so an attaching unit is waited for); their bytes are marked for the collector. */
  async function remove(ids: readonly string[], now: number, locked = false): Promise<number> {
    if (ids.length === 0) return 0;
    if (postgres && !locked) await lockFiles.run(sql.list(ids));
    const removed = await removeUnreferenced.all(sql.list(ids));
    const keys = removed.flatMap((row) => (row.thumbnail_key ? [row.key, row.thumbnail_key] : [row.key]));
    if (keys.length) await markOrphaned.run(sql.list([...new Set(keys)]), now);
    return removed.length;
  }

  return {
    /** Records an upload, and touches its bytes' keys so that no removal of the same bytes runs meanwhile. */
    async insert(file: NewFile): Promise<void> {
      const { thumbnail } = file;
      await insert.run(
        file.id, file.uploaderId, file.key, file.name, file.size, file.type, file.sha256, file.width ?? null, file.height ?? null,
        thumbnail?.key ?? null, thumbnail?.sha256 ?? null, thumbnail?.size ?? null, thumbnail?.width ?? null, thumbnail?.height ?? null, file.now, file.address,
      );
      for (const key of thumbnail ? [file.key, thumbnail.key] : [file.key]) await touchBlob.run(key, file.now);
    },
    /** Holds the uploader's count until this unit commits (another server's upload of theirs waits); false when they are gone. */
    lockUploader: async (userId: number): Promise<boolean> => (await lockUploader.value(userId)) !== undefined,
    /** Bytes of the files `userId` uploaded that still exist. */
    used: async (userId: number): Promise<number> => (await used.value<number>(userId)) ?? 0,
    /** Holds the count of unattached uploads until this unit commits (another server's upload waits). */
    async lockUnattached(): Promise<void> {
      if (postgres) await lockUnattached.run();
    },
    /** Bytes of the uploads nothing uses yet. */
    unattachedTotal: async (): Promise<number> => (await unattachedTotal.value<number>()) ?? 0,
    /** Bytes of the uploads from `address` that nothing uses yet, and of all such uploads. */
    unattached: async (address: string): Promise<{ address: number; total: number }> => ({
      address: (await unattachedFrom.value<number>(address)) ?? 0,
      total: (await unattachedTotal.value<number>()) ?? 0,
    }),
    byId: (id: string): Promise<FileRow | undefined> => byId.get(id),
    /** The file when `userId` may download it; undefined whether it does not exist or they may not. */
    downloadable: (id: string, userId: number): Promise<FileRow | undefined> => downloadable.get(id, userId),
    /** Which of these files `uploaderId` uploaded (kept from removal until the unit commits). */
    mine: async (ids: readonly string[], uploaderId: number): Promise<FileRow[]> => (ids.length ? mine.all(sql.list(ids), uploaderId) : []),
    /** Attaches files to a message, in the order given. */
    async attach(messageId: number, conversationId: number, fileIds: readonly string[]): Promise<void> {
      if (fileIds.length === 0) return;
      await attach.run(messageId, conversationId, sql.list(fileIds));
      await markUsed.run(sql.list(fileIds));
    },
    /** The files these messages carry, in order. */
    ofMessages: async (messageIds: readonly number[]) => (messageIds.length ? ofMessages.all(sql.list(messageIds)) : []),
    /** Takes a message's files off it; answers their ids. */
    detach: (messageId: number): Promise<string[]> => detach.values<string>(messageId),
    /** The files a conversation's messages carry. */
    attachedIn: (conversationId: number): Promise<string[]> => attachedIn.values<string>(conversationId),
    /** The files these messages carry. */
    attachedTo: (messageIds: readonly number[]): Promise<string[]> => attachedTo.values<string>(sql.list(messageIds)),
    /** A conversation's files `readerId` may see (after their clear point, not from people they blocked), newest message first, below `before`. */
    shared: (conversationId: number, readerId: number, before: number | null, floor: number, limit: number): Promise<SharedFileRow[]> =>
      shared.all(conversationId, readerId, before ?? Number.MAX_SAFE_INTEGER, floor, limit),
    async setUserAvatar(userId: number, fileId: string | null): Promise<void> {
      await setUserAvatar.run(fileId, userId);
      if (fileId !== null) await markUsed.run(sql.list([fileId]));
    },
    async setConversationAvatar(conversationId: number, fileId: string | null): Promise<void> {
      await setConversationAvatar.run(fileId, conversationId);
      if (fileId !== null) await markUsed.run(sql.list([fileId]));
    },
    /** Removes those of these files that nothing refers to any more; answers how many went. */
    remove: (ids: readonly string[], now: number): Promise<number> => remove(ids, now),
    /** Removes up to `limit` files created before `cutoff` that nothing refers to (none that another server is removing). */
    async removeStale(cutoff: number, now: number, limit: number): Promise<number> {
      return remove(await stale.values<string>(cutoff, limit), now, true);
    },
    /**
     * Removes the oldest unattached uploads created before `cutoff` (none that another server is
     * removing or attaching) until `excess` bytes have gone or `limit` files were looked at; answers
     * how many went.
     */
    async removeOldestUnattached(cutoff: number, excess: number, now: number, limit: number): Promise<number> {
      const picked: string[] = [];
      let bytes = 0;
      for (const row of await oldestUnattached.all(cutoff, limit)) {
        if (bytes >= excess) break;
        picked.push(row.id);
        bytes += row.size;
      }
      return remove(picked, now, true);
    },
    /**
     * Up to `limit` keys of bytes that no file refers to any more, their rows gone: remove the bytes
     * before this unit commits (see the top of this file). Keys in use again are unmarked.
     */
    async unusedBytes(limit: number): Promise<string[]> {
      const marked = await orphans.values<string>(limit);
      if (marked.length === 0) return [];
      const unused = await dropBlobs.values<string>(sql.list(marked));
      const gone = new Set(unused);
      const kept = marked.filter((key) => !gone.has(key));
      if (kept.length) await keepBlobs.run(sql.list(kept));
      return unused;
    },
  };
}
