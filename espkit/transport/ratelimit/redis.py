"""A rate limiter whose budget and backoff live in Redis, shared by processes and hosts.

Several processes (or hosts) provisioning one ESP account must stay under the account's limit
*together*, and one 429 must slow all of them down, not only the one that saw it.
``RedisLimiter`` keeps what ``ratelimit.RateLimiter`` keeps in memory in one Redis hash per
account and changes it only inside Lua scripts, so each read-modify-write is atomic however
many clients share it. It has the same semantics as ``RateLimiter``:

* **Pacing**: a smooth rate (a number) is a GCRA, a token bucket kept as one "theoretical
  arrival time" (TAT), with a burst of one by default: grants are spaced ``1/rate`` apart
  across every process. A grant may come up to ``TOLERANCE`` early so that waking-up time is
  not lost from the shared budget. A documented window (a ``Budget``: 300 per minute) is a
  log of the last ``count`` grant times: a burst of up to ``count``, never more than
  ``count`` in any window (see ``window``), across every process.
* **Announced windows**: what an ESP's ``X-RateLimit-*`` headers announce is shared too, and
  replaces the documented window while it is current (``announce``).
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

Keys are ``espkit:limiter:{<sha256 of the account key>}:<scope>`` (the key holds a provider
name, a key fingerprint and an endpoint, never a secret) and ``...:sent`` and ``...:log``
beside it; all expire after an hour idle (or the window, if longer). The braces are a hash
tag: every key of an account, whatever its scope, and its shared retry budget
(``redis_budget``) fall in one slot of a Redis Cluster, so every script runs there (a
cluster refuses a script whose keys span slots).

If Redis cannot be reached ``acquire`` raises ``LimiterUnavailable`` naming the URL without
its password, before anything is sent. Reporting an answer the ESP already gave
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

from espkit.errors import LimiterUnavailable
from espkit.transport.ratelimit import redis_client
from espkit.transport.ratelimit.clock import Clock, Sleep
from espkit.transport.ratelimit.memory import BETA, MEASURE_WINDOW, SCALE
from espkit.transport.ratelimit.redis_scripts import (
    ACQUIRE_LUA,
    ANNOUNCE_LUA,
    PAUSE_LUA,
    READ_LUA,
    SUCCESS_LUA,
    THROTTLE_LUA,
)
from espkit.transport.ratelimit.window import DEFAULT_SCOPE, Budget
from espkit.transport.redaction import display_url

if TYPE_CHECKING:
    from redis.commands.core import Script
    from redis.typing import EncodableT

log = logging.getLogger("espkit.ratelimit")

KEY_PREFIX = "espkit:limiter:"
#: state untouched this long is dropped by Redis (seconds)
IDLE_TTL = 3600.0
#: recent sends kept to learn an unknown rate (RateLimiter's deque holds as many)
SENT_KEPT = 64
#: how early (seconds, at most a quarter of the spacing) a grant may come. A waiting process
#: wakes up and reaches Redis a little after its slot; without this slack each grant would
#: restart the schedule from that late moment and the shared rate would fall short of the
#: limit by the wake-up time (several percent across hosts). With it the spacing is kept on
#: average, and no two grants are ever closer than 3/4 of the spacing.
TOLERANCE = 0.005
_SCRIPTS = {"acquire": ACQUIRE_LUA, "throttle": THROTTLE_LUA, "success": SUCCESS_LUA,
            "pause": PAUSE_LUA, "announce": ANNOUNCE_LUA, "read": READ_LUA}


class RedisLimiter:
    """``RateLimiter``'s semantics with the state in Redis: every ``RedisLimiter`` on the same
    server (or cluster), ``key`` and ``scope``, in any process on any host, shares one budget
    and one backoff.

    ``rate``: this process's ceiling in requests/second, a ``Budget`` (a documented window)
    or ``None`` (unknown, learnt from the first 429). Processes sharing a key should agree
    on it; each caps the shared rate at its own. ``url``: ``redis://[[user]:password@]host
    [:port][/db]``, ``rediss://`` (TLS), or ``redis+cluster://`` / ``rediss+cluster://`` and
    any node of a Redis Cluster. ``clock``: seconds, for tests only: replaces Redis's
    ``TIME`` (hosts' clocks differ; never share one this way in production). Nothing is sent
    to Redis until the first call."""

    def __init__(
        self,
        key: Hashable,
        rate: float | Budget | None,
        *,
        url: str,
        scope: str = DEFAULT_SCOPE,
        burst: float = 1.0,
        min_rate: float = 0.1,
        idle_ttl: float = IDLE_TTL,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.budget = rate if isinstance(rate, Budget) else None
        pace = None if isinstance(rate, Budget) else rate
        if pace is not None and not (math.isfinite(pace) and pace > 0):
            raise ValueError(f"rate must be positive, got {rate!r}")
        self.ceiling = self.budget.rate if self.budget is not None else pace
        self._burst = max(1.0, burst)
        # as in RateLimiter: a floor above the ceiling would make a throttle raise the rate
        self._min_rate = min(min_rate, self.ceiling) if self.ceiling is not None else min_rate
        # the window's log must outlive the window, however idle
        keep = max(idle_ttl, self.budget.span if self.budget is not None else 0.0)
        self._ttl_ms = max(1, round(keep * 1000))
        self._sleep = sleep
        self._clock = clock
        self._url = url
        self._where = display_url(url)
        redis_client.check_url(url)
        self._client_errors = redis_client.client_errors()
        self.scope = scope
        self.redis_key = f"{redis_key(key)}:{scope}"
        self._keys = [self.redis_key, self.redis_key + ":sent", self.redis_key + ":log"]
        self._scripts: dict[str, Script] = {}
        self._scripts_lock = threading.Lock()
        # per thread: the Redis time its last request was admitted (one cut per event)
        # and the shared grant count then (what an announcement has not counted)
        self._local = threading.local()
        # whether on_success has anything to do; the first acquire reply says for sure
        self._recovering = True
        self._count_lock = threading.Lock()
        self._throttles = 0

    def __repr__(self) -> str:
        limit = self.budget if self.budget is not None else self.ceiling
        return (f"RedisLimiter({self.redis_key!r}, url={self._where!r}, "
                f"limit={str(limit) if limit is not None else None!r})")

    @property
    def throttles(self) -> int:
        """429s reported through this object (``snapshot()["cuts"]`` counts shared cuts)."""
        return self._throttles

    @property
    def rate(self) -> float | None:
        """The shared pace in force for this process: the cut pace after a 429, else the
        ceiling (a window's average rate), else the announced window's (``None``: unknown)."""
        snap = self.snapshot()
        rate = snap["rate"] if snap["rate"] is not None else self.ceiling
        if rate is not None and self.ceiling is not None:
            rate = min(rate, self.ceiling)
        if rate is None and snap["announced_limit"] and snap["announced_length"]:
            rate = snap["announced_limit"] / snap["announced_length"]
        return rate

    def snapshot(self) -> dict[str, float | None]:
        """The shared state as seen now: ``rate`` (the cut pace; ``None`` outside a cut with
        a window), ``w_max``, ``since_cut``, ``paused_for`` and ``queued`` in seconds,
        ``cuts`` (by every process), ``granted`` (by every process), ``in_window`` (grants
        in the documented window now) and the announced window: ``announced_left``,
        ``announced_for`` (seconds), ``announced_limit``, ``announced_length``."""
        span = round(self.budget.span * 1e6) if self.budget is not None else ""
        raw = [_text(v) for v in self._run("read", [span])]
        now = float(raw[0])

        def num(i: int) -> float | None:
            return float(raw[i]) if raw[i] else None

        cut, pause, tat, end = num(3), num(4), num(6), num(7)
        return {
            "rate": num(1),
            "w_max": num(2),
            "since_cut": None if cut is None else (now - cut) / 1e6,
            "paused_for": max(0.0, (pause - now) / 1e6) if pause is not None else 0.0,
            "cuts": num(5) or 0.0,
            "queued": max(0.0, (tat - now) / 1e6) if tat is not None else 0.0,
            "announced_for": None if end is None else (end - now) / 1e6,
            "announced_left": num(8),
            "announced_limit": num(9),
            "announced_length": None if raw[10] == "" else float(raw[10]) / 1e6,
            "granted": num(11) or 0.0,
            "in_window": num(12),
        }

    def acquire(self) -> float:
        """Block until a request may go out. Returns the seconds waited."""
        waited = 0.0
        while True:
            wait = self.try_acquire()
            if wait <= 0.0:
                return waited
            # looked up per call so tests can replace time.sleep
            (self._sleep or time.sleep)(wait)
            waited += wait

    def try_acquire(self) -> float:
        """Take a grant if every process together may make one now (0.0), else the seconds
        to wait. One round trip."""
        window = self.budget
        reply = self._run("acquire", [
            self._ceiling_arg, self._burst, self._ttl_ms, SENT_KEPT, round(TOLERANCE * 1e6),
            "" if window is None else window.count,
            "" if window is None else round(window.span * 1e6),
        ])
        granted, wait_us, now_us, recovering, seq = (int(float(_text(v)))
                                                     for v in reply)
        if not granted:
            return max(wait_us / 1e6, 1e-6)
        self._local.admitted = now_us
        self._local.seq = seq
        self._recovering = bool(recovering)
        return 0.0

    def on_throttle(self, retry_after: float | None = None) -> None:
        with self._count_lock:
            self._throttles += 1
        # round(inf) raises and nan would poison the shared hash: no pause from either
        usable = retry_after is not None and math.isfinite(retry_after) and retry_after > 0
        pause_us = round(retry_after * 1e6) if usable and retry_after is not None else 0
        admitted = getattr(self._local, "admitted", None)
        self._report("throttle", [
            pause_us, "" if admitted is None else admitted, self._ceiling_arg, self._min_rate,
            BETA, round(MEASURE_WINDOW * 1e6), self._burst, self._ttl_ms, self._windowed,
        ])
        self._recovering = True

    def on_success(self) -> None:
        # Outside recovery a success changes nothing: skip the round trip. A cut made by
        # another process meanwhile shows in the next acquire's reply.
        if not self._recovering:
            return
        reply = self._report("success", [
            self._ceiling_arg, self._min_rate, BETA, SCALE, self._ttl_ms, self._windowed,
        ])
        self._recovering = reply is None or bool(int(reply))

    def pause_for(self, seconds: float) -> None:
        """Hold every caller, in every process, for ``seconds`` from now (Redis's now)."""
        if math.isfinite(seconds) and seconds > 0:
            self._report("pause", [round(seconds * 1e6), self._ttl_ms])

    def lower_ceiling(self, rate: float) -> None:
        # the ceiling travels with every script call, so this process caps the shared rate
        # at the learnt limit from its next request on
        if math.isfinite(rate) and rate > 0 and (self.ceiling is None or rate < self.ceiling):
            self.ceiling = rate
            self._min_rate = min(self._min_rate, rate)

    def announce(self, limit: int | None, remaining: int, reset: float) -> None:
        """The ESP announced its window in the answer to this thread's last request: shared
        with every process (the caller keeps ``reset`` within ``max_retry_after``)."""
        if not (math.isfinite(reset) and reset > 0) or remaining < 0 \
                or (limit is not None and limit < 1):
            return
        seq = getattr(self._local, "seq", None)
        self._report("announce", ["" if limit is None else limit, remaining,
                                  round(reset * 1e6), "" if seq is None else seq,
                                  self._ttl_ms])

    @property
    def granted_at(self) -> float | None:
        """When this thread's last request was let through, in seconds on Redis's clock
        (or the injected one): what every process's grants can be compared by."""
        admitted = getattr(self._local, "admitted", None)
        return None if admitted is None else admitted / 1e6

    @property
    def _ceiling_arg(self) -> float | str:
        return "" if self.ceiling is None else self.ceiling

    @property
    def _windowed(self) -> str:
        return "1" if self.budget is not None else ""

    def _report(self, script: str, args: Sequence[EncodableT]) -> Any:
        """Run a script that reports an answer the ESP already gave. It never raises: the
        request has been sent and answered, and turning, say, a create that happened into an
        error would be worse than losing one report. The next ``acquire``, before anything is
        sent, raises if Redis is still unavailable."""
        try:
            return self._run(script, args)
        except LimiterUnavailable as exc:
            log.warning("%s; this answer is not shared with other processes", exc)
            return None

    def _run(self, script: str, args: Sequence[EncodableT]) -> Any:
        now = "" if self._clock is None else round(self._clock() * 1e6)
        try:
            return self._script(script)(keys=self._keys, args=[now, *args])
        except self._client_errors as exc:
            # from None: the chained traceback would repeat the driver's connection details
            raise redis_client.unavailable(self._url, exc) from None

    def _script(self, name: str) -> Script:
        with self._scripts_lock:
            if not self._scripts:
                client = redis_client.client(self._url)
                self._scripts = {n: client.register_script(lua) for n, lua in _SCRIPTS.items()}
            return self._scripts[name]


def redis_key(key: Hashable) -> str:
    """``espkit:limiter:{<sha256>}`` for a limiter key: the same on every host and Python.
    The braces make the digest a Redis Cluster hash tag (one slot per account)."""
    material = json.dumps(key, default=repr, sort_keys=True, separators=(",", ":"))
    return KEY_PREFIX + "{" + hashlib.sha256(material.encode()).hexdigest() + "}"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


__all__ = [
    "KEY_PREFIX",
    "RedisLimiter",
    "redis_key",
]
