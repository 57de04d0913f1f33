-- Hold the grant's slots until now, release the lease and apply what the upstream answered
-- (pause, ceiling, ban): one atomic step.
-- KEYS: state, leases, then the log of each of the grant's windows, then each one's calls out.
-- ARGV: now ('' = TIME), lease ('' = none), kind, granted_at, retry_after ('' = missing),
--       min_multiplier, decrease_factor, ban_threshold, default_pause, max_default_pause,
--       state_ttl_ms, recovery_step, recovery_period, forget_429_after, first slot ('' = none),
--       cost, key_ttl_ms.
local now = clock_now(ARGV[1])
local lease, kind, granted_at = ARGV[2], ARGV[3], tonumber(ARGV[4])
local retry_after = tonumber(ARGV[5])  -- nil when the header was missing
local min_multiplier, decrease_factor = tonumber(ARGV[6]), tonumber(ARGV[7])
local ban_threshold, default_pause = tonumber(ARGV[8]), tonumber(ARGV[9])
local max_default_pause, state_ttl = tonumber(ARGV[10]), tonumber(ARGV[11])
local step, recovery_period, forget = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local first_slot, cost, key_ttl = tonumber(ARGV[15]), tonumber(ARGV[16]), ARGV[17]
local state_key, leases_key = KEYS[1], KEYS[2]

if lease ~= '' then
  redis.call('ZREM', leases_key, lease)
end
-- The slots move to the answer's time (backends/memory.py `_hold`); GT never moves one back,
-- and a member that left the log meanwhile comes back.
if first_slot then
  local score = fmt(now)
  local windows = (#KEYS - 2) / 2
  for i = 3, 2 + windows do
    for n = first_slot, first_slot + cost - 1 do
      local member = string.format('%d', n)
      redis.call('ZADD', KEYS[i], 'GT', score, member)
      redis.call('ZREM', KEYS[i + windows], member)
    end
    redis.call('PEXPIRE', KEYS[i], key_ttl)
  end
end
if kind ~= 'quota' and kind ~= 'rate_limited' then
  return 0
end

local s = load_state(state_key)
if kind == 'quota' or (retry_after or 0) > ban_threshold then
  local reason = kind == 'quota' and 'quota' or 'ban'
  redis.call('HINCRBY', state_key, 'http_429:' .. reason, 1)
  -- A quota 429 without a usable Retry-After still bans for at least the threshold.
  local length = math.max(retry_after or 0, ban_threshold)
  set(s, 'ban_until', math.max(s.ban_until, now + length))
else
  redis.call('HINCRBY', state_key, 'http_429:rate', 1)
  -- A call granted before the last decrease was in flight when the episode began: the same
  -- overload, counted once (no longer pause, no second decrease).
  if granted_at > s.paused_at then
    local multiplier = ceiling(s, now, step, recovery_period, forget)
    if now - s.paused_at >= recovery_period then
      s.strikes = 0  -- a quiet window: the default pause starts over
    end
    set(s, 'strikes', s.strikes + 1)
    local pause = retry_after
    if pause == nil or pause == 0 then
      pause = math.min(max_default_pause, default_pause * 2 ^ (s.strikes - 1))
    end
    set(s, 'pause_until', math.max(s.pause_until, now + pause))
    set(s, 'paused_at', now)
    set(s, 'last_429', multiplier)
    set(s, 'multiplier', math.max(min_multiplier, multiplier * decrease_factor))
  end
end
save_state(state_key, s, now, state_ttl)
return 1
