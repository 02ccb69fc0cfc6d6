-- Why: the gift statistics (sql/0029) were folded by a row trigger: one upsert per gift transaction
-- in the ledger flush. A flushed batch holds many gifts between the same people (a sender tapping the
-- same gift to the same host), so the statement trigger below folds the whole INSERT at once: one
-- upsert for the batch, grouped by row key first (each gift_stats row touched once, in key order, so
-- two flushers never lock the same rows in opposite orders). Same rows, same checks, fewer writes.
DROP TRIGGER ledger_transactions_gift_stats ON ledger_transactions;
DROP FUNCTION gift_stats_from_gift();

CREATE FUNCTION gift_stats_from_gifts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO gift_stats AS g (user_id, slot, direction, other_id, gift_id, quantity, coins)
    SELECT CASE WHEN d.dir = 'sent' THEN t.initiator_id ELSE r.id END AS user_id,
           date_bin('15 minutes', t.created_at, timestamptz '2000-01-01 00:00:00+00') AS slot, d.dir,
           CASE WHEN d.dir = 'sent' THEN r.id ELSE t.initiator_id END AS other_id, t.ref_id::bigint AS gift_id,
           sum((t.metadata ->> 'quantity')::bigint),
           sum((t.metadata ->> 'price')::bigint * (t.metadata ->> 'quantity')::bigint)
    FROM new_rows t
    CROSS JOIN LATERAL (SELECT DISTINCT x::bigint AS id FROM jsonb_array_elements_text(t.metadata -> 'recipients') AS x
                        WHERE x ~ '^[0-9]{1,18}$') AS r
    CROSS JOIN (VALUES ('sent'), ('received')) AS d (dir)
    WHERE t.kind = 'gift' AND t.initiator_id IS NOT NULL AND jsonb_typeof(t.metadata -> 'recipients') = 'array'
      AND coalesce(t.metadata ->> 'price', '') ~ '^[0-9]{1,9}$'
      AND coalesce(t.metadata ->> 'quantity', '') ~ '^[0-9]{1,9}$'
      AND coalesce(t.ref_id, '') ~ '^[0-9]{1,18}$'
    GROUP BY 1, 2, 3, 4, 5
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (user_id, slot, direction, other_id, gift_id) DO UPDATE
        SET quantity = g.quantity + EXCLUDED.quantity, coins = g.coins + EXCLUDED.coins;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_transactions_gift_stats AFTER INSERT ON ledger_transactions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION gift_stats_from_gifts();
