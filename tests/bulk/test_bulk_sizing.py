"""How many workers a bulk run keeps: the sizing arithmetic on a step clock, and an engine-level
check that a job small enough to fit in the queue at once still scales to its budget (the old
engine ran such a job on 4 workers to the end)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.stepclock import StepClock

import espkit
from espkit.account import runner_of
from espkit.bulk import Bulk
from espkit.bulk.sizing import (
    DEFAULT_ANSWER_TIME,
    PERIOD,
    RAMP_FLOOR,
    RAMP_HEAD,
    UNKNOWN_START,
    Sizer,
)
from espkit.testing import emulator
from espkit.transport.ratelimit.registry import CATCH_UP


def sizer(cap: int = 256) -> tuple[Sizer, StepClock]:
    clock = StepClock(0.0)
    return Sizer(cap, clock=clock), clock


def update(s: Sizer, **seen: Any) -> int:
    values: dict[str, Any] = {"rate": 100.0, "latency": 0.1, "resting": 0, "limited": 1.0,
                              "throttles": 0, "completed": 0, "busy": True, "items": 10_000}
    values.update(seen)
    return s.update(**values)


# -- the first guess ------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "items", "want"), [
    (1000.0, 10_000, 20),  # what the limiter grants at once: 1000 x 0.02
    (251.0, 10_000, 6), (250.0, 10_000, 5),  # 5.02 -> 6; exactly 5
    (200.0, 10_000, RAMP_FLOOR), (10.0, 10_000, RAMP_FLOOR),  # 4 and 0.2: the floor
    (1000.0, 10, 10),  # never more than the items
    (1000.0, 1, 1),
    (1000.0, 0, 1),  # never none
])
def test_with_no_answer_time_yet_the_count_starts_at_the_ramps_floor(
        rate: float, items: int, want: int) -> None:
    s, _ = sizer()
    assert s.start(rate, None, items) == want
    assert s.ramping


def test_the_ramp_starts_at_what_the_limiter_grants_at_once() -> None:
    assert RAMP_HEAD == CATCH_UP


def test_the_ramp_grows_at_the_limiters_rate_until_the_first_answer() -> None:
    s, clock = sizer()
    s.start(100.0, None, 10_000)
    clock.advance(0.1)  # 100 x 0.1 x 1.3 = 13 granted at most (13.000000000000002): + 1
    assert update(s, rate=100.0, latency=None) == 14
    clock.advance(1e-6)  # a hair more: 14, + 1
    assert update(s, rate=100.0, latency=None) == 15
    assert s.ramping
    clock.advance(0.9)  # the ramp would allow 131: the cap is the default answer time's
    assert update(s, rate=100.0, latency=None) == 34  # 100 x 0.25 x 1.3 = 32.5 -> 33, + 1
    assert update(s, rate=100.0, latency=None, items=20) == 20


def test_the_ramp_follows_a_rate_that_changed_and_ends_at_the_first_answer() -> None:
    s, clock = sizer()
    s.start(1000.0, None, 10_000)
    clock.advance(0.02)
    assert update(s, rate=1000.0, latency=None) == 27  # 26, + 1
    assert update(s, rate=500.0, latency=None) == 14  # a 429 halved the pace: 13, + 1
    # the first answer, 0.5 s: Little's law, however little time the ramp has had
    assert update(s, rate=1000.0, latency=0.5) == 256
    assert not s.ramping
    clock.advance(0.001)
    assert update(s, rate=1000.0, latency=0.01) == 14  # and it never ramps again
    assert not s.ramping


def test_a_pass_with_an_answer_time_known_or_no_rate_does_not_ramp() -> None:
    s, _ = sizer()
    s.start(1000.0, 0.1, 10_000)
    assert not s.ramping
    assert s.target == 131
    s.start(None, None, 10_000)
    assert not s.ramping
    assert s.target == UNKNOWN_START
    s.start(1000.0, None, 10_000)  # a later pass on a fresh account ramps again
    assert s.ramping
    assert s.target == 20
    update(s, rate=None, latency=None)  # the rate is lost: slow start's business now
    assert not s.ramping


def test_an_answer_time_already_measured_is_used_for_the_first_guess() -> None:
    s, _ = sizer()
    assert s.start(100.0, 0.02, 10_000) == 4  # 100 x 0.02 x 1.3 = 2.6 -> 3, + 1
    s2, _ = sizer()
    assert s2.start(100.0, DEFAULT_ANSWER_TIME, 10_000) == 34


def test_with_no_known_rate_it_starts_modest() -> None:
    s, _ = sizer()
    assert s.start(None, None, 10_000) == UNKNOWN_START
    assert s.start(None, None, 3) == 3


# -- Little's law -----------------------------------------------------------------------------


def test_measured_latency_sizes_the_pool_and_threads_backing_off_are_stood_in_for() -> None:
    s, clock = sizer()
    s.start(1000.0, None, 10_000)
    clock.advance(1)
    assert update(s, rate=1000.0, latency=0.1) == 131  # 130 + 1
    assert update(s, rate=1000.0, latency=0.1, resting=7) == 138
    assert update(s, rate=1000.0, latency=0.01) == 14  # shrinks: 13 + 1
    assert update(s, rate=1000.0, latency=0.01, items=5) == 5  # never more than items left


def test_the_rounding_is_up_both_sides_of_a_whole_number() -> None:
    s, _ = sizer()
    assert update(s, rate=100.0, latency=0.1 / 1.3) == 11  # exactly 10 in flight, + 1
    assert update(s, rate=100.0, latency=0.1001 / 1.3) == 12  # a hair over 10: 11, + 1


# -- slow start -------------------------------------------------------------------------------


def test_unknown_rate_doubles_while_throughput_rises_and_stops_at_a_429() -> None:
    s, clock = sizer()
    s.start(None, None, 10_000)
    counts = [8]
    done = 0
    for _ in range(4):
        clock.advance(1.0)
        done += counts[-1] * 10  # throughput in step with the workers: every doubling pays
        counts.append(update(s, rate=None, latency=0.1, completed=done))
    assert counts == [8, 16, 32, 64, 128]
    clock.advance(1.0)
    assert update(s, rate=None, latency=0.1, completed=done + 1000, throttles=1) == 8
    clock.advance(1.0)  # the limiter knows the rate now: Little's law
    assert update(s, rate=70.0, latency=0.1, completed=done + 2000, throttles=1) == 11


def test_a_doubling_that_brings_no_gain_is_undone_and_growth_stops() -> None:
    s, clock = sizer()
    s.start(None, None, 10_000)
    clock.advance(1.0)
    assert update(s, rate=None, completed=100) == 16
    clock.advance(1.0)
    assert update(s, rate=None, completed=300) == 32  # 200/s after 100/s: a gain
    clock.advance(1.0)
    assert update(s, rate=None, completed=500) == 16  # still 200/s: undone
    clock.advance(1.0)
    assert update(s, rate=None, completed=1500) == 16  # and no more doubling


def test_a_gain_of_exactly_ten_percent_counts_and_just_under_does_not() -> None:
    for gain, after in ((1.1, 32), (1.099, UNKNOWN_START)):
        s, clock = sizer()
        s.start(None, None, 10_000)
        clock.advance(1.0)
        assert update(s, rate=None, completed=1000) == 16  # 1000/s
        clock.advance(1.0)
        assert update(s, rate=None, completed=1000 + round(1000 * gain)) == after, gain


def test_counters_from_before_the_run_are_not_taken_for_its_throughput_or_its_429s() -> None:
    # the account's runner counted 5,000 requests and three 429s in an earlier run
    s, clock = sizer()
    s.start(None, None, 10_000, completed=5000, throttles=3)
    clock.advance(1.0)
    assert update(s, rate=None, completed=5100, throttles=3) == 16  # no 429 in this run
    clock.advance(1.0)
    assert update(s, rate=None, completed=5300, throttles=3) == 32  # 200/s after 100/s
    fresh, clock = sizer()
    fresh.start(None, None, 10_000)
    clock.advance(1.0)
    assert update(fresh, rate=None, completed=5100, throttles=3) == UNKNOWN_START


def test_nothing_grows_within_a_period_or_while_no_item_waits() -> None:
    s, clock = sizer()
    s.start(None, None, 10_000)
    clock.advance(0.05)
    assert update(s, rate=None, completed=50) == UNKNOWN_START  # too soon
    clock.advance(1.0)
    assert update(s, rate=None, completed=500, busy=False) == UNKNOWN_START  # no queue


def test_a_known_rate_that_does_not_bind_grows_and_one_that_binds_does_not() -> None:
    # a window budget that allows a burst, or a limit higher than the ESP's answers allow:
    # grants never wait, so more workers may help
    s, clock = sizer()
    s.start(5.0, 0.1, 10_000)
    clock.advance(1.0)
    assert s.target == 2  # 5 x 0.1 x 1.3 = 0.65 -> 1, + 1
    assert update(s, rate=5.0, latency=0.1, limited=0.0, completed=10) == 4
    clock.advance(1.0)
    assert update(s, rate=5.0, latency=0.1, limited=0.049, completed=50) == 8  # just under
    clock.advance(1.0)
    assert update(s, rate=5.0, latency=0.1, limited=0.05, completed=100) == 2  # binds now


@settings(max_examples=300, deadline=None)
@given(cap=st.integers(1, 1024), items=st.integers(0, 100_000),
       rate=st.one_of(st.none(), st.floats(0.01, 100_000)),
       latency=st.one_of(st.none(), st.floats(0.0, 30.0)),
       steps=st.lists(st.tuples(st.floats(0.0, 5.0), st.integers(0, 10_000),
                                st.booleans(), st.floats(0.0, 1.0), st.integers(0, 3)),
                      max_size=8))
def test_the_count_is_always_between_one_and_the_caps(
        cap: int, items: int, rate: float | None, latency: float | None,
        steps: list[tuple[float, int, bool, float, int]]) -> None:
    s, clock = sizer(cap)
    assert 1 <= s.start(rate, latency, items) <= max(1, min(cap, items))
    done = 0
    for advance, more, busy, limited, throttles in steps:
        clock.advance(advance)
        done += more
        n = s.update(rate=rate, latency=latency, resting=0, limited=limited,
                     throttles=throttles, completed=done, busy=busy, items=items)
        assert 1 <= n <= max(1, min(cap, items))


# -- the engine ------------------------------------------------------------------------------


def test_a_small_job_with_a_known_budget_scales_at_once() -> None:
    """100 creates, 1,000 req/s, answers in 200 ms: the first guess gives every item a worker
    (the old engine ran such a job on 4). Counted at the emulator: requests at once."""
    acct = espkit.connect("sandbox", path=":memory:", latency=0.2, rate_limit=1000)
    emu = emulator(acct)
    lock = threading.Lock()
    now = [0]
    most = [0]
    exchange = emu.exchange

    def counting(*args: Any, **kwargs: Any) -> Any:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        try:
            return exchange(*args, **kwargs)
        finally:
            with lock:
                now[0] -= 1

    emu.exchange = counting  # type: ignore[method-assign]
    report = Bulk(acct).create_domains([f"d{i:03d}.size.example" for i in range(100)])
    assert report.counts == {"created": 100}
    assert report.concurrency == 100
    assert most[0] >= 20  # 200 ms answers at 1 ms spacing: up to 100 at once; the old one, 4
    assert report.requests == 100


def test_a_job_whose_answers_come_at_once_does_not_start_a_worker_per_item() -> None:
    """100 creates at 100 req/s on a fresh account, answered at once: the ramp grows 1.3
    workers per 10 ms until the first answer, and then Little's law wants 3; the old first
    guess started 34 (100 x 0.25 s x 1.3 + 1). 20 allows the first answer 0.15 s to come."""
    acct = espkit.connect("sandbox", path=":memory:", rate_limit=100)
    report = Bulk(acct).create_domains([f"d{i:03d}.ramp.example" for i in range(100)])
    assert report.counts == {"created": 100}
    assert report.requests == 100
    assert RAMP_FLOOR <= report.concurrency <= 20


class CountedRate:
    """The account's limiter, counting reads of ``rate`` (a Redis round trip when the limiter
    is shared); everything else passes through."""

    def __init__(self, limiter: Any) -> None:
        self.limiter = limiter
        self.reads = 0

    @property
    def rate(self) -> float | None:
        self.reads += 1
        return float(self.limiter.rate)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.limiter, name)


def test_a_ramp_reads_the_limiters_rate_a_few_times_a_second_not_at_every_step() -> None:
    """Answers take 0.3 s: the ramp re-sizes every 2 ms until the first one (about 150
    steps), but reads the rate once per sizing period (0.1 s) at most: 3 or 4 reads then,
    and a few while the job drains. Bounded by the run's own length, so a slow machine
    cannot fail it, while a read per step is 50 times over."""
    acct = espkit.connect("sandbox", path=":memory:", latency=0.3, rate_limit=1000)
    runner = runner_of(acct.provider)
    assert runner is not None
    counted = CountedRate(runner.limiter)
    runner.limiter = counted
    report = Bulk(acct).create_domains([f"d{i:03d}.reads.example" for i in range(50)])
    assert report.counts == {"created": 50}
    assert 1 <= counted.reads <= report.elapsed / PERIOD + 3
