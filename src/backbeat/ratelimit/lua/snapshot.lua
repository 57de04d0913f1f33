-- Read one app's state for metrics, changing nothing.
-- KEYS: state, leases, waiters:0, waiters:1, waiters:2, then one log per window.
-- ARGV: now ('' = TIME), reserve_share, recovery_step, recovery_period, forget_429_after,
--       then limit, period per window.
-- Returns {multiplier, pause_remaining, ban_remaining, warming 0/1, in_flight, grants,
--          http_429 rate, quota, ban, waiters HIGH, NORMAL, LOW, last_429,
--          then effective_limit, used, reserve per window}.
local now = clock_now(ARGV[1])
local share = tonumber(ARGV[2])
local step, recovery_period, forget = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local FIRST_WINDOW_ARG = 6
local state_key, leases_key = KEYS[1], KEYS[2]
local FIRST_WINDOW_KEY = 6

local s = load_state(state_key)
local counts = redis.call('HMGET', state_key, 'grants', 'http_429:rate', 'http_429:quota',
                          'http_429:ban')
local after_now = '(' .. fmt(now)
local warming = s.warm_until > now
local multiplier = ceiling(s, now, step, recovery_period, forget)
local result = {
  fmt(multiplier),
  fmt(math.max(0, s.pause_until - now)),
  fmt(math.max(0, s.ban_until - now)),
  warming and 1 or 0,
  redis.call('ZCOUNT', leases_key, after_now, '+inf'),
}
for i = 1, 4 do
  result[#result + 1] = tonumber(counts[i]) or 0
end
for i = 3, 5 do
  result[#result + 1] = redis.call('ZCOUNT', KEYS[i], after_now, '+inf')
end
local high_waiting = result[10]
result[#result + 1] = fmt(s.last_429)
for i = FIRST_WINDOW_KEY, #KEYS do
  local arg = FIRST_WINDOW_ARG + 2 * (i - FIRST_WINDOW_KEY)
  local limit, period = tonumber(ARGV[arg]), tonumber(ARGV[arg + 1])
  local horizon = '(' .. fmt(now - period)
  local effective = effective_limit(limit, multiplier, warming)
  result[#result + 1] = effective
  result[#result + 1] = redis.call('ZCOUNT', KEYS[i], horizon, '+inf')
  result[#result + 1] = reserve_for(effective, share, high_waiting)
end
return result
