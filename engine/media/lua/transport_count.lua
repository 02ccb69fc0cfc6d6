-- A user's transport count in a room: KEYS[1] the room's hash (user id -> count), ARGV[1] the user,
-- ARGV[2] +1 to take one (refused with -1 past the limit ARGV[3]) or -1 to give one back.
local delta = tonumber(ARGV[2])
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') + delta
if delta > 0 and n > tonumber(ARGV[3]) then
  return -1
end
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], n)
return n
