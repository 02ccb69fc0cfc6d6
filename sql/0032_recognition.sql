-- Why: issue 14 §5, recognition (docs/progression.md "Recognition"). A level-up at or above a
-- threshold, a rare badge and a top finish of a closed ranking period are announced in the rooms the
-- user is in (`room:recognition`) and to their followers (notifications of kind `recognition`).
-- Each is recorded here in the transaction that made it (the level watcher's, the badge award's, the
-- ranking snapshot's); UNIQUE (user_id, kind, ref) makes each announced once, however often its source
-- runs. Delivery happens after the commit; `announced_at` stays NULL until it did, so a sweep on every
-- process (engine/progression/recognition.py) delivers whatever a crash left behind.

CREATE TABLE recognitions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('level', 'badge', 'ranking')),
    -- level: '<type>:<level>'; badge: the badge id; ranking: '<board>:<period>:<start>'
    ref          text NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{}',   -- what the announcement shows (recognition_model.py)
    created_at   timestamptz NOT NULL DEFAULT now(),
    announced_at timestamptz,                   -- delivered to the rooms and the followers (NULL: still to do)
    UNIQUE (user_id, kind, ref)
);
CREATE INDEX recognitions_unannounced ON recognitions (id) WHERE announced_at IS NULL;

INSERT INTO economy_settings (key, value) VALUES
    ('recognition_level_min', 10),          -- a wealth/charm level rise to this or above is recognised
    ('recognition_badge_rarity_min', 2),    -- badge rarity rank: 1 common, 2 rare, 3 epic, 4 legendary
    ('recognition_ranking_top', 3),         -- ranks 1..this of a closed ranking period are recognised
    ('recognition_followers_max', 10000)    -- followers notified per recognition (paged in chunks)
ON CONFLICT (key) DO NOTHING;
