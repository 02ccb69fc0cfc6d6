-- Remove node ARGV[1] from the registry KEYS[1] only while its registration is the one made on
-- socket ARGV[2]: a node that re-registered (through another engine process, say) stays, and of
-- several processes dropping the same node at once exactly one gets 1 back.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw or cjson.decode(raw)['sid'] ~= ARGV[2] then
  return 0
end
return redis.call('HDEL', KEYS[1], ARGV[1])
