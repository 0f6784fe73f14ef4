-- The event log: every state change pushed to users, in `seq` order, so that `sync` can replay it.
CREATE TABLE events (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation_id INTEGER REFERENCES conversations (id) ON DELETE CASCADE,  -- seen by that conversation's members
  type            TEXT    NOT NULL,
  data            TEXT    NOT NULL,  -- the pushed `data`, serialised once
  created_at      INTEGER NOT NULL
);
CREATE INDEX events_by_conversation ON events (conversation_id, seq);
CREATE INDEX events_by_time ON events (created_at);

-- Events addressed to particular users rather than to a conversation's members.
CREATE TABLE event_users (
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  seq     INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
  PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;

-- A member sees a conversation's events from the seq they joined at on.
ALTER TABLE members ADD COLUMN from_seq INTEGER NOT NULL DEFAULT 0;

-- Everything up to this seq may have been pruned (EVENT_LOG_DAYS): a client behind it must reload.
CREATE TABLE event_log (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  pruned_through INTEGER NOT NULL
);
INSERT INTO event_log (id, pruned_through) VALUES (1, 0);
