-- Why: issue 13 §3, the member side of agency income (docs/agency.md "Member income, targets and
-- salary exchange"): converting surplus USD salary into coins, and telling members and owners once
-- when a monthly target is crossed.

-- A member's surplus salary (their `user:<id>` usd_cents balance) turned into coins. Two ledger
-- steps, both kind `salary_exchange`, ref ('salary_exchange', id): `hold` (PostgreSQL, with this
-- row: user usd → escrow:<id>) and `credit` (the live wallet, once committed: escrow usd → burn,
-- mint coins → user). `status` says how far it got; a row left `held` by a crash is finished by the
-- sweep with the credit's own idempotency key, so the coins land exactly once. The unique key makes
-- a replayed request find its first result instead of moving anything.
CREATE TABLE salary_exchanges (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idempotency_key text NOT NULL,
    usd_cents       bigint NOT NULL CHECK (usd_cents > 0),
    coins           bigint NOT NULL CHECK (coins > 0),
    coins_per_usd   bigint NOT NULL CHECK (coins_per_usd > 0), -- the rate it was bought at
    status          text NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'credited')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    credited_at     timestamptz,
    UNIQUE (user_id, idempotency_key),
    CHECK ((status = 'credited') = (credited_at IS NOT NULL))
);
CREATE INDEX salary_exchanges_held_idx ON salary_exchanges (created_at) WHERE status = 'held';

-- Income rows the target watcher has not looked at yet. A queue, not a cursor over the rows' ids:
-- identity values are taken before their transaction commits, so two flushes can commit out of
-- order and a cursor would step over the slower one's rows for good. Each row is enqueued in the
-- transaction that writes it and dequeued (FOR UPDATE SKIP LOCKED) in the one that records what it
-- completed, so several engine processes share the work and a crash loses nothing.
CREATE TABLE agency_income_pending (
    event_id bigint PRIMARY KEY REFERENCES agency_income_events (id) ON DELETE CASCADE
);

CREATE FUNCTION agency_income_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agency_income_pending (event_id) VALUES (NEW.id);
    RETURN NULL;
END $$;

CREATE TRIGGER agency_income_events_pending AFTER INSERT ON agency_income_events
    FOR EACH ROW EXECUTE FUNCTION agency_income_enqueue();

INSERT INTO agency_income_pending (event_id) SELECT id FROM agency_income_events;

-- Each target a member crossed in a business month ('YYYY-MM', BUSINESS_TIMEZONE) for an agency:
-- the unique key is what makes `income_target.member_completed` / `income_target.completed` go out
-- once, whichever process sees the crossing first. The target's figures are copied as they were.
CREATE TABLE agency_target_completions (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    month            char(7) NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    agency_id        bigint NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_id        integer NOT NULL REFERENCES agency_income_targets (id),
    target_coins     bigint NOT NULL,
    reward_usd_cents bigint NOT NULL,
    valid_hours      integer NOT NULL,
    coins            bigint NOT NULL, -- the member's month coins when it was seen
    completed_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (month, agency_id, user_id, target_id)
);
CREATE INDEX agency_target_completions_user_idx ON agency_target_completions (user_id, month);
