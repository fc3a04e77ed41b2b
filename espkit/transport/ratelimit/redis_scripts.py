"""The Lua scripts that read and change a ``RedisLimiter``'s shared state inside Redis.

Every read-modify-write of the shared state happens in one of these scripts, so it is atomic
however many processes share it. Every timestamp is Redis's own ``TIME``, read inside the
script that uses it, never a host's clock (``ARGV[1]`` may instead carry a time in
microseconds from an injected clock: tests, never hosts in production). Each takes as
``KEYS`` the state hash, the list of recent sends and the documented window's grant log, all
three under the account's hash tag so that a Redis Cluster runs them on one node, and this
process's settings as ``ARGV`` (see each script's comment). The algorithm is described in
``espkit.transport.ratelimit.redis``; state hash fields:

``tat`` (the pace's GCRA schedule), ``rate`` (the pace in force: with a documented window only
after a cut), ``wmax``/``cut``/``cuts`` (the last cut), ``pause`` (end of a ``Retry-After``),
``seq`` (grants so far), ``aend``/``aleft``/``alimit``/``alen`` (the announced window).
"""

# Shared by every script: the clock in microseconds, numbers written with all their digits
# (Redis would format a Lua number with 14, which mangles a microsecond timestamp), expiry,
# the pace in force and the announced window rolled over to now.
_PRELUDE = """
local function now_us(given)
    local n = tonumber(given)
    if n then return n end
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function fmt(x)
    return string.format('%.17g', x)
end
local function touch(ttl_ms, pause, now)
    -- idle state expires, but never before a pause still running
    local keep = ttl_ms
    if pause > now then
        keep = keep + math.ceil((pause - now) / 1000)
    end
    for i = 1, #KEYS do
        redis.call('PEXPIRE', KEYS[i], keep)
    end
end
local function pace(stored, ceiling, windowed)
    -- with a documented window the pace is only the one a cut set; else the ceiling
    local rate = tonumber(stored)
    if not rate and not windowed then
        rate = ceiling
    end
    if rate and ceiling and rate > ceiling then
        rate = ceiling
    end
    return rate
end
local function announced(s_end, s_left, s_limit, s_len, now)
    -- {end, left, rolled}: at its end an announced window holds its limit again
    local aend = tonumber(s_end)
    if not aend then
        return nil, 0, false
    end
    local left = tonumber(s_left) or 0
    if now < aend then
        return aend, left, false
    end
    local limit, len = tonumber(s_limit), tonumber(s_len)
    if limit and limit > 0 and len and len > 0 then
        return aend + (math.floor((now - aend) / len) + 1) * len, limit, true
    end
    return nil, 0, true
end
local function save_announced(aend, left, rolled)
    if aend then
        redis.call('HSET', KEYS[1], 'aend', fmt(aend), 'aleft', left)
    elseif rolled then
        redis.call('HDEL', KEYS[1], 'aend', 'aleft')
    end
end
"""

# ARGV: now, ceiling ('' = unknown), burst, ttl_ms, sends kept, tolerance_us, window count
# ('' = no documented window), window span_us.
# Returns {granted, wait_us, now_us, recovering, seq of this grant}.
ACQUIRE_LUA = _PRELUDE + """
local now = now_us(ARGV[1])
local ceiling = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local wcount = tonumber(ARGV[7])
local s = redis.call('HMGET', KEYS[1], 'tat', 'pause', 'rate', 'wmax', 'aend', 'aleft',
                     'alimit', 'alen')
local pause = tonumber(s[2]) or 0
if pause > now then
    return {0, fmt(pause - now), fmt(now), 1, '0'}
end
local rate = pace(s[3], ceiling, wcount)
local wmax = tonumber(s[4])
local recovering = 0
if rate and wmax and rate < (ceiling or 2 * wmax) then
    recovering = 1
end
local wait = 0
local aend, aleft, rolled = announced(s[5], s[6], s[7], s[8], now)
save_announced(aend, aleft, rolled)
if aend then
    -- the ESP's announced window replaces the documented one while it is current
    if aleft <= 0 then
        wait = aend - now
    end
elseif wcount and redis.call('LLEN', KEYS[3]) >= wcount then
    local oldest = tonumber(redis.call('LINDEX', KEYS[3], -1))
    if oldest then
        wait = math.max(wait, oldest + tonumber(ARGV[8]) - now)
    end
end
local emission, tat
if rate then
    emission = 1000000 / rate
    tat = math.max(tonumber(s[1]) or 0, now)  -- idle time earns no credit beyond the burst
    local tolerance = math.min(emission / 4, tonumber(ARGV[6]))
    wait = math.max(wait, tat - (burst - 1) * emission - tolerance - now)
end
if wait > 0 then
    return {0, fmt(math.ceil(wait)), fmt(now), recovering, '0'}
end
if rate then
    redis.call('HSET', KEYS[1], 'tat', fmt(tat + emission))
end
if wcount then
    redis.call('LPUSH', KEYS[3], fmt(now))
    redis.call('LTRIM', KEYS[3], 0, wcount - 1)
end
if aend then
    redis.call('HSET', KEYS[1], 'aleft', math.max(0, aleft - 1))
end
if not rate and not ceiling then
    -- nothing to pace by yet: remember the send so a first 429 can learn the rate
    redis.call('LPUSH', KEYS[2], fmt(now))
    redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[5]) - 1)
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
touch(ttl, pause, now)
return {1, '0', fmt(now), recovering, tostring(seq)}
"""

# ARGV: now, pause_us, admitted_at_us ('' = unknown), ceiling, min_rate, beta, window_us,
# burst, ttl_ms, windowed ('1' or ''). Returns 1 when this 429 cut the rate, 0 when an
# earlier cut already covered it or an announced window was current (it is spent now).
THROTTLE_LUA = _PRELUDE + """
local now = now_us(ARGV[1])
local pause_us = tonumber(ARGV[2])
local admitted = tonumber(ARGV[3])
local ceiling = tonumber(ARGV[4])
local min_rate = tonumber(ARGV[5])
local beta = tonumber(ARGV[6])
local window = tonumber(ARGV[7])
local burst = tonumber(ARGV[8])
local ttl = tonumber(ARGV[9])
local windowed = ARGV[10] == '1'
local s = redis.call('HMGET', KEYS[1], 'tat', 'pause', 'rate', 'cut', 'aend', 'aleft',
                     'alimit', 'alen')
local pause = tonumber(s[2]) or 0
if pause_us > 0 and now + pause_us > pause then
    pause = now + pause_us
    redis.call('HSET', KEYS[1], 'pause', fmt(pause))
end
local aend, aleft, rolled = announced(s[5], s[6], s[7], s[8], now)
if aend then
    -- refused inside an announced window: it is spent; the ESP said what it allows
    save_announced(aend, 0, rolled)
    touch(ttl, pause, now)
    return 0
end
save_announced(aend, aleft, rolled)
local rate = pace(s[3], ceiling, windowed) or ceiling
if not rate then
    -- unknown rate: learn it from what every process sent in the last window
    local n, oldest = 0, now
    for _, v in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
        local t = tonumber(v)
        if now - t <= window then
            n = n + 1
            if t < oldest then oldest = t end
        end
    end
    if n >= 2 then
        rate = n / math.max(now - oldest, 1000) * 1000000
    end
end
local cut = 0
if rate then
    local last = tonumber(s[4])
    local sent = admitted or (now - 1000000 / rate)
    if last == nil or sent > last then
        local new = math.max(min_rate, rate * beta)
        -- no saved-up credit: the next grant is one emission of the new rate away
        local tat = math.max(tonumber(s[1]) or 0, now + burst * 1000000 / new)
        redis.call('HSET', KEYS[1], 'rate', fmt(new), 'wmax', fmt(rate), 'cut', fmt(now),
                   'tat', fmt(tat))
        redis.call('HINCRBY', KEYS[1], 'cuts', 1)
        cut = 1
    end
end
touch(ttl, pause, now)
return cut
"""

# ARGV: now, ceiling, min_rate, beta, scale, ttl_ms, windowed ('1' or '').
# Returns 1 while still below the cap.
SUCCESS_LUA = _PRELUDE + """
local now = now_us(ARGV[1])
local ceiling = tonumber(ARGV[2])
local min_rate = tonumber(ARGV[3])
local beta = tonumber(ARGV[4])
local scale = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local s = redis.call('HMGET', KEYS[1], 'rate', 'wmax', 'cut', 'pause')
local wmax, cut = tonumber(s[2]), tonumber(s[3])
if not (s[1] and wmax and cut) then
    return 0
end
local k = (wmax * (1 - beta) / scale) ^ (1 / 3)
local target = scale * ((now - cut) / 1000000 - k) ^ 3 + wmax
local cap = ceiling or 2 * wmax
local new = math.max(min_rate, math.min(target, cap))
touch(ttl, tonumber(s[4]) or 0, now)
if ARGV[7] == '1' and new >= cap then
    redis.call('HDEL', KEYS[1], 'rate')  -- recovered: the documented window alone governs
    return 0
end
redis.call('HSET', KEYS[1], 'rate', fmt(new))
if new < cap then
    return 1
end
return 0
"""

# ARGV: now, pause_us, ttl_ms.
PAUSE_LUA = _PRELUDE + """
local now = now_us(ARGV[1])
local pause = tonumber(redis.call('HGET', KEYS[1], 'pause')) or 0
local want = now + tonumber(ARGV[2])
if want > pause then
    pause = want
    redis.call('HSET', KEYS[1], 'pause', fmt(pause))
end
touch(tonumber(ARGV[3]), pause, now)
return 0
"""

# ARGV: now, limit ('' = not said), remaining, reset_us, seq of the grant answered ('' =
# unknown), ttl_ms. Mirrors ``window.Announced.announce``: remaining minus the grants made
# after the answered one; within the same window only ever lower, a later window replaces.
ANNOUNCE_LUA = _PRELUDE + """
local now = now_us(ARGV[1])
local remaining = tonumber(ARGV[3])
local reset = tonumber(ARGV[4])
local s = redis.call('HMGET', KEYS[1], 'aend', 'aleft', 'alimit', 'alen', 'seq', 'pause')
local aend, aleft = announced(s[1], s[2], s[3], s[4], now)
local len = math.max(tonumber(s[4]) or 0, reset)
local limit = tonumber(ARGV[2]) or tonumber(s[3])
local seq = tonumber(s[5]) or 0
local mine = tonumber(ARGV[5]) or seq
local left = math.max(0, remaining - (seq - mine))
local e = now + reset
if not aend or e > aend + math.min(1000000, len / 2) then
    aend, aleft = e, left
else
    aleft = math.min(aleft, left)
end
redis.call('HSET', KEYS[1], 'aend', fmt(aend), 'aleft', aleft, 'alen', fmt(len))
if limit then
    redis.call('HSET', KEYS[1], 'alimit', limit)
end
touch(tonumber(ARGV[6]), tonumber(s[6]) or 0, now)
return 0
"""

# ARGV: now, window span_us ('' = none). Returns Redis's time, the raw shared fields and the
# grants in the documented window now, for ``rate`` and ``snapshot``.
READ_LUA = _PRELUDE + """
local now = now_us(ARGV[1])
local s = redis.call('HMGET', KEYS[1], 'rate', 'wmax', 'cut', 'pause', 'cuts', 'tat', 'aend',
                     'aleft', 'alimit', 'alen', 'seq')
local out = {fmt(now)}
for i = 1, 11 do
    out[i + 1] = s[i] or ''
end
local span, n = tonumber(ARGV[2]), 0
if span then
    for _, v in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
        if tonumber(v) > now - span then n = n + 1 end
    end
end
out[13] = tostring(n)
return out
"""


__all__ = [
    "ACQUIRE_LUA",
    "ANNOUNCE_LUA",
    "PAUSE_LUA",
    "READ_LUA",
    "SUCCESS_LUA",
    "THROTTLE_LUA",
]
