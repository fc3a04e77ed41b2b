"""A bound on a hang, not a timer: ``within`` runs a call in a daemon thread and fails the
test only if it is still running after ``HANG`` seconds.

For calls that must end by themselves (a deadline against a server that drips forever, a
wait another thread stops, scrubbing megabytes of junk): the call takes milliseconds or a
deadline of a fraction of a second, and a bug makes it run for minutes or for ever, so a
bound of tens of seconds tells them apart on the busiest CI machine and never flakes. It
asserts nothing about how long the call took; what the call did is asserted by the test.
A call left running stays in its daemon thread (the test has failed; the process ends).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

#: seconds after which a call that should have ended is taken to hang
HANG = 30.0


def within(call: Callable[[], T], seconds: float = HANG) -> T:
    """``call()``'s result, or what it raised, once it has ended; a test failure if it is
    still running after ``seconds``."""
    result: list[T] = []
    raised: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as exc:  # handed to the calling thread as it is
            raised.append(exc)

    worker = threading.Thread(target=run, name="hang-bound", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"still running after {seconds:g} s: it hangs")
    if raised:
        raise raised[0]
    return result[0]


def raised_within(call: Callable[[], object], seconds: float = HANG) -> BaseException | None:
    """What ``call()`` raised (None if it returned), once it has ended; a test failure if
    it is still running after ``seconds``."""
    try:
        within(call, seconds)
    except Exception as exc:
        return exc
    return None
