-- A notification about a message names it instead of keeping its text: the worker reads the message as
-- it is when the notification goes (edited: its words now; deleted: not shown), so nothing a sender took
-- back reaches a device, and the outbox holds no message text (src/storage/stores/outbox.ts). No foreign
-- key: a message that is gone (its conversation deleted, its members with it) is read as not shown.
ALTER TABLE push_outbox ADD COLUMN message_id INTEGER;
