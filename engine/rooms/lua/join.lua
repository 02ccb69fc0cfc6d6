-- room:join. ARGV: user, sid, profile json, grace_ms, last_seq (-1: none), chat_history, owner,
-- seat count. Makes the room live if it is not (open_room, in the same step), adds the socket (a user with several sockets is one member), reclaims a seat held since a
-- disconnect within the grace period, and returns either the events missed since last_seq or the
-- full snapshot.
local user, sid, profile = ARGV[1], ARGV[2], ARGV[3]
local grace, last_seq, history = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
ACTOR = user
open_room(ARGV[7], ARGV[8])
if not room_open() then return fail('ROOM_CLOSED') end
local now = now_ms()
local seq_before = tonumber(redis.call('HGET', K_META, 'seq') or '0')

-- Replay is possible when the stream still holds every event after last_seq.
local missed = nil
if last_seq >= 0 and last_seq <= seq_before then
  local first = redis.call('XRANGE', K_EVENTS, '-', '+', 'COUNT', 1)
  local oldest = (#first > 0) and tonumber(string.match(first[1][1], '^(%d+)')) or (seq_before + 1)
  if last_seq + 1 >= oldest or last_seq == seq_before then
    missed = {}
    for _, entry in ipairs(redis.call('XRANGE', K_EVENTS, (last_seq + 1) .. '-0', '+')) do
      local f = entry[2]
      local fields = {}
      for i = 1, #f, 2 do fields[f[i]] = f[i + 1] end
      local to = fields['to']
      if to == 'room' or (to == 'others' and fields['by'] ~= user) or to == ('user:' .. user) then
        missed[#missed + 1] = {fields['e'], fields['p']}
      end
    end
  end
end

local previous = redis.call('HGET', K_SOCKETS, sid)
if not previous then
  redis.call('HSET', K_SOCKETS, sid, user)
  redis.call('HSET', K_PROFILES, user, profile)
  if redis.call('HINCRBY', K_MEMBERS, user, 1) == 1 then
    visit_begin(user, now)
    emit('room:userJoined', 'others', {userId = tonumber(user)}, 'user', profile)
  end
end

-- Reclaim: the seat still carries this user's disconnect stamp and the grace has not run out.
local reclaimed = -1
local index = redis.call('HGET', K_SEAT_OF, user)
if index then
  local seat = seat_get(index)
  if seat and tonumber(seat.u) == tonumber(user) and tonumber(seat.d) > 0 then
    if now - tonumber(seat.d) <= grace then
      seat.d = 0
      seat.t = now  -- back on mic
      seat_put(index, seat)
      reclaimed = tonumber(index)
      emit('seat:updated', 'others', {seatIndex = reclaimed, userId = tonumber(user), isMuted = seat.m == 1})
    else
      redis.call('HDEL', K_SEATS, index)
      redis.call('HDEL', K_SEAT_OF, user)
    end
  elseif not seat or tonumber(seat.u) ~= tonumber(user) then
    redis.call('HDEL', K_SEAT_OF, user)
  end
end
touch()

local result = {ok = true, reclaimed = reclaimed, seq = tonumber(redis.call('HGET', K_META, 'seq') or '0'),
                owner = tonumber(redis.call('HGET', K_META, 'owner') or '0'),
                seat_count = seat_count(), members = redis.call('HLEN', K_MEMBERS)}
if missed then
  result['missed'] = missed
  return reply(result)
end
local seats = {}
local occupied = {}  -- index -> true for the seats in this snapshot (held ones are not listed)
local all = redis.call('HGETALL', K_SEATS)
for i = 1, #all, 2 do
  local seat = cjson.decode(all[i + 1])
  if tonumber(seat.d) == 0 then
    seats[#seats + 1] = {seatIndex = tonumber(all[i]), userId = tonumber(seat.u), isMuted = seat.m == 1}
    occupied[all[i]] = true
  end
end
result['seats'] = seats
result['locked'] = redis.call('SMEMBERS', K_LOCKED)
local seat_of = {}
local indices = redis.call('HGETALL', K_SEAT_OF)
for i = 1, #indices, 2 do seat_of[indices[i]] = indices[i + 1] end
-- Each participant as {profile json, isSpeaker}: a speaker holds one of the seats listed above,
-- so the flag and `seats` never disagree within one snapshot.
local participants = {}
local profiles = redis.call('HGETALL', K_PROFILES)
for i = 1, #profiles, 2 do
  local member = profiles[i]
  if member ~= user then
    local index = seat_of[member]
    participants[#participants + 1] = {profiles[i + 1], index ~= nil and occupied[index] == true}
  end
end
result['participants'] = participants
result['chat'] = redis.call('LRANGE', K_CHAT, 0, history - 1)
return reply(result)
