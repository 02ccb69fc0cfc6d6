-- seat:take (and the take inside an accepted invite). ARGV: user, index, via_invite (0/1).
-- One step: bounds, lock, occupant (a held seat counts as taken, even for its holder), then the
-- user leaves any other seat and sits here.
local user, index, via_invite = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
ACTOR = user
if not room_open() then return fail('ROOM_CLOSED') end
if not is_member(user) then return fail('NOT_IN_ROOM') end
if not valid_index(index) then return fail('SEAT_INVALID') end
if redis.call('SISMEMBER', K_LOCKED, index) == 1 then return fail('SEAT_LOCKED') end
local occupant = seat_get(index)
if occupant then
  local shown = nil
  if tonumber(occupant.d) == 0 then
    shown = {seatIndex = index, userId = tonumber(occupant.u), isMuted = occupant.m == 1}
  end
  return cjson.encode({ok = false, code = 'SEAT_TAKEN', occupant = shown or false, events = {}})
end
for _, old in ipairs(vacate(user)) do
  emit('seat:cleared', 'others', {seatIndex = old, userId = tonumber(user)})
end
seat_put(index, {u = tonumber(user), m = 0, d = 0})
emit('seat:updated', via_invite and 'room' or 'others', {seatIndex = index, userId = tonumber(user), isMuted = false})
touch()
return reply({ok = true, seatIndex = index})
