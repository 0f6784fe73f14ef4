-- Everything a chat needs: conversation kinds and roles, per-member settings and receipts,
-- membership periods for the event log, bans, message edits, deletions, reactions and search.

ALTER TABLE conversations ADD COLUMN kind TEXT NOT NULL DEFAULT 'group' CHECK (kind IN ('group', 'direct', 'channel'));
ALTER TABLE conversations ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN deleted_at INTEGER;  -- a deleted conversation keeps its row (ids stay unique), nothing else
-- 'smaller user id:larger user id' while a direct conversation lives: one per pair of people.
ALTER TABLE conversations ADD COLUMN direct_key TEXT;
CREATE UNIQUE INDEX conversations_by_direct_key ON conversations (direct_key) WHERE direct_key IS NOT NULL;
CREATE INDEX channels_newest_first ON conversations (id) WHERE kind = 'channel' AND deleted_at IS NULL;

ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member'));
ALTER TABLE members ADD COLUMN favorite INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN cleared_id INTEGER NOT NULL DEFAULT 0;    -- clear_chat: messages up to here are hidden from this member
ALTER TABLE members ADD COLUMN delivered_id INTEGER NOT NULL DEFAULT 0;  -- the newest message handed to one of their sockets
ALTER TABLE members ADD COLUMN read_id INTEGER NOT NULL DEFAULT 0;       -- the newest message they marked read
UPDATE members SET role = 'owner'
 WHERE user_id = (SELECT creator_id FROM conversations WHERE conversations.id = members.conversation_id);

-- Who saw a conversation's events when: from the seq a member joined at through the seq they left at.
-- A member who leaves and comes back has two periods, and sees nothing of what happened in between.
CREATE TABLE member_periods (
  conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  from_seq        INTEGER NOT NULL,
  to_seq          INTEGER  -- null while they are a member
);
CREATE INDEX member_periods_by_user ON member_periods (user_id, conversation_id);
CREATE INDEX member_periods_open ON member_periods (conversation_id, user_id) WHERE to_seq IS NULL;
INSERT INTO member_periods (conversation_id, user_id, from_seq) SELECT conversation_id, user_id, from_seq FROM members;
ALTER TABLE members DROP COLUMN from_seq;

CREATE TABLE bans (
  conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  banned_by       INTEGER REFERENCES users (id) ON DELETE SET NULL,
  banned_at       INTEGER NOT NULL,
  PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;

ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;  -- a tombstone: content emptied, reactions gone, the row kept

-- The rowid keeps the order of reacting: emojis are listed in the order they were first used.
CREATE TABLE reactions (
  message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  emoji      TEXT    NOT NULL,
  reacted_at INTEGER NOT NULL,
  UNIQUE (message_id, user_id, emoji)
);

-- Logged events about one message, so that deleting it can scrub its content from the log too.
ALTER TABLE events ADD COLUMN message_id INTEGER;
CREATE INDEX events_by_message ON events (message_id) WHERE message_id IS NOT NULL;

-- Full-text search over message content. New messages are indexed in batches (search.ts), not by
-- a trigger: FTS5 writes a segment per transaction, which would cost more than the message itself.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
  content,
  content = 'messages',
  content_rowid = 'id',
  tokenize = 'unicode61 remove_diacritics 2'
);
-- Messages up to this id are in the index; edits and deletions of those keep it in step.
CREATE TABLE search_index (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  through INTEGER NOT NULL
);
INSERT INTO search_index (id, through) VALUES (1, 0);
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
  WHEN old.id <= (SELECT through FROM search_index WHERE id = 1)
BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
  WHEN old.id <= (SELECT through FROM search_index WHERE id = 1)
BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
  INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;
