-- Why: the socket hot path (room:join, gift:send, the room prologue's rank checks) reads users,
-- rooms, room admins and bans, agency membership and staff roles from an in-process cache
-- (engine/rooms/cache.py) instead of PostgreSQL. Every change to those tables, by the engine, the
-- dashboard or plain SQL, tells every engine process what to forget: a NOTIFY on channel
-- `flylive_cache` carrying "user:<id>", "room:<id>" or "*" (forget everything), sent at commit.

CREATE FUNCTION flylive_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
-- TG_ARGV: the topic ("user" or "room") and the column holding its id; no arguments: forget all.
DECLARE
    before_id text;
    after_id text;
BEGIN
    IF TG_NARGS = 0 THEN
        PERFORM pg_notify('flylive_cache', '*');
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        before_id := to_jsonb(OLD) ->> TG_ARGV[1];
        PERFORM pg_notify('flylive_cache', TG_ARGV[0] || ':' || before_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        after_id := to_jsonb(NEW) ->> TG_ARGV[1];
        IF after_id IS DISTINCT FROM before_id THEN
            PERFORM pg_notify('flylive_cache', TG_ARGV[0] || ':' || after_id);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_cache_notify AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION flylive_cache_notify('user', 'id');
CREATE TRIGGER rooms_cache_notify AFTER INSERT OR UPDATE OR DELETE ON rooms
    FOR EACH ROW EXECUTE FUNCTION flylive_cache_notify('room', 'id');
CREATE TRIGGER room_admins_cache_notify AFTER INSERT OR UPDATE OR DELETE ON room_admins
    FOR EACH ROW EXECUTE FUNCTION flylive_cache_notify('room', 'room_id');
CREATE TRIGGER room_bans_cache_notify AFTER INSERT OR UPDATE OR DELETE ON room_bans
    FOR EACH ROW EXECUTE FUNCTION flylive_cache_notify('room', 'room_id');
CREATE TRIGGER agency_members_cache_notify AFTER INSERT OR UPDATE OR DELETE ON agency_members
    FOR EACH ROW EXECUTE FUNCTION flylive_cache_notify('user', 'user_id');
CREATE TRIGGER user_roles_cache_notify AFTER INSERT OR UPDATE OR DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION flylive_cache_notify('user', 'user_id');
-- An agency's status or a role's permissions concern many users at once: forget everything.
CREATE TRIGGER agencies_cache_notify AFTER UPDATE OR DELETE ON agencies
    FOR EACH STATEMENT EXECUTE FUNCTION flylive_cache_notify();
CREATE TRIGGER role_permissions_cache_notify AFTER INSERT OR UPDATE OR DELETE ON role_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION flylive_cache_notify();
CREATE TRIGGER permissions_cache_notify AFTER UPDATE OR DELETE ON permissions
    FOR EACH STATEMENT EXECUTE FUNCTION flylive_cache_notify();
