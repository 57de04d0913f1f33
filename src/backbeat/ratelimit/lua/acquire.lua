-- Take `cost` slots in every window of one request, or say how long to wait: one atomic step.
-- KEYS: state, leases, waiters:0, waiters:1, waiters:2, then one log per window, then one set
--       of waiters per window, then one set of calls in flight per window (in the same order).
-- ARGV: now ('' = TIME), token (run id if the state is new), known_run ('' = none), priority,
--       cost, waiter, concurrency ('' = none), lease_ttl, reserve_share, pace (0/1),
--       recovery_step, longest_period, recovery_period, forget_429_after, waiter_grace,
--       key_ttl_ms, state_ttl_ms, held (0/1: record the slots as out until finish.lua), then
--       limit, period per window.
-- Pacing keeps, per window, the next NORMAL/LOW slot (GCRA's theoretical arrival time) in the
-- state hash under 'tat:' .. the window's key.
-- Returns {granted 0/1, reason, wait, now, run_id, lease or '', ban_until or '', spread,
--          first slot or ''}.
local now = clock_now(ARGV[1])
local token, known_run = ARGV[2], ARGV[3]
local priority, cost, waiter = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local concurrency = tonumber(ARGV[7])
local lease_ttl, share, pace = tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10] == '1'
local step, longest = tonumber(ARGV[11]), tonumber(ARGV[12])
local recovery_period, forget = tonumber(ARGV[13]), tonumber(ARGV[14])
local grace, key_ttl, state_ttl = tonumber(ARGV[15]), ARGV[16], tonumber(ARGV[17])
local held = ARGV[18] == '1'
local FIRST_WINDOW_ARG = 19

local state_key, leases_key = KEYS[1], KEYS[2]
local waiter_keys = {KEYS[3], KEYS[4], KEYS[5]}
local FIRST_WINDOW_KEY = 6
local WINDOWS = (#KEYS - FIRST_WINDOW_KEY + 1) / 3  -- logs, their waiter sets, their calls out
local LAST_WINDOW_KEY = FIRST_WINDOW_KEY + WINDOWS - 1

local s = load_state(state_key)
if not s.run_id then
  -- No run id: a first start, or Redis came back empty and the last window's grants are lost.
  set(s, 'run_id', token)
  if known_run ~= '' and known_run ~= token then
    set(s, 'warm_until', now + longest)
  end
end

local warming = s.warm_until > now
local multiplier = ceiling(s, now, step, recovery_period, forget)

local function reply(granted, reason, wait, lease, ban_until, spread, slot)
  save_state(state_key, s, now, state_ttl)
  return {granted, reason, fmt(wait), fmt(now), s.run_id, lease or '',
          ban_until and fmt(ban_until) or '', fmt(spread or 0),
          slot and string.format('%d', slot) or ''}
end

-- Retries scatter over spacing × rivals / attempts per slot, where the window with the widest
-- spacing frees slots slowest and its waiters (of any priority) are the rivals.
local function spread()
  local spacing, binding = 0, FIRST_WINDOW_KEY
  for i = FIRST_WINDOW_KEY, LAST_WINDOW_KEY do
    local arg = FIRST_WINDOW_ARG + 2 * (i - FIRST_WINDOW_KEY)
    local effective = effective_limit(tonumber(ARGV[arg]), multiplier, warming)
    local window_spacing = tonumber(ARGV[arg + 1]) / effective
    if window_spacing > spacing then
      spacing, binding = window_spacing, i
    end
  end
  local waiting = KEYS[binding + WINDOWS]
  redis.call('ZREMRANGEBYSCORE', waiting, '-inf', fmt(now))
  local rivals = redis.call('ZCARD', waiting) - 1  -- this waiter is registered already
  return spacing * math.max(0, rivals) / ATTEMPTS_PER_SLOT
end

local function wait(reason, seconds)
  for p, key in ipairs(waiter_keys) do
    if p ~= priority + 1 then
      redis.call('ZREM', key, waiter)
    end
  end
  local key = waiter_keys[priority + 1]
  local expiry = fmt(now + seconds + grace)
  redis.call('ZADD', key, expiry, waiter)
  redis.call('PEXPIRE', key, key_ttl)
  for i = FIRST_WINDOW_KEY, LAST_WINDOW_KEY do
    redis.call('ZADD', KEYS[i + WINDOWS], expiry, waiter)
    redis.call('PEXPIRE', KEYS[i + WINDOWS], key_ttl)
  end
  return reply(0, reason, seconds, nil, nil, spread())
end

if s.ban_until > now then
  return reply(0, 'banned', s.ban_until - now, nil, s.ban_until)
end
if s.pause_until > now then
  return wait('paused', s.pause_until - now)
end
redis.call('ZREMRANGEBYSCORE', leases_key, '-inf', fmt(now))
if concurrency and redis.call('ZCARD', leases_key) >= concurrency then
  local first = redis.call('ZRANGE', leases_key, 0, 0, 'WITHSCORES')
  return wait('concurrency', math.min(tonumber(first[2]) - now, 0.05))
end

for _, key in ipairs(waiter_keys) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now))
end
local high_waiting = redis.call('ZCARD', waiter_keys[1])
if redis.call('ZSCORE', waiter_keys[1], waiter) then
  high_waiting = high_waiting - 1
end
local paced = priority ~= 0 and pace
local needed = 0
local spacings, tats = {}, {}
for i = FIRST_WINDOW_KEY, LAST_WINDOW_KEY do
  local key = KEYS[i]
  local arg = FIRST_WINDOW_ARG + 2 * (i - FIRST_WINDOW_KEY)
  local limit, period = tonumber(ARGV[arg]), tonumber(ARGV[arg + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now - period))
  local logged = redis.call('ZCARD', key)
  -- Calls out longer than the window left the log but still count (backends/memory.py), until
  -- the lease time says their process died.
  local out = KEYS[i + 2 * WINDOWS]
  redis.call('ZREMRANGEBYSCORE', out, '-inf', fmt(now - lease_ttl))
  local used = logged + redis.call('ZCOUNT', out, '-inf', fmt(now - period))
  local effective = effective_limit(limit, multiplier, warming)
  local allowed = effective
  if priority ~= 0 then
    allowed = allowed - reserve_for(effective, share, high_waiting)
  end
  if paced then
    -- One NORMAL/LOW slot per period / effective (see backends/memory.py).
    spacings[i] = period / effective
    tats[i] = tonumber(redis.call('HGET', state_key, 'tat:' .. key)) or -math.huge
    needed = math.max(needed, tats[i] - spacings[i] - now)
  end
  local over = used + cost - allowed
  if over > 0 then
    -- Wait until the `over`-th oldest logged slot leaves the window (or a full period when
    -- the cost can never fit, e.g. a LOW call while the reserve is maxed, or when calls out
    -- must come back first: they then stay a period).
    local free_at = now + period
    if over <= logged then
      local entry = redis.call('ZRANGE', key, over - 1, over - 1, 'WITHSCORES')
      free_at = tonumber(entry[2]) + period
    end
    needed = math.max(needed, free_at - now)
  end
end
if needed > 0 then
  return wait('window', needed)
end

-- Grant: `cost` unique members per log, scored by the grant time.
local last = redis.call('HINCRBY', state_key, 'seq', cost)
local score = fmt(now)
local function record(key)
  for n = last - cost + 1, last do
    redis.call('ZADD', key, score, string.format('%d', n))
  end
  redis.call('PEXPIRE', key, key_ttl)
end
for i = FIRST_WINDOW_KEY, LAST_WINDOW_KEY do
  record(KEYS[i])
  if held then
    record(KEYS[i + 2 * WINDOWS])  -- out until finish.lua hears the answer
  end
  if paced then
    -- Catching up by up to one spacing keeps a slightly late retry on the schedule.
    set(s, 'tat:' .. KEYS[i], math.max(tats[i], now - spacings[i]) + spacings[i] * cost)
  end
end
redis.call('HINCRBY', state_key, 'grants', cost)
for _, key in ipairs(waiter_keys) do
  redis.call('ZREM', key, waiter)
end
for i = FIRST_WINDOW_KEY, LAST_WINDOW_KEY do
  redis.call('ZREM', KEYS[i + WINDOWS], waiter)
end
local lease = nil
if concurrency then
  lease = s.run_id .. ':' .. string.format('%d', last)
  redis.call('ZADD', leases_key, fmt(now + lease_ttl), lease)
  redis.call('PEXPIRE', leases_key, key_ttl)
end
return reply(1, 'granted', 0, lease, nil, 0, last - cost + 1)
