-- Change the seat count (owner's room update). ARGV: new count. Shrinking evicts every occupant
-- at or above the new count and drops locks and invites there; growing changes nothing else.
local count = tonumber(ARGV[1])
redis.call('HSET', K_META, 'seat_count', count)
local evicted = {}
local all = redis.call('HGETALL', K_SEATS)
for i = 1, #all, 2 do
  local index = tonumber(all[i])
  if index >= count then
    local seat = cjson.decode(all[i + 1])
    mic_end(seat, now_ms())
    redis.call('HDEL', K_SEATS, all[i])
    redis.call('HDEL', K_SEAT_OF, seat.u)
    evicted[#evicted + 1] = tonumber(seat.u)
    emit('seat:cleared', 'room', {seatIndex = index, userId = tonumber(seat.u), reason = 'shrink'})
    emit('seat:evicted', 'user:' .. seat.u, {roomId = ARGV[2], seatIndex = index, newSeatCount = count})
  end
end
for _, index in ipairs(redis.call('SMEMBERS', K_LOCKED)) do
  if tonumber(index) >= count then redis.call('SREM', K_LOCKED, index) end
end
local invites = redis.call('HGETALL', K_INVITES)
for i = 1, #invites, 2 do
  if tonumber(invites[i]) >= count then redis.call('HDEL', K_INVITES, invites[i]) end
end
return reply({ok = true, evicted = evicted})
