-- audio:selfMute / audio:selfUnmute, once the media node has paused or resumed the producer.
-- ARGV: user, muted (0/1). The seat's own muted flag (a moderator's mute) is left alone. The event
-- is sequenced like every room event, so a client re-joining with lastSeq gets it replayed.
local user, muted = ARGV[1], tonumber(ARGV[2])
if not is_member(user) then return fail('USER_NOT_IN_ROOM') end
emit('seat:userMuted', 'room', {userId = tonumber(user), isMuted = muted == 1, selfMuted = true})
return reply({ok = true})
