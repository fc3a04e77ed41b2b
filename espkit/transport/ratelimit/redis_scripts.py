"""The Lua scripts that read and change a ``RedisLimiter``'s shared state inside Redis.

Every read-modify-write of the shared state happens in one of these scripts, so it is atomic
however many processes share it, and every timestamp is Redis's own ``TIME`` read inside the
script that uses it, never a host's clock. Each takes the state hash and the list of recent
sends as ``KEYS`` and this process's settings as ``ARGV`` (see each script's comment); the
algorithm is described in ``espkit.transport.ratelimit.redis``.
"""

# Shared by every script: Redis's clock in microseconds, and numbers written with all their
# digits (Redis would format a Lua number with 14, which mangles a microsecond timestamp).
_PRELUDE = """
local function now_us()
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
    redis.call('PEXPIRE', KEYS[1], keep)
end
local function current_rate(stored, ceiling)
    local rate = tonumber(stored) or ceiling
    if rate and ceiling and rate > ceiling then
        rate = ceiling
    end
    return rate
end
"""

# KEYS: state hash, recent sends. ARGV: ceiling ('' = unknown), burst, ttl_ms, sends kept,
# tolerance_us.
# Returns {granted, wait_us, now_us, recovering}.
ACQUIRE_LUA = _PRELUDE + """
local ceiling = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local now = now_us()
local s = redis.call('HMGET', KEYS[1], 'tat', 'pause', 'rate', 'wmax')
local pause = tonumber(s[2]) or 0
if pause > now then
    return {0, fmt(pause - now), fmt(now), 1}
end
local rate = current_rate(s[3], ceiling)
local wmax = tonumber(s[4])
local recovering = 0
if rate and wmax and rate < (ceiling or 2 * wmax) then
    recovering = 1
end
if not rate then
    -- nothing to pace by yet: remember the send so a first 429 can learn the rate
    redis.call('LPUSH', KEYS[2], fmt(now))
    redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
    redis.call('PEXPIRE', KEYS[2], ttl)
    touch(ttl, pause, now)
    return {1, '0', fmt(now), recovering}
end
local emission = 1000000 / rate
local tat = tonumber(s[1]) or 0
if tat < now then
    tat = now  -- idle time earns no credit beyond the burst
end
local tolerance = math.min(emission / 4, tonumber(ARGV[5]))
local allow_at = tat - (burst - 1) * emission - tolerance
if allow_at > now then
    return {0, fmt(math.ceil(allow_at - now)), fmt(now), recovering}
end
redis.call('HSET', KEYS[1], 'tat', fmt(tat + emission))
touch(ttl, pause, now)
return {1, '0', fmt(now), recovering}
"""

# ARGV: pause_us, admitted_at_us ('' = unknown), ceiling, min_rate, beta, window_us, burst,
# ttl_ms. Returns 1 when this 429 cut the rate, 0 when an earlier cut already covered it.
THROTTLE_LUA = _PRELUDE + """
local pause_us = tonumber(ARGV[1])
local admitted = tonumber(ARGV[2])
local ceiling = tonumber(ARGV[3])
local min_rate = tonumber(ARGV[4])
local beta = tonumber(ARGV[5])
local window = tonumber(ARGV[6])
local burst = tonumber(ARGV[7])
local ttl = tonumber(ARGV[8])
local now = now_us()
local s = redis.call('HMGET', KEYS[1], 'tat', 'pause', 'rate', 'cut')
local pause = tonumber(s[2]) or 0
if pause_us > 0 and now + pause_us > pause then
    pause = now + pause_us
    redis.call('HSET', KEYS[1], 'pause', fmt(pause))
end
local rate = current_rate(s[3], ceiling)
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

# ARGV: ceiling, min_rate, beta, scale, ttl_ms. Returns 1 while still below the cap.
SUCCESS_LUA = _PRELUDE + """
local ceiling = tonumber(ARGV[1])
local min_rate = tonumber(ARGV[2])
local beta = tonumber(ARGV[3])
local scale = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local now = now_us()
local s = redis.call('HMGET', KEYS[1], 'rate', 'wmax', 'cut', 'pause')
local wmax, cut = tonumber(s[2]), tonumber(s[3])
if not (s[1] and wmax and cut) then
    return 0
end
local k = (wmax * (1 - beta) / scale) ^ (1 / 3)
local target = scale * ((now - cut) / 1000000 - k) ^ 3 + wmax
local cap = ceiling or 2 * wmax
local new = math.max(min_rate, math.min(target, cap))
redis.call('HSET', KEYS[1], 'rate', fmt(new))
touch(ttl, tonumber(s[4]) or 0, now)
if new < cap then
    return 1
end
return 0
"""

# ARGV: pause_us, ttl_ms.
PAUSE_LUA = _PRELUDE + """
local now = now_us()
local pause = tonumber(redis.call('HGET', KEYS[1], 'pause')) or 0
local want = now + tonumber(ARGV[1])
if want > pause then
    pause = want
    redis.call('HSET', KEYS[1], 'pause', fmt(pause))
end
touch(tonumber(ARGV[2]), pause, now)
return 0
"""

# Returns the raw shared fields and Redis's time, for ``rate`` and ``snapshot``.
READ_LUA = _PRELUDE + """
local s = redis.call('HMGET', KEYS[1], 'rate', 'wmax', 'cut', 'pause', 'cuts', 'tat')
return {fmt(now_us()), s[1] or '', s[2] or '', s[3] or '', s[4] or '', s[5] or '', s[6] or ''}
"""


__all__ = [
    "ACQUIRE_LUA",
    "PAUSE_LUA",
    "READ_LUA",
    "SUCCESS_LUA",
    "THROTTLE_LUA",
]
