-- Why: the admin dashboard (issue 15, admin_ui/) signs staff in with a cookie, not a bearer token.
-- A session is a row: the cookie carries a random token whose SHA-256 is the key (a database leak
-- gives no usable cookie), each session has its own CSRF token, and it ends on logout, on the idle
-- timeout or at its absolute age (economy settings below, read at each request). A staff member may
-- add a TOTP second factor; its secret is sealed (AES-GCM, engine/staff/model.py) at rest.

INSERT INTO permissions (name, description) VALUES
    ('dashboard.access', 'Sign in to the admin dashboard');
INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r, permissions p
WHERE p.name = 'dashboard.access' AND r.name IN ('super_admin', 'admin', 'moderator', 'finance', 'support');

CREATE TABLE staff_sessions (
    token_hash   bytea PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    -- false until the second factor is given (only for staff who enrolled one)
    verified     boolean NOT NULL,
    ip           inet,
    user_agent   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz,
    end_reason   text CHECK (end_reason IN ('logout', 'idle', 'expired', 'revoked'))
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_id) WHERE ended_at IS NULL;

CREATE TABLE staff_totp (
    user_id      bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       bytea NOT NULL,          -- sealed
    enabled_at   timestamptz,             -- null while enrolling (the QR code shown, no code confirmed yet)
    last_step    bigint NOT NULL DEFAULT 0, -- the last 30-second step accepted: a code works once
    created_at   timestamptz NOT NULL DEFAULT now()
);

INSERT INTO economy_settings (key, value) VALUES
    ('admin_idle_timeout_seconds', 1800),
    ('admin_session_max_seconds', 43200);
