-- Why: users buy coins from resellers (and resellers from the admin) by request. The legacy table
-- is kept with its codes (type 1 cash / 2 credit; status 1 pending / 2 approved / 3 rejected); an
-- approval moves coins through the wallet script with the request id as idempotency key, so a
-- request pays at most once (legacy could approve twice and pay twice).

CREATE TABLE coin_requests (
    id             bigserial PRIMARY KEY,
    amount         bigint NOT NULL CHECK (amount > 0),
    message        varchar(255),
    action_message varchar(255),
    proof_1        varchar(500),
    proof_2        varchar(500),
    proof_3        varchar(500),
    type           smallint NOT NULL CHECK (type IN (1, 2)),
    status         smallint NOT NULL DEFAULT 1 CHECK (status IN (1, 2, 3)),
    credit_days    smallint CHECK (credit_days BETWEEN 1 AND 365),
    user_id        bigint NOT NULL REFERENCES users (id),
    requested_from bigint NOT NULL REFERENCES users (id),
    updated_by     bigint REFERENCES users (id),
    txn_id         uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (type = 1 OR credit_days IS NOT NULL),
    CHECK (user_id <> requested_from)
);
CREATE INDEX coin_requests_supplier_idx ON coin_requests (requested_from, status, created_at DESC);
CREATE INDEX coin_requests_requester_idx ON coin_requests (user_id, created_at DESC);
