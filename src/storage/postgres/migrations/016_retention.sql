-- Retention: a conversation may keep its messages for a number of days of its own (set_retention); NULL
-- follows the server's RETENTION_DAYS. The retention job (src/expire-messages.ts) deletes what is older.
ALTER TABLE conversations ADD COLUMN retention_days integer;
