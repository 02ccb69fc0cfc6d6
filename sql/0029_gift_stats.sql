-- Why: issue 14 §5, gift statistics (story 6.4) and profile appreciation likes (docs/progression.md
-- "Gift statistics and appreciation").
--
-- Gift statistics: a rollup of the gift ledger, one row per (user, quarter hour, direction, other
-- user, gift), filled by a trigger on the ledger transactions the flusher records (once: that insert
-- is ON CONFLICT DO NOTHING, and an AFTER INSERT trigger fires only for rows really inserted). Why a
-- rollup and not the ledger itself: a gift's recipients are in its jsonb metadata, which no btree can
-- range over by time, and a heavy user's 100k gift transactions would be 100k heap rows with jsonb to
-- read per request; the rollup folds a combo burst into one row and is read by its primary key.
-- Why quarter hours and not business days: the business day depends on BUSINESS_TIMEZONE (and the
-- stats take a `tz`), a Python setting the database does not know; every zone's UTC offset today is
-- a whole number of quarter hours, so a quarter-hour slot lies inside one local day in every zone,
-- and the days are cut at read time. Why not user_activity (sql/0016), which holds the same pairs:
-- its retention (ACTIVITY_RETENTION_DAYS, 90) would cut the `all` period short.
CREATE TABLE gift_stats (
    user_id   bigint NOT NULL,      -- whose statistics (no foreign key: nothing may stop the ledger's flush)
    slot      timestamptz NOT NULL, -- the quarter hour (UTC-aligned) the gifts were sent in
    direction text NOT NULL CHECK (direction IN ('sent', 'received')),
    other_id  bigint NOT NULL,      -- the recipient (sent) or the sender (received)
    gift_id   bigint NOT NULL,
    quantity  bigint NOT NULL,      -- gifts given: the sends' quantities, once per recipient
    coins     bigint NOT NULL,      -- their value: price × quantity, once per recipient
    PRIMARY KEY (user_id, slot, direction, other_id, gift_id)
);

-- Per recipient of a gift transaction, the sender's 'sent' row and the recipient's 'received' row.
-- Malformed metadata (or a price or quantity too big to multiply safely) gives no row.
CREATE FUNCTION gift_stats_from_gift() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    m jsonb := NEW.metadata;
    qty bigint;
BEGIN
    IF NEW.initiator_id IS NULL OR jsonb_typeof(m -> 'recipients') IS DISTINCT FROM 'array'
       OR coalesce(m ->> 'price', '') !~ '^[0-9]{1,9}$' OR coalesce(m ->> 'quantity', '') !~ '^[0-9]{1,9}$'
       OR coalesce(NEW.ref_id, '') !~ '^[0-9]{1,18}$' THEN
        RETURN NULL;
    END IF;
    qty := (m ->> 'quantity')::bigint;
    INSERT INTO gift_stats AS g (user_id, slot, direction, other_id, gift_id, quantity, coins)
    SELECT CASE WHEN d.dir = 'sent' THEN NEW.initiator_id ELSE r.id END,
           date_bin('15 minutes', NEW.created_at, timestamptz '2000-01-01 00:00:00+00'), d.dir,
           CASE WHEN d.dir = 'sent' THEN r.id ELSE NEW.initiator_id END,
           NEW.ref_id::bigint, qty, (m ->> 'price')::bigint * qty
    FROM (SELECT DISTINCT x::bigint AS id FROM jsonb_array_elements_text(m -> 'recipients') AS x
          WHERE x ~ '^[0-9]{1,18}$') AS r
    CROSS JOIN (VALUES ('sent'), ('received')) AS d (dir)
    ON CONFLICT (user_id, slot, direction, other_id, gift_id) DO UPDATE
        SET quantity = g.quantity + EXCLUDED.quantity, coins = g.coins + EXCLUDED.coins;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_transactions_gift_stats AFTER INSERT ON ledger_transactions
    FOR EACH ROW WHEN (NEW.kind = 'gift') EXECUTE FUNCTION gift_stats_from_gift();

-- The gifts already in the ledger, folded the same way.
INSERT INTO gift_stats (user_id, slot, direction, other_id, gift_id, quantity, coins)
SELECT CASE WHEN d.dir = 'sent' THEN t.initiator_id ELSE r.id END,
       date_bin('15 minutes', t.created_at, timestamptz '2000-01-01 00:00:00+00'), d.dir,
       CASE WHEN d.dir = 'sent' THEN r.id ELSE t.initiator_id END, t.ref_id::bigint,
       sum((t.metadata ->> 'quantity')::bigint), sum((t.metadata ->> 'price')::bigint * (t.metadata ->> 'quantity')::bigint)
FROM ledger_transactions t
CROSS JOIN LATERAL (SELECT DISTINCT x::bigint AS id FROM jsonb_array_elements_text(t.metadata -> 'recipients') AS x
                    WHERE x ~ '^[0-9]{1,18}$') AS r
CROSS JOIN (VALUES ('sent'), ('received')) AS d (dir)
WHERE t.kind = 'gift' AND t.initiator_id IS NOT NULL AND jsonb_typeof(t.metadata -> 'recipients') = 'array'
  AND coalesce(t.metadata ->> 'price', '') ~ '^[0-9]{1,9}$' AND coalesce(t.metadata ->> 'quantity', '') ~ '^[0-9]{1,9}$'
  AND coalesce(t.ref_id, '') ~ '^[0-9]{1,18}$'
GROUP BY 1, 2, 3, 4, 5;

-- Profile appreciation likes: one per liker, target and business day. The business day is computed
-- by the engine (BUSINESS_TIMEZONE) and stored, so the primary key is the once-a-day rule itself:
-- racing requests insert one row, the others conflict.
CREATE TABLE profile_appreciations (
    liker_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day        date NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (liker_id, target_id, day)
);
-- Today's count for a profile.
CREATE INDEX profile_appreciations_target_idx ON profile_appreciations (target_id, day);

-- The all-time total shown on every profile view, kept by trigger so a deleted like (a purged
-- account's) takes its count with it.
CREATE TABLE profile_appreciation_counts (
    user_id bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    total   bigint NOT NULL DEFAULT 0 CHECK (total >= 0)
);

CREATE FUNCTION profile_appreciation_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO profile_appreciation_counts AS c (user_id, total) VALUES (NEW.target_id, 1)
        ON CONFLICT (user_id) DO UPDATE SET total = c.total + 1;
    ELSE
        UPDATE profile_appreciation_counts SET total = greatest(total - 1, 0) WHERE user_id = OLD.target_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER profile_appreciations_count AFTER INSERT OR DELETE ON profile_appreciations
    FOR EACH ROW EXECUTE FUNCTION profile_appreciation_count();

-- Tunable: appreciations a user may send per minute (each refused repeat counts too).
INSERT INTO economy_settings (key, value) VALUES ('appreciation_rate_per_minute', 30);
