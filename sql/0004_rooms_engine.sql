-- Why: the rooms engine needs a room's full profile (seat count, tags, category, announcement,
-- open/closed) as the system of record behind its live Redis state, and the two moderation lists
-- the owner manages: room admins and bans (with optional expiry). The live seats, members and
-- chat stay in Redis.

ALTER TABLE rooms
    ADD COLUMN description  varchar(500),
    ADD COLUMN category     varchar(40),
    ADD COLUMN region       varchar(40),
    ADD COLUMN tags         text[] NOT NULL DEFAULT '{}',
    ADD COLUMN seat_count   smallint NOT NULL DEFAULT 15 CHECK (seat_count BETWEEN 1 AND 30),
    ADD COLUMN announcement varchar(800),
    ADD COLUMN is_closed    boolean NOT NULL DEFAULT false,
    ADD COLUMN closed_at    timestamptz;
CREATE INDEX rooms_category_idx ON rooms (category) WHERE deleted_at IS NULL;
CREATE INDEX rooms_tags_idx ON rooms USING gin (tags);

CREATE TABLE room_admins (
    room_id    bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    granted_by bigint REFERENCES users (id) ON DELETE SET NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);

CREATE TABLE room_bans (
    id         bigserial PRIMARY KEY,
    room_id    bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    banned_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    reason     varchar(255),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,            -- NULL: permanent
    lifted_at  timestamptz,
    lifted_by  bigint REFERENCES users (id) ON DELETE SET NULL
);
-- At most one ban in force per user and room; an expired ban is lifted before a new one is added.
CREATE UNIQUE INDEX room_bans_active ON room_bans (room_id, user_id) WHERE lifted_at IS NULL;
