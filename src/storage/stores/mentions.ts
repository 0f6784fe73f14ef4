// @mentions: the members a message named with @username when it was sent, in the order they appear.
import { dialect, inList, type Sql } from '../engine/sql.ts';

export type MentionRow = { message_id: number; username: string };

export function mentionsStore(sql: Sql) {
  // Usernames are compared without regard to case (SQLite's column is NOCASE, PostgreSQL's citext).
  const members = sql.prepare<{ id: number; username: string }>({
    sqlite: `SELECT users.id, users.username FROM members JOIN users ON users.id = members.user_id
              WHERE members.conversation_id = $1 AND users.username IN (SELECT value FROM json_each($2))`,
    postgres: `SELECT users.id, users.username FROM members JOIN users ON users.id = members.user_id
                WHERE members.conversation_id = $1 AND users.username = ANY(CAST($2 AS citext[]))`,
  });
  const record = sql.prepare({
    sqlite: 'INSERT INTO mentions (message_id, user_id, position) SELECT $1, value, key FROM json_each($2)',
    postgres: 'INSERT INTO mentions (message_id, user_id, position) SELECT $1, user_id, position - 1 FROM unnest(CAST($2 AS bigint[])) WITH ORDINALITY AS listed (user_id, position)',
  });
  const of = sql.prepare<MentionRow>(dialect`
    SELECT mentions.message_id, users.username FROM mentions JOIN users ON users.id = mentions.user_id
     WHERE ${inList('mentions.message_id', '$1')} ORDER BY mentions.message_id, mentions.position`);
  const drop = sql.prepare('DELETE FROM mentions WHERE message_id = $1');

  return {
    /** The members of a conversation among these usernames (in any case), as stored. */
    members: (conversationId: number, usernames: readonly string[]): Promise<{ id: number; username: string }[]> =>
      usernames.length ? members.all(conversationId, sql.list(usernames)) : Promise.resolve([]),
    /** Records who a message mentions, in order. */
    async record(messageId: number, userIds: readonly number[]): Promise<void> {
      if (userIds.length) await record.run(messageId, sql.list(userIds));
    },
    /** The mentions of these messages, each message's in order. */
    of: (messageIds: readonly number[]): Promise<MentionRow[]> => (messageIds.length ? of.all(sql.list(messageIds)) : Promise.resolve([])),
    /** A deleted message mentions nobody any more. */
    drop: async (messageId: number): Promise<void> => void (await drop.run(messageId)),
  };
}
