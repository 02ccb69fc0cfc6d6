-- Why: diamonds (what agency hosts earn) can be exchanged for coins by current and former agency
-- members, at an admin rate with a fee. The rate and fee are economy settings; the exchange itself
-- is a ledger transaction (kind `exchange`), so its history is the user's ledger.

INSERT INTO economy_settings (key, value) VALUES
    ('exchange_coins_per_diamond_bps', 10000),  -- 1 diamond = 1 coin
    ('exchange_fee_bps', 0),                    -- share of the coins kept as a fee (burned)
    ('exchange_daily_diamond_limit', 1000000);  -- diamonds a user may exchange per UTC day
