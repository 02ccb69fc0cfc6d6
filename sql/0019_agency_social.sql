-- Why: the agency's social side (issue 13 §4, docs/agency.md "Announcements, chat and events"): the
-- announcements its owner and admins post to the members, and the agency events they are reminded
-- of. The agency chat keeps no table: its recent history lives in Redis, as room chat's does.
CREATE TABLE agency_announcements (
    id         bigserial PRIMARY KEY,
    agency_id  bigint NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    -- NULL once the author's account is purged (the announcement stays the agency's).
    author_id  bigint REFERENCES users (id) ON DELETE SET NULL,
    title      varchar(100) NOT NULL,
    text       varchar(2000) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agency_announcements_agency_idx ON agency_announcements (agency_id, id);

-- Agency events (a title, a start, optionally the room it happens in): every member is reminded
-- once, shortly before the start. `reminded_at` is set by the reminder sweep that claims the row
-- (FOR UPDATE SKIP LOCKED), so two engine processes never remind of one event twice.
CREATE TABLE agency_events (
    id          bigserial PRIMARY KEY,
    agency_id   bigint NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    title       varchar(100) NOT NULL,
    starts_at   timestamptz NOT NULL,
    room_id     bigint REFERENCES rooms (id) ON DELETE SET NULL,
    reminded_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agency_events_agency_idx ON agency_events (agency_id, starts_at, id);
CREATE INDEX agency_events_due_idx ON agency_events (starts_at) WHERE reminded_at IS NULL;
