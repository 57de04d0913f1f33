-- The user-processing limit shared by every worker (backbeat/jobs/shared_limits.py).
-- KEYS, all under one hash tag:
--   1 leases      zset: user → lease expiry (epoch seconds)
--   2 holders     hash: user → jobs holding (or admitted and waiting for) the user's place
--   3 starts      hash: user → when the user may start (jobs joining it wait until then too)
--   4 next_start  string: the latest start handed out (the inter-user delay counts from it)
-- ARGV: op, now, lease_ttl, key_ttl_ms, then per op:
--   admit user max_users delay  → the user's start time, or 'full'
--   renew user count …          → the users whose lease was gone, taken again with `count`
--   leave user                  → jobs still holding the user (-1: it was not there)

local leases, holders, starts, next_start = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local op = ARGV[1]
local now = tonumber(ARGV[2])
local expiry = now + tonumber(ARGV[3])
local key_ttl = ARGV[4]

-- tostring keeps 14 digits, Redis truncates returned numbers: %.17g round-trips a double.
local function fmt(x)
  return string.format('%.17g', x)
end

local function number(raw)  -- a missing value comes back as false
  if raw then
    return tonumber(raw)
  end
  return nil
end

-- Every write refreshes every key, so a deployment gone idle or dead leaves nothing for good.
local function touch()
  for _, key in ipairs(KEYS) do
    redis.call('PEXPIRE', key, key_ttl)
  end
end

-- Leases never shorten: another machine's clock may run a little behind this caller's.
local function extend(user)
  local current = number(redis.call('ZSCORE', leases, user))
  if current == nil or current < expiry then
    redis.call('ZADD', leases, fmt(expiry), user)
  end
end

local function forget(user)
  redis.call('ZREM', leases, user)
  redis.call('HDEL', holders, user)
  redis.call('HDEL', starts, user)
end

-- Leases nobody renewed: their workers died (or lost Redis for a whole lease).
local function purge()
  for _, user in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', fmt(now))) do
    forget(user)
  end
end

if op == 'admit' then
  local user = ARGV[5]
  purge()
  if redis.call('HEXISTS', holders, user) == 1 then
    redis.call('HINCRBY', holders, user, 1)
    extend(user)
    touch()
    return redis.call('HGET', starts, user) or fmt(now)
  end
  if redis.call('ZCARD', leases) >= tonumber(ARGV[6]) then
    return 'full'
  end
  local start = now
  local last = number(redis.call('GET', next_start))
  if last ~= nil and last + tonumber(ARGV[7]) > start then
    start = last + tonumber(ARGV[7])
  end
  redis.call('SET', next_start, fmt(start))
  redis.call('HSET', holders, user, 1)
  redis.call('HSET', starts, user, fmt(start))
  redis.call('ZADD', leases, fmt(expiry), user)
  touch()
  return fmt(start)
elseif op == 'renew' then
  -- No purge: a lease renewed a little late is still ours as long as nobody purged it.
  local lost = {}
  for i = 5, #ARGV, 2 do
    local user = ARGV[i]
    if redis.call('HEXISTS', holders, user) == 1 then
      extend(user)
    else
      -- Purged while its jobs still run here: count them again (even past max_users).
      redis.call('HSET', holders, user, ARGV[i + 1])
      redis.call('HSET', starts, user, fmt(now))
      redis.call('ZADD', leases, fmt(expiry), user)
      lost[#lost + 1] = user
    end
  end
  touch()
  return lost
elseif op == 'leave' then
  local user = ARGV[5]
  if redis.call('HEXISTS', holders, user) == 0 then
    return -1  -- purged after its lease ran out
  end
  local left = redis.call('HINCRBY', holders, user, -1)
  if left <= 0 then
    forget(user)
  end
  touch()
  return left
end
return redis.error_reply('user_slots.lua: unknown op ' .. tostring(op))
