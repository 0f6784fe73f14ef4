-- As SQLite's migration 009: a notification about a message names it; the worker reads the message as it
-- is when the notification goes, and the outbox holds no message text.
ALTER TABLE push_outbox ADD COLUMN message_id bigint;
