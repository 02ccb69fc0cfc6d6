-- Overwrite field ARGV[1] of hash KEYS[1] with ARGV[2] only while it exists (a producer's pause
-- state must not bring back a producer whose close was recorded first).
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 0
