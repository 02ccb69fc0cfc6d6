-- Why: issue 14 §5, campaigns (docs/progression.md "Campaigns"): a staff-defined window, a rule
-- (N gifts during the window, or the top senders by coins — of one gift or of any), prizes paid
-- through the reward ledger (sql/0026) and a budget that can't be overspent under concurrency.
--
-- The budget rule is the CHECK below plus one statement: a payer reserves a prize's coins with
-- `UPDATE campaigns SET spent_coins = spent_coins + n WHERE id = … AND spent_coins + n <= budget_coins`
-- in the transaction that records the reward; concurrent payers queue on the row lock and each
-- re-checks the condition on the row as the one before left it, so no interleaving goes over.
-- Progress is filled by a trigger on the gift ledger in the flusher's transaction, as gift_stats
-- (sql/0029) and agency income (sql/0020): once per gift transaction, nothing on the socket path.

CREATE TABLE campaigns (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code         text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9_]{2,40}$'),  -- also an `event` badge's code
    title        text NOT NULL,
    description  text NOT NULL DEFAULT '',
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    rule         jsonb NOT NULL,   -- {"kind": "gift_count" | "top_senders", ...}: campaigns_model.Rule
    prizes       jsonb NOT NULL,   -- [{rank_from, rank_to, items}]: campaigns_model.Prize
    budget_coins bigint NOT NULL CHECK (budget_coins >= 0),
    spent_coins  bigint NOT NULL DEFAULT 0 CHECK (spent_coins >= 0),
    state        text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'active', 'closed', 'cancelled')),
    created_by   bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz,
    CHECK (ends_at > starts_at),
    CHECK (spent_coins <= budget_coins)
);
-- The trigger's lookup (and the close job's): running campaigns only, a handful of rows.
CREATE INDEX campaigns_running ON campaigns (ends_at) WHERE state = 'active';
-- The public list: active and upcoming ones by start.
CREATE INDEX campaigns_listed ON campaigns (starts_at, id) WHERE state IN ('active', 'closed');

-- One row per (campaign, sender). `gift_count` is gifts given (quantities once per recipient, as
-- gift_stats counts them), `coins` their value (what the sender's wallet paid). `qualified_at`:
-- when a gift_count rule's N was reached (the gift's ledger time); `outcome` what paying it gave.
CREATE TABLE campaign_progress (
    campaign_id  bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    user_id      bigint NOT NULL,   -- no foreign key: nothing may stop the ledger's flush
    gift_count   bigint NOT NULL DEFAULT 0,
    coins        bigint NOT NULL DEFAULT 0,
    last_gift_at timestamptz NOT NULL,   -- ties: who reached the score first
    qualified_at timestamptz,
    rank         integer,                -- a top_senders winner's rank at close
    reward_id    bigint REFERENCES rewards (id) ON DELETE SET NULL,
    outcome      text CHECK (outcome IN ('paid', 'budget_exhausted', 'duplicate', 'failed')),
    decided_at   timestamptz,
    PRIMARY KEY (campaign_id, user_id)
);
-- What the watcher still has to pay (gift_count qualifiers without an outcome).
CREATE INDEX campaign_progress_to_pay ON campaign_progress (qualified_at) WHERE qualified_at IS NOT NULL
    AND outcome IS NULL;

-- Each gift transaction adds its count and coins to the sender's progress in every active campaign
-- whose window [starts_at, ends_at) holds the gift's ledger time and whose gift filter (if any) is
-- the gift. Malformed metadata gives no row (as sql/0029): nothing may stop the ledger's flush.
CREATE FUNCTION campaign_progress_from_gift() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    m jsonb := NEW.metadata;
    given bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM campaigns WHERE state = 'active' AND ends_at > NEW.created_at
                   AND starts_at <= NEW.created_at) THEN
        RETURN NULL;  -- the usual case: one index probe
    END IF;
    IF NEW.initiator_id IS NULL OR jsonb_typeof(m -> 'recipients') IS DISTINCT FROM 'array'
       OR coalesce(m ->> 'price', '') !~ '^[0-9]{1,9}$' OR coalesce(m ->> 'quantity', '') !~ '^[0-9]{1,9}$'
       OR coalesce(NEW.ref_id, '') !~ '^[0-9]{1,18}$' THEN
        RETURN NULL;
    END IF;
    given := (m ->> 'quantity')::bigint * (SELECT count(DISTINCT x) FROM jsonb_array_elements_text(m -> 'recipients')
                                           AS x WHERE x ~ '^[0-9]{1,18}$');
    IF given = 0 THEN
        RETURN NULL;
    END IF;
    -- In campaign id order: two flushers adding to one sender's rows lock them in the same order.
    INSERT INTO campaign_progress AS p (campaign_id, user_id, gift_count, coins, last_gift_at, qualified_at)
    SELECT c.id, NEW.initiator_id, given, given * (m ->> 'price')::bigint, NEW.created_at,
           CASE WHEN c.rule ->> 'kind' = 'gift_count' AND given >= (c.rule ->> 'count')::bigint
                THEN NEW.created_at END
    FROM campaigns c
    WHERE c.state = 'active' AND c.starts_at <= NEW.created_at AND c.ends_at > NEW.created_at
      AND (c.rule ->> 'gift_id' IS NULL OR c.rule ->> 'gift_id' = NEW.ref_id)
    ORDER BY c.id
    ON CONFLICT (campaign_id, user_id) DO UPDATE
        SET gift_count = p.gift_count + EXCLUDED.gift_count, coins = p.coins + EXCLUDED.coins,
            last_gift_at = greatest(p.last_gift_at, EXCLUDED.last_gift_at),
            qualified_at = CASE
                WHEN p.qualified_at IS NULL AND p.gift_count + EXCLUDED.gift_count
                     >= (SELECT (rule ->> 'count')::bigint FROM campaigns WHERE id = p.campaign_id
                         AND rule ->> 'kind' = 'gift_count')
                THEN NEW.created_at ELSE p.qualified_at END;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_transactions_campaign_progress AFTER INSERT ON ledger_transactions
    FOR EACH ROW WHEN (NEW.kind = 'gift') EXECUTE FUNCTION campaign_progress_from_gift();

INSERT INTO economy_settings (key, value) VALUES
    ('campaign_close_grace_seconds', 120)   -- wait this long after ends_at before closing (late flushes count)
ON CONFLICT (key) DO NOTHING;
