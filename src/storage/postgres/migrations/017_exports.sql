-- Exports (request_export): a zip of a user's data, or an admin's of one conversation, built in the
-- background under FILES_DIR/exports and downloaded once by whoever asked, before expires_at.
CREATE TABLE exports (
  id              text   PRIMARY KEY,
  user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  conversation_id bigint,
  requested_at    bigint NOT NULL,
  ready_at        bigint,
  size            bigint,
  expires_at      bigint NOT NULL,
  downloaded_at   bigint
);
CREATE INDEX exports_by_user ON exports (user_id);
CREATE INDEX exports_by_expiry ON exports (expires_at);
