-- Why: agencies (issue 13 §1–§2, docs/agency.md). sql/0005 gave the gift split the two tables it
-- reads (`agencies`, `agency_members`); this adds what applying for, reviewing, running and closing
-- an agency needs, membership roles and history, join requests and invitations, and the staff
-- permission that reviews applications. Rows inserted the old way (name, owner_id) stay approved
-- and active, so the gift split and its tests read them as before.

-- Agencies: the application (reviewed by staff) and the profile the owner edits.
ALTER TABLE agencies DROP CONSTRAINT agencies_status_check;
ALTER TABLE agencies ADD CONSTRAINT agencies_status_check
    CHECK (status IN ('active', 'inactive', 'suspended', 'closed'));
-- Names are unique without regard to case (a rejected application gives its name back).
ALTER TABLE agencies DROP CONSTRAINT agencies_name_key;
ALTER TABLE agencies
    ADD COLUMN review_status    text NOT NULL DEFAULT 'approved'
        CHECK (review_status IN ('pending', 'approved', 'rejected')),
    ADD COLUMN rejection_reason varchar(500),
    ADD COLUMN country          char(2),
    ADD COLUMN phone            varchar(32),
    ADD COLUMN address          varchar(255),
    ADD COLUMN logo_url         varchar(2048),
    -- The applicant's ID document references, sealed with AES-256-GCM (AGENCY_ID_DOCS_KEY): the
    -- database alone never reveals them.
    ADD COLUMN id_front_sealed  bytea,
    ADD COLUMN id_back_sealed   bytea,
    ADD COLUMN referee_user_id  bigint REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN description      varchar(500),
    ADD COLUMN rules            varchar(2000),
    ADD COLUMN is_recruiting    boolean NOT NULL DEFAULT true,
    ADD COLUMN member_limit     integer NOT NULL DEFAULT 50 CHECK (member_limit >= 1),
    ADD COLUMN reviewed_by      bigint REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN reviewed_at      timestamptz,
    ADD COLUMN closed_by        bigint REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN closed_at        timestamptz,
    ADD COLUMN updated_at       timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT agencies_review_shape CHECK (
        (review_status = 'rejected') = (rejection_reason IS NOT NULL)
        AND (status = 'closed') = (closed_at IS NOT NULL));
CREATE UNIQUE INDEX agencies_name_ci ON agencies (lower(name)) WHERE review_status <> 'rejected';
-- One live agency per owner: at most one pending application, and none while one's agency is
-- approved and open (a rejected application or a closed agency no longer counts).
CREATE UNIQUE INDEX agencies_one_per_owner ON agencies (owner_id)
    WHERE review_status <> 'rejected' AND status <> 'closed';
CREATE INDEX agencies_review_idx ON agencies (review_status, id);

-- The gift split (engine/gifts/store.py agency_of) reads only an agency's status: an owner editing
-- the description must not make every engine process forget its whole hot cache.
DROP TRIGGER agencies_cache_notify ON agencies;
CREATE TRIGGER agencies_cache_notify AFTER UPDATE OF status OR DELETE ON agencies
    FOR EACH STATEMENT EXECUTE FUNCTION flylive_cache_notify();

-- Membership: a role, and why a membership ended. The partial unique index of sql/0005
-- (agency_members_one_active) keeps a user in at most one agency at any instant; the row's trigger
-- (sql/0011) makes every process forget the user's cached agency at commit.
ALTER TABLE agency_members
    ADD COLUMN id          bigserial PRIMARY KEY,
    ADD COLUMN left_reason text CHECK (left_reason IN ('left', 'kicked', 'dissolved')),
    ADD CONSTRAINT agency_members_role_check CHECK (role IN ('owner', 'admin', 'moderator', 'member'));
CREATE INDEX agency_members_active_idx ON agency_members (agency_id, joined_at, user_id) WHERE left_at IS NULL;
-- One owner row per agency at a time.
CREATE UNIQUE INDEX agency_members_one_owner ON agency_members (agency_id) WHERE left_at IS NULL AND role = 'owner';

-- Every membership change, kept (the member rows end; these never change).
CREATE TABLE agency_member_events (
    id         bigserial PRIMARY KEY,
    agency_id  bigint NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('joined', 'left', 'kicked', 'dissolved', 'role_changed')),
    role       text,
    actor_id   bigint REFERENCES users (id) ON DELETE SET NULL,
    reason     varchar(500),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agency_member_events_agency_idx ON agency_member_events (agency_id, id);
CREATE INDEX agency_member_events_user_idx ON agency_member_events (user_id, id);

-- Join requests (a user asks), invitations (the agency asks) and leave requests (a member asks to
-- go: the owner decides, or staff for the owner's own), one pending of each kind per agency and user.
CREATE TABLE agency_requests (
    id           bigserial PRIMARY KEY,
    agency_id    bigint NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('join_request', 'invitation', 'leave_request')),
    message      varchar(500),
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'approved', 'rejected', 'accepted', 'declined', 'cancelled')),
    invited_by   bigint REFERENCES users (id) ON DELETE SET NULL,
    processed_by bigint REFERENCES users (id) ON DELETE SET NULL,
    reason       varchar(500),
    created_at   timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);
CREATE UNIQUE INDEX agency_requests_one_pending ON agency_requests (agency_id, user_id, kind) WHERE status = 'pending';
CREATE INDEX agency_requests_agency_idx ON agency_requests (agency_id, kind, status, id);
CREATE INDEX agency_requests_user_idx ON agency_requests (user_id, kind, status, id);

INSERT INTO permissions (name, description) VALUES ('agencies.review', 'Review agency applications, close agencies');
INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r CROSS JOIN permissions p
WHERE p.name = 'agencies.review' AND r.name IN ('admin', 'super_admin');
