-- Count a gift send into its combo: the same sender, gift and recipients within the window are
-- one combo with a running count. KEYS: 1 combo hash. ARGV: 1 window ms, 2 quantity, 3 new combo id,
-- 4 the engine processes' Socket.IO channel. Returns {combo id, count, sends, subscribers}: the
-- processes subscribed to the channel now, after the debit (engine/realtime/manager.py: `alone`).
local subscribers = redis.call('PUBSUB', 'NUMSUB', ARGV[4])[2]
if redis.call('EXISTS', KEYS[1]) == 1 then
  local count = redis.call('HINCRBY', KEYS[1], 'count', tonumber(ARGV[2]))
  local sends = redis.call('HINCRBY', KEYS[1], 'sends', 1)
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
  return {redis.call('HGET', KEYS[1], 'id'), count, sends, subscribers}
end
redis.call('HSET', KEYS[1], 'id', ARGV[3], 'count', ARGV[2], 'sends', 1)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return {ARGV[3], tonumber(ARGV[2]), 1, subscribers}
