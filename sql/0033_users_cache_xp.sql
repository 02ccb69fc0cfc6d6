-- Why: every ledger flush adds the batch's XP to users.wealth_xp / charm_xp, and the users row's cache
-- notification (sql/0011) then made every engine process forget each sender and recipient (their
-- profile, their agency membership) and read them again from PostgreSQL on their next gift: a reload
-- per user per flush, on the hot path. An update that changes only the XP no longer notifies (as
-- sql/0027 did for rooms.room_xp); a new wealth_level / charm_level still does, so what the hot cache
-- shows for levels is never stale. The XP figures in a cached profile (the join snapshot's wealth_xp,
-- charm_xp) may lag by up to the cache's entry age (engine/rooms/cache.py MAX_AGE_SECONDS);
-- GET /api/v1/me/levels reads them from the row.
DROP TRIGGER users_cache_notify ON users;
CREATE TRIGGER users_cache_notify AFTER INSERT OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION flylive_cache_notify('user', 'id');
CREATE TRIGGER users_cache_notify_update AFTER UPDATE ON users
    FOR EACH ROW WHEN ((to_jsonb(OLD) - 'wealth_xp' - 'charm_xp') IS DISTINCT FROM (to_jsonb(NEW) - 'wealth_xp' - 'charm_xp'))
    EXECUTE FUNCTION flylive_cache_notify('user', 'id');
