-- The seed protocol's data: users, login sessions, contacts, conversations and messages.

CREATE TABLE users (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: tokens name users by id
  username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,  -- usernames are ASCII, so NOCASE folds all of them
  fullname      TEXT    NOT NULL,
  password_hash TEXT    NOT NULL,
  created_at    INTEGER NOT NULL,
  last_online   INTEGER NOT NULL
);

CREATE TABLE sessions (
  id         TEXT    PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Contacts are two-way: adding one writes both directions. The rowid keeps the order of adding.
CREATE TABLE contacts (
  user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  contact_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  added_at   INTEGER NOT NULL,
  UNIQUE (user_id, contact_id)
);

CREATE TABLE conversations (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT    NOT NULL,
  creator_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE members (
  conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  position        INTEGER NOT NULL,  -- the creator first, then the order they were listed
  joined_at       INTEGER NOT NULL,
  PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_by_user ON members (user_id, conversation_id);

CREATE TABLE messages (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- global across conversations, as in the seed; never reused
  conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  sender_id       INTEGER REFERENCES users (id) ON DELETE SET NULL,
  reply_id        INTEGER REFERENCES messages (id) ON DELETE SET NULL,
  content         TEXT    NOT NULL,
  sent_at         INTEGER NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
