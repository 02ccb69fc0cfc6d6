-- seat:assign by the owner. ARGV: target user, index. Overrides a held seat and displaces any
-- occupant (whose reverse index is cleared), moves the target off other seats, seats them unmuted.
local user, index = ARGV[1], tonumber(ARGV[2])
if not room_open() then return fail('ROOM_CLOSED') end
if not is_member(user) then return fail('USER_NOT_IN_ROOM') end
if not valid_index(index) then return fail('SEAT_INVALID') end
if redis.call('SISMEMBER', K_LOCKED, index) == 1 then return fail('SEAT_LOCKED') end
local occupant = seat_get(index)
local displaced = 0
if occupant and tonumber(occupant.u) ~= tonumber(user) then
  displaced = tonumber(occupant.u)
  redis.call('HDEL', K_SEAT_OF, occupant.u)
end
for _, old in ipairs(vacate(user)) do
  if old ~= index then emit('seat:cleared', 'room', {seatIndex = old, userId = tonumber(user)}) end
end
seat_put(index, {u = tonumber(user), m = 0, d = 0})
emit('seat:updated', 'room', {seatIndex = index, userId = tonumber(user), isMuted = false})
touch()
return reply({ok = true, displaced = displaced})
