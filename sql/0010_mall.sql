-- Why: the mall sells frames, room themes and entry effects for coins, each valid for a duration.
-- One table for every category (legacy had frames and themes apart, without keys on ownership);
-- `user_items` has one row per user and item, extended on re-purchase. The legacy frame routes
-- read the `frame` category.

CREATE TABLE mall_items (
    id                 bigserial PRIMARY KEY,
    category           text NOT NULL CHECK (category IN ('frame', 'theme', 'entry_effect')),
    name               varchar(60) NOT NULL,
    price              bigint NOT NULL CHECK (price >= 0),
    static_src         varchar(500),
    animated_src       varchar(500),
    valid_duration     bigint CHECK (valid_duration >= 0),   -- seconds; NULL or 0: permanent
    status             smallint NOT NULL DEFAULT 1,
    vip_level_required smallint NOT NULL DEFAULT 0,
    is_active          boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (category, name)
);

CREATE TABLE user_items (
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    item_id      bigint NOT NULL REFERENCES mall_items (id) ON DELETE CASCADE,
    category     text NOT NULL,
    expires_at   timestamptz,          -- NULL: permanent
    quantity     integer NOT NULL DEFAULT 1,
    is_active    boolean NOT NULL DEFAULT false,
    purchased_at timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, item_id)
);
CREATE UNIQUE INDEX user_items_one_active ON user_items (user_id, category) WHERE is_active;

CREATE TABLE mall_purchases (
    purchase_key text PRIMARY KEY,     -- the client's idempotency key: one grant per key
    user_id      bigint NOT NULL REFERENCES users (id),
    item_id      bigint NOT NULL REFERENCES mall_items (id),
    price        bigint NOT NULL,
    txn_id       uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
