-- Who may put you in a conversation without asking (review 25, M1): `everyone` (the seed's way), your
-- `contacts`, or `nobody`. Anyone else's add becomes an invitation, which you accept or decline.
ALTER TABLE users ADD COLUMN who_may_add TEXT NOT NULL DEFAULT 'everyone' CHECK (who_may_add IN ('everyone', 'contacts', 'nobody'));

-- One invitation per person and conversation; it goes when accepted or declined, with the conversation,
-- and with either account.
CREATE TABLE invitations (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  inviter_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  invited_at      INTEGER NOT NULL,
  UNIQUE (conversation_id, user_id)
);
CREATE INDEX invitations_by_user ON invitations (user_id, id);
CREATE INDEX invitations_by_inviter ON invitations (inviter_id);
