-- Why: the agency's social side (issue 13 §4, docs/agency.md "Announcements and chat"): the
-- announcements its owner and admins post to the members. The agency chat keeps no table: its
-- recent history lives in Redis, as room chat's does.
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
