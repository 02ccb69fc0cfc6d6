-- seat:leave (self) and seat:remove (by the owner). ARGV: user, reason ('' or 'removed'), actor.
local user, reason = ARGV[1], ARGV[2]
ACTOR = ARGV[3]
local vacated = vacate(user)
if #vacated == 0 then return fail('NOT_SEATED') end
for _, index in ipairs(vacated) do
  emit('seat:cleared', 'others', {seatIndex = index, userId = tonumber(user), reason = (reason ~= '') and reason or nil})
end
return reply({ok = true, vacated = vacated})
