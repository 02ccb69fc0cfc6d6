-- seat:invite:accept / :decline. ARGV: user, index (-1 = whichever invite is theirs), accept (0/1).
-- Accepting unlocks a locked seat (invitees bypass locks) and then takes it like seat:take.
local user, wanted, accept = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local now = now_ms()
local found = nil
local all = redis.call('HGETALL', K_INVITES)
for i = 1, #all, 2 do
  local invite = cjson.decode(all[i + 1])
  if tonumber(invite.u) == tonumber(user) and (wanted < 0 or wanted == tonumber(all[i])) then
    if tonumber(invite.exp) > now then found = tonumber(all[i]) else redis.call('HDEL', K_INVITES, all[i]) end
  end
end
if not found then return fail('NO_INVITE') end
redis.call('HDEL', K_INVITES, found)
emit('seat:invite:pending', 'room', {seatIndex = found, isPending = false})
if not accept then return reply({ok = true}) end
if not is_member(user) then return reply({ok = false, code = 'NOT_IN_ROOM'}) end
if not valid_index(found) then return reply({ok = false, code = 'SEAT_INVALID'}) end
if redis.call('SREM', K_LOCKED, found) == 1 then
  emit('seat:locked', 'room', {seatIndex = found, isLocked = false})
end
local occupant = seat_get(found)
if occupant then return reply({ok = false, code = 'SEAT_TAKEN'}) end
for _, old in ipairs(vacate(user)) do
  emit('seat:cleared', 'room', {seatIndex = old, userId = tonumber(user)})
end
seat_put(found, {u = tonumber(user), m = 0, d = 0})
emit('seat:updated', 'room', {seatIndex = found, userId = tonumber(user), isMuted = false})
touch()
return reply({ok = true, seatIndex = found})
