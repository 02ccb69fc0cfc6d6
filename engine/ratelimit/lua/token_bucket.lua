-- Token bucket: take `cost` tokens from KEYS[1] if available, refilling at capacity/period.
-- ARGV: capacity, period_ms, cost. Returns {allowed (0/1), retry_after_ms, tokens_left}.
-- Server time is used (not the caller's) so every engine process shares one clock.
local capacity = tonumber(ARGV[1])
local period_ms = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
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
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
-- A full bucket carries no information: let the key expire once it would have refilled.
redis.call('PEXPIRE', KEYS[1], math.ceil(period_ms * (capacity - tokens) / capacity) + 1000)
return {allowed, retry_ms, math.floor(tokens)}
