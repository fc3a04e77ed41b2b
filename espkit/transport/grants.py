"""The line threads stand in for the rate limiter: one waits on it at a time, and a thread
part-way through a call that failed goes before the ones starting afresh.

Why a line at all: with hundreds of bulk workers, each polling the limiter for the next
token woke every one of them per token and burnt a core on wake-ups; here only the thread at
the head waits on the limiter and the rest sleep on a condition, woken one at a time.

Why the priority: a request that follows a failure (the read-back of an ambiguous create,
its re-send after the back-off, a retry) finishes an item that is already late, while a
fresh request starts a new one. Both are paced by the same limiter; letting the former
through first keeps a short job from ending on a chain of hops that each queued behind the
whole pool. Nothing is sent sooner than the back-off allows: the priority applies only once
a thread asks for a grant.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class GrantLine:
    """``with line.turn(urgent):`` holds the head of the line (one thread at a time).
    Thread-safe; urgent threads are served before the others, each kind in arrival order."""

    def __init__(self) -> None:
        lock = threading.Lock()
        self._urgent = threading.Condition(lock)
        self._normal = threading.Condition(lock)
        self._busy = False
        self._urgent_waiting = 0
        self._normal_waiting = 0

    def waiting(self) -> tuple[int, int]:
        """How many threads stand in line: (urgent, other)."""
        with self._urgent:
            return self._urgent_waiting, self._normal_waiting

    @contextlib.contextmanager
    def turn(self, urgent: bool) -> Iterator[None]:
        with self._urgent:  # the lock both conditions share
            try:
                if urgent:
                    self._urgent_waiting += 1
                    try:
                        while self._busy:
                            self._urgent.wait()
                    finally:
                        self._urgent_waiting -= 1
                else:
                    self._normal_waiting += 1
                    try:
                        while self._busy or self._urgent_waiting:
                            self._normal.wait()
                    finally:
                        self._normal_waiting -= 1
            except BaseException:
                # interrupted (Ctrl-C) after a wake-up meant for us: pass it on
                if not self._busy:
                    self._next()
                raise
            self._busy = True
        try:
            yield
        finally:
            with self._urgent:
                self._busy = False
                self._next()

    def _next(self) -> None:
        """Wake one waiter (the lock held): the next urgent thread if any, else the next
        other one."""
        if self._urgent_waiting:
            self._urgent.notify()
        else:
            self._normal.notify()


__all__ = ["GrantLine"]
