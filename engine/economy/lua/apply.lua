-- Change one wallet by a signed amount and record the transaction, atomically and at most once.
-- KEYS: 1 wallet (hash: coins, diamonds, frozen), 2 idempotency key, 3 the shard's outbox stream,
--       4 the user's spend counter for today.
-- ARGV: 1 currency, 2 amount (signed), 3 transaction JSON, 4 idempotency TTL (s), 5 txn id,
--       6 daily spend cap for this kind of debit (0: none).
-- A replayed idempotency key returns the first result and changes nothing. A debit checks funds
-- and the frozen flag. The outbox entry carries the whole transaction (its other legs are the
-- credits the flusher completes) plus the balance this wallet reached.
local currency, amount = ARGV[1], tonumber(ARGV[2])
local previous = redis.call('GET', KEYS[2])
if previous then
  local result = cjson.decode(previous)
  result['replay'] = true
  return cjson.encode(result)
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return cjson.encode({ok = false, code = 'NO_WALLET'})
end
local balance = tonumber(redis.call('HGET', KEYS[1], currency) or '0')
if amount < 0 then
  -- frozen: 0 = no, -1 = until further notice, else the ms timestamp the freeze ends (a suspension).
  local frozen = tonumber(redis.call('HGET', KEYS[1], 'frozen') or '0')
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if frozen < 0 or frozen > now then
    return cjson.encode({ok = false, code = 'WALLET_FROZEN', balance = balance})
  end
  if balance + amount < 0 then
    return cjson.encode({ok = false, code = 'INSUFFICIENT_FUNDS', balance = balance, required = -amount})
  end
  local cap = tonumber(ARGV[6])
  if cap > 0 then
    local spent = tonumber(redis.call('GET', KEYS[4]) or '0')
    if spent - amount > cap then
      return cjson.encode({ok = false, code = 'DAILY_LIMIT', balance = balance, spent = spent, cap = cap})
    end
    redis.call('INCRBY', KEYS[4], -amount)
    redis.call('EXPIRE', KEYS[4], 2 * 86400)
  end
end
local after = redis.call('HINCRBY', KEYS[1], currency, amount)
redis.call('XADD', KEYS[3], '*', 'txn', ARGV[3], 'bal', after)
local result = cjson.encode({ok = true, balance = after, txn_id = ARGV[5]})
redis.call('SET', KEYS[2], result, 'EX', tonumber(ARGV[4]))
return result
