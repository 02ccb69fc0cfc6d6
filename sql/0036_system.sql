-- Why: the dashboard's System section (issue 15 §9) switches things for the whole platform at run
-- time, without a restart. Feature flags with a percentage rollout (a user is in when the flag is on
-- and hash(flag, user) % 100 < rollout_percent, engine/flags/model.py), maintenance mode (one row:
-- new room joins refused for everyone but staff, clients told), and system announcements pushed to
-- every connected socket (kept here as their history). Every engine process reads flags and the
-- maintenance row through a short-lived per-process cache (engine/flags/cache.py).

CREATE TABLE feature_flags (
    name            text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_.-]{0,63}$'),
    description     text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    enabled         boolean NOT NULL DEFAULT false,
    -- share of users (by a stable bucket 0..99) who get the flag while it is enabled
    rollout_percent smallint NOT NULL DEFAULT 100 CHECK (rollout_percent BETWEEN 0 AND 100),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      bigint REFERENCES users (id) ON DELETE SET NULL
);

-- Exactly one row: the platform's maintenance state.
CREATE TABLE system_maintenance (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    active     boolean NOT NULL DEFAULT false,
    message    text NOT NULL DEFAULT '' CHECK (length(message) <= 500),
    started_at timestamptz,
    -- what clients are told to expect (informative: maintenance ends when staff end it)
    ends_at    timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by bigint REFERENCES users (id) ON DELETE SET NULL
);
INSERT INTO system_maintenance (id) VALUES (true);

CREATE TABLE system_announcements (
    id       bigserial PRIMARY KEY,
    message  text NOT NULL CHECK (length(message) BETWEEN 1 AND 500),
    level    text NOT NULL CHECK (level IN ('info', 'warning', 'critical')),
    sent_at  timestamptz NOT NULL DEFAULT now(),
    sent_by  bigint REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX system_announcements_sent ON system_announcements (sent_at DESC);

-- Rate limits changed at run time: a token bucket (capacity per period) replacing, for one limiter
-- scope, the one from the environment (engine/flags/model.py LIVE_RATES lists the scopes that can
-- be changed). No row: the environment's value.
CREATE TABLE rate_limit_overrides (
    scope          text PRIMARY KEY CHECK (length(scope) BETWEEN 1 AND 64),
    capacity       integer NOT NULL CHECK (capacity BETWEEN 1 AND 1000000),
    period_seconds double precision NOT NULL CHECK (period_seconds > 0 AND period_seconds <= 604800),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     bigint REFERENCES users (id) ON DELETE SET NULL
);
