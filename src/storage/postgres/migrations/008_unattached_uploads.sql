-- Unattached uploads bounded per address and in total, as SQLite's migration 011: `unattached_from`
-- is the address an upload came from while nothing has used it, NULL once something has.
ALTER TABLE files ADD COLUMN unattached_from text;
UPDATE files SET unattached_from = ''
 WHERE NOT EXISTS (SELECT 1 FROM message_attachments WHERE message_attachments.file_id = files.id)
   AND NOT EXISTS (SELECT 1 FROM users WHERE users.avatar_file_id = files.id)
   AND NOT EXISTS (SELECT 1 FROM conversations WHERE conversations.avatar_file_id = files.id);
CREATE INDEX files_unattached_by_address ON files (unattached_from, size) WHERE unattached_from IS NOT NULL;
CREATE INDEX files_unattached_by_age ON files (created_at, size) WHERE unattached_from IS NOT NULL;
