-- Notifications: devices (a browser's Web Push subscription, or a native app's token for the
-- operator's webhook), each belonging to the session that registered it; the outbox the push worker
-- drains; administrators' notices; who a message @mentions; and each person's notification levels.

-- `all`, `mentions` (only messages that @mention you) or `none`: for conversations you set nothing for.
ALTER TABLE users ADD COLUMN notify_default TEXT NOT NULL DEFAULT 'all' CHECK (notify_default IN ('all', 'mentions', 'none'));
-- 1: a reaction to your message notifies you.
ALTER TABLE users ADD COLUMN notify_reactions INTEGER NOT NULL DEFAULT 1;
-- Your level in one conversation, until `notify_until` (Unix seconds; null: for ever); null: your default.
ALTER TABLE members ADD COLUMN notify_level TEXT CHECK (notify_level IN ('all', 'mentions', 'none'));
ALTER TABLE members ADD COLUMN notify_until INTEGER;

-- The members a message @mentioned when it was sent, in the order they appear in it.
CREATE TABLE mentions (
  message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  position   INTEGER NOT NULL,
  PRIMARY KEY (message_id, user_id)
) WITHOUT ROWID;

CREATE TABLE devices (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  kind       TEXT    NOT NULL CHECK (kind IN ('webpush', 'webhook')),
  endpoint   TEXT,   -- webpush: the subscription
  p256dh     TEXT,
  auth       TEXT,
  token      TEXT,   -- webhook: the app's token, and its platform as the app named it
  platform   TEXT,
  name       TEXT    NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX devices_by_endpoint ON devices (endpoint) WHERE endpoint IS NOT NULL;
CREATE UNIQUE INDEX devices_by_token ON devices (token) WHERE token IS NOT NULL;
CREATE INDEX devices_by_user ON devices (user_id);
CREATE INDEX devices_by_session ON devices (session_id);

CREATE TABLE notices (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  sender_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
  title     TEXT    NOT NULL,
  body      TEXT    NOT NULL,
  sent_at   INTEGER NOT NULL
);
CREATE INDEX notices_by_sender ON notices (sender_id, sent_at);

-- One row per device and key (`conversation:<id>` or `notice:<id>`): what is pending for it, merged
-- (src/push/outbox.ts says how), and after a delivery the time before which the next may not go.
-- Times in epoch milliseconds.
CREATE TABLE push_outbox (
  device_id       INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  key             TEXT    NOT NULL,
  user_id         INTEGER NOT NULL,
  conversation_id INTEGER,            -- its unread count is read when the row is claimed
  notification    TEXT    NOT NULL,   -- JSON
  rank            INTEGER NOT NULL,
  version         INTEGER NOT NULL,   -- bumped by each notification merged in…
  sent_version    INTEGER NOT NULL DEFAULT 0,  -- …and the version dealt with: pending while version > sent_version
  queued_at       INTEGER NOT NULL,
  due_at          INTEGER NOT NULL,
  hold_until      INTEGER NOT NULL DEFAULT 0,
  attempts        INTEGER NOT NULL DEFAULT 0,
  lease           TEXT,
  lease_until     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (device_id, key)
);
CREATE INDEX push_outbox_due ON push_outbox (due_at) WHERE version > sent_version;
