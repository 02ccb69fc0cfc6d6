-- The reward ledger (issue 14 §5): every reward (level, ranking, badge, campaign, daily login, VIP
-- daily bonus, staff grant) is one row, unique on (user_id, source, source_ref) so it is recorded
-- exactly once. Coins are minted through the ledger (txn kind `reward`, idempotency key
-- `reward:<id>`, txn id derived from the row); the row is `pending` until its items landed, then
-- `granted` (or `claimable` until claimed before `claim_by`, then `claimed`; `expired` after).
-- The sweep (engine/progression/rewards.py) finishes any row a crash left `pending`.

CREATE TABLE rewards (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source     text NOT NULL CHECK (source IN ('level', 'ranking', 'badge', 'campaign', 'daily_login',
                                               'vip_daily', 'admin')),
    source_ref text NOT NULL,
    items      jsonb NOT NULL,
    state      text NOT NULL CHECK (state IN ('pending', 'granted', 'claimable', 'claimed', 'expired')),
    claim_by   timestamptz,
    note       text NOT NULL DEFAULT '',
    txn_id     uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    granted_at timestamptz,
    UNIQUE (user_id, source, source_ref)
);
CREATE INDEX rewards_user_list ON rewards (user_id, id DESC);
CREATE INDEX rewards_unpaid ON rewards (created_at) WHERE granted_at IS NULL AND state IN ('pending', 'claimed');
CREATE INDEX rewards_claimable ON rewards (claim_by) WHERE state = 'claimable';

INSERT INTO economy_settings (key, value) VALUES
    ('daily_login_reward_coins', 10)   -- coins for the first login of a business day; 0 disables
ON CONFLICT (key) DO NOTHING;
