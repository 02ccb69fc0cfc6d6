-- Load a wallet into Redis from its ledger balances unless it is already live (never overwrite:
-- a live wallet may be ahead of the ledger by changes still in the outbox).
-- KEYS: 1 wallet. ARGV: 1 coins, 2 diamonds, 3 frozen (0, -1, or the ms timestamp it ends).
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'coins', ARGV[1], 'diamonds', ARGV[2], 'frozen', ARGV[3])
return 1
