-- People and accounts: profiles, status, roles, suspension, blocking, sessions' details and
-- refresh tokens, one-time codes for password resets and email verification, deleted accounts.

ALTER TABLE users ADD COLUMN bio TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email TEXT;                       -- as given; verified when email_verified = 1
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'away', 'busy', 'invisible'));
ALTER TABLE users ADD COLUMN status_text TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'));
ALTER TABLE users ADD COLUMN account_status TEXT NOT NULL DEFAULT 'active' CHECK (account_status IN ('active', 'suspended'));
CREATE INDEX users_by_fullname ON users (fullname COLLATE NOCASE);

-- One row per blocker and blocked person: blocking is one-way, its effects both ways.
CREATE TABLE blocks (
  user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  blocked_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  blocked_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, blocked_id)
) WITHOUT ROWID;
CREATE INDEX blocks_by_blocked ON blocks (blocked_id, user_id);

ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
-- The session's current refresh token, hashed; the previous ones are kept to catch a stolen one replayed.
ALTER TABLE sessions ADD COLUMN refresh_hash TEXT;
ALTER TABLE sessions ADD COLUMN refresh_expires_at INTEGER;
CREATE UNIQUE INDEX sessions_by_refresh ON sessions (refresh_hash) WHERE refresh_hash IS NOT NULL;
CREATE TABLE used_refresh_tokens (
  hash       TEXT    PRIMARY KEY,
  session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  used_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- One-time codes, mailed: a password reset, or the verification of a new email address. One live
-- code per user and purpose; stored hashed.
CREATE TABLE one_time_codes (
  user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose    TEXT    NOT NULL CHECK (purpose IN ('reset', 'verify')),
  code_hash  TEXT    NOT NULL,
  sent_to    TEXT    NOT NULL,
  expires_at INTEGER NOT NULL,
  tries_left INTEGER NOT NULL,
  PRIMARY KEY (user_id, purpose)
) WITHOUT ROWID;

-- The usernames of deleted accounts, kept from new registrations until `until`.
CREATE TABLE held_usernames (
  username TEXT    PRIMARY KEY COLLATE NOCASE,
  until    INTEGER NOT NULL
) WITHOUT ROWID;
