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
is recovering from a cut. Only the ``redis`` client is needed, and it is imported when a
``RedisLimiter`` is made, not with espkit. The scripts are in ``redis_scripts``.

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
import math
import threading
import time
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

from espkit.errors import ConfigError, LimiterUnavailable
from espkit.transport.ratelimit.clock import Sleep
from espkit.transport.ratelimit.memory import BETA, MEASURE_WINDOW, SCALE
from espkit.transport.ratelimit.redis_scripts import (
    ACQUIRE_LUA,
    PAUSE_LUA,
    READ_LUA,
    SUCCESS_LUA,
    THROTTLE_LUA,
)
from espkit.transport.redaction import display_url, scrub

if TYPE_CHECKING:
    # the client is an optional dependency (espkit[redis]), imported where a limiter is
    # made, so that importing espkit never loads it
    import redis
    from redis.commands.core import Script
    from redis.typing import EncodableT

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
        if rate is not None and not (math.isfinite(rate) and rate > 0):
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
        self._client_error = _client_error()
        self.redis_key = redis_key(key)
        self._keys = [self.redis_key, self.redis_key + ":sent"]
        self._acquire = self._client.register_script(ACQUIRE_LUA)
        self._throttle = self._client.register_script(THROTTLE_LUA)
        self._success = self._client.register_script(SUCCESS_LUA)
        self._pause = self._client.register_script(PAUSE_LUA)
        self._read = self._client.register_script(READ_LUA)
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
        # round(inf) raises and nan would poison the shared hash: no pause from either
        usable = retry_after is not None and math.isfinite(retry_after) and retry_after > 0
        pause_us = round(retry_after * 1e6) if usable and retry_after is not None else 0
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
        if math.isfinite(seconds) and seconds > 0:
            self._report(self._pause, [round(seconds * 1e6), self._ttl_ms])

    def lower_ceiling(self, rate: float) -> None:
        # the ceiling travels with every script call, so this process caps the shared rate
        # at the learnt limit from its next request on
        if math.isfinite(rate) and rate > 0 and (self.ceiling is None or rate < self.ceiling):
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
        except self._client_error as exc:
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


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def _client(url: str) -> redis.Redis:
    """One client (one connection pool) per URL in the process, whatever the keys. Raises
    ``ModuleNotFoundError`` (name ``redis``) without espkit[redis]."""
    import redis

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


def _client_error() -> type[Exception]:
    """What the client raises when Redis cannot be reached or answer (``RedisError``)."""
    import redis

    return redis.RedisError


__all__ = [
    "KEY_PREFIX",
    "RedisLimiter",
    "redis_key",
]
