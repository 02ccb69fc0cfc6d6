-- Why: issue 12 §8, GDPR. Three records the engine did not keep:
--   * consents: which version of each policy (CONSENT_POLICIES: terms, privacy, …) a user accepted,
--     when, and how (`register` through v1, `accepted` later, `legacy_implied` for the legacy
--     /api/register screen, whose wording implies acceptance). A new version makes it due again.
--   * data exports: a job per request, claimed by one engine process (FOR UPDATE SKIP LOCKED plus a
--     lease and a claim token, so two processes never both write one); the gzip archive is kept
--     here, in PostgreSQL, so that whichever process answers the signed download link can serve it.
--   * account deletions: requested with the password, cancelled by logging in during the grace
--     period, then purged (anonymised) by a job. The request sets users.deleted_at (the account then
--     answers 404 everywhere, as a deleted one); the phone, email and name stay until the purge,
--     because logging in to cancel needs them.

CREATE TABLE user_consents (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    policy      text NOT NULL,
    version     text NOT NULL,
    source      text NOT NULL CHECK (source IN ('register', 'accepted', 'legacy_implied')),
    accepted_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, policy, version)
);

CREATE TABLE gdpr_exports (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state         text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    tables_total  integer NOT NULL DEFAULT 0,
    tables_done   integer NOT NULL DEFAULT 0,
    rows_exported bigint NOT NULL DEFAULT 0,
    -- The running job's holder: a process writes progress and the archive only while its claim is
    -- the row's and its lease has not run out (another process takes over an expired lease).
    claim         uuid,
    lease_until   timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    archive       bytea,                 -- gzip of the JSON archive; dropped when the link expires
    archive_bytes integer,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    expires_at    timestamptz            -- the download link's end (finished_at + EXPORT_LINK_TTL_SECONDS)
);
-- One export in progress per user (a second request while one runs is refused, also under a race).
CREATE UNIQUE INDEX gdpr_exports_one_open ON gdpr_exports (user_id) WHERE state IN ('queued', 'running');
CREATE INDEX gdpr_exports_open_idx ON gdpr_exports (id) WHERE state IN ('queued', 'running');
CREATE INDEX gdpr_exports_archived_idx ON gdpr_exports (expires_at) WHERE archive IS NOT NULL;
CREATE INDEX gdpr_exports_user_idx ON gdpr_exports (user_id, id DESC);

CREATE TABLE account_deletions (
    user_id      bigint PRIMARY KEY REFERENCES users (id),
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'cancelled', 'purged')),
    requested_at timestamptz NOT NULL DEFAULT now(),
    purge_after  timestamptz NOT NULL,
    cancelled_at timestamptz,
    purged_at    timestamptz
);
CREATE INDEX account_deletions_due_idx ON account_deletions (purge_after) WHERE state = 'pending';
