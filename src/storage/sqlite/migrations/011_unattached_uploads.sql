-- Unattached uploads are bounded per address and in total (UNATTACHED_BYTES_PER_ADDRESS,
-- UNATTACHED_BYTES_TOTAL): `unattached_from` is the address an upload came from while no message,
-- profile or conversation has used it, and NULL once one has (the address is not kept past then).
-- Uploads made before this migration that nothing uses count in the total under the address ''.
ALTER TABLE files ADD COLUMN unattached_from TEXT;
UPDATE files SET unattached_from = ''
 WHERE NOT EXISTS (SELECT 1 FROM message_attachments WHERE message_attachments.file_id = files.id)
   AND NOT EXISTS (SELECT 1 FROM users WHERE users.avatar_file_id = files.id)
   AND NOT EXISTS (SELECT 1 FROM conversations WHERE conversations.avatar_file_id = files.id);
-- Both sums read only unattached rows; the age order also picks the oldest to remove when the total is high.
CREATE INDEX files_unattached_by_address ON files (unattached_from, size) WHERE unattached_from IS NOT NULL;
CREATE INDEX files_unattached_by_age ON files (created_at, size) WHERE unattached_from IS NOT NULL;
