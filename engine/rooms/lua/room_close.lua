-- Close a live room. ARGV: room id, reason. Emits room:closed, returns the members (so their
-- sockets can be taken out of the room) and deletes all live state but the sequence number.
if redis.call('EXISTS', K_META) == 0 or redis.call('HGET', K_META, 'closed') == '1' then
  return reply({ok = true, members = {}})
end
emit('room:closed', 'room', {roomId = ARGV[1], reason = ARGV[2], timestamp = now_ms()})
local members = redis.call('HKEYS', K_MEMBERS)
local sockets = redis.call('HKEYS', K_SOCKETS)
for i = 2, #KEYS do
  if KEYS[i] ~= K_EVENTS then redis.call('DEL', KEYS[i]) end
end
redis.call('HSET', K_META, 'closed', '1')
return reply({ok = true, members = members, sockets = sockets})
