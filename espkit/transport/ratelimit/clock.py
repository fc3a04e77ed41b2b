"""The clock limiters read when they were given none, replaceable for the whole process.

A limiter made without a ``clock`` of its own reads this one on every call, so a test that
fakes ``time.sleep`` can move it on by every skipped sleep and every limiter, including
those made before the change, sees its waits end as they would in real time. It lives apart
from the limiters and from the registry so that both can use it without importing each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]
Sleep = Callable[[float], None]

_default_clock: Clock = time.monotonic


def default_clock() -> float:
    """The process's default clock, read now (``time.monotonic`` unless replaced)."""
    # read per call, so a replaced default clock reaches limiters made before the change
    return _default_clock()


def set_default_clock(clock: Clock | None) -> None:
    """Replace the clock that limiters made without a ``clock`` of their own read (``None``
    restores ``time.monotonic``). For tests that fake ``time.sleep``: move this clock on by
    every skipped sleep and a limiter's waits end as they would in real time."""
    global _default_clock
    _default_clock = clock or time.monotonic


__all__ = [
    "Clock",
    "Sleep",
    "default_clock",
    "set_default_clock",
]
