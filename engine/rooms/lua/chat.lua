-- chat:message. ARGV: user, message json (without seq), history length, rate capacity, rate
-- period (ms; capacity 0: no limit). KEYS[11]: the sender's chat rate bucket in this room (take_tokens, bucket.lua).
-- Membership is checked in the same step that records the message, so a user who just left cannot
-- slip one in; the rate limit is drawn first, as a separate limiter call did before.
local user, message, history = ARGV[1], cjson.decode(ARGV[2]), tonumber(ARGV[3])
local capacity, period_ms = tonumber(ARGV[4]), tonumber(ARGV[5])
local allowed, retry_ms = 1, 0
if capacity > 0 then allowed, retry_ms = take_tokens(KEYS[11], capacity, period_ms, 1) end
if allowed == 0 then return cjson.encode({ok = false, code = 'RATE_LIMITED', retry_after_ms = retry_ms, events = {}}) end
if not room_open() then return fail('ROOM_CLOSED') end
if not is_member(user) then return fail('NOT_IN_ROOM') end
emit('chat:message', 'room', message)
redis.call('LPUSH', K_CHAT, events[#events][3])
redis.call('LTRIM', K_CHAT, 0, history - 1)
touch()
return reply({ok = true})
