-- Why: issue 13 §3, the month-end settlement and the leaver's final settlement
-- (docs/agency.md "Month-end settlement", engine/agency/settlement.py).
--
-- The money itself moves in the ledger (`agency_settlement`, `agency_iecp`, `agency_share`
-- transactions, ref_type 'agency_month', ref_id 'YYYY-MM'); these rows say what was paid for whom,
-- and their unique constraints are what makes each payment happen once: a payment's ledger
-- transaction is written in the same PostgreSQL transaction as its row (USD, ledger-only), or its
-- id is stored on the row before the live wallet is credited (diamonds, `iecp_state`).

-- One row per business month that a settlement run has started: `running` until every member and
-- agency of the month is paid, then `closed` (a closed month is never settled again). The totals
-- are the month's, written when it closes.
CREATE TABLE agency_settlement_runs (
    month            date PRIMARY KEY CHECK (extract(day FROM month) = 1),
    state            text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'closed')),
    attempts         integer NOT NULL DEFAULT 1,          -- how many runs took it up (a resumed one: > 1)
    members          integer NOT NULL DEFAULT 0,          -- (agency, member) pairs paid for the month
    usd_cents        bigint NOT NULL DEFAULT 0,           -- target rewards paid to members
    diamonds         bigint NOT NULL DEFAULT 0,           -- IECP diamonds credited to members
    agencies         integer NOT NULL DEFAULT 0,          -- agencies whose share was settled
    agency_usd_cents bigint NOT NULL DEFAULT 0,           -- ASP paid to agencies (after advances)
    started_at       timestamptz NOT NULL DEFAULT now(),
    closed_at        timestamptz
);

-- What one member was paid for one month in one agency. `month_end` rows: one per (month, agency,
-- member), written by the run; `leaver` rows: one per ended membership (the month so far, paid when
-- the member left). A later row pays only what the figures owe beyond the earlier rows of the same
-- (month, agency, member) — never a claw-back.
CREATE TABLE agency_settlements (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    month                  date NOT NULL,
    agency_id              bigint NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    user_id                bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind                   text NOT NULL CHECK (kind IN ('month_end', 'leaver')),
    membership_id          bigint UNIQUE REFERENCES agency_members (id) ON DELETE SET NULL,
    -- The figures the payment was computed from (income_model.month_figures at that moment).
    coins                  bigint NOT NULL,
    valid_seconds          bigint NOT NULL,
    reached_coins          bigint NOT NULL DEFAULT 0,    -- the highest target reached (0: none)
    excess_coins           bigint NOT NULL,
    reward_total_usd_cents bigint NOT NULL,             -- what the month's figures pay in all ...
    iecp_total_diamonds    bigint NOT NULL,
    reward_usd_cents       bigint NOT NULL CHECK (reward_usd_cents >= 0),  -- ... and what this row paid
    iecp_diamonds          bigint NOT NULL CHECK (iecp_diamonds >= 0),
    reward_txn_id          uuid,                         -- the agency_settlement ledger txn (NULL: 0)
    iecp_txn_id            uuid,                         -- the agency_iecp ledger txn (NULL: 0)
    -- The live diamond credit: 'pending' from this row's commit until the wallet script applied it.
    iecp_state             text NOT NULL CHECK (iecp_state IN ('none', 'pending', 'done')),
    created_at             timestamptz NOT NULL DEFAULT now(),
    iecp_done_at           timestamptz,
    CHECK (kind = 'leaver' OR membership_id IS NULL)
);
CREATE UNIQUE INDEX agency_settlements_month_end ON agency_settlements (month, agency_id, user_id)
    WHERE kind = 'month_end';
CREATE INDEX agency_settlements_agency_idx ON agency_settlements (agency_id, month, id);
CREATE INDEX agency_settlements_user_idx ON agency_settlements (user_id, month);
CREATE INDEX agency_settlements_pending_idx ON agency_settlements (created_at) WHERE iecp_state = 'pending';

-- The owner's share (ASP) of one month: one row per (month, agency), in the transaction of its
-- `agency_share` ledger txn. `paid_usd_cents` = max(share - advances, 0): advances beyond the
-- share are not clawed back.
CREATE TABLE agency_share_settlements (
    month              date NOT NULL,
    agency_id          bigint NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    coins              bigint NOT NULL,   -- every member's coins of the month in this agency
    share_bps          integer NOT NULL,
    share_usd_cents    bigint NOT NULL,
    advances_usd_cents bigint NOT NULL,
    paid_usd_cents     bigint NOT NULL CHECK (paid_usd_cents >= 0),
    txn_id             uuid,              -- NULL when nothing was paid
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (month, agency_id)
);
