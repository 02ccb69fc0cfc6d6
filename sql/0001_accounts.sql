-- Why: every later feature checks who is acting and what they may do. This creates the accounts
-- (users with the legacy Laravel fields, so legacy clients keep their field names), the roles and
-- named permissions checked by engine.auth.permissions, login sessions holding rotating refresh
-- tokens, and the audit log written by every privileged action.

CREATE TABLE users (
    id                  bigserial PRIMARY KEY,
    name                varchar(100) NOT NULL,
    -- Legacy API users got a synthetic "<signature>@flylive.com"; new accounts may have none.
    email               varchar(255) UNIQUE,
    phone               varchar(20) UNIQUE,
    signature           varchar(50) NOT NULL UNIQUE,
    password_hash       text NOT NULL,
    country             char(2),
    gender              smallint CHECK (gender IN (1, 2, 3)),
    dob                 date,
    avatar_image        varchar(500),
    animated_src        varchar(255),
    static_src          varchar(255),
    status              text NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'suspended', 'banned')),
    suspended_until     timestamptz,
    is_blocked          boolean NOT NULL DEFAULT false,
    blocked_at          timestamptz,
    block_reason        varchar(255),
    social_provider     varchar(50),
    social_provider_id  varchar(255),
    wealth_xp           numeric(16, 4) NOT NULL DEFAULT 0,
    charm_xp            numeric(16, 4) NOT NULL DEFAULT 0,
    room_xp             numeric(16, 4) NOT NULL DEFAULT 0,
    vip_level           smallint NOT NULL DEFAULT 0 CHECK (vip_level >= 0),
    -- Access tokens issued before this instant are rejected (logout everywhere, ban, reset).
    tokens_valid_after  timestamptz NOT NULL DEFAULT 'epoch',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz
);
CREATE INDEX users_name_idx ON users (name);
CREATE INDEX users_country_idx ON users (country);
CREATE INDEX users_status_idx ON users (status) WHERE status <> 'active';

CREATE TABLE roles (
    id          smallserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT ''
);

CREATE TABLE permissions (
    id          smallserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT ''
);

CREATE TABLE role_permissions (
    role_id       smallint NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id smallint NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission_id)
);

CREATE TABLE user_roles (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id    smallint NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    granted_by bigint REFERENCES users (id) ON DELETE SET NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role_id)
);

-- One row per login: the family of refresh tokens that rotate from it.
CREATE TABLE auth_sessions (
    id             uuid PRIMARY KEY,
    user_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    revoked_reason text,
    user_agent     varchar(255),
    ip             inet
);
CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id) WHERE revoked_at IS NULL;

-- Only the SHA-256 of a refresh token is stored; used_at marks a rotated (spent) token, and
-- presenting a spent token again revokes its whole session (theft detection).
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    bigint REFERENCES users (id) ON DELETE SET NULL,
    action      text NOT NULL,
    target_type text,
    target_id   text,
    ip          inet,
    request_id  text,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at DESC);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, at DESC);
