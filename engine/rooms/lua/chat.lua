-- chat:message. ARGV: user, message json (without seq), history length, rate capacity, rate
-- period (ms; capacity 0: no limit), the Socket.IO channel of the engine processes. KEYS[11]: the
-- sender's chat rate bucket in this room (take_tokens, bucket.lua).
-- Membership is checked in the same step that records the message, so a user who just left cannot
-- slip one in; the rate limit is drawn first, as a separate limiter call did before.
-- `subscribers`: the engine processes subscribed to the channel now, after the message was recorded
-- (engine/realtime/manager.py: `alone`): when this process is the only one, no other process holds
-- a socket that should get it, and the caller need not publish it.
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
-- The room's keys are touched together by every room script; a busy room's chat refreshes their
-- TTL at most once an hour instead of ten EXPIREs a message (a list LPUSH created has none: -1).
if redis.call('TTL', K_CHAT) < SAFETY_TTL - 3600 then touch() end
return reply({ok = true, subscribers = redis.call('PUBSUB', 'NUMSUB', ARGV[6])[2]})
