-- Why: issue 14 §3, rankings (docs/progression.md "Rankings"). Live boards are Redis sorted sets fed
-- by the ledger flush (engine/progression/rankings.py); PostgreSQL keeps what a closed period was
-- (`ranking_history`, backend-contract §4.3), what it pays (`ranking_rewards`) and which periods
-- are done (`ranking_periods`: a period is snapshotted and paid once, whoever runs the job).

-- Gift transactions by time: the period-end snapshot and the rebuild sum a period's gifts.
CREATE INDEX ledger_transactions_gift_time_idx ON ledger_transactions (created_at) WHERE kind = 'gift';

-- When the rankings began: periods that ended before it are never snapshotted or paid (a first
-- deploy would otherwise pay every past period).
CREATE TABLE ranking_state (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    started_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ranking_state DEFAULT VALUES;

-- One row per closed (board, period kind, period): written in the snapshot's own transaction,
-- first, so a second run finds it and does nothing.
CREATE TABLE ranking_periods (
    board        text NOT NULL CHECK (board IN ('wealth', 'charm', 'room', 'agency')),
    period       text NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly')),
    period_start date NOT NULL,
    period_end   date NOT NULL,   -- exclusive: the next period's first business day
    time_zone    text NOT NULL,   -- BUSINESS_TIMEZONE when it closed
    entries      integer NOT NULL,
    closed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (board, period, period_start)
);

-- The top N of each closed period (backend-contract §4.2 `rankings` shape): one of user_id,
-- room_id, agency_id by board. Ids are kept without foreign keys: history outlives what it names.
CREATE TABLE ranking_history (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    board         text NOT NULL,
    period        text NOT NULL,
    period_start  date NOT NULL,
    period_end    date NOT NULL,
    rank_position integer NOT NULL CHECK (rank_position > 0),
    user_id       bigint,
    room_id       bigint,
    agency_id     bigint,
    score         bigint NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (board, period, period_start, rank_position),
    FOREIGN KEY (board, period, period_start) REFERENCES ranking_periods (board, period, period_start)
);
CREATE INDEX ranking_history_user_idx ON ranking_history (user_id) WHERE user_id IS NOT NULL;

-- What a closed period pays: coins to ranks rank_from..rank_to of a board's period (through the
-- reward ledger, source "ranking"). A room's reward goes to its owner, an agency's to its owner.
-- Empty by default: staff set the amounts.
CREATE TABLE ranking_rewards (
    id         serial PRIMARY KEY,
    board      text NOT NULL CHECK (board IN ('wealth', 'charm', 'room', 'agency')),
    period     text NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly')),
    rank_from  integer NOT NULL CHECK (rank_from > 0),
    rank_to    integer NOT NULL,
    coins      bigint NOT NULL CHECK (coins > 0),
    is_active  boolean NOT NULL DEFAULT true,
    CHECK (rank_to >= rank_from)
);

INSERT INTO economy_settings (key, value) VALUES
    ('ranking_snapshot_top_n', 100),        -- how many of a closed period go into ranking_history
    ('ranking_close_grace_seconds', 120);   -- wait this long after a period ends (in-flight gifts flush)
