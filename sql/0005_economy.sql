-- Why: money. The ledger is double-entry: every transaction's legs sum to zero per currency, with
-- `mint` (where new money comes from: recharges, grants, rewards) and `burn` (where spent money
-- goes out of circulation) as accounts of their own, so "users + agencies + platform = minted −
-- burned" is "all legs sum to zero", checkable by `flylive reconcile`. Live user balances are in
-- Redis (one Lua script per change); this ledger is the record the flusher writes from each Redis
-- shard's outbox, idempotently by transaction id. Agencies and the platform are ledger-only.

CREATE TABLE ledger_transactions (
    txn_id       uuid PRIMARY KEY,
    kind         text NOT NULL,
    initiator_id bigint,
    ref_type     text,
    ref_id       text,
    metadata     jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_transactions_initiator_idx ON ledger_transactions (initiator_id, created_at DESC);

CREATE TABLE ledger_entries (
    id            bigserial PRIMARY KEY,
    txn_id        uuid NOT NULL REFERENCES ledger_transactions (txn_id),
    leg           smallint NOT NULL,
    account_type  text NOT NULL CHECK (account_type IN ('user', 'agency', 'platform', 'mint', 'burn')),
    account_id    bigint NOT NULL DEFAULT 0,
    currency      text NOT NULL CHECK (currency IN ('coins', 'diamonds')),
    amount        bigint NOT NULL CHECK (amount <> 0),
    balance_after bigint,
    created_at    timestamptz NOT NULL,
    UNIQUE (txn_id, leg)
);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account_type, account_id, currency, id DESC);

-- The sum of each account's legs, kept by the flusher in the same transaction as the legs.
CREATE TABLE account_balances (
    account_type text NOT NULL,
    account_id   bigint NOT NULL,
    currency     text NOT NULL,
    balance      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account_type, account_id, currency)
    -- No CHECK (balance >= 0): shards flush independently, so a user's spend can reach the ledger
    -- before the credit that funded it (Redis checked the funds). Once drained, `flylive reconcile`
    -- checks that only the mint account is negative.
);

-- Admin-tunable economy settings (gift shares in basis points, exchange rate, limits …).
CREATE TABLE economy_settings (
    key        text PRIMARY KEY,
    value      bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by bigint REFERENCES users (id) ON DELETE SET NULL
);
INSERT INTO economy_settings (key, value) VALUES
    ('gift_recipient_coins_bps', 3000),     -- NAMGI%: a non-agency recipient's coins
    ('gift_recipient_diamonds_bps', 5000),  -- AMGI%: an agency member's diamonds
    ('gift_agency_commission_bps', 1000),   -- the member's agency, in coins (ledger only)
    ('gift_room_owner_bps', 500),           -- RO%: the room owner, in coins
    ('gift_charm_per_coin_bps', 10000),     -- charm XP per coin given
    ('gift_wealth_per_coin_bps', 10000);    -- wealth XP per coin spent

-- Minimal agencies and membership: gift distribution needs to know who is an agency member and
-- which agency earns the commission. The agency features build on these tables.
CREATE TABLE agencies (
    id         bigserial PRIMARY KEY,
    name       varchar(20) NOT NULL UNIQUE,
    owner_id   bigint NOT NULL REFERENCES users (id),
    status     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'suspended')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE agency_members (
    agency_id bigint NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    user_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      text NOT NULL DEFAULT 'member',
    joined_at timestamptz NOT NULL DEFAULT now(),
    left_at   timestamptz
);
CREATE UNIQUE INDEX agency_members_one_active ON agency_members (user_id) WHERE left_at IS NULL;

CREATE TABLE gifts (
    id                 bigserial PRIMARY KEY,
    name               varchar(100) NOT NULL,
    category           text NOT NULL DEFAULT 'normal' CHECK (category IN ('normal', 'lucky', 'cp', 'vip', 'country')),
    price              bigint NOT NULL CHECK (price > 0),
    static_src         varchar(500),
    animated_src       varchar(500),
    animated_file_type text CHECK (animated_file_type IN ('svga', 'mp4')),
    animation_duration integer,
    sound_src          varchar(500),
    rarity             text NOT NULL DEFAULT 'common' CHECK (rarity IN ('common', 'rare', 'epic', 'legendary')),
    vip_level_required smallint NOT NULL DEFAULT 0,
    country            char(2),
    starts_at          timestamptz,
    ends_at            timestamptz,
    is_active          boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz
);
CREATE INDEX gifts_listing_idx ON gifts (category, price) WHERE deleted_at IS NULL AND is_active;
