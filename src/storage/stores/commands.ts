// Slash commands: `/command` in a conversation, POSTed to a URL, answered as the command's own account.
import { returning, type Sql } from '../engine/sql.ts';

export type CommandRow = {
  id: number;
  conversation_id: number;
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
  const named = sql.prepare<CommandRow>(`${listed} WHERE commands.conversation_id = $1 AND commands.command = $2`);
  const ofConversation = sql.prepare<CommandRow>(`${listed} WHERE commands.conversation_id = $1 ORDER BY commands.command`);
  const count = sql.prepare('SELECT count(*) FROM commands WHERE conversation_id = $1');
  const remove = sql.prepare('DELETE FROM commands WHERE id = $1');

  return {
    /** Returns the new command's id. */
    create: (command: { conversationId: number; command: string; url: string; secret: string; userId: number; creatorId: number; now: number }): Promise<number> =>
      insert.insert(command.conversationId, command.command, command.url, command.secret, command.userId, command.creatorId, command.now),
    byId: (id: number) => byId.get(id),
    /** The conversation's command of this name (lower case, without its slash). */
    named: (conversationId: number, command: string) => named.get(conversationId, command),
    ofConversation: (conversationId: number): Promise<CommandRow[]> => ofConversation.all(conversationId),
    count: async (conversationId: number): Promise<number> => Number(await count.value(conversationId)),
    remove: async (id: number): Promise<void> => void (await remove.run(id)),
  };
}
