"""The per-attempt deadline and its watchdog, on socket pairs (no server needed)."""

from __future__ import annotations

import socket
import threading
import time

from espkit.transport import deadline as dl


def test_the_watchdog_shuts_a_blocked_read_down_at_the_deadline() -> None:
    a, b = socket.socketpair()
    with a, b:
        got: list[bytes] = []
        with dl.attempt_deadline(0.3) as d:
            d.watch(a)
            reader = threading.Thread(target=lambda: got.append(a.recv(10)))
            start = time.monotonic()
            reader.start()
            reader.join(3)
            took = time.monotonic() - start
            assert not reader.is_alive()
            assert got == [b""]  # woken by the shutdown, not by data
            assert 0.1 <= took <= 1.5
            assert d.expired
        assert d.finish() is True


def test_a_finished_attempt_never_cuts_its_socket() -> None:
    a, b = socket.socketpair()
    with a, b:
        with dl.attempt_deadline(0.1) as d:
            d.watch(a)
            assert d.finish() is False  # finished in time
        time.sleep(0.3)  # well past the deadline: the watchdog has seen it
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
            other.join()
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
