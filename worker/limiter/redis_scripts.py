"""The limiter's Redis scripts: each acquisition, cool-down and slot change is one atomic step.

Time is Redis' own (`TIME`), so hosts whose clocks disagree still share one schedule. A script
that reads the time takes a reading as its first argument instead when one is given (`ARGV[1]`;
empty = Redis' clock): the tests run both backends on one fake clock, so the in-process schedule
and this one are held to the same numbers. Times are integer microseconds: Lua numbers are
doubles and Redis truncates what a script returns to integers, so nothing here relies on
fractions surviving the trip.

A gateway's state is one hash: `tat` (GCRA's theoretical arrival time of the next call),
`factor` (the share of the configured rate in force), `factor_at` (when that factor was set; it
recovers from then on), `cool_until`, `decreased_at`, `refused_at` (the last refusal that could
lower the rate), `repeats` (how many refusals in a row repeated it), `epoch` (bumped by each
cool-down), and the gateway's health, which every worker reads to tell an over-rate 2009 from a
bad token (`worker.gateway_health`):
`succeeded_at` (the last success any worker wrote) and `refused_since` (the start of the current
streak of refusals with no success between; 0 = none).
"""

#: the time in microseconds: the caller's reading (ARGV[1]) if it gave one, else Redis' clock
_NOW_US = """
local function now_us()
  if ARGV[1] ~= '' then
    return tonumber(ARGV[1])
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
"""

#: the factor in force now: what was set, plus what has recovered since `factor_at`
_CURRENT_FACTOR = (
    _NOW_US
    + """
local function current_factor(state, now, recovery)
  local factor = tonumber(state[2]) or 1
  local factor_at = tonumber(state[3]) or 0
  if now > factor_at then
    factor = math.min(1, factor + (now - factor_at) * recovery)
  end
  return factor
end
"""
)

#: KEYS: one state hash per gateway. ARGV: now_us, interval_us, burst, recovery_per_us, ttl_ms,
#: first (the 0-based gateway to look at first, so ties - every gateway free - are dealt out
#: evenly). Books the call on the gateway whose next call may go soonest; returns
#: {gateway index (1-based), wait_us, send_at_us, epoch}.
RESERVE = (
    _CURRENT_FACTOR
    + """
local interval, burst = tonumber(ARGV[2]), tonumber(ARGV[3])
local recovery, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_us()
local best, best_send, best_tat, best_epoch
for j = 0, #KEYS - 1 do
  local i = (tonumber(ARGV[6]) + j) % #KEYS + 1
  local key = KEYS[i]
  local state = redis.call('HMGET', key, 'tat', 'factor', 'factor_at', 'cool_until', 'epoch')
  local step = interval / current_factor(state, now, recovery)
  local tat = math.max(tonumber(state[1]) or 0, now)
  local send = math.max(now, tat - (burst - 1) * step, tonumber(state[4]) or 0)
  if best == nil or send < best_send then
    best, best_send, best_tat, best_epoch = i, send, tat + step, tonumber(state[5]) or 0
  end
end
redis.call('HSET', KEYS[best], 'tat', math.floor(best_tat))
redis.call('PEXPIRE', KEYS[best], ttl)
return {best, math.floor(best_send - now), math.floor(best_send), best_epoch}
"""
)

#: KEYS[1]: the gateway's state hash. ARGV: now_us, sent_at_us, cool_us, decrease, min_factor,
#: recovery_per_us, ttl_ms, window_us, lowers (1 = a refusal about our rate, 0 = the provider's
#: capacity, which never lowers it). A refusal *repeats* when its call was sent after the last
#: refusal was noted (so the cool-down did not help) and within one window of it; refusals of
#: calls already in flight are that same refusal. A lone refusal only cools the gateway down for
#: `cool_us`. Each repeat doubles the cool-down (up to a window: a full sliding window drains
#: in one) and lowers the rate, at most once per window: the window after a decrease still
#: holds calls sent at the old rate, so its refusals say nothing about the new one. Any change
#: voids the reservations made so far (epoch + 1) and restarts the schedule after the cool-down.
COOL_DOWN = (
    _CURRENT_FACTOR
    + """
local sent_at, cool = tonumber(ARGV[2]), tonumber(ARGV[3])
local decrease, min_factor = tonumber(ARGV[4]), tonumber(ARGV[5])
local recovery, ttl = tonumber(ARGV[6]), tonumber(ARGV[7])
local window, lowers = tonumber(ARGV[8]), ARGV[9] == '1'
local key = KEYS[1]
local now = now_us()
local state = redis.call('HMGET', key, 'tat', 'factor', 'factor_at', 'cool_until', 'epoch',
                         'decreased_at', 'refused_at', 'repeats')
local cool_until = tonumber(state[4]) or 0
local refused_at = tonumber(state[7]) or 0
local repeats = tonumber(state[8]) or 0
local decreased_at = tonumber(state[6]) or 0
local decreases = false
if lowers and sent_at > refused_at then
  local repeated = refused_at > 0 and now - refused_at <= window
  repeats = repeated and repeats + 1 or 0
  local settled = decreased_at == 0 or now - decreased_at >= window
  decreases = repeated and settled and sent_at > decreased_at
  redis.call('HSET', key, 'refused_at', now, 'repeats', repeats)
  cool = math.min(cool * 2 ^ repeats, math.max(cool, window))
end
local changed = decreases
if now + cool > cool_until then
  cool_until = now + cool
  changed = true
end
if decreases then
  local factor = math.max(min_factor, current_factor(state, now, recovery) * decrease)
  redis.call('HSET', key, 'factor', tostring(factor), 'factor_at', cool_until,
             'decreased_at', now)
end
if changed then
  redis.call('HSET', key, 'cool_until', cool_until, 'tat', cool_until,
             'epoch', (tonumber(state[5]) or 0) + 1)
end
redis.call('PEXPIRE', key, math.max(ttl, math.floor((cool_until - now) / 1000) + ttl))
return changed and 1 or 0
"""
)

#: KEYS[1]: the gateway's state hash. ARGV: now_us, ttl_ms. A call through it succeeded: the
#: streak of refusals, if any, is over.
NOTE_SUCCESS = (
    _NOW_US
    + """
local now = now_us()
redis.call('HSET', KEYS[1], 'succeeded_at', now, 'refused_since', 0)
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[2]), redis.call('PTTL', KEYS[1])))
return now
"""
)

#: KEYS[1]: the gateway's state hash. ARGV: now_us, ttl_ms. A call through it was refused: starts
#: the streak of refusals unless one is running; returns {now_us, succeeded_at, refused_since}.
NOTE_REFUSAL = (
    _NOW_US
    + """
local now = now_us()
local state = redis.call('HMGET', KEYS[1], 'succeeded_at', 'refused_since')
local since = tonumber(state[2]) or 0
if since == 0 then
  since = now
  redis.call('HSET', KEYS[1], 'refused_since', since)
end
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[2]), redis.call('PTTL', KEYS[1])))
return {now, tonumber(state[1]) or 0, since}
"""
)

#: KEYS[1]: the slots (a sorted set: holder -> lease expiry). ARGV: now_us, holder, max, lease_us.
#: Expired leases (their holder died) are dropped first, so a killed worker's slots come back.
TAKE_SLOT = (
    _NOW_US
    + """
local now = now_us()
local lease = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], math.floor(lease / 1000) * 2)
  return 1
end
return 0
"""
)

#: KEYS[1]: the slots, KEYS[2]: the wake-up list. ARGV: holder, max, lease_us.
#: Frees the slot and leaves one wake-up for a waiter (the list is trimmed, so releases with
#: nobody waiting cannot pile up).
RELEASE_SLOT = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('LPUSH', KEYS[2], 1)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
redis.call('PEXPIRE', KEYS[2], math.floor(tonumber(ARGV[3]) / 1000) * 2)
return 1
"""

#: KEYS[1]: the slots. ARGV: now_us, lease_us, then the holders. Renews only leases still held
#: (XX).
RENEW_SLOTS = (
    _NOW_US
    + """
local expiry = now_us() + tonumber(ARGV[2])
for i = 3, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], math.floor(tonumber(ARGV[2]) / 1000) * 2)
return #ARGV - 2
"""
)
