-- A purged account's words leave the room (GDPR, engine/gdpr/actions.py). ARGV: the user id.
-- Its messages are taken out of the history a joining client is sent (K_CHAT) and its chat:message
-- events out of the stream a reconnecting client replays (K_EVENTS): both would otherwise keep the
-- text until they roll over or expire. No event is recorded: clients that saw the messages keep
-- what they saw, as with any message sent before. Returns how many entries went.
local user = tonumber(ARGV[1])
local gone = 0
local entries = redis.call('LRANGE', K_CHAT, 0, -1)
for i = 1, #entries do
  local ok, message = pcall(cjson.decode, entries[i])
  if ok and tonumber(message.userId) == user then
    gone = gone + redis.call('LREM', K_CHAT, 0, entries[i])
  end
end
-- The stream is capped (STREAM_MAX), so reading it whole is bounded.
for _, entry in ipairs(redis.call('XRANGE', K_EVENTS, '-', '+')) do
  local fields = entry[2]
  local name, body
  for j = 1, #fields, 2 do
    if fields[j] == 'e' then name = fields[j + 1] elseif fields[j] == 'p' then body = fields[j + 1] end
  end
  if name == 'chat:message' and body then
    local ok, message = pcall(cjson.decode, body)
    if ok and tonumber(message.userId) == user then
      gone = gone + redis.call('XDEL', K_EVENTS, entry[1])
    end
  end
end
return reply({ok = true, gone = gone})
