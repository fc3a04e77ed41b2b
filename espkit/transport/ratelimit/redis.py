"""A rate limiter whose budget and backoff live in Redis, shared by processes and hosts.

Several processes (or hosts) provisioning one ESP account must stay under the account's limit
*together*, and one 429 must slow all of them down, not only the one that saw it.
``RedisLimiter`` keeps what ``ratelimit.RateLimiter`` keeps in memory in one Redis hash per
account and changes it only inside Lua scripts, so each read-modify-write is atomic however
many clients share it. It has the same semantics as ``RateLimiter``:

* **Pacing**: GCRA, a token bucket kept as one "theoretical arrival time" (TAT), with a
  burst of one by default. Grants are spaced ``1/rate`` apart across every process; nobody
  ever gets a window's worth at once (ESPs answer such bursts with 429). A grant may come up
  to ``TOLERANCE`` early so that waking-up time is not lost from the shared budget.
* **One clock**: every timestamp is Redis's own ``TIME``, read inside the script that uses
  it. Hosts' clocks differ (and a monotonic clock means nothing on another machine), so a
  ``Retry-After`` pause is stored as an absolute time on the server's clock and every host
  compares it with that same clock. Local clocks only time the sleeps.
* **Adaptation**: the current rate, ``w_max`` and the time of the last cut are shared. A
  429 cuts everyone's rate by ``BETA``; successes grow it back along the same CUBIC curve,
  never past the ceiling (or twice the last good rate when the ESP documents none). With
  no known rate nothing is paced until the first 429, which learns the rate from what all
  processes together were sending (the last 64 sends, as ``RateLimiter`` does).
* **One cut per throttle event**: ten processes whose requests were all in flight when the
  ESP started refusing get ten 429s for one overload. Each thread remembers the Redis time
  at which its last request was admitted, and a 429 for a request admitted *before* the
  last cut does not cut again: that request was sent at the old rate, which the cut has
  already answered. This is TCP's "one window reduction per loss event", and unlike a fixed
  "ignore cuts within N ms" it holds whatever the ESP's latency. (A 429 reported without an
  admission on that thread counts as sent one emission interval ago.) Every 429 still
  applies its ``Retry-After`` pause.

``throttles`` counts the 429s reported through this object; ``snapshot()`` reads the shared
state (including ``cuts``, the number of cuts all processes made).

Why not pyrate-limiter's ``GCRA`` + ``StateBucket`` + ``RedisStateStore`` (v4.5)? Its GCRA
paces smoothly with ``Rate(..., burst=1)`` and its Lua step is atomic, but:

* the clock is the caller's: the script takes ``now`` as an argument, from ``WallClock``
  (each host's ``time.time()``) by default. Skewed hosts then disagree on the TAT, and a
  clock that reads Redis ``TIME`` would cost a second round trip and still not be atomic
  with the step;
* the rate is fixed per process: ``Rate`` (an int count per int milliseconds) is an
  argument of every call, so a shared, adaptive rate would need another read before each
  admission and would race with other processes' cuts;
* it has no notion of a pause until an absolute time, of CUBIC recovery or of learning an
  unknown rate, which would each be more keys and more round trips beside it.

So the admission is a small GCRA of our own, in the same script as the pause and the
adaptive rate: one round trip per ``acquire``, and one per ``on_success`` only while the rate
is recovering from a cut. Only the ``redis`` client is needed.

Keys are ``espkit:limiter:<sha256 of the limiter key>`` (the key holds a provider name, a key
fingerprint and an endpoint, never a secret) and ``...:sent``; both expire after an hour
idle. If Redis cannot be reached ``acquire`` raises ``LimiterUnavailable`` naming the URL
without its password, before anything is sent. Reporting an answer the ESP already gave
(``on_success``, ``on_throttle``, ``pause_for``) only logs a warning: failing there would
make a request that happened look as if it had not. There is no fallback to an in-process
limiter: it would let each process spend the whole account's budget on its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import urllib.parse
from collections.abc import Hashable, Sequence
from typing import Any

import redis
from redis.commands.core import Script
from redis.typing import EncodableT

from espkit.errors import ConfigError, LimiterUnavailable
from espkit.transport.ratelimit.memory import BETA, MEASURE_WINDOW, SCALE, Sleep

log = logging.getLogger("espkit.ratelimit")

KEY_PREFIX = "espkit:limiter:"
#: state untouched this long is dropped by Redis (seconds)
IDLE_TTL = 3600.0
#: seconds to connect to Redis and to wait for a reply: a limiter that cannot answer fast
#: should fail the call rather than hold it
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 2.0
#: recent sends kept to learn an unknown rate (RateLimiter's deque holds as many)
SENT_KEPT = 64
#: how early (seconds, at most a quarter of the spacing) a grant may come. A waiting process
#: wakes up and reaches Redis a little after its slot; without this slack each grant would
#: restart the schedule from that late moment and the shared rate would fall short of the
#: limit by the wake-up time (several percent across hosts). With it the spacing is kept on
#: average, and no two grants are ever closer than 3/4 of the spacing.
TOLERANCE = 0.005
_SECRET_PARAMS = ("pass", "secret", "token", "key", "auth")


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
_ACQUIRE = _PRELUDE + """
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
_THROTTLE = _PRELUDE + """
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
_SUCCESS = _PRELUDE + """
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
_PAUSE = _PRELUDE + """
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
_READ = _PRELUDE + """
local s = redis.call('HMGET', KEYS[1], 'rate', 'wmax', 'cut', 'pause', 'cuts', 'tat')
return {fmt(now_us()), s[1] or '', s[2] or '', s[3] or '', s[4] or '', s[5] or '', s[6] or ''}
"""


class RedisLimiter:
    """``RateLimiter``'s semantics with the state in Redis: every ``RedisLimiter`` on the same
    server and ``key``, in any process on any host, shares one budget and one backoff.

    ``rate``: this process's ceiling in requests/second (``None``: unknown, learnt from the
    first 429). Processes sharing a key should agree on it; each caps the shared rate at its
    own. ``url``: ``redis://[[user]:password@]host[:port][/db]`` or ``rediss://`` (TLS).
    Nothing is sent to Redis until the first call."""

    def __init__(
        self,
        key: Hashable,
        rate: float | None,
        *,
        url: str,
        burst: float = 1.0,
        min_rate: float = 0.1,
        idle_ttl: float = IDLE_TTL,
        sleep: Sleep | None = None,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive, got {rate!r}")
        self.ceiling = rate
        self._burst = max(1.0, burst)
        # as in RateLimiter: a floor above the ceiling would make a throttle raise the rate
        self._min_rate = min(min_rate, rate) if rate is not None else min_rate
        self._ttl_ms = max(1, round(idle_ttl * 1000))
        self._sleep = sleep
        self._url = url
        self._where = display_url(url)
        self._client = _client(url)
        self.redis_key = redis_key(key)
        self._keys = [self.redis_key, self.redis_key + ":sent"]
        self._acquire = self._client.register_script(_ACQUIRE)
        self._throttle = self._client.register_script(_THROTTLE)
        self._success = self._client.register_script(_SUCCESS)
        self._pause = self._client.register_script(_PAUSE)
        self._read = self._client.register_script(_READ)
        # per thread: the Redis time its last request was admitted (one cut per event)
        self._local = threading.local()
        # whether on_success has anything to do; the first acquire reply says for sure
        self._recovering = True
        self._count_lock = threading.Lock()
        self._throttles = 0

    def __repr__(self) -> str:
        return f"RedisLimiter({self.redis_key!r}, url={self._where!r}, ceiling={self.ceiling!r})"

    @property
    def throttles(self) -> int:
        """429s reported through this object (``snapshot()["cuts"]`` counts shared cuts)."""
        return self._throttles

    @property
    def rate(self) -> float | None:
        """The shared rate now in force for this process (``None``: not known yet)."""
        stored = self._read_state()[1]
        rate = float(stored) if stored else self.ceiling
        if rate is not None and self.ceiling is not None:
            rate = min(rate, self.ceiling)
        return rate

    def snapshot(self) -> dict[str, float | None]:
        """The shared state as seen now: ``rate``, ``w_max``, ``since_cut`` and ``paused_for``
        in seconds, ``cuts`` (by every process), ``queued`` (seconds of grants ahead)."""
        raw = self._read_state()
        now = float(raw[0])

        def num(i: int) -> float | None:
            return float(raw[i]) if raw[i] else None

        cut, pause, tat = num(3), num(4), num(6)
        return {
            "rate": num(1),
            "w_max": num(2),
            "since_cut": None if cut is None else (now - cut) / 1e6,
            "paused_for": max(0.0, (pause - now) / 1e6) if pause is not None else 0.0,
            "cuts": num(5) or 0.0,
            "queued": max(0.0, (tat - now) / 1e6) if tat is not None else 0.0,
        }

    def acquire(self) -> float:
        """Block until a request may go out. Returns the seconds waited."""
        waited = 0.0
        args = [self._ceiling_arg, self._burst, self._ttl_ms, SENT_KEPT,
                round(TOLERANCE * 1e6)]
        while True:
            reply = self._run(self._acquire, args)
            granted, wait_us, now_us, recovering = (int(float(_text(v))) for v in reply)
            if granted:
                self._local.admitted = now_us
                self._recovering = bool(recovering)
                return waited
            wait = wait_us / 1e6
            # looked up per call so tests can replace time.sleep
            (self._sleep or time.sleep)(wait)
            waited += wait

    def on_throttle(self, retry_after: float | None = None) -> None:
        with self._count_lock:
            self._throttles += 1
        pause_us = round(retry_after * 1e6) if retry_after is not None and retry_after > 0 else 0
        admitted = getattr(self._local, "admitted", None)
        self._report(self._throttle, [
            pause_us, "" if admitted is None else admitted, self._ceiling_arg, self._min_rate,
            BETA, round(MEASURE_WINDOW * 1e6), self._burst, self._ttl_ms,
        ])
        self._recovering = True

    def on_success(self) -> None:
        # Outside recovery a success changes nothing: skip the round trip. A cut made by
        # another process meanwhile shows in the next acquire's reply.
        if not self._recovering:
            return
        reply = self._report(self._success, [
            self._ceiling_arg, self._min_rate, BETA, SCALE, self._ttl_ms,
        ])
        self._recovering = reply is None or bool(int(reply))

    def pause_for(self, seconds: float) -> None:
        """Hold every caller, in every process, for ``seconds`` from now (Redis's now)."""
        if seconds > 0:
            self._report(self._pause, [round(seconds * 1e6), self._ttl_ms])

    def lower_ceiling(self, rate: float) -> None:
        # the ceiling travels with every script call, so this process caps the shared rate
        # at the learnt limit from its next request on
        if rate > 0 and (self.ceiling is None or rate < self.ceiling):
            self.ceiling = rate
            self._min_rate = min(self._min_rate, rate)

    @property
    def _ceiling_arg(self) -> float | str:
        return "" if self.ceiling is None else self.ceiling

    def _read_state(self) -> list[str]:
        return [_text(v) for v in self._run(self._read, [])]

    def _report(self, script: Script, args: Sequence[EncodableT]) -> Any:
        """Run a script that reports an answer the ESP already gave. It never raises: the
        request has been sent and answered, and turning, say, a create that happened into an
        error would be worse than losing one report. The next ``acquire``, before anything is
        sent, raises if Redis is still unavailable."""
        try:
            return self._run(script, args)
        except LimiterUnavailable as exc:
            log.warning("%s; this answer is not shared with other processes", exc)
            return None

    def _run(self, script: Script, args: Sequence[EncodableT]) -> Any:
        try:
            return script(keys=self._keys, args=args)
        except redis.RedisError as exc:
            message = scrub(f"{type(exc).__name__}: {exc}", self._url)
            # from None: the chained traceback would repeat the driver's connection details
            raise LimiterUnavailable(
                f"shared rate limiter: Redis at {self._where} failed ({message}); "
                "check limiter_url / $ESPKIT_LIMITER_URL"
            ) from None


def redis_key(key: Hashable) -> str:
    """``espkit:limiter:<sha256>`` for a limiter key: the same on every host and Python."""
    material = json.dumps(key, default=repr, sort_keys=True, separators=(",", ":"))
    return KEY_PREFIX + hashlib.sha256(material.encode()).hexdigest()


def display_url(url: str) -> str:
    """``url`` fit for errors and logs: no user or password, secret-looking query values
    masked. Unlike ``transport.safe_url`` it parses nothing that can fail (port, IPv6
    brackets), so a malformed URL can still be named in the error that rejects it."""
    scheme, _, host, path, query = _split(url)
    masked = [
        (k, "***" if any(s in k.lower() for s in _SECRET_PARAMS) else v)
        for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)
    ]
    shown = f"{scheme}://{host}{path}" if scheme else f"{host}{path}"
    return f"{shown}?{urllib.parse.urlencode(masked, safe='*')}" if masked else shown


def scrub(text: str, url: str) -> str:
    """``text`` with every credential in ``url`` replaced by ``***``: driver messages are
    not ours, and must not be the way a password reaches a log."""
    _, userinfo, _, _, query = _split(url)
    # the password, or a lone userinfo (someone's password written where a user name goes);
    # a user name beside a password is an identifier, and masking it would garble messages
    # such as "invalid username-password pair"
    password = userinfo.partition(":")[2] or userinfo
    secrets = [password, urllib.parse.unquote(password)]
    secrets += [v for k, v in urllib.parse.parse_qsl(query)
                if any(s in k.lower() for s in _SECRET_PARAMS)]
    # longest first, so a password containing the user name is masked whole
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# The userinfo runs to the *last* "@", so a password with an unescaped "/" or "@" is still
# masked whole (too much at worst); nothing here can fail on a malformed port or address.
_URL = re.compile(
    r"(?:(?P<scheme>[^:/?#]+)://)?(?:(?P<userinfo>.*)@)?"
    r"(?P<host>[^/?#]*)(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?"
)


def _split(url: str) -> tuple[str, str, str, str, str]:
    """scheme, userinfo, host[:port], path, query."""
    m = _URL.match(url)
    assert m is not None  # every group is optional: it matches any string
    scheme, userinfo, host, path, query = m.group("scheme", "userinfo", "host", "path", "query")
    return scheme or "", userinfo or "", host, path, query or ""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def _client(url: str) -> redis.Redis:
    """One client (one connection pool) per URL in the process, whatever the keys."""
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            try:
                client = redis.Redis.from_url(
                    url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=READ_TIMEOUT,
                )
            except ValueError as exc:
                raise ConfigError(
                    f"limiter_url {display_url(url)!r} is not a usable Redis URL: "
                    f"{scrub(str(exc), url)}"
                ) from None
            _clients[url] = client
        return client


__all__ = [
    "KEY_PREFIX",
    "LimiterUnavailable",
    "RedisLimiter",
    "display_url",
    "redis_key",
    "scrub",
]
