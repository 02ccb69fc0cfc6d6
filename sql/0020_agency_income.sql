-- Why: issue 13 §3, agency income (docs/agency.md "Income, targets, salary and settlement").
--
-- Money stays in the one double-entry ledger (sql/0005). Salaries are in US dollar cents, a third
-- currency that only ledger accounts hold: a member's `user:<id>` and an agency's `agency:<id>`
-- USD balances are never live in Redis (no socket event spends them), so they change only in a
-- PostgreSQL transaction that locks the debited row and checks it (`apply_held_txn` in engine/economy/store.py).
-- `escrow:<id>` accounts hold what a pending request has set aside (a salary exchange awaiting
-- staff, a salary conversion awaiting its coin credit), so one balance cannot be promised twice.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_currency_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_currency_check
    CHECK (currency IN ('coins', 'diamonds', 'usd_cents'));
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_account_type_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_account_type_check
    CHECK (account_type IN ('user', 'agency', 'platform', 'mint', 'burn', 'escrow'));

-- Admin settings (GET/PATCH /api/v1/admin/economy/settings), with the reference's defaults.
INSERT INTO economy_settings (key, value) VALUES
    ('agency_valid_seconds_per_day', 18000), -- mic time that counts per business day: 5 h
    ('agency_targets_cumulative', 0),        -- 0: only the highest target reached pays; 1: every one reached
    ('agency_share_default_bps', 200),       -- ASP: the owner's share of member coins (2 %)
    ('agency_share_max_bps', 1000),          -- the most staff may set an agency's ASP to
    ('agency_iecp_bps', 5000),               -- IECP: diamonds per excess coin at month end (50 %)
    ('agency_coins_per_usd', 1000),          -- how coins are valued in dollars (estimated salary, ASP,
                                             -- the owner's salary exchange): 1,000 coins = $1
    ('salary_coins_per_usd', 100),           -- a member's salary converted to coins: $1 = 100 coins
    ('agency_advance_max_bps', 5000);        -- an owner may draw up to 50 % of the month's estimated share

-- An agency's own ASP, set by staff within agency_share_max_bps (NULL: the default).
ALTER TABLE agencies ADD COLUMN share_bps integer CHECK (share_bps BETWEEN 0 AND 10000);

-- Monthly coin targets (the same for every agency). A target is reached when the member's coins in
-- the business month reach `coins` and their valid hours reach `valid_hours` (0: no requirement).
CREATE TABLE agency_income_targets (
    id               serial PRIMARY KEY,
    coins            bigint NOT NULL UNIQUE CHECK (coins > 0),
    reward_usd_cents bigint NOT NULL CHECK (reward_usd_cents > 0),
    valid_hours      integer NOT NULL DEFAULT 0 CHECK (valid_hours BETWEEN 0 AND 744),
    is_active        boolean NOT NULL DEFAULT true,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       bigint REFERENCES users (id) ON DELETE SET NULL
);
INSERT INTO agency_income_targets (coins, reward_usd_cents) VALUES (10000, 1000), (20000, 2000), (30000, 3000);

-- What each member earned, one row per ledger gift leg or room visit, with the agency they belonged
-- to at that moment. Derived, never typed in: gift rows are written by the trigger below in the
-- flusher's own transaction (so they exist exactly when the ledger transaction does), mic rows by
-- the trigger on user_activity. `commission` is the agency's coin leg for this member's part of the
-- gift, so per agency these rows sum to the ledger's gift legs (checked by `flylive reconcile`).
-- Sums per business day or month are taken at read time in the business time zone.
CREATE TABLE agency_income_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agency_id   bigint NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('gift', 'mic')),
    coins       bigint NOT NULL DEFAULT 0 CHECK (coins >= 0),      -- a gift's value to this member
    commission  bigint NOT NULL DEFAULT 0 CHECK (commission >= 0), -- the agency's coins from it
    diamonds    bigint NOT NULL DEFAULT 0 CHECK (diamonds >= 0),   -- the member's diamonds from it
    mic_ms      bigint NOT NULL DEFAULT 0 CHECK (mic_ms >= 0),     -- time on a mic seat (a visit)
    source      text NOT NULL,                                     -- txn_id:user, or the visit's source
    happened_at timestamptz NOT NULL,
    UNIQUE (kind, source)
);
CREATE INDEX agency_income_events_agency_idx ON agency_income_events (agency_id, happened_at);
CREATE INDEX agency_income_events_member_idx ON agency_income_events (user_id, happened_at);

-- A gift's agency parts, from the metadata the sender's process wrote (engine/gifts/actions.py):
-- `agency_income` is [[recipient, agency_id, commission, diamonds], …] for recipients who were
-- members of an active agency as of the gift. Malformed metadata, or a user or agency gone, gives
-- no row: nothing may stop the ledger's flush.
CREATE FUNCTION agency_income_from_gift() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    m jsonb := NEW.metadata;
BEGIN
    IF jsonb_typeof(m -> 'agency_income') IS DISTINCT FROM 'array'
       OR coalesce(m ->> 'price', '') !~ '^[0-9]{1,15}$' OR coalesce(m ->> 'quantity', '') !~ '^[0-9]{1,9}$' THEN
        RETURN NULL;
    END IF;
    INSERT INTO agency_income_events (agency_id, user_id, kind, coins, commission, diamonds, source, happened_at)
    SELECT a.id, u.id, 'gift', (m ->> 'price')::bigint * (m ->> 'quantity')::bigint,
           (part ->> 2)::bigint, (part ->> 3)::bigint, NEW.txn_id::text || ':' || u.id, NEW.created_at
    FROM jsonb_array_elements(m -> 'agency_income') AS part
    JOIN users u ON jsonb_typeof(part) = 'array' AND jsonb_array_length(part) = 4
        AND (part ->> 0) ~ '^[0-9]{1,18}$' AND (part ->> 1) ~ '^[0-9]{1,18}$'
        AND (part ->> 2) ~ '^[0-9]{1,18}$' AND (part ->> 3) ~ '^[0-9]{1,18}$'
        AND u.id = (part ->> 0)::bigint
    JOIN agencies a ON a.id = (part ->> 1)::bigint
    ON CONFLICT (kind, source) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_transactions_agency_income AFTER INSERT ON ledger_transactions
    FOR EACH ROW WHEN (NEW.kind = 'gift') EXECUTE FUNCTION agency_income_from_gift();

-- Time on mic, from the room visits the activity worker records (sql/0016), credited to the agency
-- the user belonged to when the visit ended.
CREATE FUNCTION agency_income_from_visit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agency_income_events (agency_id, user_id, kind, mic_ms, source, happened_at)
    SELECT m.agency_id, NEW.user_id, 'mic', NEW.mic_ms, NEW.source, NEW.happened_at
    FROM agency_members m
    WHERE m.user_id = NEW.user_id AND m.joined_at <= NEW.happened_at
      AND (m.left_at IS NULL OR m.left_at > NEW.happened_at)
    ORDER BY m.joined_at DESC LIMIT 1
    ON CONFLICT (kind, source) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER user_activity_agency_mic AFTER INSERT ON user_activity
    FOR EACH ROW WHEN (NEW.kind = 'room_visit' AND NEW.mic_ms > 0) EXECUTE FUNCTION agency_income_from_visit();
