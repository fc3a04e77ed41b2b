"""Time for the sandbox, injectable so simulated waits can be instant and deterministic.

One clock drives both sides: the emulator (rate-limit bucket, latency, verification delay,
timestamps) and the client the sandbox provider builds (limiter waits, retry sleeps). With a
``FakeClock`` a test that waits out a 429 or a 60-second verification delay takes no real time
and the two sides still agree on how long was waited.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock epoch seconds (timestamps, verification delay; kept in the store)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (token buckets)."""

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time. ``sleep`` looks ``time.sleep`` up per call so tests can replace it."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class FakeClock:
    """Manual time: nothing moves until ``advance`` (or a ``sleep``, which advances instead
    of blocking). Thread-safe; starts at 2026-01-01T00:00:00Z unless told otherwise."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self._start = start
        # Elapsed time is kept apart from the epoch: near 1.8e9 a float cannot represent
        # steps below ~2e-7 s, so a limiter sleeping a tiny remainder would never arrive.
        self._elapsed = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        return self._start + self._elapsed

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go back")
        with self._lock:
            self._elapsed += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def __repr__(self) -> str:
        return f"FakeClock({self.time()!r})"
