-- Why: issue 14 §2, badges and achievements (docs/progression.md "Badges"). A catalog of badges whose
-- rules are data, the badges users own (each at most once: UNIQUE (user_id, badge_id)), the ones they
-- wear (in order), and a queue of users to look at again, filled by triggers on the tables the rules
-- read so that rules are evaluated off the hot path (engine/progression/badges.py drains it).

CREATE TABLE badges (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9_]{2,40}$'),
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    category    text NOT NULL CHECK (category IN ('achievement', 'activity', 'personal', 'room', 'event')),
    rarity      text NOT NULL CHECK (rarity IN ('common', 'rare', 'epic', 'legendary')),
    icon_url    text NOT NULL DEFAULT '',
    rule        jsonb NOT NULL,   -- {"kind": ..., ...}: engine/progression/badges_model.py Rule
    is_active   boolean NOT NULL DEFAULT true,
    sort        integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_badges (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    badge_id     bigint NOT NULL REFERENCES badges (id),
    awarded_at   timestamptz NOT NULL DEFAULT now(),
    source       text NOT NULL,         -- 'rule', 'reward:<id>', 'ranking:<board>:<period>:<start>', 'event:<code>'
    announced_at timestamptz,           -- badge.earned pushed (NULL: still to push, see badges.announce)
    UNIQUE (user_id, badge_id)
);
CREATE INDEX user_badges_unannounced ON user_badges (id) WHERE announced_at IS NULL;

-- What a user wears, in order (position 0 first). Only owned badges (the foreign key to user_badges).
CREATE TABLE user_equipped_badges (
    user_id  bigint NOT NULL,
    badge_id bigint NOT NULL,
    position smallint NOT NULL CHECK (position >= 0),
    PRIMARY KEY (user_id, position),
    UNIQUE (user_id, badge_id),
    FOREIGN KEY (user_id, badge_id) REFERENCES user_badges (user_id, badge_id) ON DELETE CASCADE
);

-- The rooms' hot cache holds each user's public profile with its equipped badges: forget the user
-- when what they wear changes, and everyone when the catalog changes (an icon, a deactivation).
CREATE TRIGGER user_equipped_badges_cache_notify AFTER INSERT OR UPDATE OR DELETE ON user_equipped_badges
    FOR EACH ROW EXECUTE FUNCTION flylive_cache_notify('user', 'user_id');
CREATE TRIGGER badges_cache_notify AFTER UPDATE OR DELETE ON badges
    FOR EACH STATEMENT EXECUTE FUNCTION flylive_cache_notify();

-- Users whose rule inputs changed, and which input ('gifts', 'followers', 'vip', 'activity'). One row
-- per (user, reason) until the watcher drains it (FOR UPDATE SKIP LOCKED): a gift storm queues one
-- row per user, not one per gift.
CREATE TABLE badge_checks (
    user_id   bigint NOT NULL,
    reason    text NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, reason)
);

CREATE FUNCTION badge_check_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
-- TG_ARGV: the reason and the column holding the user id.
BEGIN
    INSERT INTO badge_checks (user_id, reason)
    VALUES ((to_jsonb(NEW) ->> TG_ARGV[1])::bigint, TG_ARGV[0])
    ON CONFLICT (user_id, reason) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER gift_stats_badge_check AFTER INSERT OR UPDATE ON gift_stats
    FOR EACH ROW EXECUTE FUNCTION badge_check_enqueue('gifts', 'user_id');
CREATE TRIGGER user_follow_counts_badge_check AFTER INSERT OR UPDATE OF followers_count ON user_follow_counts
    FOR EACH ROW EXECUTE FUNCTION badge_check_enqueue('followers', 'user_id');
CREATE TRIGGER users_vip_badge_check AFTER UPDATE OF vip_level ON users
    FOR EACH ROW WHEN (NEW.vip_level > OLD.vip_level) EXECUTE FUNCTION badge_check_enqueue('vip', 'id');
CREATE TRIGGER user_activity_badge_check AFTER INSERT ON user_activity
    FOR EACH ROW EXECUTE FUNCTION badge_check_enqueue('activity', 'user_id');

INSERT INTO economy_settings (key, value) VALUES
    ('badges_equipped_max', 3)   -- how many badges a user may wear at once
ON CONFLICT (key) DO NOTHING;

INSERT INTO badges (code, name, description, category, rarity, rule, sort) VALUES
    ('first_gift', 'First Gift', 'Sent your first gift.', 'achievement', 'common',
     '{"kind": "first_gift_sent"}', 10),
    ('generous_100', 'Generous', 'Sent 100 gifts.', 'achievement', 'rare', '{"kind": "gifts_sent", "count": 100}', 20),
    ('patron_1000', 'Patron', 'Sent 1,000 gifts.', 'achievement', 'epic', '{"kind": "gifts_sent", "count": 1000}', 30),
    ('adored_100', 'Adored', 'Received 100 gifts.', 'achievement', 'rare',
     '{"kind": "gifts_received", "count": 100}', 40),
    ('popular_100', 'Popular', 'Reached 100 followers.', 'personal', 'rare', '{"kind": "followers", "count": 100}', 50),
    ('star_1000', 'Star', 'Reached 1,000 followers.', 'personal', 'epic', '{"kind": "followers", "count": 1000}', 60),
    ('vip_holder', 'VIP', 'Held a VIP tier.', 'personal', 'rare', '{"kind": "vip_tier", "level": 1}', 70),
    ('flsvip_holder', 'FLSVIP', 'Held the FLSVIP tier.', 'personal', 'legendary', '{"kind": "vip_tier", "level": 7}', 80),
    ('regular_7', 'Regular', 'Active on 7 days.', 'activity', 'common', '{"kind": "days_active", "days": 7}', 90),
    ('loyal_30', 'Loyal', 'Active on 30 days.', 'activity', 'rare', '{"kind": "days_active", "days": 30}', 100),
    ('wealth_daily_top3', 'Daily Top Gifter', 'Top 3 of a day''s wealth ranking.', 'achievement', 'epic',
     '{"kind": "ranking_top", "board": "wealth", "period": "daily", "top": 3}', 110),
    ('charm_weekly_top3', 'Weekly Top Star', 'Top 3 of a week''s charm ranking.', 'achievement', 'legendary',
     '{"kind": "ranking_top", "board": "charm", "period": "weekly", "top": 3}', 120);
