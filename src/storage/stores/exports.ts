// Exports: the record of each zip asked for (who, of what, until when, whether it was fetched), and the
// pages of data a zip is built from, read a bounded page at a time.
import { dialect, inList, type Sql } from '../engine/sql.ts';

/** An export to build: whose, and of what (a conversation, or null for the user's own data). */
export type ExportJob = { id: string; userId: number; conversationId: number | null };

export type ExportRow = { id: string; user_id: number; conversation_id: number | null; requested_at: number; ready_at: number | null; size: number | null; expires_at: number; downloaded_at: number | null };
/** A message as an export writes it. */
export type ExportedMessage = { id: number; conversation_id: number; conversation: string; sender: string; reply_id: number | null; content: string; sent_at: number; edited_at: number | null; attachments: string };
/** A file as an export carries it. */
export type ExportedFile = { id: string; key: string; name: string; size: number };

export function exportsStore(sql: Sql) {
  const insert = sql.prepare('INSERT INTO exports (id, user_id, conversation_id, requested_at, expires_at, building_until, attempts) VALUES ($1, $2, $3, $4, $5, $6, 1)');
  const underWay = sql.prepare('SELECT id FROM exports WHERE user_id = $1 AND ready_at IS NULL');
  const ready = sql.prepare('UPDATE exports SET ready_at = $2, size = $3, expires_at = $4, building_until = NULL WHERE id = $1');
  const renew = sql.prepare('UPDATE exports SET building_until = $2 WHERE id = $1 AND ready_at IS NULL');
  const release = sql.prepare(dialect`UPDATE exports SET building_until = NULL WHERE ${inList('id', '$1', 'text')} AND ready_at IS NULL`);
  const releaseAll = sql.prepare('UPDATE exports SET building_until = NULL WHERE ready_at IS NULL AND building_until IS NOT NULL');
  // The lapse is checked again on the row itself: on PostgreSQL a node that waited for another's claim of it re-reads it and skips it.
  const lapsed = '(building_until IS NULL OR building_until <= $1)';
  const claim = sql.prepare<{ id: string; user_id: number; conversation_id: number | null; attempts: number }>(`
    UPDATE exports SET building_until = $2, attempts = attempts + 1
     WHERE id = (SELECT id FROM exports WHERE ready_at IS NULL AND ${lapsed} ORDER BY requested_at, id LIMIT 1) AND ready_at IS NULL AND ${lapsed}
     RETURNING id, user_id, conversation_id, attempts`);
  // Once: the first download takes it.
  const take = sql.prepare<{ size: number }>('UPDATE exports SET downloaded_at = $3 WHERE id = $1 AND user_id = $2 AND ready_at IS NOT NULL AND downloaded_at IS NULL AND expires_at > $3 RETURNING size');
  // Unfinished ones are not spent: they are built again, or fail with export_failed (src/exports/resume.ts).
  const takeable = sql.prepare<{ size: number }>('SELECT size FROM exports WHERE id = $1 AND user_id = $2 AND ready_at IS NOT NULL AND downloaded_at IS NULL AND expires_at > $3');
  const spent = sql.prepare('SELECT id FROM exports WHERE (ready_at IS NOT NULL AND expires_at <= $1) OR downloaded_at IS NOT NULL ORDER BY id LIMIT $2');
  const remove = sql.prepare('DELETE FROM exports WHERE id = $1');
  const known = sql.prepare(dialect`SELECT id FROM exports WHERE ${inList('id', '$1', 'text')}`);
  const columns = `m.id, m.conversation_id, c.name AS conversation, COALESCE(u.username, 'deleted user') AS sender, m.reply_id, m.content, m.sent_at, m.edited_at,
      COALESCE((SELECT ${sql.engine === 'postgres' ? "string_agg(a.file_id, ' ' ORDER BY a.position)" : "group_concat(a.file_id, ' ')"} FROM message_attachments AS a WHERE a.message_id = m.id), '') AS attachments
    FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id LEFT JOIN users AS u ON u.id = m.sender_id`;
  const sentBy = sql.prepare<ExportedMessage>(`SELECT ${columns} WHERE m.sender_id = $1 AND m.id > $2 AND m.deleted_at IS NULL ORDER BY m.id LIMIT $3`);
  const sentIn = sql.prepare<ExportedMessage>(`SELECT ${columns} WHERE m.conversation_id = $1 AND m.id > $2 AND m.deleted_at IS NULL ORDER BY m.id LIMIT $3`);
  const uploadedBy = sql.prepare<ExportedFile>('SELECT id, key, name, size FROM files WHERE uploader_id = $1 AND id > $2 ORDER BY id LIMIT $3');
  const attachedIn = sql.prepare<ExportedFile>(`SELECT files.id, files.key, files.name, files.size FROM files
      WHERE files.id > $2 AND EXISTS (SELECT 1 FROM message_attachments AS a WHERE a.file_id = files.id AND a.conversation_id = $1) ORDER BY files.id LIMIT $3`);

  return {
    /** A new export, leased until `leaseUntil` by the node that builds it: its first attempt. */
    create: async (row: { id: string; userId: number; conversationId: number | null; now: number; expiresAt: number; leaseUntil: number }): Promise<void> =>
      void (await insert.run(row.id, row.userId, row.conversationId, row.now, row.expiresAt, row.leaseUntil)),
    /** Extends the lease of an export this node is building. */
    renew: async (id: string, leaseUntil: number): Promise<void> => void (await renew.run(id, leaseUntil)),
    /** Gives up the lease of these unfinished exports (this node stops): the next round anywhere takes them up. */
    release: async (ids: readonly string[]): Promise<void> => void (await release.run(sql.list(ids))),
    /** Gives up every lease: for a server alone at its start, whatever was being built was its previous run's. */
    releaseAll: (): Promise<number> => releaseAll.run(),
    /** Takes the oldest unfinished export whose lease lapsed by `now`, leased until `leaseUntil`: the job and its attempts so far, this one included. */
    async claim(now: number, leaseUntil: number): Promise<{ job: ExportJob; attempts: number } | undefined> {
      const row = await claim.get(now, leaseUntil);
      return row && { job: { id: row.id, userId: row.user_id, conversationId: row.conversation_id }, attempts: row.attempts };
    },
    /** Whether an export of the user's is being built. */
    underWay: async (userId: number): Promise<boolean> => (await underWay.get(userId)) !== undefined,
    /** Ready to download until `expiresAt`. */
    ready: async (id: string, now: number, size: number, expiresAt: number): Promise<void> => void (await ready.run(id, now, size, expiresAt)),
    /** Marks a ready export downloaded by its owner, once, before it expires: its size, or undefined when it is not theirs to take. */
    take: async (id: string, userId: number, now: number): Promise<number | undefined> => (await take.get(id, userId, now))?.size,
    /** The size of the export when `take` would take it, without taking it. */
    takeable: async (id: string, userId: number, now: number): Promise<number | undefined> => (await takeable.get(id, userId, now))?.size,
    /** Exports expired or downloaded: their zips may go. */
    spent: (now: number, limit: number): Promise<string[]> => spent.values<string>(now, limit),
    remove: async (id: string): Promise<void> => void (await remove.run(id)),
    /** Those of these ids that have a record. */
    known: (ids: readonly string[]): Promise<string[]> => known.values<string>(sql.list(ids)),
    /** A page of the messages the user sent (or, with a conversation, of that conversation), after `after`, oldest first. */
    messages: (of: { user: number } | { conversation: number }, after: number, limit: number): Promise<ExportedMessage[]> =>
      'user' in of ? sentBy.all(of.user, after, limit) : sentIn.all(of.conversation, after, limit),
    /** A page of the files the user uploaded (or a conversation's messages carry), by id after `after`. */
    files: (of: { user: number } | { conversation: number }, after: string, limit: number): Promise<ExportedFile[]> =>
      'user' in of ? uploadedBy.all(of.user, after, limit) : attachedIn.all(of.conversation, after, limit),
  };
}
