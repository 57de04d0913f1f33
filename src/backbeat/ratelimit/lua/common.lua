-- Prepended to acquire.lua, finish.lua and snapshot.lua: each stays one self-contained script.
-- The math mirrors backends/memory.py; keep the two in step.

-- Redis turns Lua numbers into integers on return, and tostring keeps only 14 digits:
-- %.17g round-trips every double (epoch seconds with microseconds included).
local function fmt(x)
  return string.format('%.17g', x)
end

-- ARGV[1] is the injected clock of tests, empty in production: then Redis' own TIME.
local function clock_now(arg)
  if arg ~= '' then
    return tonumber(arg)
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local FIELDS = {'run_id', 'multiplier', 'changed_at', 'pause_until', 'paused_at', 'strikes',
                'ban_until', 'warm_until'}

-- The app's state hash; a missing hash reads as a fresh state (changed_at = now).
local function load_state(key, now)
  local raw = redis.call('HMGET', key, unpack(FIELDS))
  local s = {
    run_id = raw[1],  -- false when missing
    multiplier = tonumber(raw[2]) or 1,
    changed_at = tonumber(raw[3]),
    pause_until = tonumber(raw[4]) or 0,
    paused_at = tonumber(raw[5]) or -math.huge,
    strikes = tonumber(raw[6]) or 0,
    ban_until = tonumber(raw[7]) or 0,
    warm_until = tonumber(raw[8]) or 0,
    dirty = {},
  }
  if s.changed_at == nil then
    s.changed_at = now
    s.dirty.changed_at = true
  end
  return s
end

local function set(s, field, value)
  s[field] = value
  s.dirty[field] = true
end

-- Writes the changed fields and keeps the state alive for `ttl_ms`, or until the ban ends.
local function save_state(key, s, now, ttl_ms)
  local args = {}
  for field in pairs(s.dirty) do
    local value = s[field]
    if type(value) == 'number' then
      value = fmt(value)
    end
    args[#args + 1] = field
    args[#args + 1] = value
  end
  if #args > 0 then
    redis.call('HSET', key, unpack(args))
  end
  local ms = math.max(ttl_ms, (s.ban_until - now) * 1000 + ttl_ms)
  redis.call('PEXPIRE', key, string.format('%d', math.ceil(ms)))
end

local ATTEMPTS_PER_SLOT = 3  -- backends/memory.py: scattered retries meeting each freed slot

local function effective_limit(limit, multiplier, warming)
  local effective = math.max(1, math.floor(limit * multiplier + 1e-9))
  if warming then
    return math.max(1, math.floor(effective / 2))
  end
  return effective
end

-- Free slots NORMAL/LOW leave for HIGH: one plus one per waiting HIGH call, at most a share.
local function reserve_for(effective, share, high_waiting)
  return math.min(math.floor(effective * share), 1 + high_waiting)
end

