-- The token bucket, as a function: token_bucket.lua runs it alone, and event scripts whose limit
-- lives in their own slot (chat: engine/rooms/lua/chat.lua) run it in the same step as the event.
-- Takes `cost` tokens from `key` if available, refilling at capacity/period_ms; returns allowed
-- (0/1), retry_after_ms, tokens left. Server time is used (not the caller's) so every engine
-- process shares one clock.
local function take_tokens(key, capacity, period_ms, cost)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1]) or capacity
  local ts = tonumber(state[2]) or now
  local rate = capacity / period_ms
  tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
  local allowed = 0
  local retry_ms = 0
  if tokens >= cost then
    tokens = tokens - cost
    allowed = 1
  else
    retry_ms = math.ceil((cost - tokens) / rate)
  end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
  -- A full bucket carries no information: let the key expire once it would have refilled.
  redis.call('PEXPIRE', key, math.ceil(period_ms * (capacity - tokens) / capacity) + 1000)
  return allowed, retry_ms, math.floor(tokens)
end
