-- A producer's state as its media node reports it, kept right whatever order the engine handles
-- the reports in (each Socket.IO event runs as its own task, so a producer's close can be handled
-- before its start).
-- KEYS[1]: the room's producers (hash: producer id -> {userId, source, paused} JSON)
-- KEYS[2]: the room's recently closed producers that were never seen starting (zset: id -> ms)
-- KEYS[3]: the media node the room is placed on
-- ARGV[1]: 'new' | 'closed' | 'paused'; ARGV[2]: producer id; ARGV[3]: the record (new, paused);
-- ARGV[4]: now (ms); ARGV[5]: how long a close is remembered (ms); ARGV[6]: the reporting node
-- Returns 1 when the room must be told (a producer's first start, or the close of an announced
-- one), 0 when not (a repeated report, a start whose close came first, an unknown producer), -1
-- when the room is not on the reporting node (a late report from a node the room was moved off:
-- checked here, in the same step, so a release cannot slip between the check and the write).
if redis.call('GET', KEYS[3]) ~= ARGV[6] then
  return -1
end
local what, id = ARGV[1], ARGV[2]
if what == 'new' then
  if redis.call('ZREM', KEYS[2], id) == 1 then
    return 0
  end
  return redis.call('HSETNX', KEYS[1], id, ARGV[3])
elseif what == 'closed' then
  if redis.call('HDEL', KEYS[1], id) == 1 then
    return 1
  end
  local now, keep = tonumber(ARGV[4]), tonumber(ARGV[5])
  redis.call('ZADD', KEYS[2], now, id)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - keep)
  redis.call('PEXPIRE', KEYS[2], keep)
  return 0
end
-- paused / resumed: only a producer still open (its close may have been handled first)
if redis.call('HEXISTS', KEYS[1], id) == 1 then
  redis.call('HSET', KEYS[1], id, ARGV[3])
end
return 0
