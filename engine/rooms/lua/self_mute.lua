-- audio:selfMute / audio:selfUnmute, once the media node has paused or resumed the producer; and
-- a platform mute pausing a user's audio (engine/rooms/moderation.py). ARGV: user, muted (0/1),
-- by the user themselves (1, default) or not (0). The seat's own muted flag (a room moderator's
-- mute) is left alone. The event is sequenced like every room event, so a client re-joining with
-- lastSeq gets it replayed.
local user, muted, by_self = ARGV[1], tonumber(ARGV[2]), ARGV[3] ~= '0'
if not is_member(user) then return fail('USER_NOT_IN_ROOM') end
emit('seat:userMuted', 'room', {userId = tonumber(user), isMuted = muted == 1, selfMuted = by_self})
return reply({ok = true})
