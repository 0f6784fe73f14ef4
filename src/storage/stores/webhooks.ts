// Incoming webhooks: a secret URL (the secret kept hashed) that posts into one conversation as its own account.
import { returning, type Sql } from '../engine/sql.ts';

export type WebhookRow = {
  id: number;
  conversation_id: number;
  user_id: number;
  username: string;
  /** Its account's: an administrator may suspend a webhook's account as anyone's. */
  account_status: 'active' | 'suspended';
  name: string;
  creator_id: number | null;
  creator: string | null;
  secret_hash: string;
  created_at: number;
};

const listed = `SELECT webhooks.id, webhooks.conversation_id, webhooks.user_id, users.username, users.account_status, webhooks.name, webhooks.creator_id, creators.username AS creator,
                       webhooks.secret_hash, webhooks.created_at
                  FROM webhooks JOIN users ON users.id = webhooks.user_id LEFT JOIN users AS creators ON creators.id = webhooks.creator_id`;

export function webhooksStore(sql: Sql) {
  const insert = sql.prepare(returning(
    'INSERT INTO webhooks (conversation_id, user_id, creator_id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
  ));
  const byId = sql.prepare<WebhookRow>(`${listed} WHERE webhooks.id = $1`);
  const ofConversation = sql.prepare<WebhookRow>(`${listed} WHERE webhooks.conversation_id = $1 ORDER BY webhooks.id`);
  const count = sql.prepare('SELECT count(*) FROM webhooks WHERE conversation_id = $1');
  const rotate = sql.prepare('UPDATE webhooks SET secret_hash = $1 WHERE id = $2');
  const remove = sql.prepare('DELETE FROM webhooks WHERE id = $1');

  return {
    /** Returns the new webhook's id. */
    create: async (hook: { conversationId: number; userId: number; creatorId: number; name: string; secretHash: string; now: number }): Promise<number> =>
      insert.insert(hook.conversationId, hook.userId, hook.creatorId, hook.name, hook.secretHash, hook.now),
    byId: (id: number) => byId.get(id),
    ofConversation: (conversationId: number): Promise<WebhookRow[]> => ofConversation.all(conversationId),
    count: async (conversationId: number): Promise<number> => Number(await count.value(conversationId)),
    rotate: async (id: number, secretHash: string): Promise<void> => void (await rotate.run(secretHash, id)),
    remove: async (id: number): Promise<void> => void (await remove.run(id)),
  };
}
