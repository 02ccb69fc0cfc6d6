-- chat:message. ARGV: user, message json (without seq), history length. Membership is checked in
-- the same step that records the message, so a user who just left cannot slip one in.
local user, message, history = ARGV[1], cjson.decode(ARGV[2]), tonumber(ARGV[3])
if not room_open() then return fail('ROOM_CLOSED') end
if not is_member(user) then return fail('NOT_IN_ROOM') end
emit('chat:message', 'room', message)
redis.call('LPUSH', K_CHAT, events[#events][3])
redis.call('LTRIM', K_CHAT, 0, history - 1)
touch()
return reply({ok = true})
