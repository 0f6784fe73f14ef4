-- Every list is read a page at a time, as SQLite's migration 013: get_contacts, get_blocked and get_banned
-- walk an index in their order from where the page before ended.
CREATE INDEX contacts_in_order ON contacts (user_id, rowid);
CREATE INDEX blocks_in_order ON blocks (user_id, blocked_at, blocked_id);
CREATE INDEX bans_in_order ON bans (conversation_id, banned_at, user_id);
