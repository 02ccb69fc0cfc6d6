-- Notifications (issue 12 §5): per-kind preferences, the unread pages, and retention.
--
-- A kind switched off is neither stored nor pushed (engine/notifications/store.py inserts only when
-- no preference row turns the kind off, in the same statement): the list is the user's in-app inbox,
-- and a kind they asked not to hear about should not grow their unread badge either. Only the kinds a
-- user changed have a row; every kind is on by default.
CREATE TABLE notification_preferences (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    enabled    boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, kind)
);

-- `?unread=true` pages and the unread count read only the unread rows, newest first.
CREATE INDEX notifications_user_unread_idx ON notifications (user_id, id DESC) WHERE read_at IS NULL;
-- The retention job deletes the oldest rows first, in bounded batches.
CREATE INDEX notifications_created_idx ON notifications (created_at);
