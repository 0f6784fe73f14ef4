// Conversations and their members.
import type { Db } from './db.ts';

export type ConversationRow = { id: number; name: string };

export function conversationsStore(db: Db) {
  const insert = db.prepare<[string, number, number]>('INSERT INTO conversations (name, creator_id, created_at) VALUES (?, ?, ?)');
  const insertMember = db.prepare<[number, number, number, number]>(
    'INSERT INTO members (conversation_id, user_id, position, joined_at) VALUES (?, ?, ?, ?)',
  );
  const byId = db.prepare<[number], ConversationRow>('SELECT id, name FROM conversations WHERE id = ?');
  const forUser = db.prepare<[number], ConversationRow>(
    'SELECT conversations.id, conversations.name FROM members JOIN conversations ON conversations.id = members.conversation_id WHERE members.user_id = ? ORDER BY conversations.id',
  );
  const memberUsernames = db.prepare<[number], string>(
    'SELECT users.username FROM members JOIN users ON users.id = members.user_id WHERE members.conversation_id = ? ORDER BY members.position',
  ).pluck();
  const idsForUser = db.prepare<[number], number>('SELECT conversation_id FROM members WHERE user_id = ?').pluck();
  const isMember = db.prepare<[number, number], number>('SELECT 1 FROM members WHERE conversation_id = ? AND user_id = ?').pluck();
  const create = db.transaction((name: string, creatorId: number, memberIds: readonly number[], now: number): number => {
    const id = Number(insert.run(name, creatorId, now).lastInsertRowid);
    memberIds.forEach((userId, position) => insertMember.run(id, userId, position, now));
    return id;
  });

  return {
    /** Creates the conversation with its members (the creator among them) and returns its id. */
    create: (conversation: { name: string; creatorId: number; memberIds: readonly number[]; now: number }): number =>
      create(conversation.name, conversation.creatorId, conversation.memberIds, conversation.now),
    byId: (id: number) => byId.get(id),
    forUser: (userId: number): ConversationRow[] => forUser.all(userId),
    memberUsernames: (id: number): string[] => memberUsernames.all(id),
    idsForUser: (userId: number): number[] => idsForUser.all(userId),
    isMember: (id: number, userId: number): boolean => isMember.get(id, userId) !== undefined,
  };
}
