-- Make the room live in Redis on its first join (or after Redis lost it). ARGV: owner, seat count.
-- An existing live room keeps its state; a closed marker from an earlier close is replaced.
if redis.call('EXISTS', K_META) == 1 and redis.call('HGET', K_META, 'closed') ~= '1' then
  return reply({ok = true, created = false})
end
local seq = tonumber(redis.call('HGET', K_META, 'seq') or '0')
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('DEL', K_META)
redis.call('HSET', K_META, 'owner', ARGV[1], 'seat_count', ARGV[2], 'seq', seq, 'closed', '0')
touch()
return reply({ok = true, created = true})
