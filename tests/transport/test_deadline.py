"""The per-attempt deadline and its watchdog, on socket pairs (no server needed)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from support.hang import HANG

from espkit.transport import deadline as dl


def test_the_watchdog_shuts_a_blocked_read_down_at_the_deadline() -> None:
    """The read is woken by the watchdog's shutdown (no data came), and only the attempt
    whose deadline passed is cut: another attempt's socket, with a later deadline, works."""
    a, b = socket.socketpair()
    c, e = socket.socketpair()
    with a, b, c, e, dl.attempt_deadline(600.0) as later, dl.attempt_deadline(0.3) as d:
        later.watch(c)
        d.watch(a)
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(a.recv(10)), daemon=True)
        reader.start()
        reader.join(HANG)  # a bound on a hang: the watchdog wakes it after 0.3 s
        assert not reader.is_alive()
        assert got == [b""]  # woken by the shutdown, not by data
        assert d.expired
        assert not later.expired
        e.sendall(b"y")
        assert c.recv(1) == b"y"  # the later attempt's socket was left alone
        assert d.finish() is True
        assert later.finish() is False


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds; fail only after ``HANG`` seconds (a hang)."""
    give_up = time.monotonic() + HANG
    while not condition():
        assert time.monotonic() < give_up, "the watchdog never got there"
        time.sleep(0.01)


def test_a_finished_attempt_never_cuts_its_socket() -> None:
    a, b = socket.socketpair()
    watchdog = dl.Watchdog()
    with a, b:
        d = dl.Deadline(0.1)
        watchdog.add(d)
        d.watch(a)
        assert d.finish() is False  # finished in time
        # the watchdog has dropped it (finished attempts leave at the top of its heap) and
        # its deadline has passed
        wait_until(lambda: watchdog.pending == 0)
        wait_until(lambda: d.remaining() == 0)
        d.expire()  # as a watchdog that still held it would
        b.sendall(b"x")
        assert a.recv(1) == b"x"  # the socket still works (it could be serving another call)
        d.watch(a)  # a late report changes nothing
        assert d.finish() is False


def test_a_socket_reported_after_the_deadline_is_shut_at_once() -> None:
    a, b = socket.socketpair()
    with a, b:
        d = dl.Deadline(0.05)
        d.expire()
        d.watch(a)
        assert a.recv(1) == b""
        assert d.finish() is True


def test_only_the_current_threads_attempt_learns_a_socket() -> None:
    a, b = socket.socketpair()
    with a, b:
        dl.watch_current(a)  # no attempt: nothing happens
        with dl.attempt_deadline(5.0) as d:
            other = threading.Thread(target=dl.watch_current, args=(b,))
            other.start()
            other.join(HANG)
            assert not other.is_alive()
            dl.watch_current(a)
            assert d._sock is a
        assert d._sock is None  # forgotten when the attempt ends


def test_finished_attempts_do_not_pile_up_in_the_watchdog() -> None:
    watchdog = dl.Watchdog()
    for _ in range(3 * dl.SWEEP_EVERY):
        d = dl.Deadline(60.0)
        watchdog.add(d)
        d.finish()
    assert watchdog.pending <= dl.SWEEP_EVERY
