-- A moderator deletes a chat message from the room's history. ARGV: the message id, the room id.
-- The history (K_CHAT) is what a joining client is sent as recentMessages; the deletion is an event
-- of the room's stream too, so a client replaying from an earlier `seq` drops the message as well.
-- Returns the message as it was (JSON text), or MESSAGE_NOT_FOUND when the history no longer has it.
local id = ARGV[1]
local entries = redis.call('LRANGE', K_CHAT, 0, -1)
for i = 1, #entries do
  local ok, message = pcall(cjson.decode, entries[i])
  if ok and message.id == id then
    redis.call('LREM', K_CHAT, 1, entries[i])
    emit('chat:deleted', 'room', {roomId = ARGV[2], messageId = id})
    return reply({ok = true, message = entries[i]})
  end
end
return fail('MESSAGE_NOT_FOUND')
