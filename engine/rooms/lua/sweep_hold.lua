-- Free a seat held since a disconnect once its grace period is over. ARGV: user, index,
-- disconnect stamp. Only the exact hold is removed: a reclaimed or re-taken seat is left alone.
local user, index, stamp = ARGV[1], ARGV[2], tonumber(ARGV[3])
local seat = seat_get(index)
if not seat or tonumber(seat.u) ~= tonumber(user) or tonumber(seat.d) ~= stamp then
  return reply({ok = true, freed = false})
end
redis.call('HDEL', K_SEATS, index)
redis.call('HDEL', K_SEAT_OF, user)
return reply({ok = true, freed = true})
