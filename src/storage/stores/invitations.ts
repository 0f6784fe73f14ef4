// Invitations: an add that the person's `who_may_add` turned into a question they answer (accept or decline).
import type { Sql } from '../engine/sql.ts';
import type { Kind } from './conversations.ts';

/** An invitation as its invitee sees it (pending while its inviter is still a member: one who left or was removed no longer invites): the conversation, and who invited them (`inviter`: their username). */
export type InvitationRow = {
  id: number; conversation_id: number; name: string; kind: Kind; description: string; inviter_id: number; inviter: string; invited_at: number;
};

export function invitationsStore(sql: Sql) {
  const insert = sql.prepare<{ id: number }>(
    'INSERT INTO invitations (conversation_id, user_id, inviter_id, invited_at) VALUES ($1, $2, $3, $4) ON CONFLICT (conversation_id, user_id) DO NOTHING RETURNING id',
  );
  // Pending ones only: in a conversation that still exists and that they have not joined meanwhile.
  const pending = `SELECT invitations.id, invitations.conversation_id, conversations.name, conversations.kind, conversations.description,
            invitations.inviter_id, inviters.username AS inviter, invitations.invited_at
       FROM invitations
       JOIN conversations ON conversations.id = invitations.conversation_id AND conversations.deleted_at IS NULL
       JOIN users AS inviters ON inviters.id = invitations.inviter_id
      WHERE invitations.user_id = $1
        AND NOT EXISTS (SELECT 1 FROM members WHERE members.conversation_id = invitations.conversation_id AND members.user_id = $1)
        AND EXISTS (SELECT 1 FROM members WHERE members.conversation_id = invitations.conversation_id AND members.user_id = invitations.inviter_id)`;
  const get = sql.prepare<InvitationRow>(`${pending} AND invitations.conversation_id = $2`);
  const list = sql.prepare<InvitationRow>(`${pending} AND invitations.id < $2 ORDER BY invitations.id DESC LIMIT $3`);
  const remove = sql.prepare('DELETE FROM invitations WHERE conversation_id = $1 AND user_id = $2');
  const removeFrom = sql.prepare('DELETE FROM invitations WHERE user_id = $1 AND inviter_id = $2');
  const forgetConversation = sql.prepare('DELETE FROM invitations WHERE conversation_id = $1');

  return {
    /** Invites `userId`; the new invitation's id, or undefined when one is pending already. */
    insert: async (conversationId: number, userId: number, inviterId: number, now: number): Promise<number | undefined> =>
      (await insert.get(conversationId, userId, inviterId, now))?.id,
    /** `userId`'s pending invitation to a conversation. */
    get: (conversationId: number, userId: number): Promise<InvitationRow | undefined> => get.get(userId, conversationId),
    /** `userId`'s pending invitations, newest first, with ids below `before`. */
    list: (userId: number, before: number | null, limit: number): Promise<InvitationRow[]> => list.all(userId, before ?? Number.MAX_SAFE_INTEGER, limit),
    /** False when there was none. */
    remove: async (conversationId: number, userId: number): Promise<boolean> => (await remove.run(conversationId, userId)) > 0,
    /** Drops every invitation `inviterId` sent `userId` (who blocked them). */
    removeFrom: async (userId: number, inviterId: number): Promise<void> => void (await removeFrom.run(userId, inviterId)),
    forgetConversation: async (conversationId: number): Promise<void> => void (await forgetConversation.run(conversationId)),
  };
}
