-- Why: the dashboard's overview (issue 15 §2) reads "today" and "the last hour" from the ledger,
-- the recharge orders and the users on every refresh of every open overview (an event every few
-- seconds). Without these indexes each refresh would scan those whole tables. The refresh interval
-- is a live setting (read at each event), so operators can slow it down under load.

INSERT INTO economy_settings (key, value) VALUES
    ('admin_overview_refresh_seconds', 5)
ON CONFLICT (key) DO NOTHING;

-- New users today (the Users section filters by created too, hence IF NOT EXISTS).
CREATE INDEX IF NOT EXISTS users_created_at_idx ON users (created_at);
-- Revenue today: orders that reached `fulfilled` (paid and credited) since the day began.
CREATE INDEX IF NOT EXISTS recharge_orders_fulfilled_idx ON recharge_orders (updated_at) WHERE status = 'fulfilled';
-- Coins spent today besides gifts (gifts have ledger_transactions_gift_time_idx, sql/0028).
CREATE INDEX IF NOT EXISTS ledger_transactions_spend_time_idx ON ledger_transactions (created_at)
    WHERE kind IN ('vip_purchase', 'mall_purchase');
