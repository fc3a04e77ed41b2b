"""The bulk engine's circuit breaker on its own, on a step clock: when it opens, when it
probes, when it closes and when it gives up (both sides of every boundary)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.stepclock import StepClock

from espkit.bulk.breaker import FIRST_PROBE, MAX_PROBE_EVERY, Breaker
from espkit.errors import ServerError, TransportError

DOWN = TransportError("connection failed", provider="test")
FAILING = ServerError("503", provider="test", status=503)


def breaker(clock: StepClock, threshold: int = 3, max_outage: float = 60.0) -> Breaker:
    return Breaker(threshold=threshold, max_outage=max_outage, clock=clock)


def fail(b: Breaker, n: int, epoch: int | None = None) -> list[bool]:
    return [b.failed(b.epoch if epoch is None else epoch, DOWN, probe=False) for _ in range(n)]


def probe(b: Breaker, clock: StepClock, *, ok: bool) -> None:
    """Wait for the next probe (on the step clock), make it, and report how it went."""
    clock.advance(b.due())
    epoch = b.start_probe()
    if ok:
        b.answered(epoch)
    else:
        b.failed(epoch, DOWN, probe=True)


def test_it_opens_at_exactly_the_threshold_not_one_before() -> None:
    b = breaker(StepClock(), threshold=3)
    assert fail(b, 2) == [False, False]
    assert not b.open
    assert fail(b, 1) == [True]
    assert b.open
    assert b.outages == 1


def test_an_answer_between_failures_starts_the_count_again() -> None:
    b = breaker(StepClock(), threshold=3)
    fail(b, 2)
    assert not b.answered(b.epoch)  # nothing was open: nothing closed
    assert fail(b, 2) == [False, False]
    assert not b.open


def test_failures_of_requests_started_before_the_last_outage_do_not_count() -> None:
    clock = StepClock()
    b = breaker(clock, threshold=2)
    old = b.epoch
    fail(b, 2)
    probe(b, clock, ok=True)
    assert not b.open
    # stragglers of the first outage, answered after it closed: old news
    assert fail(b, 5, epoch=old) == [False] * 5
    assert not b.open
    assert b.streak == 0


def test_only_an_answer_to_a_request_started_while_open_closes_it() -> None:
    clock = StepClock()
    b = breaker(clock, threshold=1)
    before = b.epoch
    fail(b, 1)
    assert not b.answered(before)  # sent before the outage: says nothing about now
    assert b.open
    assert b.answered(b.epoch)
    assert not b.open


def test_probes_back_off_doubling_up_to_the_cap() -> None:
    clock = StepClock(0.0)
    b = breaker(clock, threshold=1, max_outage=10_000)
    fail(b, 1)
    gaps = []
    for _ in range(9):
        gaps.append(b.due())
        probe(b, clock, ok=False)
    assert gaps == [FIRST_PROBE, 2, 4, MAX_PROBE_EVERY, MAX_PROBE_EVERY, MAX_PROBE_EVERY,
                    MAX_PROBE_EVERY, MAX_PROBE_EVERY, MAX_PROBE_EVERY]
    assert MAX_PROBE_EVERY == 8
    assert b.probes == 9
    outage = b.outage()
    assert outage is not None
    assert outage.probes == 9
    assert outage.probe_every == MAX_PROBE_EVERY


def test_no_probe_is_due_while_one_is_in_flight_and_due_is_zero_when_late() -> None:
    clock = StepClock()
    b = breaker(clock, threshold=1)
    fail(b, 1)
    assert b.due() == FIRST_PROBE
    clock.advance(FIRST_PROBE + 5)
    assert b.due() == 0.0
    b.start_probe()
    assert b.probing
    assert not b.gave_up()


@pytest.mark.parametrize(("comes_back_at", "finishes"), [(15.0, True), (15.000001, False)])
def test_the_last_probe_is_made_at_max_outage_and_only_then_it_gives_up(
        comes_back_at: float, finishes: bool) -> None:
    clock = StepClock(0.0)
    b = breaker(clock, threshold=1, max_outage=15.0)
    fail(b, 1)  # the outage starts at 0
    times = []
    while b.open and not b.gave_up():
        clock.advance(b.due())
        times.append(clock.now)
        assert not b.gave_up()  # never before the probe at the deadline has failed
        probe(b, clock, ok=clock.now >= comes_back_at)
    # 1, 3, 7, then 15 = the deadline (7 + 8), not 15 + anything
    assert times == [1.0, 3.0, 7.0, 15.0]
    assert b.open is not finishes
    assert b.gave_up() is not finishes
    assert b.waited == 15.0


def test_the_deadline_cuts_the_gap_short() -> None:
    clock = StepClock(0.0)
    b = breaker(clock, threshold=1, max_outage=5.0)
    fail(b, 1)
    times = []
    while not b.gave_up():
        clock.advance(b.due())
        times.append(clock.now)
        probe(b, clock, ok=False)
    assert times == [1.0, 3.0, 5.0]  # not 7: the deadline comes first


def test_max_outage_zero_makes_one_probe_at_once_then_gives_up() -> None:
    clock = StepClock(0.0)
    b = breaker(clock, threshold=1, max_outage=0.0)
    fail(b, 1)
    assert b.due() == 0.0
    assert not b.gave_up()
    probe(b, clock, ok=False)
    assert b.gave_up()
    assert clock.now == 0.0


def test_the_outage_is_counted_from_the_first_failure_of_the_run() -> None:
    clock = StepClock(0.0)
    b = breaker(clock, threshold=3, max_outage=10.0)
    fail(b, 1)
    clock.advance(4.0)
    fail(b, 2)  # opens at 4, but the ESP has been failing since 0
    outage = b.outage()
    assert outage is not None
    assert outage.lasted == 4.0
    times = []
    while not b.gave_up():
        clock.advance(b.due())
        times.append(clock.now)
        probe(b, clock, ok=False)
    assert times == [5.0, 7.0, 10.0]


def test_a_closed_outage_is_counted_and_a_new_one_starts_afresh() -> None:
    clock = StepClock(0.0)
    b = breaker(clock, threshold=2, max_outage=100.0)
    fail(b, 2)
    probe(b, clock, ok=False)
    probe(b, clock, ok=True)
    assert b.waited == 3.0
    assert b.outage() is None
    clock.advance(50.0)
    fail(b, 2)
    assert b.outages == 2
    assert b.due() == FIRST_PROBE  # the back-off starts over
    clock.advance(1.0)
    assert b.waited == 4.0


def test_the_description_says_what_is_waited_out() -> None:
    clock = StepClock(0.0)
    b = breaker(clock, threshold=1)
    b.failed(b.epoch, DOWN, probe=False)
    text = b.outage().describe()  # type: ignore[union-attr]
    assert text.startswith("ESP unreachable since ")
    assert "probing every 1 s" in text
    assert "(last: TransportError: test transport error: connection failed)" in text
    b.answered(b.epoch)
    b.failed(b.epoch, FAILING, probe=False)
    assert b.outage().describe().startswith("ESP failing every request since ")  # type: ignore[union-attr]


@settings(max_examples=200, deadline=None)
@given(threshold=st.integers(1, 6),
       events=st.lists(st.sampled_from(["fail", "answer", "old"]), max_size=40))
def test_it_is_open_exactly_when_threshold_failures_came_in_a_row(
        threshold: int, events: list[str]) -> None:
    """Model check: without probes, open iff some run of current-epoch failures not broken
    by an answer reached the threshold."""
    b = breaker(StepClock(), threshold=threshold)
    streak, is_open = 0, False
    for event in events:
        if event == "fail":
            b.failed(b.epoch, DOWN, probe=False)
            if not is_open:
                streak += 1
                is_open = streak >= threshold
        elif event == "old":
            b.failed(b.epoch - 1, DOWN, probe=False)  # a straggler: never counts
        else:
            b.answered(b.epoch - 1 if is_open else b.epoch)  # old answers never close it
            streak = 0
        assert b.open is is_open
