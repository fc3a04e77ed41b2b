"""Work counted, not timed: how many function calls (Python and built-in) a piece of code
makes, as cProfile counts them.

A timer flakes on a shared CI machine (two cores, other jobs beside the suite) and says
nothing on a fast one; a call count is the same on every run and every machine. Tests bound
the work an input costs with it (an alias bomb refused before it expands) or compare the
work of an input with that of one several times larger (linear, not quadratic). Work done
inside one C call (a regular expression, a big-number operation) counts as one call: the
tests that lean on this say so. Timing figures live in ``benchmarks/``.
"""

from __future__ import annotations

import cProfile
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def calls(fn: Callable[[], T]) -> tuple[T, int]:
    """What ``fn()`` returned and how many calls it made in this thread; whatever it
    raises goes through."""
    profile = cProfile.Profile()
    profile.enable()
    try:
        out = fn()
    finally:
        profile.disable()
    return out, count(profile)


def count(profile: cProfile.Profile) -> int:
    """The calls a finished profile saw (recursive ones included), less its own disable."""
    return sum(entry.callcount for entry in profile.getstats()) - 1


def ratio(small: Callable[[], object], large: Callable[[], object]) -> float:
    """The work of ``large`` over that of ``small``: about k when the cost is linear and
    ``large`` is k times ``small``, k squared when quadratic."""
    return calls(large)[1] / max(1, calls(small)[1])
