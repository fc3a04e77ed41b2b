"""Hedged reads: near the end of a job, the same read sent twice at once, the first answer
taken (gRPC's hedging policy; Dean and Barroso, "The Tail at Scale", 2013).

Why: a bulk job ends when its slowest item does, and the slowest is an item whose create
failed ambiguously late in the run: it waits on a read-back, and if the read-back fails
too, on a back-off and another answer. Once no item of the job is waiting to start, the
rate budget has room the job will not use: a second copy of the read-back costs nothing
anyone waits for, and turns a failed read-back (one in ten at 10 % faults) into one in a
hundred. Only reads are hedged: a read sent twice is harmless on every ESP, a create sent
twice is not (SendGrid keeps both).

``Spare`` is who says there is room: each job using a runner registers while it runs and
says whether it has work waiting; reads are hedged only while every registered job has
none. ``read_hedged`` sends the copies: the first to *answer* wins (a value, ``None`` for
"absent" too); a copy that fails after its own retries leaves the decision to the other,
and when both fail the first failure is raised. The loser's retries are called off; a
request it has in flight finishes on its own thread, bounded by its deadline.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from espkit.transport.retry import RetryRunner

T = TypeVar("T")

#: how many copies of a hedged read go out
COPIES = 2


class Spare:
    """The jobs sharing a runner, and whether each has work waiting. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, Callable[[], bool]] = {}

    @contextlib.contextmanager
    def job(self, idle: Callable[[], bool]) -> Iterator[None]:
        """For the block, a job uses the runner; ``idle()`` is true while it has nothing
        waiting to start (its remaining work is what is already in flight)."""
        key = id(idle)
        with self._lock:
            self._jobs[key] = idle
        try:
            yield
        finally:
            with self._lock:
                self._jobs.pop(key, None)

    def room(self) -> bool:
        """Whether a second copy of a read takes nothing any job is waiting for: at least
        one job runs and none has work waiting."""
        with self._lock:
            jobs = list(self._jobs.values())
        return bool(jobs) and all(idle() for idle in jobs)


def read_hedged(runner: RetryRunner | None, read: Callable[[], T]) -> T:
    """``read()``, sent as ``COPIES`` copies at once when ``runner`` has room to spare,
    else once on the calling thread. ``read`` must be safe to run twice at once: a read,
    each copy with its own retries through ``runner``."""
    if runner is None or not runner.spare.room():
        return read()
    runner.count_hedge()
    decided = threading.Event()
    outer = runner.give_up_check
    answers: queue.SimpleQueue[tuple[bool, object]] = queue.SimpleQueue()

    def give_up() -> bool:
        return decided.is_set() or (outer is not None and outer())

    def copy() -> None:
        # a copy finishes an item already late: first in the limiter's line, as the
        # read-back it stands for would be
        runner.start_item(give_up, urgent=True)
        try:
            answers.put((True, read()))
        except BaseException as exc:  # handed to the waiting thread, which raises it
            answers.put((False, exc))

    for n in range(COPIES):
        threading.Thread(target=copy, name=f"espkit-hedge-{n}", daemon=True).start()
    failures: list[BaseException] = []
    for _ in range(COPIES):
        ok, value = answers.get()
        if ok:
            decided.set()
            return value  # type: ignore[return-value]
        assert isinstance(value, BaseException)
        failures.append(value)
    raise failures[0]


__all__ = ["COPIES", "Spare", "read_hedged"]
