-- Why: issue 12 §7, activity and statistics. What a user did (room visits with their length and time
-- on mic, gifts sent and received, follows; level-ups later) is logged off the hot path, and the
-- profile's stats are sums over that log.
--
-- Nothing here is written by a socket event. Room visits (with the time on mic gathered during them)
-- reach this table through the activity stream in Redis, appended by the leave bookkeeping pipeline
-- that already runs, and drained in batches by engine/activity/worker.py, acknowledged only after
-- commit. Gifts come from the ledger rows the flusher writes (the trigger below, in the flusher's own
-- transaction). Follows and unfollows are written in the follow graph's transaction
-- (engine/social/follows.py, blocks.py). `source` makes every write idempotent: a redelivered
-- stream entry, a re-flushed ledger transaction, the same edge recorded twice, all insert nothing.
CREATE TABLE user_activity (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'unfollow' is never listed (it feeds the followers trend); 'level_up' is for progression.
    kind          text NOT NULL
        CHECK (kind IN ('room_visit', 'gift_sent', 'gift_received', 'follow', 'unfollow', 'level_up')),
    -- The other side: the followed user, a gift's recipient (gift_sent) or sender (gift_received).
    other_user_id bigint REFERENCES users (id) ON DELETE SET NULL,
    room_id       bigint,
    coins         bigint NOT NULL DEFAULT 0,  -- a gift's value in coins (price × quantity)
    duration_ms   bigint,                     -- room_visit: from join to leave
    mic_ms        bigint,                     -- room_visit: time on a seat (not while held after a disconnect)
    data          jsonb NOT NULL DEFAULT '{}',
    source        text NOT NULL,              -- what recorded it, unique per kind (idempotency)
    happened_at   timestamptz NOT NULL,       -- a visit: when it ended; a gift: when it was sent
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, source)
);
-- The feed, newest recorded first (keyset on id), all kinds or one.
CREATE INDEX user_activity_user_idx ON user_activity (user_id, id DESC);
CREATE INDEX user_activity_user_kind_idx ON user_activity (user_id, kind, id DESC);
-- The followers trend reads who followed / unfollowed a user, by week.
CREATE INDEX user_activity_followed_idx ON user_activity (other_user_id, happened_at)
    WHERE kind IN ('follow', 'unfollow');
-- Retention deletes the oldest first, in batches.
CREATE INDEX user_activity_happened_idx ON user_activity (happened_at);

-- A gift's two sides, per recipient, from the ledger transaction the flusher records (once: the
-- transaction's insert is ON CONFLICT DO NOTHING, and so is this one). Only users that still exist
-- get a row, and malformed metadata gives none: neither may stop the ledger's flush.
CREATE FUNCTION user_activity_from_gift() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    m jsonb := NEW.metadata;
    coins bigint;
    room bigint;
BEGIN
    IF NEW.initiator_id IS NULL OR jsonb_typeof(m -> 'recipients') IS DISTINCT FROM 'array'
       OR coalesce(m ->> 'price', '') !~ '^[0-9]{1,15}$' OR coalesce(m ->> 'quantity', '') !~ '^[0-9]{1,9}$' THEN
        RETURN NULL;
    END IF;
    coins := (m ->> 'price')::bigint * (m ->> 'quantity')::bigint;
    room := CASE WHEN coalesce(m ->> 'room_id', '') ~ '^[0-9]{1,18}$' THEN (m ->> 'room_id')::bigint END;
    INSERT INTO user_activity (user_id, kind, other_user_id, room_id, coins, data, source, happened_at)
    SELECT CASE WHEN side.kind = 'gift_sent' THEN s.id ELSE r.id END, side.kind,
           CASE WHEN side.kind = 'gift_sent' THEN r.id ELSE s.id END, room, coins,
           jsonb_build_object('gift_id', NEW.ref_id, 'quantity', (m ->> 'quantity')::int),
           NEW.txn_id::text || ':' || r.id, NEW.created_at
    FROM (SELECT DISTINCT value::text AS raw FROM jsonb_array_elements_text(m -> 'recipients')) AS x
    JOIN users r ON x.raw ~ '^[0-9]{1,18}$' AND r.id = x.raw::bigint
    JOIN users s ON s.id = NEW.initiator_id
    CROSS JOIN (VALUES ('gift_sent'), ('gift_received')) AS side (kind)
    ON CONFLICT (kind, source) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_transactions_gift_activity AFTER INSERT ON ledger_transactions
    FOR EACH ROW WHEN (NEW.kind = 'gift') EXECUTE FUNCTION user_activity_from_gift();
