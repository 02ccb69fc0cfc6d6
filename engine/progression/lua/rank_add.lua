-- Count a batch of flushed gift transactions into one board's period slot, each exactly once.
-- KEYS[1]: the slot's seen set (transaction ids already counted); KEYS[2..]: its sorted sets.
-- ARGV[1]: the seen set's TTL in seconds; ARGV[2]: EXPIREAT of the sorted sets (0: never);
-- then per transaction: txn_id, n, and n triples (index into KEYS, member, amount).
-- A re-delivered outbox entry finds its id in the seen set and adds nothing: the check and the
-- increments are one atomic step, so a crash can never leave one without the other.
local seen_ttl = tonumber(ARGV[1])
local expire_at = tonumber(ARGV[2])
local touched = {}
local counted = 0
local i = 3
while i <= #ARGV do
  local txn_id = ARGV[i]
  local n = tonumber(ARGV[i + 1])
  local fresh = redis.call('SADD', KEYS[1], txn_id) == 1
  i = i + 2
  for _ = 1, n do
    if fresh then
      local key = KEYS[tonumber(ARGV[i])]
      redis.call('ZINCRBY', key, ARGV[i + 2], ARGV[i + 1])
      touched[key] = true
    end
    i = i + 3
  end
  if fresh then counted = counted + 1 end
end
redis.call('EXPIRE', KEYS[1], seen_ttl)
if expire_at > 0 then
  for key, _ in pairs(touched) do redis.call('EXPIREAT', key, expire_at) end
end
return counted
