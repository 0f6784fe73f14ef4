-- Threads (issue 27): a reply in a thread names its root (`thread_id`), and may be sent to the conversation
-- too (`also_sent`). No foreign key on thread_id: replies go only with their conversation, root and all, and
-- a key would cost every send a lookup.
ALTER TABLE messages ADD COLUMN thread_id bigint;
ALTER TABLE messages ADD COLUMN also_sent integer NOT NULL DEFAULT 0;
CREATE INDEX messages_by_thread ON messages (thread_id, id) WHERE thread_id IS NOT NULL;
-- The conversation's main list without thread replies (but those also sent to it), read as a range.
CREATE INDEX messages_in_main ON messages (conversation_id, id) WHERE thread_id IS NULL OR also_sent = 1;

-- A thread's summary, kept up to date by each reply (its root carries it wherever it is shown).
CREATE TABLE threads (
  root_id         bigint PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
  conversation_id bigint NOT NULL,
  reply_count     integer NOT NULL,
  last_reply_id   bigint NOT NULL,
  last_reply_at   bigint NOT NULL
);

-- Who follows a thread (its root's sender, those who replied or were mentioned in it, those who chose to; a
-- message with no reply yet may be followed), how far they read it, and their first reply (the thread's
-- participants, in order).
CREATE TABLE thread_follows (
  root_id    bigint  NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  user_id    bigint  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  following  integer NOT NULL,
  replied_id bigint,
  read_id    bigint  NOT NULL,
  PRIMARY KEY (root_id, user_id)
);
CREATE INDEX thread_follows_by_user ON thread_follows (user_id, root_id) WHERE following = 1;
