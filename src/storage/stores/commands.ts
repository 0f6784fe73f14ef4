// Slash commands: `/command` in a conversation (or, server-wide, in every group and channel), POSTed to a URL, answered as the command's own account.
import { returning, type Sql } from '../engine/sql.ts';

export type CommandRow = {
  id: number;
  /** Null for a server-wide command. */
  conversation_id: number | null;
  command: string;
  url: string;
  secret: string;
  user_id: number;
  username: string;
  creator_id: number | null;
  creator: string | null;
  created_at: number;
};

const listed = `SELECT commands.id, commands.conversation_id, commands.command, commands.url, commands.secret, commands.user_id, users.username,
                       commands.creator_id, creators.username AS creator, commands.created_at
                  FROM commands JOIN users ON users.id = commands.user_id LEFT JOIN users AS creators ON creators.id = commands.creator_id`;

export function commandsStore(sql: Sql) {
  const insert = sql.prepare(returning(
    'INSERT INTO commands (conversation_id, command, url, secret, user_id, creator_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
  ));
  const byId = sql.prepare<CommandRow>(`${listed} WHERE commands.id = $1`);
  // The conversation's own command of the name, else (with $3 = 1) the server-wide one.
  const named = sql.prepare<CommandRow>(`${listed} WHERE commands.command = $2 AND (commands.conversation_id = $1 OR (CAST($3 AS integer) = 1 AND commands.conversation_id IS NULL))
     ORDER BY CASE WHEN commands.conversation_id IS NULL THEN 1 ELSE 0 END LIMIT 1`);
  const ofConversation = sql.prepare<CommandRow>(`${listed} WHERE commands.conversation_id = $1 ORDER BY commands.command`);
  const serverWide = sql.prepare<CommandRow>(`${listed} WHERE commands.conversation_id IS NULL ORDER BY commands.command`);
  const count = sql.prepare('SELECT count(*) FROM commands WHERE conversation_id = $1');
  const countServerWide = sql.prepare('SELECT count(*) FROM commands WHERE conversation_id IS NULL');
  const remove = sql.prepare('DELETE FROM commands WHERE id = $1');

  return {
    /** Returns the new command's id; `conversationId` null for a server-wide command. */
    create: (command: { conversationId: number | null; command: string; url: string; secret: string; userId: number; creatorId: number; now: number }): Promise<number> =>
      insert.insert(command.conversationId, command.command, command.url, command.secret, command.userId, command.creatorId, command.now),
    byId: (id: number) => byId.get(id),
    /**
     * The command of this name (lower case, without its slash) in a conversation: its own, else, when
     * `serverWide` (a group or channel), the server-wide one; null for a conversation names the server-wide one only.
     */
    named: (conversationId: number | null, command: string, serverWide: boolean) => named.get(conversationId, command, serverWide ? 1 : 0),
    ofConversation: (conversationId: number): Promise<CommandRow[]> => ofConversation.all(conversationId),
    serverWide: (): Promise<CommandRow[]> => serverWide.all(),
    /** A conversation's commands, or (null) the server-wide ones. */
    count: async (conversationId: number | null): Promise<number> => Number(await (conversationId === null ? countServerWide.value() : count.value(conversationId))),
    remove: async (id: number): Promise<void> => void (await remove.run(id)),
  };
}
