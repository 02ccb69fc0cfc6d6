-- A member's profile changed (user:profileSync, a profile update). ARGV: user, the full profile
-- json shown to others, the changed fields as json. Stores the profile for later joiners'
-- snapshots and sequences `user:profile_updated` (so a reconnecting client replays it); NOT_IN_ROOM
-- when the user is no member (they left meanwhile: their next join stores the new profile).
local user, profile, changed = ARGV[1], ARGV[2], ARGV[3]
ACTOR = user
if not room_open() or not is_member(user) then return fail('NOT_IN_ROOM') end
redis.call('HSET', K_PROFILES, user, profile)
emit('user:profile_updated', 'room', {user_id = tonumber(user)}, 'profile', changed)
return reply({ok = true})
