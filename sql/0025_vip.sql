-- Why: issue 14 §4, VIP (docs/vip.md). The tiers VIP1–VIP6 and FLSVIP (level 7) are data: a price
-- per 30-day month and their privileges (jsonb), editable by staff. A user's VIP stays where the
-- rest of the engine reads it, `users.vip_level` and the new `users.vip_expires_at`; a level whose
-- expiry has passed counts as 0 everywhere (engine/accounts/vip_model.py: vip_level_at), and the
-- expiry job clears it. Each purchase, gift or reward grant is one `vip_purchases` row, pending
-- until the debit went through and the time was applied, so a crash between the two never takes
-- coins without giving VIP (the sweep finishes pending rows).

ALTER TABLE users ADD COLUMN vip_expires_at timestamptz;
-- Rows that held a level before VIP had an expiry keep it for one month.
UPDATE users SET vip_expires_at = now() + interval '30 days' WHERE vip_level > 0;
ALTER TABLE users ADD CONSTRAINT users_vip_expiry CHECK (vip_level = 0 OR vip_expires_at IS NOT NULL),
    ADD CONSTRAINT users_vip_level_range CHECK (vip_level BETWEEN 0 AND 7);
CREATE INDEX users_vip_expiry_idx ON users (vip_expires_at) WHERE vip_level > 0;

CREATE TABLE vip_tiers (
    level        smallint PRIMARY KEY CHECK (level BETWEEN 1 AND 7),
    name         varchar(20) NOT NULL UNIQUE,
    price_coins  bigint NOT NULL CHECK (price_coins > 0),   -- per 30-day month
    privileges   jsonb NOT NULL DEFAULT '{}',
    is_active    boolean NOT NULL DEFAULT true,             -- false: not on sale (holders keep it)
    updated_at   timestamptz NOT NULL DEFAULT now(),
    updated_by   bigint REFERENCES users (id) ON DELETE SET NULL
);
INSERT INTO vip_tiers (level, name, price_coins, privileges) VALUES
    (1, 'VIP1', 3000, '{"anti_mute": false, "anti_kick": false, "entry_effect": null, "badge": "vip1",
        "chat_bubble": null, "gift_xp_multiplier_bps": 10500, "daily_bonus_coins": 10}'),
    (2, 'VIP2', 9000, '{"anti_mute": false, "anti_kick": false, "entry_effect": null, "badge": "vip2",
        "chat_bubble": "vip2", "gift_xp_multiplier_bps": 11000, "daily_bonus_coins": 30}'),
    (3, 'VIP3', 24000, '{"anti_mute": false, "anti_kick": false, "entry_effect": "vip3", "badge": "vip3",
        "chat_bubble": "vip3", "gift_xp_multiplier_bps": 11500, "daily_bonus_coins": 80}'),
    (4, 'VIP4', 60000, '{"anti_mute": true, "anti_kick": false, "entry_effect": "vip4", "badge": "vip4",
        "chat_bubble": "vip4", "gift_xp_multiplier_bps": 12000, "daily_bonus_coins": 200}'),
    (5, 'VIP5', 150000, '{"anti_mute": true, "anti_kick": true, "entry_effect": "vip5", "badge": "vip5",
        "chat_bubble": "vip5", "gift_xp_multiplier_bps": 12500, "daily_bonus_coins": 500}'),
    (6, 'VIP6', 300000, '{"anti_mute": true, "anti_kick": true, "entry_effect": "vip6", "badge": "vip6",
        "chat_bubble": "vip6", "gift_xp_multiplier_bps": 13000, "daily_bonus_coins": 1000}'),
    (7, 'FLSVIP', 1000000, '{"anti_mute": true, "anti_kick": true, "entry_effect": "flsvip", "badge": "flsvip",
        "chat_bubble": "flsvip", "gift_xp_multiplier_bps": 15000, "daily_bonus_coins": 3000}');

-- The rooms' hot cache builds profiles (badge, entry effect) and seat guards from the tiers: a tier
-- edit makes every process forget everything (tiers change rarely; profiles embed them).
CREATE TRIGGER vip_tiers_cache_notify AFTER INSERT OR UPDATE OR DELETE ON vip_tiers
    FOR EACH STATEMENT EXECUTE FUNCTION flylive_cache_notify();

-- One purchase (the buyer is the recipient), gift (the buyer pays, the recipient gets it) or
-- reward grant (nobody pays). `seconds` is the time bought; `price_coins` what the buyer pays in
-- all (months × the tier's price when the row was made). pending → applied, or refused when the
-- wallet (or the downgrade rule) refused the debit; a refused row is tried again by a retry with
-- its key. `txn_id` is the burn transaction's id, the same on every attempt.
CREATE TABLE vip_purchases (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('purchase', 'gift', 'reward')),
    buyer_id        bigint REFERENCES users (id),
    recipient_id    bigint NOT NULL REFERENCES users (id),
    tier            smallint NOT NULL CHECK (tier BETWEEN 1 AND 7),
    months          integer NOT NULL DEFAULT 0 CHECK (months >= 0),
    seconds         bigint NOT NULL CHECK (seconds > 0),
    price_coins     bigint NOT NULL CHECK (price_coins >= 0),
    idempotency_key text NOT NULL,
    txn_id          uuid NOT NULL UNIQUE,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'refused')),
    refusal         text,
    mode            text CHECK (mode IN ('new', 'renew', 'upgrade', 'converted')),
    level_before    smallint,
    expires_before  timestamptz,
    level_after     smallint,
    expires_after   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    applied_at      timestamptz,
    -- false: applied inside another domain's transaction (a reward), `vip.updated` not sent yet
    told            boolean NOT NULL DEFAULT true,
    CHECK ((kind = 'reward') = (buyer_id IS NULL))
);
-- A retried request (same buyer, same key) finds its row; reward grants are keyed by the reward.
CREATE UNIQUE INDEX vip_purchases_key ON vip_purchases (coalesce(buyer_id, 0), idempotency_key);
CREATE INDEX vip_purchases_recipient_idx ON vip_purchases (recipient_id, id);
CREATE INDEX vip_purchases_buyer_idx ON vip_purchases (buyer_id, id) WHERE buyer_id IS NOT NULL;
CREATE INDEX vip_purchases_pending_idx ON vip_purchases (created_at) WHERE status = 'pending';
CREATE INDEX vip_purchases_untold_idx ON vip_purchases (id) WHERE NOT told;

INSERT INTO economy_settings (key, value) VALUES
    ('vip_max_months', 12);   -- the most months one purchase or gift may buy
