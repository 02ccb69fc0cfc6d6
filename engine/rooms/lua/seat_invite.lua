-- seat:invite. ARGV: inviter, target, index, ttl_ms. Checks and writes in one step (the legacy
-- server's three separate reads let two invites race).
local inviter, target, index, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if not is_member(target) then return fail('USER_NOT_IN_ROOM') end
if not valid_index(index) then return fail('SEAT_INVALID') end
if redis.call('HEXISTS', K_SEAT_OF, target) == 1 then return fail('SEAT_TAKEN') end
if redis.call('HEXISTS', K_SEATS, index) == 1 then return fail('SEAT_OCCUPIED') end
local now = now_ms()
local raw = redis.call('HGET', K_INVITES, index)
if raw and tonumber(cjson.decode(raw).exp) > now then return fail('INVITE_PENDING') end
-- One pending invite per user: a new one replaces an older one elsewhere.
local all = redis.call('HGETALL', K_INVITES)
for i = 1, #all, 2 do
  if tonumber(cjson.decode(all[i + 1]).u) == tonumber(target) then redis.call('HDEL', K_INVITES, all[i]) end
end
local expires = now + ttl
redis.call('HSET', K_INVITES, index, cjson.encode({u = tonumber(target), by = tonumber(inviter), exp = expires}))
emit('seat:invite:pending', 'room', {seatIndex = index, isPending = true, invitedUserId = tonumber(target)})
emit('seat:invite:received', 'user:' .. target,
     {seatIndex = index, invitedById = tonumber(inviter), expiresAt = expires, targetUserId = tonumber(target)})
return reply({ok = true, expiresAt = expires})
