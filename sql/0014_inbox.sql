-- Direct messages (issue 12 §6): one thread per pair of users, its messages, each participant's
-- place in it (unread count, what they have seen, where the thread sorts in their inbox), and
-- official messages from staff to one user or to everyone.
--
-- A thread is `open`, or a `request` when the peer's "who may message me" setting (user_privacy.
-- messages) did not let the requester in: the requester may then send one message until the peer
-- accepts (engine/inbox/model.py says the rules). Messages live here, not in Redis: they survive a
-- restart, and a reconnecting client reads what it missed with `?after=` (engine/inbox/actions.py).

CREATE TABLE dm_threads (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The pair in order: the unique constraint makes "open a thread with X" idempotent per pair,
    -- whoever of the two asks first and however many ask at once.
    user_low     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_high    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    requester_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status       text NOT NULL CHECK (status IN ('request', 'open')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    accepted_at  timestamptz,
    last_message_id bigint,
    UNIQUE (user_low, user_high),
    CHECK (user_low < user_high),
    CHECK (requester_id IN (user_low, user_high))
);
CREATE INDEX dm_threads_high_idx ON dm_threads (user_high);

-- Keys of the activity order of the inbox: a thread takes the next value when it is opened and at
-- each message, so "newest activity first" is a keyset on one unique integer.
CREATE SEQUENCE dm_activity_seq;

-- Each participant's side of a thread (two rows per thread).
CREATE TABLE dm_thread_members (
    thread_id    bigint NOT NULL REFERENCES dm_threads (id) ON DELETE CASCADE,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    peer_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    activity     bigint NOT NULL,
    -- Messages from the peer after this one are unread; kept exact with the count under the
    -- thread's row lock (sends, unsends and `seen` of one thread are serialised by it).
    last_read_message_id bigint NOT NULL DEFAULT 0,
    unread_count integer NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
    PRIMARY KEY (thread_id, user_id),
    CHECK (user_id <> peer_id)
);
CREATE UNIQUE INDEX dm_thread_members_inbox_idx ON dm_thread_members (user_id, activity DESC);
CREATE INDEX dm_thread_members_peer_idx ON dm_thread_members (peer_id);

CREATE TABLE dm_messages (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    thread_id  bigint NOT NULL REFERENCES dm_threads (id) ON DELETE CASCADE,
    sender_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The sender's idempotency key: a retried send returns the message the first one stored.
    client_id  varchar(64) NOT NULL,
    text       varchar(2000),
    image_url  varchar(2048),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Unsent (within 5 minutes): the row stays as a tombstone so clients that saw the message learn
    -- it went, and its text and image are erased.
    unsent_at  timestamptz,
    UNIQUE (thread_id, sender_id, client_id),
    CHECK (unsent_at IS NOT NULL OR text IS NOT NULL OR image_url IS NOT NULL)
);
CREATE INDEX dm_messages_thread_idx ON dm_messages (thread_id, id DESC);
CREATE INDEX dm_messages_sender_idx ON dm_messages (sender_id);

-- Official messages: `user_id` NULL is one row for everyone (not a copy per user).
CREATE TABLE official_messages (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint REFERENCES users (id) ON DELETE CASCADE,
    sender_id  bigint REFERENCES users (id) ON DELETE SET NULL,
    title      varchar(120) NOT NULL,
    text       varchar(2000) NOT NULL,
    image_url  varchar(2048),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX official_messages_user_idx ON official_messages (user_id, id DESC);
CREATE INDEX official_messages_everyone_idx ON official_messages (id DESC) WHERE user_id IS NULL;
CREATE INDEX official_messages_sender_idx ON official_messages (sender_id);

INSERT INTO permissions (name, description) VALUES
    ('messages.official', 'Send official messages to one user or to everyone');
INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r CROSS JOIN permissions p
WHERE r.name IN ('super_admin', 'admin') AND p.name = 'messages.official';
