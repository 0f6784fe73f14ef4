-- Server-wide slash commands (issue 27): a command with no conversation is an administrator's, offered in every
-- group and channel; a conversation's own command of the same name stands before it. SQLite cannot drop a
-- NOT NULL, so the table is made again with the same rows (nothing refers to it).
CREATE TABLE commands_new (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation_id INTEGER REFERENCES conversations (id) ON DELETE CASCADE,
  command         TEXT    NOT NULL,
  url             TEXT    NOT NULL,
  secret          TEXT    NOT NULL,
  user_id         INTEGER NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
  creator_id      INTEGER REFERENCES users (id) ON DELETE SET NULL,
  created_at      INTEGER NOT NULL,
  UNIQUE (conversation_id, command)
);
INSERT INTO commands_new (id, conversation_id, command, url, secret, user_id, creator_id, created_at)
  SELECT id, conversation_id, command, url, secret, user_id, creator_id, created_at FROM commands;
DROP TABLE commands;
ALTER TABLE commands_new RENAME TO commands;
-- One server-wide command of a name (UNIQUE above lets NULLs repeat).
CREATE UNIQUE INDEX commands_server_wide ON commands (command) WHERE conversation_id IS NULL;
