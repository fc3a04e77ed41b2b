"""An overall deadline per request attempt: connecting, sending, the headers and the body.

requests' timeouts bound each socket operation, not the call: a server that sends one byte
every few seconds never trips them and holds a call open for as long as it likes. Checking
the clock between reads of the body does not bound it either, since one read blocks until
its bytes arrive, and the headers are read inside requests. So every attempt registers a
``Deadline`` with one watchdog thread, and when it passes the watchdog shuts the attempt's
socket down: the blocked read returns at once and the transport reports the deadline.

The socket is learnt as the connection sends: ``DeadlineAdapter`` (mounted on the sessions
``Transport`` makes) gives urllib3 connection classes that tell the current attempt (a
thread-local) which socket they use. On a session the caller made, only the body's socket is
found (from the response), and the headers are bounded by the socket timeouts alone, which
the transport never sets longer than the deadline.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests
import urllib3
import urllib3.connection
import urllib3.response

#: an idle watchdog thread ends after this long; the next attempt starts another
_IDLE = 60.0
#: finished attempts are swept from the heap every this many new ones (they otherwise
#: leave only as they reach its top)
SWEEP_EVERY = 4096

_current = threading.local()


class Deadline:
    """One attempt's deadline. ``expired`` once it has passed (by the clock, or as seen by
    the watchdog, which has then shut the attempt's socket down)."""

    __slots__ = ("_expired", "_lock", "_sock", "done", "ends", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.done = False
        self._expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Deadline({self.seconds!r} s, {self.remaining():.3f} s left)"

    @property
    def expired(self) -> bool:
        return self._expired or time.monotonic() >= self.ends

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def watch(self, sock: object) -> None:
        """The attempt now reads and writes ``sock``: shut it down when the deadline
        passes (at once, if it already has)."""
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            if self.done:
                return
            self._sock = sock
            if self._expired:
                _shut(sock)

    def expire(self) -> None:
        """Called by the watchdog when the deadline passes."""
        with self._lock:
            if self.done:
                return
            self._expired = True
            if self._sock is not None:
                _shut(self._sock)

    def finish(self) -> bool:
        """The attempt is over: forget its socket (it may go back to the pool and serve
        another attempt, which this deadline must not cut). True if the deadline had
        passed first, and the socket had been shut down."""
        with self._lock:
            self.done = True
            self._sock = None
            return self._expired


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for an SSL socket: SSLSocket.shutdown would drop its
    # SSL object under the reading thread's feet. Shutting the descriptor down wakes a read
    # blocked in another thread, which closing it would not.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watchdog:
    """One thread for every attempt in the process: a heap of deadlines, earliest first."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Deadline]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        """Deadlines held, finished ones not yet swept included (at most ``SWEEP_EVERY``
        finished ones linger)."""
        with self._cond:
            return len(self._heap)

    def add(self, deadline: Deadline) -> None:
        with self._cond:
            seq = next(self._seq)
            if seq % SWEEP_EVERY == SWEEP_EVERY - 1:
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (deadline.ends, seq, deadline))
            if self._thread is None or not self._thread.is_alive():  # none yet, or forked
                self._thread = threading.Thread(target=self._run, name="espkit-deadlines",
                                                daemon=True)
                self._thread.start()
            elif self._heap[0][2] is deadline:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                # finished attempts leave the heap as they reach its top
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait(_IDLE)
                    if not self._heap:
                        self._thread = None
                        return
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                due = heapq.heappop(self._heap)[2]
            due.expire()


_watchdog = Watchdog()


def _after_fork() -> None:
    # a child has none of the parent's threads, and its copy of the watchdog's lock may
    # have been held by one of them at the fork: start afresh
    global _watchdog
    _watchdog = Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


@contextlib.contextmanager
def attempt_deadline(seconds: float) -> Iterator[Deadline]:
    """The deadline of one attempt made in this thread, watched while the block runs."""
    deadline = Deadline(seconds)
    _watchdog.add(deadline)
    _current.deadline = deadline
    try:
        yield deadline
    finally:
        _current.deadline = None
        deadline.finish()


def current() -> Deadline | None:
    """The deadline of the attempt this thread is making, if any (what a custom adapter or
    a test's mocked answer sees while espkit sends)."""
    deadline: Deadline | None = getattr(_current, "deadline", None)
    return deadline


def watch_current(sock: object) -> None:
    """Tell this thread's current attempt, if any, the socket it uses."""
    deadline: Deadline | None = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    """A connection that tells the current attempt its socket whenever it connects, sends
    or reads an answer (a kept-alive connection serves many attempts)."""

    def connect(self) -> None:
        super().connect()
        watch_current(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch_current(self.sock)
        super().request(*args, **kwargs)

    def getresponse(self) -> urllib3.response.HTTPResponse:  # type: ignore[override]
        watch_current(self.sock)
        return super().getresponse()


class _WatchedHTTPSConnection(_WatchedHTTPConnection, urllib3.connection.HTTPSConnection):
    pass


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS: dict[str, type[urllib3.HTTPConnectionPool]] = {
    "http": _WatchedHTTPPool, "https": _WatchedHTTPSPool,
}


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """An ``HTTPAdapter`` whose connections (direct or through an HTTP proxy) report their
    sockets to the current attempt's ``Deadline``."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # a SOCKS proxy has connection classes of its own: its attempts are bounded by
        # the socket timeouts and the body's deadline only
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOLS
        return manager


__all__ = [
    "SWEEP_EVERY",
    "Deadline",
    "DeadlineAdapter",
    "Watchdog",
    "attempt_deadline",
    "current",
    "watch_current",
]
