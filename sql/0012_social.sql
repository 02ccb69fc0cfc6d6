-- Why: issue 12 §1–§3 give users a social life: richer profiles, privacy settings, a follow graph
-- with exact counts, blocks that cut every path between two users, and stored notifications (the
-- follow notification first; §5 extends the table). The socket hot path (room:join, gift:send,
-- seat invites, presence) reads blocks and privacy from the in-process hot cache
-- (engine/rooms/cache.py), so their tables tell every engine process what to forget, as 0011 does.

ALTER TABLE users
    ADD COLUMN bio                 varchar(500),
    ADD COLUMN interests           text[] NOT NULL DEFAULT '{}',
    ADD COLUMN social_links        jsonb NOT NULL DEFAULT '[]',
    -- Hidden by default: the public profile never showed a date of birth before.
    ADD COLUMN birthday_visibility text NOT NULL DEFAULT 'hidden'
        CHECK (birthday_visibility IN ('full', 'month_day', 'hidden')),
    -- Cosmetic ids shown in rooms (frame_id, entry_animation_id, …), set by user:profileSync.
    ADD COLUMN cosmetics           jsonb NOT NULL DEFAULT '{}';

-- User search (GET /api/v1/users/search) pages through name and handle prefixes in byte order:
-- "C" collation indexes serve both the prefix range and the ORDER BY, with parameters (generic plans).
CREATE INDEX users_name_prefix_idx ON users ((lower(name) COLLATE "C"), id) WHERE deleted_at IS NULL;
CREATE INDEX users_handle_prefix_idx ON users ((lower(ltrim(signature, '@#')) COLLATE "C"), id)
    WHERE deleted_at IS NULL;

-- Who may see what (each field an audience), one row per user who changed a default.
CREATE DOMAIN privacy_audience AS text CHECK (VALUE IN ('everyone', 'followers', 'friends', 'nobody'));
CREATE TABLE user_privacy (
    user_id        bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    followers_list privacy_audience NOT NULL DEFAULT 'everyone',
    following_list privacy_audience NOT NULL DEFAULT 'everyone',
    current_room   privacy_audience NOT NULL DEFAULT 'everyone',
    online_status  privacy_audience NOT NULL DEFAULT 'everyone',
    activity       privacy_audience NOT NULL DEFAULT 'everyone',
    received_gifts privacy_audience NOT NULL DEFAULT 'everyone',
    -- Who may start a conversation with me (the direct messages of §6 read it).
    messages       text NOT NULL DEFAULT 'everyone' CHECK (messages IN ('everyone', 'followers', 'friends')),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- The follow graph. `id` orders the lists (keyset pagination, stable while rows are inserted).
CREATE TABLE user_followers (
    id           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    follower_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    following_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, following_id),
    CHECK (follower_id <> following_id)
);
CREATE INDEX user_followers_following_idx ON user_followers (following_id, id DESC);
CREATE INDEX user_followers_follower_idx ON user_followers (follower_id, id DESC);

-- Counts kept beside the graph, changed in the transaction that changes an edge (under a lock on
-- the pair of users), so they stay exact; apart from `users` so a follow does not make every engine
-- process forget the user's cached profile.
CREATE TABLE user_follow_counts (
    user_id         bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    followers_count integer NOT NULL DEFAULT 0 CHECK (followers_count >= 0),
    following_count integer NOT NULL DEFAULT 0 CHECK (following_count >= 0),
    friends_count   integer NOT NULL DEFAULT 0 CHECK (friends_count >= 0)
);

CREATE TABLE user_blocks (
    id         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    blocker_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason     varchar(255),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
CREATE INDEX user_blocks_blocked_idx ON user_blocks (blocked_id);
CREATE INDEX user_blocks_list_idx ON user_blocks (blocker_id, id DESC);

-- Stored notifications. Minimal for the follow graph; §5 (notifications) adds preferences,
-- retention and the REST routes on top of this table.
CREATE TABLE notifications (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    actor_id    bigint REFERENCES users (id) ON DELETE SET NULL,
    target_type text,
    target_id   text,
    text        varchar(500) NOT NULL DEFAULT '',
    data        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id, kind, actor_id) WHERE read_at IS NULL;

-- A block concerns both users: each one's cached block set is forgotten.
CREATE TRIGGER user_blocks_blocker_cache_notify AFTER INSERT OR UPDATE OR DELETE ON user_blocks
    FOR EACH ROW EXECUTE FUNCTION flylive_cache_notify('blocks', 'blocker_id');
CREATE TRIGGER user_blocks_blocked_cache_notify AFTER INSERT OR UPDATE OR DELETE ON user_blocks
    FOR EACH ROW EXECUTE FUNCTION flylive_cache_notify('blocks', 'blocked_id');
CREATE TRIGGER user_privacy_cache_notify AFTER INSERT OR UPDATE OR DELETE ON user_privacy
    FOR EACH ROW EXECUTE FUNCTION flylive_cache_notify('privacy', 'user_id');
