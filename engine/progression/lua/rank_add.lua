-- Count a batch of flushed gift transactions into one board's period slot, each exactly once.
-- KEYS[1]: the slot's seen set (transaction ids already counted); KEYS[2..]: its sorted sets.
-- ARGV[1]: the seen set's TTL in seconds; ARGV[2]: EXPIREAT of the sorted sets (0: never);
-- ARGV[3]: JSON [[txn_id, [[index into KEYS, member, amount], ...]], ...] (one string: far cheaper to
-- send than tens of thousands of arguments).
-- A re-delivered outbox entry finds its id in the seen set and adds nothing: the check and the
-- increments are one atomic step, so a crash can never leave one without the other.
local seen_ttl = tonumber(ARGV[1])
local expire_at = tonumber(ARGV[2])
local touched = {}
local counted = 0
for _, txn in ipairs(cjson.decode(ARGV[3])) do
  if redis.call('SADD', KEYS[1], txn[1]) == 1 then
    counted = counted + 1
    for _, inc in ipairs(txn[2]) do
      local key = KEYS[inc[1]]
      redis.call('ZINCRBY', key, inc[3], string.format('%d', inc[2]))
      touched[key] = true
    end
  end
end
redis.call('EXPIRE', KEYS[1], seen_ttl)
if expire_at > 0 then
  for key, _ in pairs(touched) do redis.call('EXPIREAT', key, expire_at) end
end
return counted
