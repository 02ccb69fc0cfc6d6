-- Token bucket (take_tokens, from bucket.lua). KEYS[1]: the bucket. ARGV: capacity, period_ms, cost.
-- Returns {allowed (0/1), retry_after_ms, tokens_left}.
return {take_tokens(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))}
