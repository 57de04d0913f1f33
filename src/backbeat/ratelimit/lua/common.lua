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

-- multiplier: the ceiling as the last 429 episode lowered it (the live one is `ceiling`);
-- last_429: the ceiling that drew that 429 (0: none yet).
local FIELDS = {'run_id', 'multiplier', 'last_429', 'pause_until', 'paused_at', 'strikes',
                'ban_until', 'warm_until'}

-- The app's state hash; a missing hash reads as a fresh state.
local function load_state(key)
  local raw = redis.call('HMGET', key, unpack(FIELDS))
  return {
    run_id = raw[1],  -- false when missing
    multiplier = tonumber(raw[2]) or 1,
    last_429 = tonumber(raw[3]) or 0,
    pause_until = tonumber(raw[4]) or 0,
    paused_at = tonumber(raw[5]) or -math.huge,
    strikes = tonumber(raw[6]) or 0,
    ban_until = tonumber(raw[7]) or 0,
    warm_until = tonumber(raw[8]) or 0,
    dirty = {},
  }
end

-- The adaptive ceiling now (backends/memory.py `ceiling`): one step back per full recovery
-- window since the last decrease, no higher than one step below the level that drew the last
-- 429, until `forget` windows without a new one let it grow on to 1.
local function ceiling(s, now, step, period, forget)
  local lowered = s.multiplier
  if lowered >= 1 then
    return lowered
  end
  local windows = math.max(0, math.floor((now - s.paused_at) / period))
  local held = 1
  if s.last_429 > 0 then
    held = math.max(lowered, s.last_429 - step)
  end
  if windows < forget then
    return math.min(held, lowered + windows * step)
  end
  return math.min(1, math.min(held, lowered + (forget - 1) * step) + (windows - forget + 1) * step)
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

