-- Shared prelude, prepended to every room script (see engine/rooms/scripts.py).
-- KEYS of every room script, all under the room's hash tag {r:<id>}:
--   1 meta (hash: seat_count, owner, seq, closed)   2 seats (hash index -> json)
--   3 seat_of (hash user -> index)                   4 locked (set of indices)
--   5 invites (hash index -> json)                   6 events (stream, id "<seq>-1")
--   7 members (hash user -> socket count)            8 sockets (hash sid -> user)
--   9 profiles (hash user -> json shown to others)   10 chat (list, newest first)
-- Seat json: {u = user id, m = 0/1 muted, d = ms of disconnect (0 = present), t = ms its time on
-- mic began}.
-- Meta also holds each member's visit, 'v:<user>' = '<joined ms>:<ms on mic so far>' (engine/activity):
-- begun by the join that made them a member, added to when a seat of theirs ends, returned (and
-- forgotten) by the leave that ends it, so the caller can append it to the activity stream.
local K_META, K_SEATS, K_SEAT_OF, K_LOCKED = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_INVITES, K_EVENTS, K_MEMBERS, K_SOCKETS = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local K_PROFILES, K_CHAT = KEYS[9], KEYS[10]
local STREAM_MAX = 1000
local SAFETY_TTL = 86400

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local events = {}
-- The user whose action caused the events. "others" events skip that user's socket when sent, and
-- replay skips them for that user too (they already know what they did).
local ACTOR = ''

-- Record an event for the room: bump the room's sequence number, append it to the capped stream
-- (for replay to reconnecting clients) and return it to the caller, who emits it after this
-- script has committed. `to` is "room", "others" (everyone but the acting socket) or "user:<id>".
-- `raw` optionally adds one field whose value is JSON text kept verbatim (cjson would turn an
-- empty list inside it into an object).
local function emit(name, to, payload, raw_name, raw_json)
  local seq = redis.call('HINCRBY', K_META, 'seq', 1)
  payload['seq'] = seq
  local body = cjson.encode(payload)
  if raw_name then body = string.sub(body, 1, -2) .. ',"' .. raw_name .. '":' .. raw_json .. '}' end
  redis.call('XADD', K_EVENTS, 'MAXLEN', '~', STREAM_MAX, seq .. '-1', 'e', name, 'to', to, 'p', body, 'by', ACTOR)
  events[#events + 1] = {name, to, body}
end

local function reply(result)
  result['events'] = events
  return cjson.encode(result)
end

local function fail(code)
  return cjson.encode({ok = false, code = code, events = {}})
end

local function seat_get(index)
  local raw = redis.call('HGET', K_SEATS, index)
  if not raw then return nil end
  return cjson.decode(raw)
end

local function seat_put(index, seat)
  if seat.t == nil then seat.t = now_ms() end
  redis.call('HSET', K_SEATS, index, cjson.encode(seat))
  redis.call('HSET', K_SEAT_OF, seat.u, index)
end

local function visit_begin(user, now)
  redis.call('HSET', K_META, 'v:' .. user, string.format('%d:0', now))
end

-- A present seat's time on mic, up to `now`, added to its user's visit (a held seat's was added when
-- its user disconnected).
local function mic_end(seat, now)
  if not seat or not seat.t or tonumber(seat.d) ~= 0 then return end
  local field = string.format('v:%d', seat.u)
  local raw = redis.call('HGET', K_META, field)
  if not raw then return end
  local joined, mic = string.match(raw, '^(%d+):(%d+)$')
  redis.call('HSET', K_META, field, joined .. ':' .. string.format('%d', tonumber(mic) + math.max(0, now - seat.t)))
end

-- The member's visit as {joined ms, ms on mic}, forgotten; nil when none was recorded.
local function visit_end(user)
  local field = 'v:' .. user
  local raw = redis.call('HGET', K_META, field)
  if not raw then return nil end
  redis.call('HDEL', K_META, field)
  local joined, mic = string.match(raw, '^(%d+):(%d+)$')
  return {tonumber(joined), tonumber(mic)}
end

-- Take `user` off every seat they hold (the one-seat rule survives a stale reverse index).
-- Returns the list of indices vacated.
local function vacate(user)
  local vacated = {}
  local all = redis.call('HGETALL', K_SEATS)
  for i = 1, #all, 2 do
    local seat = cjson.decode(all[i + 1])
    if tonumber(seat.u) == tonumber(user) then
      mic_end(seat, now_ms())
      redis.call('HDEL', K_SEATS, all[i])
      vacated[#vacated + 1] = tonumber(all[i])
    end
  end
  redis.call('HDEL', K_SEAT_OF, user)
  return vacated
end

local function seat_count()
  return tonumber(redis.call('HGET', K_META, 'seat_count') or '15')
end

local function room_open()
  return redis.call('HGET', K_META, 'closed') ~= '1' and redis.call('EXISTS', K_META) == 1
end

local function is_member(user)
  return redis.call('HEXISTS', K_MEMBERS, user) == 1
end

-- The room's own ten keys (a script's extra keys, such as chat's rate bucket, keep their own TTL).
local function touch()
  for i = 1, 10 do
    redis.call('EXPIRE', KEYS[i], SAFETY_TTL)
  end
end

local function valid_index(index)
  return index >= 0 and index < seat_count()
end

-- Make the room live on its first join (or after Redis lost it); an existing live room keeps its
-- state, and a closed marker from an earlier close is replaced. Returns whether it was created.
local function open_room(owner, count)
  if redis.call('EXISTS', K_META) == 1 and redis.call('HGET', K_META, 'closed') ~= '1' then
    return false
  end
  local seq = tonumber(redis.call('HGET', K_META, 'seq') or '0')
  for i = 2, 10 do redis.call('DEL', KEYS[i]) end
  redis.call('DEL', K_META)
  redis.call('HSET', K_META, 'owner', owner, 'seat_count', count, 'seq', seq, 'closed', '0')
  touch()
  return true
end
