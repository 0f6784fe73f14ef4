-- The event log is appended by each batch's last statement, which holds the event counter's row until
-- its COMMIT (src/storage/stores/events.ts). That statement must never wait for another transaction's
-- rows, or a batch waiting for the counter could hold what the counter's holder waits for. Foreign keys
-- would make it wait: inserting a row that names a user or a conversation locks that row against a
-- concurrent delete or key change. Conversations are never deleted (they are marked), and events
-- addressed to a deleted user are deleted with the user (users.ts), so these two keys go.
ALTER TABLE events DROP CONSTRAINT events_conversation_id_fkey;
ALTER TABLE event_users DROP CONSTRAINT event_users_user_id_fkey;

-- Each node's follower reads, for every event of another node's, the members whose period begins or
-- ends with it and, for some events, the members of its conversation at its seq: by conversation,
-- not by a scan of every period.
CREATE INDEX member_periods_by_conversation ON member_periods (conversation_id, from_seq);
CREATE INDEX member_periods_ended ON member_periods (conversation_id, to_seq) WHERE to_seq IS NOT NULL;
