-- Hardening: who did each logged event (so people who blocked them are not shown it), and the mails
-- and wrong guesses of one-time codes, counted per hour.

ALTER TABLE events ADD COLUMN actor_id INTEGER;  -- the user whose doing it is (a sender, a reactor); null for structural events

-- Every code mailed: at most a few an hour per user and per address.
CREATE TABLE code_mails (
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose TEXT    NOT NULL,
  address TEXT    NOT NULL COLLATE NOCASE,
  sent_at INTEGER NOT NULL
);
CREATE INDEX code_mails_by_user ON code_mails (user_id, purpose, sent_at);
CREATE INDEX code_mails_by_address ON code_mails (address, sent_at);

-- Every wrong code: new codes do not bring new guesses beyond an hourly budget.
CREATE TABLE code_failures (
  user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose   TEXT    NOT NULL,
  failed_at INTEGER NOT NULL
);
CREATE INDEX code_failures_by_user ON code_failures (user_id, purpose, failed_at);

-- Editing or deleting a message rewrites the previews in the replies to it: found by this index, not a scan.
CREATE INDEX messages_by_reply ON messages (reply_id) WHERE reply_id IS NOT NULL;
