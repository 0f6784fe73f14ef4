-- Bots, incoming webhooks and slash commands (issue 27). An account is a person, a bot (a program holding an API token,
-- owned by the person who made it) or a webhook's integration (posting into one conversation through a
-- secret URL). Neither of the last two has a password: their password_hash matches nothing.
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'bot', 'webhook'));

-- A bot's API token, hashed (sha-256 of 32 random bytes), and the session its sockets live in: rotating
-- the token or deleting the bot ends that session, which closes its sockets as a logout does.
CREATE TABLE bots (
  user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  owner_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash TEXT    NOT NULL UNIQUE,
  session_id TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX bots_by_owner ON bots (owner_id);

-- An incoming webhook: POST /hooks/<id>/<secret> posts into its conversation as its own account.
CREATE TABLE webhooks (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  user_id         INTEGER NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
  creator_id      INTEGER REFERENCES users (id) ON DELETE SET NULL,
  name            TEXT    NOT NULL,
  secret_hash     TEXT    NOT NULL,
  created_at      INTEGER NOT NULL
);
CREATE INDEX webhooks_by_conversation ON webhooks (conversation_id);

-- A slash command of a conversation: a message `/command …` is POSTed to `url` (signed with `secret`,
-- which its server needs in the clear to check the signature), and an answer shown in the conversation
-- is posted as the command's own account.
CREATE TABLE commands (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  command         TEXT    NOT NULL,
  url             TEXT    NOT NULL,
  secret          TEXT    NOT NULL,
  user_id         INTEGER NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
  creator_id      INTEGER REFERENCES users (id) ON DELETE SET NULL,
  created_at      INTEGER NOT NULL,
  UNIQUE (conversation_id, command)
);
