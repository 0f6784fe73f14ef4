-- Single sign-on links an admin removed (admin_unlink_sso, `npm run admin -- unlink-sso`): a provider's
-- account is never linked again by email to the Parley account it was unlinked from.
CREATE TABLE oidc_unlinked (
  provider    TEXT    NOT NULL,
  subject     TEXT    NOT NULL,
  user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  unlinked_at INTEGER NOT NULL,
  PRIMARY KEY (provider, subject, user_id)
);
CREATE INDEX oidc_unlinked_by_user ON oidc_unlinked (user_id);

-- An export being built is leased by the node building it, which renews the lease while it works: one
-- whose lease lapsed (its node stopped) is taken up again by another round, at most `attempts` times.
ALTER TABLE exports ADD COLUMN building_until INTEGER;
ALTER TABLE exports ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;

-- The mark of the FILES_DIR a cluster's nodes share (src/files/shared-folder.ts): the same random text as in
-- that folder's .parley-cluster file; a node whose FILES_DIR lacks it is not started.
CREATE TABLE files_folder (
  id     INTEGER PRIMARY KEY CHECK (id = 1),
  marker TEXT    NOT NULL
);
