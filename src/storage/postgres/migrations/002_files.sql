-- Files, as SQLite's migration 007: uploads, the messages that carry them, avatars, and the keys of
-- stored bytes. Ids and keys are compared and sorted byte by byte (COLLATE "C"), as SQLite does, so
-- copy-to-postgres reads both in the same order. Avatars are checked at commit (DEFERRABLE): users
-- and files refer to each other, and the copy writes one before the other.

CREATE TABLE files (
  id               text COLLATE "C" PRIMARY KEY,
  uploader_id      bigint REFERENCES users (id) ON DELETE SET NULL,
  key              text COLLATE "C" NOT NULL,
  name             text   NOT NULL,
  size             bigint NOT NULL,
  type             text   NOT NULL,
  sha256           text   NOT NULL,
  width            integer,
  height           integer,
  thumbnail_key    text COLLATE "C",
  thumbnail_sha256 text,
  thumbnail_size   bigint,
  thumbnail_width  integer,
  thumbnail_height integer,
  created_at       bigint NOT NULL
);
CREATE INDEX files_by_uploader ON files (uploader_id);
CREATE INDEX files_by_age ON files (created_at);
CREATE INDEX files_by_key ON files (key);
CREATE INDEX files_by_thumbnail ON files (thumbnail_key) WHERE thumbnail_key IS NOT NULL;

CREATE TABLE message_attachments (
  message_id      bigint  NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  position        integer NOT NULL,
  conversation_id bigint  NOT NULL,
  file_id         text COLLATE "C" NOT NULL REFERENCES files (id),
  PRIMARY KEY (message_id, position)
);
CREATE INDEX message_attachments_by_file ON message_attachments (file_id);
CREATE INDEX message_attachments_by_conversation ON message_attachments (conversation_id, message_id);

ALTER TABLE users ADD COLUMN avatar_file_id text COLLATE "C" REFERENCES files (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE conversations ADD COLUMN avatar_file_id text COLLATE "C" REFERENCES files (id) DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX users_by_avatar ON users (avatar_file_id) WHERE avatar_file_id IS NOT NULL;
CREATE INDEX conversations_by_avatar ON conversations (avatar_file_id) WHERE avatar_file_id IS NOT NULL;

CREATE TABLE file_blobs (
  key         text COLLATE "C" PRIMARY KEY,
  recorded_at bigint NOT NULL,
  orphaned_at bigint
);
CREATE INDEX file_blobs_orphaned ON file_blobs (orphaned_at) WHERE orphaned_at IS NOT NULL;
