-- Reports and the moderation queue (issue 12 §4).
--
-- Users report a target (a user, a room, a room chat message, a direct message); every open report
-- on one target belongs to one open case, which staff assign and resolve with an action. A report
-- is a reporter's own row (what they said, what became of it: GET /api/v1/me/reports); the case is
-- the staff's (the queue, its priority, the action taken, the appeal against it).
--
-- Merging is the database's, not the code's: one reporter has at most one open report per target
-- and a target at most one open case (partial unique indexes), so concurrent reports upsert into the
-- same rows whatever order they run in.

CREATE TABLE moderation_cases (
    id              bigserial PRIMARY KEY,
    target_type     text NOT NULL CHECK (target_type IN ('user', 'room', 'message', 'dm_message')),
    target_id       text NOT NULL,
    -- The account an action falls on: the user reported, a room's owner, a message's sender.
    subject_user_id bigint REFERENCES users (id) ON DELETE CASCADE,
    room_id         bigint REFERENCES rooms (id) ON DELETE SET NULL,  -- a `message`'s room (its history), or the room reported
    source          text NOT NULL DEFAULT 'report' CHECK (source IN ('report', 'word_filter', 'report_threshold')),
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'reviewing', 'actioned', 'dismissed')),
    high_priority   boolean NOT NULL DEFAULT false,
    reasons         text[] NOT NULL DEFAULT '{}',
    -- What the target was when first reported (a message's text and sender): history is capped.
    snapshot        jsonb NOT NULL DEFAULT '{}',
    reporter_count  integer NOT NULL DEFAULT 0,
    filter_hits     integer NOT NULL DEFAULT 0,
    assignee_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    action          text CHECK (action IN ('warn', 'mute', 'suspend', 'ban', 'delete_message', 'dismiss')),
    action_until    timestamptz,
    note            text,
    resolved_by     bigint REFERENCES users (id) ON DELETE SET NULL,
    resolved_at     timestamptz,
    lifted_at       timestamptz,  -- an appeal overturned the action
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX moderation_cases_open_target_idx ON moderation_cases (target_type, target_id)
    WHERE state IN ('open', 'reviewing');
CREATE INDEX moderation_cases_queue_idx ON moderation_cases (state, high_priority DESC, reporter_count DESC, id);
-- Repeat offenders: a subject's actioned cases are counted for the queue's priority.
CREATE INDEX moderation_cases_subject_idx ON moderation_cases (subject_user_id, state);

CREATE TABLE reports (
    id              bigserial PRIMARY KEY,
    case_id         bigint NOT NULL REFERENCES moderation_cases (id) ON DELETE CASCADE,
    reporter_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_type     text NOT NULL,
    target_id       text NOT NULL,
    -- Whom the report is about is the case's (subject_user_id): not here, so that the reported user's
    -- data export (engine/gdpr/registry.py) shows the cases about them, never who reported them.
    reason          text NOT NULL,
    details         text,
    evidence_urls   text[] NOT NULL DEFAULT '{}',
    -- The case's state, copied when the case changes, so the merge index can name open reports.
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'reviewing', 'actioned', 'dismissed')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX reports_open_merge_idx ON reports (reporter_id, target_type, target_id)
    WHERE state IN ('open', 'reviewing');
CREATE INDEX reports_reporter_idx ON reports (reporter_id, id DESC);
CREATE INDEX reports_case_idx ON reports (case_id, id);
-- The automatic threshold counts a subject's distinct reporters over a recent window (through the
-- subject's cases, moderation_cases_subject_idx, and each case's reports).

CREATE TABLE moderation_appeals (
    id          bigserial PRIMARY KEY,
    case_id     bigint NOT NULL UNIQUE REFERENCES moderation_cases (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    details     text NOT NULL,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'upheld', 'overturned')),
    reviewed_by bigint REFERENCES users (id) ON DELETE SET NULL,
    reviewed_at timestamptz,
    note        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX moderation_appeals_state_idx ON moderation_appeals (state, id);

-- A platform mute: the user may not chat or speak on a seat in any room until `until`. The rooms'
-- hot path reads it from the hot cache (engine/rooms/cache.py), forgotten on "user:<id>".
CREATE TABLE platform_mutes (
    user_id    bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    until      timestamptz NOT NULL,
    reason     text,
    case_id    bigint REFERENCES moderation_cases (id) ON DELETE SET NULL,
    muted_by   bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER platform_mutes_cache_notify AFTER INSERT OR UPDATE OR DELETE ON platform_mutes
    FOR EACH ROW EXECUTE FUNCTION flylive_cache_notify('user', 'user_id');

INSERT INTO permissions (name, description) VALUES ('reports.review', 'Review reports, act on them and on appeals');
INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r CROSS JOIN permissions p
WHERE p.name = 'reports.review' AND r.name IN ('moderator', 'admin', 'super_admin');
