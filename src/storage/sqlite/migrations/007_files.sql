-- Files: uploads (their bytes in the file store under `key`), the messages that carry them, and the
-- faces of people and conversations. A file that nothing refers to is removed after
-- UNATTACHED_FILE_HOURS; its bytes once no file refers to them (the same bytes may be uploaded twice).

CREATE TABLE files (
  id               TEXT    PRIMARY KEY,  -- 32 random hex digits: named in URLs, never guessable
  uploader_id      INTEGER REFERENCES users (id) ON DELETE SET NULL,
  key              TEXT    NOT NULL,     -- the store's key of the bytes served (for an image: without its metadata)
  name             TEXT    NOT NULL,     -- for display only
  size             INTEGER NOT NULL,
  type             TEXT    NOT NULL,     -- sniffed from the bytes
  sha256           TEXT    NOT NULL,
  width            INTEGER,
  height           INTEGER,
  thumbnail_key    TEXT,                 -- images only: a WebP in the same store
  thumbnail_sha256 TEXT,
  thumbnail_size   INTEGER,
  thumbnail_width  INTEGER,
  thumbnail_height INTEGER,
  created_at       INTEGER NOT NULL
);
CREATE INDEX files_by_uploader ON files (uploader_id);
CREATE INDEX files_by_age ON files (created_at);
CREATE INDEX files_by_key ON files (key);
CREATE INDEX files_by_thumbnail ON files (thumbnail_key) WHERE thumbnail_key IS NOT NULL;

-- The files a message carries, in order (at most 10); gone with the message.
CREATE TABLE message_attachments (
  message_id      INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  position        INTEGER NOT NULL,
  conversation_id INTEGER NOT NULL,  -- the message's: a conversation's files are listed without reading its messages
  file_id         TEXT    NOT NULL REFERENCES files (id),
  PRIMARY KEY (message_id, position)
) WITHOUT ROWID;
CREATE INDEX message_attachments_by_file ON message_attachments (file_id);
CREATE INDEX message_attachments_by_conversation ON message_attachments (conversation_id, message_id);

ALTER TABLE users ADD COLUMN avatar_file_id TEXT REFERENCES files (id);
ALTER TABLE conversations ADD COLUMN avatar_file_id TEXT REFERENCES files (id);
CREATE INDEX users_by_avatar ON users (avatar_file_id) WHERE avatar_file_id IS NOT NULL;
CREATE INDEX conversations_by_avatar ON conversations (avatar_file_id) WHERE avatar_file_id IS NOT NULL;

-- Every key of bytes in the file store, so that removing bytes and storing the same bytes again take
-- turns (see storage/files.ts). `orphaned_at`: a file referring to them went; are they still used?
CREATE TABLE file_blobs (
  key         TEXT    PRIMARY KEY,
  recorded_at INTEGER NOT NULL,
  orphaned_at INTEGER
) WITHOUT ROWID;
CREATE INDEX file_blobs_orphaned ON file_blobs (orphaned_at) WHERE orphaned_at IS NOT NULL;
