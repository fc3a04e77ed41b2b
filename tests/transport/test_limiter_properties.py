"""Properties of the in-process ``RateLimiter`` under any sequence of events.

Hypothesis drives acquire / on_throttle / on_success / pause_for / idle time against a fake
clock (the limiter sleeps on it, so waits cost nothing) and checks after every step:

* grants in any window of W seconds never exceed ``ceiling * W + burst``;
* the rate never exceeds the ceiling, and never drops below ``min_rate`` (or the ceiling,
  when that is lower: a floor above the documented limit would speed a throttle up);
* a throttle never raises the rate;
* a pause (``Retry-After``, rate-limit reset headers) is always honoured: nothing is granted
  before it ends.

With a documented window (a ``Budget``) instead of a rate, whatever the events: never more
than ``count`` grants in any window of the budget's span, exactly ``count`` at once from
idle, and one more exactly when the oldest leaves. With an announced window: never more than
announced before the reset, nor more than the limit in each window after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espkit.transport.ratelimit import Budget, RateLimiter

#: float slack for sums of fake-clock steps (the limiter's own slack is 1e-9 per grant)
TOLERANCE = 1e-6


class FakeClock:
    """Moves only when the limiter sleeps on it or the test lets time pass."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


Event = tuple[str, float | None]

events = st.lists(
    st.one_of(
        st.tuples(st.just("acquire"), st.none()),
        st.tuples(st.just("acquire"), st.none()),  # twice as likely: grants are the point
        st.tuples(st.just("throttle"),
                  st.none() | st.floats(0.0, 30.0, allow_nan=False)),
        st.tuples(st.just("success"), st.none()),
        st.tuples(st.just("pause_for"), st.floats(0.0, 30.0, allow_nan=False)),
        st.tuples(st.just("idle"), st.floats(0.0, 10.0, allow_nan=False)),
    ),
    max_size=60,
)
#: ceilings on both sides of the default min_rate (0.1), and unknown
ceilings = st.none() | st.floats(0.01, 200.0, allow_nan=False)


@dataclass
class Run:
    limiter: RateLimiter
    clock: FakeClock
    grants: list[float] = field(default_factory=list)
    #: latest end of any pause set so far
    paused_until: float = 0.0


def play(ceiling: float | None, burst: float, min_rate: float, script: list[Event]) -> Run:
    clock = FakeClock()
    run = Run(RateLimiter(ceiling, burst=burst, min_rate=min_rate, clock=clock,
                          sleep=clock.sleep), clock)
    lim = run.limiter
    floor = min(min_rate, ceiling) if ceiling is not None else min_rate
    for kind, value in script:
        before = lim.rate
        if kind == "acquire":
            lim.acquire()
            assert clock.now >= run.paused_until - TOLERANCE, "granted during a pause"
            run.grants.append(clock.now)
        elif kind == "throttle":
            lim.on_throttle(value)
            if value is not None and value > 0:
                run.paused_until = max(run.paused_until, clock.now + value)
            if before is not None:
                assert lim.rate is not None
                assert lim.rate <= before, "a throttle raised the rate"
        elif kind == "success":
            lim.on_success()
        elif kind == "pause_for":
            assert value is not None
            lim.pause_for(value)
            run.paused_until = max(run.paused_until, clock.now + value)
        else:
            assert value is not None
            clock.now += value
        if lim.rate is not None:
            if ceiling is not None:
                assert lim.rate <= ceiling + TOLERANCE, "rate above the ceiling"
            assert lim.rate >= floor - TOLERANCE, "rate below the floor"
    return run


def assert_within_budget(grants: list[float], rate: float, burst: float) -> None:
    # the fullest windows start and end on a grant, so checking those pairs is every window
    for i, first in enumerate(grants):
        for j in range(i, len(grants)):
            count = j - i + 1
            assert count <= rate * (grants[j] - first) + burst + TOLERANCE, (
                f"{count} grants in {grants[j] - first:.6f} s at {rate}/s, burst {burst}")


@settings(max_examples=300, deadline=None)
@given(
    ceiling=ceilings,
    burst=st.sampled_from([1.0, 1.0, 2.0, 5.0]),
    min_rate=st.floats(0.01, 2.0, allow_nan=False),
    script=events,
)
def test_any_sequence_keeps_every_property(
    ceiling: float | None, burst: float, min_rate: float, script: list[Event]
) -> None:
    run = play(ceiling, burst, min_rate, script)
    if ceiling is not None:
        assert_within_budget(run.grants, ceiling, burst)


@settings(max_examples=100, deadline=None)
@given(
    ceiling=st.floats(0.5, 50.0, allow_nan=False),
    script=st.lists(st.sampled_from(["acquire", "throttle", "success"]), max_size=80),
)
def test_grants_never_outrun_the_ceiling_through_cuts_and_recovery(
    ceiling: float, script: list[str]
) -> None:
    """Dense traffic (no idle steps): recovery after throttles, which refills at one rate and
    then changes it, still never lets more through than the ceiling allows."""
    run = play(ceiling, 1.0, 0.1, [(kind, None) for kind in script])
    assert_within_budget(run.grants, ceiling, 1.0)


def test_a_ceiling_below_min_rate_is_the_floor() -> None:
    """The case the properties found: at 3 requests/minute (below the default min_rate of
    0.1/s) a 429 used to *raise* the rate to 0.1/s."""
    clock = FakeClock()
    lim = RateLimiter(0.05, clock=clock, sleep=clock.sleep)
    lim.acquire()
    lim.on_throttle(None)
    assert lim.rate == 0.05
    lim.on_success()
    assert lim.rate == 0.05


# -- documented windows ------------------------------------------------------------------------

budgets = st.builds(Budget, st.integers(1, 40), st.floats(0.05, 120.0, allow_nan=False))


def play_window(budget: Budget, script: list[Event]) -> Run:
    clock = FakeClock()
    run = Run(RateLimiter(budget, clock=clock, sleep=clock.sleep), clock)
    lim = run.limiter
    for kind, value in script:
        before = lim.rate
        if kind == "acquire":
            lim.acquire()
            assert clock.now >= run.paused_until - TOLERANCE, "granted during a pause"
            run.grants.append(clock.now)
        elif kind == "throttle":
            lim.on_throttle(value)
            if value is not None and value > 0:
                run.paused_until = max(run.paused_until, clock.now + value)
            assert lim.rate is not None
            assert before is not None
            assert lim.rate <= before + TOLERANCE, "a throttle raised the rate"
        elif kind == "success":
            lim.on_success()
        elif kind == "pause_for":
            assert value is not None
            lim.pause_for(value)
            run.paused_until = max(run.paused_until, clock.now + value)
        else:
            assert value is not None
            clock.now += value
        assert lim.rate is not None
        assert lim.rate <= budget.rate + TOLERANCE, "rate above the window's average"
    return run


def most_in_span(grants: list[float], span: float) -> int:
    return max((sum(1 for t in grants[i:] if t - first < span - TOLERANCE)
                for i, first in enumerate(grants)), default=0)


@settings(max_examples=200, deadline=None)
@given(budget=budgets, script=events)
def test_a_window_never_holds_more_than_its_count(budget: Budget, script: list[Event]) -> None:
    run = play_window(budget, script)
    assert most_in_span(run.grants, budget.span) <= budget.count


@settings(max_examples=60, deadline=None)
@given(budget=budgets, script=st.lists(st.sampled_from(["acquire", "throttle", "success"]),
                                        max_size=80))
def test_dense_traffic_through_cuts_stays_within_the_window_and_the_cut_pace(
    budget: Budget, script: list[str]
) -> None:
    run = play_window(budget, [(kind, None) for kind in script])
    assert most_in_span(run.grants, budget.span) <= budget.count
    assert_within_budget(run.grants, budget.rate, budget.count)


@settings(max_examples=60, deadline=None)
@given(budget=budgets)
def test_from_idle_exactly_the_count_goes_at_once_and_one_more_when_the_oldest_leaves(
    budget: Budget,
) -> None:
    clock = FakeClock()
    lim = RateLimiter(budget, clock=clock, sleep=clock.sleep)
    assert all(lim.try_acquire() == 0.0 for _ in range(budget.count))
    wait = lim.try_acquire()
    assert wait == pytest.approx(budget.span)  # count + 1: refused for the whole span
    clock.now += wait * (1 - 1e-6)
    assert lim.try_acquire() > 0.0
    clock.now += wait * 1e-6
    assert lim.try_acquire() == 0.0


# -- announced windows -------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    limit=st.integers(1, 30),
    remaining=st.integers(0, 30),
    reset=st.floats(0.1, 60.0, allow_nan=False),
    gaps=st.lists(st.floats(0.0, 5.0, allow_nan=False), max_size=120),
)
def test_never_more_than_announced_before_the_reset_nor_the_limit_after(
    limit: int, remaining: int, reset: float, gaps: list[float]
) -> None:
    remaining = min(remaining, limit)
    clock = FakeClock()
    lim = RateLimiter(None, clock=clock, sleep=clock.sleep)
    lim.acquire()
    start = clock.now
    lim.announce(limit, remaining, reset)
    grants = []
    for gap in gaps:
        clock.now += gap
        lim.acquire()
        grants.append(clock.now)
    end = start + reset
    assert sum(1 for t in grants if t < end - TOLERANCE) <= remaining
    # after the reset, windows as long as the longest reset seen, each holding the limit
    for k in range(int((max(grants, default=end) - end) / reset) + 1):
        lo = end + k * reset
        assert sum(1 for t in grants if lo - TOLERANCE <= t < lo + reset - TOLERANCE) <= limit
