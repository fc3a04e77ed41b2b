"""The in-process rate limiter, and ``Limiter``: what the retry loop needs of any limiter.

Modelled on botocore's adaptive retry mode: a token bucket whose fill rate starts at the
ESP's documented limit, is cut by ``BETA`` on every 429 and grows back along a CUBIC curve,
never past the ceiling. A 429 with ``Retry-After`` also pauses every thread using the same
account until that moment, so one throttle is one backoff, not N.

A limit documented as a count per window (``Budget``, see ``window``) is kept as that window
instead of a smooth rate: a burst of up to its count, never more than the count in any
window. Only after a 429 is the pace cut (from the window's average rate) and grown back as
above; once back at the ceiling the window alone governs again. A window the ESP announces
in its answers (``announce``) replaces the documented one while it is current.

``RateLimiter`` keeps its state in this process; ``espkit.transport.ratelimit.redis`` keeps
the same state in Redis, for processes and hosts that share an account, and reuses this
module's constants so both adapt alike.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from typing import Protocol, runtime_checkable

from espkit.transport.ratelimit.clock import Clock, Sleep, default_clock
from espkit.transport.ratelimit.window import EPSILON, Announced, Budget, SlidingLog

#: multiplicative decrease on throttle and the CUBIC scaling constant (botocore's values)
BETA = 0.7
SCALE = 0.4
#: sends older than this are not counted when learning an unknown rate from a 429
MEASURE_WINDOW = 2.0
#: float slack when comparing tokens, so a clock advanced by exactly the computed wait
#: (an injected one) does not spin on a 1e-15 shortfall
_EPSILON = EPSILON


@runtime_checkable
class Limiter(Protocol):
    """What ``RetryRunner`` and ``Transport`` call on a rate limiter, whatever keeps its state.

    ``rate``/``ceiling`` are requests/second (``None``: not known); ``throttles`` counts the
    ``on_throttle`` calls made through this object."""

    @property
    def rate(self) -> float | None: ...

    @property
    def ceiling(self) -> float | None: ...

    @property
    def throttles(self) -> int: ...

    def acquire(self) -> float:
        """Block until a request may go out; returns the seconds waited."""
        ...

    def try_acquire(self) -> float:
        """Take a grant if one is free now (returns 0.0), else the seconds until one may be."""
        ...

    def on_throttle(self, retry_after: float | None = None) -> None:
        """The ESP answered 429: slow down, and hold everyone for ``retry_after`` seconds."""
        ...

    def on_success(self) -> None:
        """A request succeeded: let the rate grow back towards the ceiling."""
        ...

    def pause_for(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` from now (from rate-limit reset headers)."""
        ...

    def lower_ceiling(self, rate: float) -> None:
        """The ESP's rate-limit headers say the account allows at most ``rate``: never send
        faster (an unknown ceiling becomes ``rate``; a higher one comes down to it)."""
        ...

    def announce(self, limit: int | None, remaining: int, reset: float) -> None:
        """The ESP's answer to this thread's last request says ``remaining`` requests are
        left for ``reset`` seconds, ``limit`` per window (``None``: not said)."""
        ...


class RateLimiter:
    """Token bucket with adaptive rate, or a documented window (a ``Budget``) with the same
    adaptation after a 429. ``rate`` is requests/second, a ``Budget``, or ``None``: not
    known, no limiting until the first 429, which sets the rate from what was being sent."""

    def __init__(
        self,
        rate: float | Budget | None,
        *,
        burst: float = 1.0,
        min_rate: float = 0.1,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.budget = rate if isinstance(rate, Budget) else None
        pace = None if isinstance(rate, Budget) else rate
        if pace is not None and not _finite_positive(pace):
            raise ValueError(f"rate must be positive, got {rate!r}")
        self.ceiling = self.budget.rate if self.budget is not None else pace
        #: the smooth pace in force (None: none; with a window, only after a 429)
        self._rate = pace
        self._window = SlidingLog(self.budget) if self.budget is not None else None
        self._announced = Announced()
        self._burst = max(1.0, burst)
        self._tokens = self._burst
        # A floor above the ceiling would make a throttle *raise* a slow documented rate
        # (say 3/minute) to min_rate: the ceiling wins.
        self._min_rate = min(min_rate, self.ceiling) if self.ceiling is not None else min_rate
        self._clock = clock or default_clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last_refill = self._clock()
        self._paused_until = 0.0
        self._w_max: float | None = None
        self._last_throttle: float | None = None
        self._sent: collections.deque[float] = collections.deque(maxlen=64)
        self._granted = 0
        #: whether any request has been answered yet (``_anchor``)
        self._answered = False
        # per thread: when its last request was let through (one cut per throttle event)
        # and how many grants came before it (what an announcement has not counted)
        self._local = threading.local()
        self.throttles = 0

    def __repr__(self) -> str:
        limit = self.budget if self.budget is not None else self.ceiling
        return f"RateLimiter({str(limit) if limit is not None else None!r}, rate={self.rate!r})"

    @property
    def rate(self) -> float | None:
        """The pace in force, requests/second: the cut pace after a 429, else the ceiling
        (a window's average rate), else the announced window's (``None``: not known)."""
        if self._rate is not None:
            return self._rate
        if self.ceiling is not None:
            return self.ceiling
        ann = self._announced
        return ann.limit / ann.length if ann.limit and ann.length else None

    def _refill(self, now: float) -> None:
        if self._rate is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._last_refill) * self._rate)
        self._last_refill = now

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
        """Take a grant if every constraint allows one now (0.0), else the seconds to wait:
        the pause, then the announced window (or else the documented one) and the pace."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            if self._paused_until > now:
                return self._paused_until - now
            wait = self._announced.wait(now)
            if wait is None:
                wait = self._window.wait(now) if self._window is not None else 0.0
            if self._rate is not None and self._tokens < 1.0 - _EPSILON:
                wait = max(wait, (1.0 - self._tokens) / self._rate)
            if wait > 0.0:
                return wait
            if self._rate is not None:
                self._tokens = max(0.0, self._tokens - 1.0)
            if self._window is not None:
                self._window.record(now)
            self._announced.take(now)
            self._sent.append(now)
            self._granted += 1
            self._local.sent = now
            self._local.granted = self._granted
            return 0.0

    def _measured_rate(self, now: float) -> float | None:
        """Sends per second over the last ``MEASURE_WINDOW`` seconds; ``None`` when fewer
        than two sends fall in it (nothing to learn from)."""
        recent = [t for t in self._sent if now - t <= MEASURE_WINDOW]
        if len(recent) < 2:
            return None
        span = max(now - recent[0], 1e-3)
        return len(recent) / span

    def on_throttle(self, retry_after: float | None = None) -> None:
        with self._lock:
            now = self._clock()
            self.throttles += 1
            if retry_after is not None and _finite_positive(retry_after):
                self._paused_until = max(self._paused_until, now + retry_after)
            # An announced window the ESP still refused is spent: wait for its end. It said
            # what it allows, so there is no rate to learn from the refusal.
            if self._announced.refuse(now):
                return
            # credit the time up to now at the old rate, then drain: no saved-up tokens
            self._refill(now)
            # One overload answers every request then in flight with a 429: cut once per
            # event. A request sent before the last cut was already covered by it.
            sent = getattr(self._local, "sent", None)
            if sent is not None and self._last_throttle is not None \
                    and sent <= self._last_throttle:
                return
            current = self._rate if self._rate is not None else self.ceiling
            if current is None:
                current = self._measured_rate(now)
            if current is None:
                # unknown rate and no recent sends to measure: honour the pause only
                return
            self._w_max = current
            self._last_throttle = now
            self._rate = max(self._min_rate, current * BETA)
            self._tokens = min(self._tokens, 0.0)

    def on_success(self) -> None:
        with self._lock:
            if not self._answered:
                self._anchor()
            if self._w_max is None or self._last_throttle is None or self._rate is None:
                return
            now = self._clock()
            k = (self._w_max * (1 - BETA) / SCALE) ** (1 / 3)
            target = SCALE * (now - self._last_throttle - k) ** 3 + self._w_max
            # With no documented ceiling never grow past twice the last good rate in one
            # step; the next 429 teaches the real limit.
            ceiling = self.ceiling if self.ceiling is not None else 2 * self._w_max
            self._refill(now)
            self._rate = max(self._min_rate, min(target, ceiling))
            if self._window is not None and self._rate >= ceiling:
                self._rate = None  # recovered: the documented window alone governs again

    def _anchor(self) -> None:
        """On the first answer: when it is still the only request granted, pace the next
        from now rather than from when it left. The ESP's own window for a new key starts
        when the first request reaches it, which may be well after it left (a new
        connection, a first request the ESP is slow to see); paced from the send, the
        second request could reach it less than one interval after the first, a 429 from
        an ESP enforcing the rate with a bucket of one. Its answer is the first moment the
        client knows the first request has arrived. Costs one answer time, once."""
        self._answered = True
        if self._rate is None or self._granted != 1:
            return
        now = self._clock()
        self._last_refill = now
        self._tokens = min(self._tokens, max(0.0, self._burst - 1.0))

    def lower_ceiling(self, rate: float) -> None:
        if not _finite_positive(rate):
            return
        with self._lock:
            if self.ceiling is not None and rate >= self.ceiling:
                return
            self._refill(self._clock())
            self.ceiling = rate
            self._min_rate = min(self._min_rate, rate)
            self._rate = rate if self._rate is None else min(self._rate, rate)

    def announce(self, limit: int | None, remaining: int, reset: float) -> None:
        """The ESP announced its window in the answer to this thread's last request (the
        caller keeps ``reset`` within what it may wait: ``RetryPolicy.max_retry_after``)."""
        if not _finite_positive(reset) or remaining < 0 or (limit is not None and limit < 1):
            return
        with self._lock:
            mine = getattr(self._local, "granted", self._granted)
            self._announced.announce(self._clock(), limit, remaining, reset,
                                     self._granted - mine)

    def pause_until(self, when: float) -> None:
        """Hold every caller until time ``when`` on this limiter's clock."""
        with self._lock:
            self._paused_until = max(self._paused_until, when)

    def pause_for(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` from now (from rate-limit reset headers)."""
        if not _finite_positive(seconds):
            return
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)


def _finite_positive(x: float) -> bool:
    """Whether a number taken from an ESP's answer can pace or pause anything: ``nan``
    would switch pacing off (every comparison with it is false), ``inf`` stop it for good."""
    return math.isfinite(x) and x > 0


__all__ = [
    "BETA",
    "MEASURE_WINDOW",
    "SCALE",
    "Limiter",
    "RateLimiter",
]
