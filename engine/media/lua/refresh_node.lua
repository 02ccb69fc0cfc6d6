-- Store ARGV[3] as node ARGV[1]'s registration in KEYS[1] only while the current one was made on
-- socket ARGV[2]: a heartbeat racing a sweep that dropped the node must not bring it back (the
-- node is answered `Not registered` and registers again).
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw or cjson.decode(raw)['sid'] ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
