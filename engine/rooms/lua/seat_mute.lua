-- seat:mute / seat:unmute. ARGV: target user, muted (0/1).
local user, muted = ARGV[1], tonumber(ARGV[2])
local index = redis.call('HGET', K_SEAT_OF, user)
local seat = index and seat_get(index)
if not seat or tonumber(seat.u) ~= tonumber(user) or tonumber(seat.d) ~= 0 then return fail('USER_NOT_SEATED') end
seat.m = muted
seat_put(index, seat)
emit('seat:userMuted', 'room', {userId = tonumber(user), isMuted = muted == 1})
return reply({ok = true, seatIndex = tonumber(index)})
