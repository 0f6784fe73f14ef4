// Conversations: creating, finding, listing (per member, and channels for anyone), changing and deleting them.
import { likePattern, type Db } from './db.ts';

export type Kind = 'group' | 'direct' | 'channel';
export type Role = 'owner' | 'admin' | 'member';

export type ConversationRow = { id: number; name: string; kind: Kind; description: string; created_at: number };

export type ConversationListRow = ConversationRow & {
  role: Role;
  favorite: number;
  pinned: number;
  member_count: number;
  read_id: number;
  cleared_id: number;
};

export type ChannelRow = ConversationRow & { member_count: number; joined: number };

const columns = 'conversations.id, conversations.name, conversations.kind, conversations.description, conversations.created_at';

export function conversationsStore(db: Db) {
  const insert = db.prepare<[string, string, string, number, number, string | null]>(
    'INSERT INTO conversations (name, kind, description, creator_id, created_at, direct_key) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const insertMember = db.prepare<[number, number, number, string, number]>(
    'INSERT INTO members (conversation_id, user_id, position, role, joined_at) VALUES (?, ?, ?, ?, ?)',
  );
  const byId = db.prepare<[number], ConversationRow>(`SELECT ${columns} FROM conversations WHERE id = ? AND deleted_at IS NULL`);
  const byDirectKey = db.prepare<[string], ConversationRow>(`SELECT ${columns} FROM conversations WHERE direct_key = ?`);
  // Unread counts and last messages are read per conversation (messages.ts), each bounded by an index.
  const forUser = db.prepare<{ user: number }, ConversationListRow>(
    `SELECT ${columns}, members.role, members.favorite, members.pinned, members.read_id, members.cleared_id,
            (SELECT count(*) FROM members AS everyone WHERE everyone.conversation_id = conversations.id) AS member_count
       FROM members JOIN conversations ON conversations.id = members.conversation_id
      WHERE members.user_id = :user
      ORDER BY conversations.id`,
  );
  const memberUsernames = db.prepare<[number], string>(
    'SELECT users.username FROM members JOIN users ON users.id = members.user_id WHERE members.conversation_id = ? ORDER BY members.position',
  ).pluck();
  const members = db.prepare<[number], { id: number; username: string }>(
    'SELECT users.id, users.username FROM members JOIN users ON users.id = members.user_id WHERE members.conversation_id = ? ORDER BY members.position',
  );
  const idsForUser = db.prepare<[number], number>('SELECT conversation_id FROM members WHERE user_id = ?').pluck();
  const update = db.prepare<[string, string, number]>('UPDATE conversations SET name = ?, description = ? WHERE id = ?');
  const markDeleted = db.prepare<[number, number]>('UPDATE conversations SET deleted_at = ?, direct_key = NULL WHERE id = ?');
  const dropMembers = db.prepare<[number]>('DELETE FROM members WHERE conversation_id = ?');
  const dropMessages = db.prepare<[number]>('DELETE FROM messages WHERE conversation_id = ?');
  const dropBans = db.prepare<[number]>('DELETE FROM bans WHERE conversation_id = ?');
  const channels = db.prepare<{ user: number; pattern: string | null; before: number; limit: number }, ChannelRow>(
    `SELECT ${columns},
            (SELECT count(*) FROM members WHERE members.conversation_id = conversations.id) AS member_count,
            EXISTS (SELECT 1 FROM members WHERE members.conversation_id = conversations.id AND members.user_id = :user) AS joined
       FROM conversations
      WHERE kind = 'channel' AND deleted_at IS NULL AND id < :before
        AND (:pattern IS NULL OR name LIKE :pattern ESCAPE '\\' OR description LIKE :pattern ESCAPE '\\')
      ORDER BY id DESC LIMIT :limit`,
  );
  const create = db.transaction(
    (row: { name: string; kind: Kind; description: string; creatorId: number; memberIds: readonly number[]; directKey: string | null; now: number }): number => {
      const id = Number(insert.run(row.name, row.kind, row.description, row.creatorId, row.now, row.directKey).lastInsertRowid);
      row.memberIds.forEach((userId, position) => {
        // In a direct conversation both people are owners: neither can be locked out by the other.
        const role = userId === row.creatorId || row.kind === 'direct' ? 'owner' : 'member';
        insertMember.run(id, userId, position, role, row.now);
      });
      return id;
    },
  );
  const remove = db.transaction((id: number, now: number) => {
    markDeleted.run(now, id);
    dropMembers.run(id);
    dropMessages.run(id);
    dropBans.run(id);
  });

  return {
    /** Creates the conversation with its members (the creator first) and returns its id. */
    create: (conversation: { name: string; kind?: Kind; description?: string; creatorId: number; memberIds: readonly number[]; directKey?: string | null; now: number }): number =>
      create({ kind: 'group', description: '', directKey: null, ...conversation }),
    byId: (id: number): ConversationRow | undefined => byId.get(id),
    /** The live direct conversation of two people. */
    direct: (userA: number, userB: number): ConversationRow | undefined => byDirectKey.get(directKey(userA, userB)),
    forUser: (userId: number): ConversationListRow[] => forUser.all({ user: userId }),
    memberUsernames: (id: number): string[] => memberUsernames.all(id),
    /** Members' ids and usernames, the creator first. */
    members: (id: number): { id: number; username: string }[] => members.all(id),
    idsForUser: (userId: number): number[] => idsForUser.all(userId),
    update(id: number, name: string, description: string): void {
      update.run(name, description, id);
    },
    /** Deletes a conversation for everyone: members, messages and bans go; the row stays, marked. */
    remove(id: number, now: number): void {
      remove(id, now);
    },
    /** Channels whose name or description contains `query`, newest first, with ids below `before`. */
    channels: (userId: number, query: string | null, before: number | null, limit: number): ChannelRow[] =>
      channels.all({
        user: userId,
        pattern: query ? likePattern(query, true) : null,
        before: before ?? Number.MAX_SAFE_INTEGER,
        limit,
      }),
  };
}

export function directKey(userA: number, userB: number): string {
  return userA < userB ? `${userA}:${userB}` : `${userB}:${userA}`;
}
