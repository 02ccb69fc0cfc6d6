-- Close a live room. ARGV: room id, reason. Emits room:closed, returns the members (so their
-- sockets can be taken out of the room) and their visits, and deletes all live state but the
-- sequence number.
if redis.call('EXISTS', K_META) == 0 or redis.call('HGET', K_META, 'closed') == '1' then
  return reply({ok = true, members = {}})
end
emit('room:closed', 'room', {roomId = ARGV[1], reason = ARGV[2], timestamp = now_ms()})
local members = redis.call('HKEYS', K_MEMBERS)
local sockets = redis.call('HKEYS', K_SOCKETS)
-- Every member's visit ends here, with the time on mic of the seat they were on.
local now = now_ms()
local all = redis.call('HGETALL', K_SEATS)
for i = 1, #all, 2 do mic_end(cjson.decode(all[i + 1]), now) end
local visits = {}
for _, member in ipairs(members) do
  local visit = visit_end(member)
  if visit then visits[#visits + 1] = {tonumber(member), visit[1], now, visit[2]} end
end
for i = 2, #KEYS do
  if KEYS[i] ~= K_EVENTS then redis.call('DEL', KEYS[i]) end
end
redis.call('HSET', K_META, 'closed', '1')
return reply({ok = true, members = members, sockets = sockets, visits = visits})
