-- seat:lock / seat:unlock. ARGV: index, lock (0/1), expected occupant (the user the caller's
-- permission check was made against; 0 = empty). Locking removes the occupant.
local index, lock, expected = tonumber(ARGV[1]), ARGV[2] == '1', tonumber(ARGV[3])
if not valid_index(index) then return fail('SEAT_INVALID') end
local locked = redis.call('SISMEMBER', K_LOCKED, index) == 1
if not lock then
  if not locked then return fail('SEAT_NOT_LOCKED') end
  redis.call('SREM', K_LOCKED, index)
  emit('seat:locked', 'room', {seatIndex = index, isLocked = false})
  return reply({ok = true})
end
if locked then return fail('SEAT_ALREADY_LOCKED') end
local occupant = seat_get(index)
local current = occupant and tonumber(occupant.u) or 0
if current ~= expected then return fail('STATE_CHANGED') end
if occupant then
  mic_end(occupant, now_ms())
  redis.call('HDEL', K_SEATS, index)
  redis.call('HDEL', K_SEAT_OF, occupant.u)
  emit('seat:cleared', 'room', {seatIndex = index, userId = current})
end
redis.call('SADD', K_LOCKED, index)
emit('seat:locked', 'room', {seatIndex = index, isLocked = true})
touch()
return reply({ok = true, kicked = current})
