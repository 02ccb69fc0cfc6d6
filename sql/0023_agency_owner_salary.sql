-- Why: issue 13 §3, the owner's side of agency income (docs/agency.md "Owner income, advances and
-- salary exchange"): advances on the month's agency share (ASP) and the owner's Salary Exchange
-- Requests (the agency's coins → USD, decided by staff).
--
-- Neither table holds money: every amount here is also a ledger transaction (sql/0005, sql/0020),
-- and these rows only say which request it answered. The unique constraints make each request
-- happen once whatever is retried or raced.

-- An advance paid to the agency's USD account (ledger kind `agency_salary_advance`, mint → agency).
-- `month` is the business month whose ASP it draws on; the cap (agency_advance_max_bps of that
-- month's estimated share) is checked with the agency's row locked, so two advances racing at the
-- cap cannot both pass.
CREATE TABLE agency_salary_advances (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agency_id       bigint NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    month           date NOT NULL CHECK (extract(day FROM month) = 1),
    usd_cents       bigint NOT NULL CHECK (usd_cents > 0),
    requested_by    bigint REFERENCES users (id) ON DELETE SET NULL,
    idempotency_key text NOT NULL,
    txn_id          uuid NOT NULL UNIQUE REFERENCES ledger_transactions (txn_id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agency_id, idempotency_key)
);
CREATE INDEX agency_salary_advances_month_idx ON agency_salary_advances (agency_id, month, id);

-- A Salary Exchange Request: `coins` of the agency's coin balance set aside in escrow:<id> at the
-- request (ledger kind `agency_salary_exchange`), then burned for `usd_cents` minted into the
-- agency's USD account on approval, or handed back on rejection. The rate is fixed at the request
-- (what the owner was shown is what staff approve). One pending request per agency at a time.
CREATE TABLE agency_salary_exchanges (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agency_id       bigint NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    coins           bigint NOT NULL CHECK (coins > 0),
    usd_cents       bigint NOT NULL CHECK (usd_cents > 0),
    coins_per_usd   integer NOT NULL CHECK (coins_per_usd > 0),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    reason          text,
    requested_by    bigint REFERENCES users (id) ON DELETE SET NULL,
    processed_by    bigint REFERENCES users (id) ON DELETE SET NULL,
    idempotency_key text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz,
    UNIQUE (agency_id, idempotency_key)
);
CREATE UNIQUE INDEX agency_salary_exchanges_one_pending ON agency_salary_exchanges (agency_id)
    WHERE status = 'pending';
CREATE INDEX agency_salary_exchanges_agency_idx ON agency_salary_exchanges (agency_id, id);
CREATE INDEX agency_salary_exchanges_status_idx ON agency_salary_exchanges (status, id);
