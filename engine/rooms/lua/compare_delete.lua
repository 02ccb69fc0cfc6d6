-- Delete KEYS[1] only while it still holds ARGV[1] (a user's room pointer, cleared by the room the
-- user left, not by one they already moved away from).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
