-- Why: coins are bought. Packages are what is on sale (per country, in a time window); an order
-- walks pending -> paid -> fulfilled (or failed / refunded) and is credited through the wallet's
-- Lua path with the order id as idempotency key, so it pays out at most once. `payment_events`
-- records each provider event id once, so a webhook delivered twice is processed once.

CREATE TABLE recharge_packages (
    id          bigserial PRIMARY KEY,
    name        varchar(100) NOT NULL,
    coins       bigint NOT NULL CHECK (coins > 0),
    bonus_coins bigint NOT NULL DEFAULT 0 CHECK (bonus_coins >= 0),
    price_cents bigint NOT NULL CHECK (price_cents > 0),
    currency    char(3) NOT NULL DEFAULT 'USD',
    country     char(2),                 -- NULL: every country
    starts_at   timestamptz,
    ends_at     timestamptz,
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE recharge_orders (
    id           uuid PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id),
    package_id   bigint NOT NULL REFERENCES recharge_packages (id),
    coins        bigint NOT NULL,
    bonus_coins  bigint NOT NULL,
    price_cents  bigint NOT NULL,
    currency     char(3) NOT NULL,
    provider     text NOT NULL,
    provider_ref text,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'paid', 'fulfilled', 'failed', 'refunded')),
    txn_id       uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recharge_orders_user_idx ON recharge_orders (user_id, created_at DESC);
CREATE INDEX recharge_orders_paid_idx ON recharge_orders (updated_at) WHERE status = 'paid';

CREATE TABLE payment_events (
    provider    text NOT NULL,
    event_id    text NOT NULL,
    type        text NOT NULL,
    order_id    uuid,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_id)
);
