-- Why: issue 14 §1, wealth, charm and room levels (docs/progression.md "Levels"). The flusher already
-- adds gift XP to users.wealth_xp / charm_xp in its batch transaction; this adds room XP (coins spent
-- in a room) beside it, the admin-editable ladders, and triggers that turn an XP change into a level
-- in that same statement, so the gift path and the flush gain no round trip. A level change is
-- written to the history and queued for the watcher (engine/progression/levels.py), which pushes
-- `user.progression`, announces in rooms and grants the level's rewards exactly once.

-- One ladder per type: level n is reached at min_xp. Level 1 starts at 0 and min_xp strictly rises
-- with the level (checked by PUT /api/v1/admin/levels/{type}; the unique keys keep it a ladder).
-- `rewards`: the reward items (engine/progression/rewards.py RewardItem) granted on reaching it.
CREATE TABLE levels (
    type    text NOT NULL CHECK (type IN ('wealth', 'charm', 'room')),
    level   integer NOT NULL CHECK (level >= 1),
    min_xp  bigint NOT NULL CHECK (min_xp >= 0),
    rewards jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(rewards) = 'array'),
    PRIMARY KEY (type, level),
    UNIQUE (type, min_xp),
    CHECK ((level = 1) = (min_xp = 0))
);

-- The defaults (the same for the three types): the reference's L1 = 0–10,855 and L2 = 10,856–20,000,
-- then from L4 on each step 15% longer than the one before, starting at 10,000 XP above L3, rounded to
-- a hundred (engine/progression/levels_model.py: default_ladder; a test keeps the two equal).
INSERT INTO levels (type, level, min_xp)
SELECT t.type, x.level, x.min_xp
FROM unnest(ARRAY['wealth', 'charm', 'room']) AS t (type),
     unnest(ARRAY[0, 10856, 20001, 31501, 44701, 59901, 77401, 97501, 120601, 147201, 177801, 213001, 253501,
                  300001, 353501, 415001, 485801, 567201, 660801, 768401, 892201, 1034501, 1198201, 1386401,
                  1602801, 1851701, 2138001, 2467201, 2845801, 3281201, 3781901, 4357701, 5019801, 5781201,
                  6656901, 7663901, 8821901, 10153701, 11685201, 13446401, 15471801, 17801001, 20479601,
                  23560001, 27102501, 31176401, 35861401, 41249101, 47444901, 54570101]::bigint[])
         WITH ORDINALITY AS x (min_xp, level);

-- A ladder edit tells every engine process to forget its copy (engine/rooms/cache.py hears the
-- topic "levels" on the hot cache's channel).
CREATE FUNCTION levels_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('flylive_cache', 'levels');
    RETURN NULL;
END $$;
CREATE TRIGGER levels_cache_notify AFTER INSERT OR UPDATE OR DELETE ON levels
    FOR EACH STATEMENT EXECUTE FUNCTION levels_cache_notify();

-- The level an amount of XP reaches on a type's ladder (1 below every step, which cannot happen
-- while level 1 starts at 0).
CREATE FUNCTION level_of(kind text, xp numeric) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT level FROM levels WHERE type = kind AND min_xp <= xp ORDER BY min_xp DESC LIMIT 1), 1)
$$;

ALTER TABLE users
    ADD COLUMN wealth_level integer NOT NULL DEFAULT 1,
    ADD COLUMN charm_level  integer NOT NULL DEFAULT 1;
-- Room XP: the coins gifts sent in the room cost their senders (1 coin = 1 XP; no multiplier).
ALTER TABLE rooms
    ADD COLUMN room_xp    bigint NOT NULL DEFAULT 0 CHECK (room_xp >= 0),
    ADD COLUMN room_level integer NOT NULL DEFAULT 1;

UPDATE users SET wealth_level = level_of('wealth', wealth_xp), charm_level = level_of('charm', charm_xp)
WHERE wealth_xp > 0 OR charm_xp > 0;

-- Every level change, rises and falls (a ladder edit can lower a level): the history a user reads
-- (GET /api/v1/me/levels/history). A room's changes name the room and its owner at the time.
CREATE TABLE level_changes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type       text NOT NULL CHECK (type IN ('wealth', 'charm', 'room')),
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id    bigint REFERENCES rooms (id) ON DELETE CASCADE,
    from_level integer NOT NULL,
    to_level   integer NOT NULL CHECK (to_level <> from_level),
    xp         numeric(16, 4) NOT NULL,
    reason     text NOT NULL DEFAULT 'xp' CHECK (reason IN ('xp', 'ladder')),
    changed_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((type = 'room') = (room_id IS NOT NULL))
);
CREATE INDEX level_changes_user_idx ON level_changes (user_id, id);

-- Changes the watcher has not handled yet: a queue, dequeued FOR UPDATE SKIP LOCKED in the
-- transaction that records their rewards (as sql/0021's agency_income_pending, and for its reason:
-- identities are taken before commit, so a cursor over ids could step over a slow transaction's).
CREATE TABLE level_changes_pending (
    change_id bigint PRIMARY KEY REFERENCES level_changes (id) ON DELETE CASCADE
);

CREATE FUNCTION level_change_record(kind text, who bigint, room bigint, before integer, after integer,
                                    xp numeric, why text) RETURNS void LANGUAGE sql AS $$
    WITH change AS (
        INSERT INTO level_changes (type, user_id, room_id, from_level, to_level, xp, reason)
        VALUES (kind, who, room, before, after, xp, why) RETURNING id
    )
    INSERT INTO level_changes_pending (change_id) SELECT id FROM change
$$;

-- Levels follow XP in the statement that changes it (the flusher's batch update): no reader ever sees
-- XP and a level that disagree.
CREATE FUNCTION users_levels() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.wealth_xp IS DISTINCT FROM OLD.wealth_xp THEN
        NEW.wealth_level := level_of('wealth', NEW.wealth_xp);
        IF NEW.wealth_level <> OLD.wealth_level THEN
            PERFORM level_change_record('wealth', NEW.id, NULL, OLD.wealth_level, NEW.wealth_level, NEW.wealth_xp, 'xp');
        END IF;
    END IF;
    IF NEW.charm_xp IS DISTINCT FROM OLD.charm_xp THEN
        NEW.charm_level := level_of('charm', NEW.charm_xp);
        IF NEW.charm_level <> OLD.charm_level THEN
            PERFORM level_change_record('charm', NEW.id, NULL, OLD.charm_level, NEW.charm_level, NEW.charm_xp, 'xp');
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER users_levels BEFORE UPDATE OF wealth_xp, charm_xp ON users
    FOR EACH ROW EXECUTE FUNCTION users_levels();

CREATE FUNCTION rooms_levels() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.room_xp IS DISTINCT FROM OLD.room_xp THEN
        NEW.room_level := level_of('room', NEW.room_xp);
        IF NEW.room_level <> OLD.room_level THEN
            PERFORM level_change_record('room', NEW.user_id, NEW.id, OLD.room_level, NEW.room_level, NEW.room_xp, 'xp');
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER rooms_levels BEFORE UPDATE OF room_xp ON rooms
    FOR EACH ROW EXECUTE FUNCTION rooms_levels();

-- Every flush adds room XP to the rooms gifted in: that alone must not make every process forget the
-- room's row (gift:send reads it from the hot cache), so the room's notification now leaves out
-- changes of room_xp alone; a new room_level still tells.
DROP TRIGGER rooms_cache_notify ON rooms;
CREATE TRIGGER rooms_cache_notify AFTER INSERT OR DELETE ON rooms
    FOR EACH ROW EXECUTE FUNCTION flylive_cache_notify('room', 'id');
CREATE TRIGGER rooms_cache_notify_update AFTER UPDATE ON rooms
    FOR EACH ROW WHEN ((to_jsonb(OLD) - 'room_xp') IS DISTINCT FROM (to_jsonb(NEW) - 'room_xp'))
    EXECUTE FUNCTION flylive_cache_notify('room', 'id');

-- A level-up is announced in the rooms the user is in (`room:levelUp`) from this level on.
INSERT INTO economy_settings (key, value) VALUES ('level_announce_min', 10);
