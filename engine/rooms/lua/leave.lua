-- room:leave, a socket's disconnect, or a kick. ARGV: user, sid ('' = every socket of the user),
-- mode ('leave' | 'disconnect' | 'kick'). The member leaves when their last socket does; a
-- disconnect then only stamps their seat (held for the grace period), the others free it.
local user, sid, mode = ARGV[1], ARGV[2], ARGV[3]
ACTOR = user
local sids = {}
if sid ~= '' then
  if redis.call('HDEL', K_SOCKETS, sid) == 1 then sids[1] = sid end
else
  local all = redis.call('HGETALL', K_SOCKETS)
  for i = 1, #all, 2 do
    if all[i + 1] == user then
      redis.call('HDEL', K_SOCKETS, all[i])
      sids[#sids + 1] = all[i]
    end
  end
end
if #sids == 0 then return reply({ok = true, left = false, sids = sids}) end
local remaining = redis.call('HINCRBY', K_MEMBERS, user, -#sids)
if remaining > 0 then return reply({ok = true, left = false, sids = sids}) end

redis.call('HDEL', K_MEMBERS, user)
redis.call('HDEL', K_PROFILES, user)
local held, held_at = -1, 0
local to = (mode == 'kick') and 'room' or 'others'
if mode == 'disconnect' then
  local index = redis.call('HGET', K_SEAT_OF, user)
  local seat = index and seat_get(index)
  if seat and tonumber(seat.u) == tonumber(user) then
    mic_end(seat, now_ms())
    seat.d = now_ms()
    seat_put(index, seat)
    held, held_at = tonumber(index), seat.d
    -- Others see the seat empty at once; only the server keeps it for the user's return.
    emit('seat:cleared', to, {seatIndex = held, userId = tonumber(user), reason = 'disconnect'})
  end
else
  for _, index in ipairs(vacate(user)) do
    emit('seat:cleared', to, {seatIndex = index, userId = tonumber(user), reason = (mode == 'kick') and 'removed' or nil})
  end
end
-- An invite to someone who left is void.
local invites = redis.call('HGETALL', K_INVITES)
for i = 1, #invites, 2 do
  local invite = cjson.decode(invites[i + 1])
  if tonumber(invite.u) == tonumber(user) then
    redis.call('HDEL', K_INVITES, invites[i])
    emit('seat:invite:pending', 'room', {seatIndex = tonumber(invites[i]), isPending = false})
  end
end
emit('room:userLeft', to, {userId = tonumber(user)})
local result = {ok = true, left = true, sids = sids, held = held, held_at = held_at,
                members = redis.call('HLEN', K_MEMBERS)}
local visit = visit_end(user)
if visit then
  result['visit'] = {visit[1], now_ms(), visit[2]}  -- joined, left, ms on mic
end
return reply(result)
