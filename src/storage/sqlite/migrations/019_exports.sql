-- Exports (request_export): a zip of a user's data, or an admin's of one conversation, built in the
-- background under FILES_DIR/exports and downloaded once by whoever asked, before expires_at.
CREATE TABLE exports (
  id              TEXT    PRIMARY KEY,
  user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  conversation_id INTEGER,
  requested_at    INTEGER NOT NULL,
  ready_at        INTEGER,
  size            INTEGER,
  expires_at      INTEGER NOT NULL,
  downloaded_at   INTEGER
);
CREATE INDEX exports_by_user ON exports (user_id);
CREATE INDEX exports_by_expiry ON exports (expires_at);
