// Conversations: creating, finding, listing them per member, changing and deleting them.
import type { MemberRow, Role } from './members.ts';
import { notBlocked } from './contacts.ts';
import { inMain } from './threads.ts';
import type { Sql } from '../engine/sql.ts';

export type Kind = 'group' | 'direct' | 'channel';

export type ConversationRow = { id: number; name: string; kind: Kind; description: string; created_at: number; avatar_file_id: string | null };

export type ConversationListRow = ConversationRow & {
  role: Role;
  favorite: number;
  pinned: number;
  member_count: number;
  read_id: number;
  cleared_id: number;
};

/** A conversation as its member's list orders it: `activity` is when the newest message they can see was sent (else when it was created), `last_id` that message (else 0). */
export type RankedListRow = ConversationListRow & { activity: number; last_id: number };

/** Which of a member's conversations a list holds. */
export type ListFilter = 'all' | 'favorites' | 'pinned';

const columns = 'conversations.id, conversations.name, conversations.kind, conversations.description, conversations.created_at, conversations.avatar_file_id';

/** A conversation's row with one member's row, their columns named `member_…`: what membership checks read. */
export type WithMemberRow = ConversationRow & { [K in keyof MemberRow as `member_${K}`]: MemberRow[K] };
/** The member's columns of a `WithMemberRow`, `members` named `m`. */
export const memberColumns = `m.role AS member_role, m.favorite AS member_favorite, m.pinned AS member_pinned, m.cleared_id AS member_cleared_id,
            m.delivered_id AS member_delivered_id, m.read_id AS member_read_id, m.joined_at AS member_joined_at`;

/** The conversation $1 with member $2's row, when they are a member and it is not deleted. */
export const withMemberText = `SELECT ${columns}, ${memberColumns}
       FROM members AS m JOIN conversations ON conversations.id = m.conversation_id
      WHERE m.conversation_id = $1 AND m.user_id = $2 AND conversations.deleted_at IS NULL`;

/** A `WithMemberRow` split into the conversation and the membership (none when the conversation's columns are null: no such member). */
/** A conversation with one member's row of it. */
export type Membership = { conversation: ConversationRow; member: MemberRow };

export function membershipOf(row: WithMemberRow): Membership | undefined {
  if (row.id === null) return undefined;
  return {
    conversation: { id: row.id, name: row.name, kind: row.kind, description: row.description, created_at: row.created_at, avatar_file_id: row.avatar_file_id },
    member: {
      role: row.member_role, favorite: row.member_favorite, pinned: row.member_pinned, cleared_id: row.member_cleared_id,
      delivered_id: row.member_delivered_id, read_id: row.member_read_id, joined_at: row.member_joined_at,
    },
  };
}

export function conversationsStore(sql: Sql) {
  const insert = sql.prepare<{ id: number }>(
    'INSERT INTO conversations (name, kind, description, creator_id, created_at, direct_key) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
  );
  // Members in the order listed (the creator first); in a direct conversation both people are owners:
  // neither can be locked out by the other.
  const role = "CASE WHEN member = $3 OR $4 = 'direct' THEN 'owner' ELSE 'member' END";
  const insertMembers = sql.prepare({
    sqlite: `INSERT INTO members (conversation_id, user_id, position, role, joined_at)
             SELECT $1, member, position, ${role}, $5 FROM (SELECT value AS member, key AS position FROM json_each($2))`,
    postgres: `INSERT INTO members (conversation_id, user_id, position, role, joined_at)
               SELECT $1, member, position - 1, ${role}, $5 FROM unnest(CAST($2 AS bigint[])) WITH ORDINALITY AS listed (member, position)`,
  });
  const byId = sql.prepare<ConversationRow>(`SELECT ${columns} FROM conversations WHERE id = $1 AND deleted_at IS NULL`);
  // A member's row and their conversation's in one statement (the check most events begin with). On
  // PostgreSQL the member row is locked against deletion (FOR KEY SHARE: receipts' updates of it do not
  // wait) until the unit's batch commits: a removal or a leave committed meanwhile on another connection
  // waits for it, so what a member did is numbered before the event that ends the membership; one that
  // committed first is seen (the lock waits for it, then finds no row) and the unit is refused.
  const withMember = sql.prepare<WithMemberRow>({ sqlite: withMemberText, postgres: `${withMemberText} FOR KEY SHARE OF m` });
  // The same for many [conversation, user] pairs at once on PostgreSQL, in the order given (a row of
  // nulls where there is no such member); SQLite asks `withMember` of each.
  const withMembers = sql.local ? undefined : sql.prepare<WithMemberRow>(`
    SELECT ${columns}, ${memberColumns}
      FROM unnest(CAST($1 AS bigint[]), CAST($2 AS bigint[])) WITH ORDINALITY AS s (conversation, "user", ord)
      LEFT JOIN members AS m ON m.conversation_id = s.conversation AND m.user_id = s."user"
      LEFT JOIN conversations ON conversations.id = m.conversation_id AND conversations.deleted_at IS NULL
     ORDER BY s.ord`);
  const withMemberOne = sql.local?.prepare<WithMemberRow>(withMemberText);
  const byDirectKey = sql.prepare<ConversationRow>(`SELECT ${columns} FROM conversations WHERE direct_key = $1`);
  // A page of a member's conversations ($1), those of filter $2, in creation order after id $3, or by
  // activity below the (activity, last_id, id) of $3..$5. Unread counts and last messages are read per
  // conversation of the page (messages.ts), each bounded by an index.
  const listed = `SELECT ${columns}, members.role, members.favorite, members.pinned, members.read_id, members.cleared_id,
            (SELECT count(*) FROM members AS everyone WHERE everyone.conversation_id = conversations.id) AS member_count
       FROM members JOIN conversations ON conversations.id = members.conversation_id
      WHERE members.user_id = $1
        AND (CAST($2 AS TEXT) = 'all' OR (CAST($2 AS TEXT) = 'favorites' AND members.favorite = 1) OR (CAST($2 AS TEXT) = 'pinned' AND members.pinned = 1))`;
  const pageByCreation = sql.prepare<RankedListRow>(`SELECT *, 0 AS activity, 0 AS last_id FROM (${listed}) AS listed WHERE id > $3 ORDER BY id LIMIT $4`);
  const pageByActivity = sql.prepare<RankedListRow>(`
    SELECT * FROM (
      SELECT shown.*, coalesce((SELECT sent_at FROM messages WHERE messages.id = shown.last_id), shown.created_at) AS activity FROM (
        SELECT listed.*, coalesce((SELECT m.id FROM messages AS m WHERE m.conversation_id = listed.id AND ${inMain} AND m.id > listed.cleared_id AND ${notBlocked('$1')}
                                   ORDER BY m.id DESC LIMIT 1), 0) AS last_id
          FROM (${listed}) AS listed) AS shown) AS ranked
     WHERE (activity, last_id, id) < (CAST($3 AS BIGINT), CAST($4 AS BIGINT), CAST($5 AS BIGINT))
     ORDER BY activity DESC, last_id DESC, id DESC LIMIT $6`);
  const memberUsernames = sql.prepare('SELECT users.username FROM members JOIN users ON users.id = members.user_id WHERE members.conversation_id = $1 ORDER BY members.position');
  const members = sql.prepare<{ id: number; username: string }>(
    'SELECT users.id, users.username FROM members JOIN users ON users.id = members.user_id WHERE members.conversation_id = $1 ORDER BY members.position',
  );
  const idsForUser = sql.prepare('SELECT conversation_id FROM members WHERE user_id = $1');
  const update = sql.prepare('UPDATE conversations SET name = $1, description = $2 WHERE id = $3');
  const undirect = sql.prepare('UPDATE conversations SET direct_key = NULL WHERE id = $1');
  const createdBy = sql.prepare(`SELECT conversations.id FROM conversations JOIN members ON members.conversation_id = conversations.id AND members.user_id = $2
      WHERE conversations.creator_id = $1 AND conversations.kind <> 'direct' AND conversations.deleted_at IS NULL ORDER BY conversations.id`);
  const markDeleted = sql.prepare('UPDATE conversations SET deleted_at = $1, direct_key = NULL, avatar_file_id = NULL WHERE id = $2');
  const dropMembers = sql.prepare('DELETE FROM members WHERE conversation_id = $1');
  const dropMessages = sql.prepare('DELETE FROM messages WHERE conversation_id = $1');
  const dropBans = sql.prepare('DELETE FROM bans WHERE conversation_id = $1');
  return {
    /** Creates the conversation with its members (the creator first) and returns its id. */
    async create(conversation: { name: string; kind?: Kind; description?: string; creatorId: number; memberIds: readonly number[]; directKey?: string | null; now: number }): Promise<number> {
      const { name, kind = 'group', description = '', creatorId, memberIds, directKey = null, now } = conversation;
      const { id } = (await insert.get(name, kind, description, creatorId, now, directKey))!;
      await insertMembers.run(id, sql.list(memberIds), creatorId, kind, now);
      return id;
    },
    byId: (id: number): Promise<ConversationRow | undefined> => byId.get(id),
    /** The conversation with `userId`'s membership of it; nothing when they are not a member (or it is deleted). */
    async withMember(id: number, userId: number): Promise<{ conversation: ConversationRow; member: MemberRow } | undefined> {
      const row = await withMember.get(id, userId);
      return row && membershipOf(row);
    },
    /** `withMember` for many [conversation, user] pairs, in one statement: one answer each, in order. */
    async withMembers(pairs: readonly (readonly [number, number])[]): Promise<({ conversation: ConversationRow; member: MemberRow } | undefined)[]> {
      if (pairs.length === 0) return [];
      if (withMemberOne) return pairs.map(([conversation, user]) => { const row = withMemberOne.get(conversation, user); return row && membershipOf(row); });
      const rows = await withMembers!.all(pairs.map(([c]) => c), pairs.map(([, u]) => u));
      return rows.map(membershipOf);
    },
    /** The live direct conversation of two people. */
    direct: (userA: number, userB: number): Promise<ConversationRow | undefined> => byDirectKey.get(directKey(userA, userB)),
    /** Up to `limit` of a member's conversations in creation order after conversation `after` (0: from the first). */
    pageByCreation: (userId: number, filter: ListFilter, after: number, limit: number): Promise<RankedListRow[]> => pageByCreation.all(userId, filter, after, limit),
    /** Up to `limit` of a member's conversations, the latest activity first, after the one ranked `after` (none: from the first). */
    pageByActivity: (userId: number, filter: ListFilter, after: readonly [activity: number, lastId: number, id: number] | null, limit: number): Promise<RankedListRow[]> =>
      pageByActivity.all(userId, filter, ...(after ?? [Number.MAX_SAFE_INTEGER, 0, 0]), limit),
    memberUsernames: (id: number): Promise<string[]> => memberUsernames.values<string>(id),
    /** Members' ids and usernames, the creator first. */
    members: (id: number): Promise<{ id: number; username: string }[]> => members.all(id),
    idsForUser: (userId: number): Promise<number[]> => idsForUser.values<number>(userId),
    update: async (id: number, name: string, description: string): Promise<void> => void (await update.run(name, description, id)),
    /** The groups and channels `creatorId` created that `memberId` is a member of. */
    createdBy: (creatorId: number, memberId: number): Promise<number[]> => createdBy.values<number>(creatorId, memberId),
    /** No longer the one direct conversation of its pair (`direct` does not find it): a new one may be started. */
    undirect: async (id: number): Promise<void> => void (await undirect.run(id)),
    /** Deletes a conversation for everyone: members, messages and bans go; the row stays, marked. */
    async remove(id: number, now: number): Promise<void> {
      await markDeleted.run(now, id);
      await dropMembers.run(id);
      await dropMessages.run(id);
      await dropBans.run(id);
    },
    /** Channels whose name or description contains `query`, newest first, with ids below `before`. */
  };
}

export function directKey(userA: number, userB: number): string {
  return userA < userB ? `${userA}:${userB}` : `${userB}:${userA}`;
}
