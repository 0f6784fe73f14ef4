-- Server-wide slash commands, as SQLite's migration 020: a command with no conversation is an administrator's,
-- offered in every group and channel; a conversation's own command of the same name stands before it.
ALTER TABLE commands ALTER COLUMN conversation_id DROP NOT NULL;
-- One server-wide command of a name (UNIQUE (conversation_id, command) lets NULLs repeat).
CREATE UNIQUE INDEX commands_server_wide ON commands (command) WHERE conversation_id IS NULL;
