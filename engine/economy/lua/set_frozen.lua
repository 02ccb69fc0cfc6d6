-- Freeze or unfreeze a live wallet. KEYS: 1 wallet. ARGV: 1 frozen: 0 = no, -1 = until further
-- notice, else the ms timestamp the freeze ends.
-- Only a wallet already in Redis is touched: writing the flag alone would create a wallet with no
-- balances; a wallet loaded later reads the account status from PostgreSQL instead.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'frozen', ARGV[1])
return 1
