-- Why: spending limits stop abuse in the moment; someone still has to look at it. A flag is raised
-- (at most once per user, kind and day) when a limit trips, for staff to review.

CREATE TABLE fraud_flags (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    day         date NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')::date,
    details     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    reviewed_at timestamptz,
    reviewed_by bigint REFERENCES users (id) ON DELETE SET NULL,
    UNIQUE (user_id, kind, day)
);
CREATE INDEX fraud_flags_open_idx ON fraud_flags (created_at DESC) WHERE reviewed_at IS NULL;
