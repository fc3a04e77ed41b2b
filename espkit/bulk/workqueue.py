"""The bulk engine's queue between the feeding thread and the workers, with a gate.

A bounded queue (backpressure: the journal is read a batch ahead, not all at once) that the
run loop can shut while the ESP is down: workers then take nothing, except the one item the
loop lets through as a probe. Items sent back by a failure during an outage go to the front,
so they are the first to run (and to probe) when the ESP answers again. Workers also ask here
whether they are one too many (the run shrank) and leave when idle.
"""

from __future__ import annotations

import collections
import threading

import attrs

from espkit.bulk.journal import Entry


@attrs.define
class Task:
    """One item to run. ``resumed``: an earlier attempt may have applied it, so the operation
    reads back before sending; ``probe``: it is the one request the breaker let through;
    ``epoch``: the breaker's epoch when it started."""

    entry: Entry
    resumed: bool
    probe: bool = False
    epoch: int = 0
    #: the order it started in, among the run's tasks
    seq: int = 0


class WorkQueue:
    """Thread-safe. ``take`` blocks up to ``timeout`` seconds and returns None on nothing
    (the worker then checks whether to stop or retire)."""

    def __init__(self) -> None:
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # items to take
        self._room = threading.Condition(lock)  # room to put (the feeder waits on it)
        self._items: collections.deque[Task] = collections.deque()
        self._shut = False
        self._grants = 0

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, task: Task, *, front: bool = False) -> None:
        with self._cond:
            if front:
                self._items.appendleft(task)
            else:
                self._items.append(task)
            self._cond.notify()

    def take(self, timeout: float) -> Task | None:
        with self._cond:
            if not self._ready():
                self._cond.wait(timeout)
                if not self._ready():
                    return None
            task = self._items.popleft()
            if self._shut:
                self._grants -= 1
                task.probe = True
            self._room.notify()
            return task

    def wait_room(self, limit: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until fewer than ``limit`` items are queued; True
        when there is room."""
        with self._room:
            if len(self._items) >= limit:
                self._room.wait(timeout)
            return len(self._items) < limit

    def _ready(self) -> bool:
        return bool(self._items) and (not self._shut or self._grants > 0)

    # -- the gate ------------------------------------------------------------------------

    @property
    def shut(self) -> bool:
        return self._shut

    def shut_gate(self) -> None:
        """Stop handing out items (the ESP is down)."""
        with self._cond:
            self._shut = True
            self._grants = 0

    def open_gate(self) -> None:
        """Hand out items again, to every worker."""
        with self._cond:
            self._shut = False
            self._grants = 0
            self._cond.notify_all()

    def grant_probe(self) -> None:
        """Let one item through the shut gate."""
        with self._cond:
            self._grants += 1
            self._cond.notify()

    def granted(self) -> bool:
        """True while a granted probe has not been taken yet."""
        with self._cond:
            return self._grants > 0

    def wake(self) -> None:
        """Wake every waiting worker (to stop or retire), and the feeder."""
        with self._cond:
            self._cond.notify_all()
            self._room.notify_all()

    def drain(self) -> list[Task]:
        """Remove and return everything queued (a stop: the items stay to do)."""
        with self._cond:
            items = list(self._items)
            self._items.clear()
            return items


__all__ = ["Task", "WorkQueue"]
