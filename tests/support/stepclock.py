"""A monotonic clock for unit tests that moves only when someone sleeps on it (or a test
advances it): limiter, transport and waiter tests inject its ``__call__`` and ``sleep``."""

from __future__ import annotations


class StepClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds
