-- Apply one credit leg of a recorded transaction to a wallet, exactly once.
-- KEYS: 1 wallet, 2 the transaction's applied-legs hash in this shard. ARGV: 1 leg, 2 currency, 3 amount.
-- The marker is written in the same step as the credit, so the action's immediate attempt and the
-- flusher's completion can both run and the credit still lands once.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return cjson.encode({ok = false, code = 'NO_WALLET'})
end
if redis.call('HSETNX', KEYS[2], ARGV[1], 1) == 0 then
  return cjson.encode({ok = true, duplicate = true, balance = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0')})
end
redis.call('EXPIRE', KEYS[2], 7 * 86400)
local after = redis.call('HINCRBY', KEYS[1], ARGV[2], tonumber(ARGV[3]))
return cjson.encode({ok = true, balance = after})
