-- Every list is read a page at a time (issue 25): get_contacts, get_blocked and get_banned walk an index in
-- their order from where the page before ended, instead of sorting a whole list. A SQLite index keeps the
-- rowid after its columns, so one on user_id alone holds a user's contacts in the order of adding.
CREATE INDEX contacts_in_order ON contacts (user_id);
CREATE INDEX blocks_in_order ON blocks (user_id, blocked_at, blocked_id);
CREATE INDEX bans_in_order ON bans (conversation_id, banned_at, user_id);
