-- Why: registration creates each user's own room (legacy rule) and GET /api/user returns it, so the
-- legacy rooms table arrives with the accounts. The rooms engine extends it in later migrations.
-- The legacy schema allowed several rooms per user; the partial unique index enforces one.

CREATE TABLE rooms (
    id                      bigserial PRIMARY KEY,
    user_id                 bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    theme_id                bigint,
    popularity_index        integer NOT NULL DEFAULT 0 CHECK (popularity_index >= 0),
    country                 char(2),
    name                    varchar(100) NOT NULL UNIQUE,
    greetings               text,
    logo                    varchar(500),
    can_tourists_speak      boolean NOT NULL DEFAULT true,
    can_tourists_send_text  boolean NOT NULL DEFAULT true,
    can_tourists_send_files boolean NOT NULL DEFAULT true,
    is_hidden               boolean NOT NULL DEFAULT false,
    password_hash           text,
    type                    smallint NOT NULL DEFAULT 1 CHECK (type IN (1, 2)),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz
);
CREATE UNIQUE INDEX rooms_one_per_owner ON rooms (user_id) WHERE deleted_at IS NULL;
CREATE INDEX rooms_popularity_idx ON rooms (popularity_index DESC) WHERE deleted_at IS NULL;
CREATE INDEX rooms_country_idx ON rooms (country);
