"""How many workers a bulk run keeps: a guess at the start, Little's law once answers come in.

The engine needs ``in flight = rate x answer time`` requests outstanding to use the ESP's
budget, and no more: a worker beyond that only waits for the limiter (or, when the client's
CPU is the bound, adds contention). ``Sizer`` says how many, and the run loop asks it a few
times a second while it feeds items *and* while it drains them, so a job that fits in the
queue at once scales like a long one. Workers above the number retire when idle.

* **Start**: Little's law on the answer time this account already measured. With none yet
  (a fresh account) the count *ramps*: it starts at what the limiter grants at once (its
  catch-up bucket, ``RAMP_HEAD`` seconds of grants, and at least ``RAMP_FLOOR``) and grows
  with the time that passes without an answer, at the limiter's rate (x ``HEADROOM``).
  Until the first answer the requests out number at most what the limiter granted, so a
  worker beyond that would only wait, and each costs a thread, a connection and the GIL's
  attention: 256 of them were 0.1 to 0.2 s of a 0.3 s job at 1,000 requests/second. The
  cap is the rate x ``DEFAULT_ANSWER_TIME``; the first answer ends the ramp and Little's
  law takes over (workers above it retire).
* **Measured**: ``rate x latency x HEADROOM + 1``, plus one for each thread sleeping in a
  retry back-off (it sends nothing meanwhile).
* **Rate unknown, or not binding** (no grant waited for: a window's burst, or a limit nobody
  told us): slow start. The count doubles every period while throughput still rises and no
  429 arrived; a doubling that brought no gain is undone, and a 429 ends the growth (the
  limiter then knows the rate and Little's law takes over).
* Never more than ``max_concurrency``, nor more than the items left to do.

Pure arithmetic over numbers handed in, with the clock injected: tested without threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from espkit.transport.ratelimit import CATCH_UP

#: the answer time assumed before one is measured: most ESP management calls take 0.1 to
#: 0.5 s, so a guess at the short end keeps the first burst of threads modest
DEFAULT_ANSWER_TIME = 0.25
#: in-flight requests are sized for this much more than the measured need, so that latency
#: jitter does not leave the limiter idle
HEADROOM = 1.3
#: where slow start begins when the rate is not known
UNKNOWN_START = 8
#: the ramp starts with this many seconds of grants: the limiter's catch-up bucket, which it
#: grants at once
RAMP_HEAD = CATCH_UP
#: and with at least this many workers (the old engine's fixed start)
RAMP_FLOOR = 4
#: a limiter whose grants waited less often than this is not what bounds the run
NOT_BINDING = 0.05
#: a doubling counts as a gain when throughput rose by at least this share
GAIN = 1.1
#: the shortest sizing period in seconds (also the floor of slow start's period)
PERIOD = 0.1
#: float slack, so that 1000 x 0.01 x 1.3 (13.000000000000002) is 13 requests, not 14, and a
#: gain of exactly ``GAIN`` counts as one
_SLACK = 1e-9


class Sizer:
    """The worker count for one bulk run. ``update`` is called periodically with what the
    run observed; ``target`` is the answer. ``clock`` is in seconds."""

    def __init__(self, max_concurrency: int, *, clock: Callable[[], float]) -> None:
        self.max_concurrency = max_concurrency
        self.clock = clock
        self.target = 1
        #: slow start's own count (0: off, Little's law alone)
        self.grown = 0
        self._last_count = 0
        self._last_time = 0.0
        self._before_grow = 0.0  # throughput in the period before the last doubling
        self._throttles = 0
        self._stalled = False  # a doubling brought nothing, or a 429 came: stop doubling
        #: when the pass began, while its count ramps (no answer time known yet)
        self._ramp_from: float | None = None

    def need(self, rate: float | None, latency: float | None, resting: int) -> int:
        """Little's law: the requests to keep in flight for ``rate`` at ``latency``."""
        if rate is None:
            return UNKNOWN_START
        answer = latency if latency is not None else DEFAULT_ANSWER_TIME
        return math.ceil(rate * answer * HEADROOM - _SLACK) + 1 + resting

    def start(self, rate: float | None, latency: float | None, items: int, *,
              completed: int = 0, throttles: int = 0) -> int:
        """The first guess, before anything is sent. ``completed`` and ``throttles``: the
        counters ``update`` will be given, as they stand now (an account's runner counts
        from its first request, not from this run's)."""
        now = self.clock()
        self._last_time = now
        self._last_count, self._throttles = completed, throttles
        self._before_grow = 0.0
        self._stalled = False
        self.grown = UNKNOWN_START if rate is None else 0
        self._ramp_from = now if rate is not None and latency is None else None
        want = self._ramped(max(self.need(rate, latency, 0), self.grown), rate, now)
        self.target = self._capped(want, items)
        return self.target

    @property
    def ramping(self) -> bool:
        """Whether the count is still ramping up to the first answer (the engine then
        re-sizes every few milliseconds, not every ``PERIOD``)."""
        return self._ramp_from is not None

    def _ramped(self, want: int, rate: float | None, now: float) -> int:
        """``want``, or fewer while ramping: what the limiter can have granted by now."""
        if self._ramp_from is None or rate is None:
            return want
        head = math.ceil(rate * RAMP_HEAD - _SLACK)
        granted = rate * (now - self._ramp_from) * HEADROOM
        return min(want, max(RAMP_FLOOR, head, math.ceil(granted - _SLACK) + 1))

    def update(self, *, rate: float | None, latency: float | None, resting: int,
               limited: float, throttles: int, completed: int, busy: bool,
               items: int) -> int:
        """Re-size. ``limited``: the share of recent grants the limiter made wait;
        ``throttles``: 429s so far; ``completed``: requests answered so far; ``busy``: items
        were waiting for a worker; ``items``: items left to do."""
        now = self.clock()
        if latency is not None or rate is None:
            self._ramp_from = None  # an answer came (or the rate is lost): the ramp is over
        need = self.need(rate, latency, resting)
        if throttles != self._throttles:
            # the ESP pushed back: growth stops here, the limiter has cut its pace
            self._throttles = throttles
            self._stalled = True
            self.grown = 0
        elif rate is None or limited < NOT_BINDING:
            self._slow_start(now, latency, completed, busy, need)
        else:
            self.grown = 0  # the limiter binds: Little's law is the whole answer
        self.target = self._capped(self._ramped(max(need, self.grown), rate, now), items)
        return self.target

    def _slow_start(self, now: float, latency: float | None, completed: int, busy: bool,
                    need: int) -> None:
        period = max(PERIOD, 2 * (latency or DEFAULT_ANSWER_TIME))
        if now - self._last_time < period:
            return
        rate_now = (completed - self._last_count) / (now - self._last_time)
        self._last_count, self._last_time = completed, now
        if self._stalled or not busy:
            return
        if self.grown and self._before_grow \
                and rate_now < self._before_grow * GAIN * (1 - _SLACK):
            # the last doubling bought nothing (the client's CPU, the network): undo it
            self.grown = max(need, self.grown // 2)
            self._stalled = True
            return
        self._before_grow = rate_now
        self.grown = min(self.max_concurrency, max(self.grown, need, self.target) * 2)

    def _capped(self, want: int, items: int) -> int:
        return max(1, min(self.max_concurrency, want, max(items, 1)))


__all__ = [
    "DEFAULT_ANSWER_TIME",
    "GAIN",
    "HEADROOM",
    "NOT_BINDING",
    "PERIOD",
    "RAMP_FLOOR",
    "RAMP_HEAD",
    "UNKNOWN_START",
    "Sizer",
]
