"""Sending days, not calendar days: a day without traffic does not advance the schedule, a
pause of a week or more steps back, one of more than 30 days starts again; every boundary is
tested on both sides."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espkit.errors import ValidationError
from espkit.warmup import (
    DEFAULT_PAUSE_RULES,
    SENDGRID_RESTART,
    WEEK_STEP_BACK,
    PauseRule,
    Schedule,
    SendingDays,
    schedule,
)

START = date(2026, 12, 1)


def days(*offsets: int) -> list[date]:
    """Dates ``offsets`` days after START (0 = START)."""
    return [START + timedelta(days=n) for n in offsets]


def run(first: int, last: int) -> list[date]:
    """Traffic every day from offset ``first`` to ``last``."""
    return days(*range(first, last + 1))


def on(offset: int) -> date:
    return START + timedelta(days=offset)


def test_the_shipped_rules_and_their_sources() -> None:
    assert DEFAULT_PAUSE_RULES == (WEEK_STEP_BACK, SENDGRID_RESTART)
    assert (WEEK_STEP_BACK.idle_days, WEEK_STEP_BACK.step_back) == (7, 3)
    assert (SENDGRID_RESTART.idle_days, SENDGRID_RESTART.step_back) == (31, None)
    assert "haven't sent on it in more than 30 days" in SENDGRID_RESTART.source
    assert "espkit's own" in WEEK_STEP_BACK.source
    assert "less than weekly" in WEEK_STEP_BACK.source
    assert SendingDays([]).pause_rules == DEFAULT_PAUSE_RULES


def test_before_any_traffic_it_is_day_1() -> None:
    assert SendingDays([]).day(START) == 1
    assert SendingDays({}).day(on(400)) == 1


def test_each_day_with_traffic_moves_on_by_one() -> None:
    record = SendingDays(run(0, 4))          # five days sent
    assert record.day(on(0)) == 1             # today has traffic: it is that day
    assert record.day(on(4)) == 5
    assert record.day(on(5)) == 6             # sending today would be day 6


def test_a_day_without_traffic_does_not_advance() -> None:
    assert SendingDays(days(0, 2)).day(on(2)) == 2     # day 1 of the month was idle
    assert SendingDays(days(0, 2)).day(on(3)) == 3
    assert SendingDays(days(0, 1, 2)).day(on(3)) == 4  # the other side: no idle day


def test_a_day_that_sent_nothing_is_not_traffic() -> None:
    counted = SendingDays({on(0): 120, on(1): 0, on(2): 80})
    assert counted.traffic == (on(0), on(2))
    assert counted.day(on(3)) == 3
    assert SendingDays({on(0): 120, on(1): 1, on(2): 80}).day(on(3)) == 4


def test_dates_may_come_unsorted_and_repeated() -> None:
    record = SendingDays([on(2), on(0), on(0), on(1)])
    assert record.traffic == (on(0), on(1), on(2))
    assert record.day(on(3)) == 4


@pytest.mark.parametrize(("idle", "expected"), [(6, 11), (7, 8)])
def test_a_pause_of_a_week_steps_back_three_days(idle: int, expected: int) -> None:
    """Ten days sent (offsets 0-9), then ``idle`` days without traffic: 6 idle days resume at
    day 11, 7 (the threshold) at day 11 - 3."""
    resume = 9 + idle + 1
    assert SendingDays(run(0, 9)).day(on(resume)) == expected
    # the same when the day after the pause has traffic of its own
    assert SendingDays([*run(0, 9), on(resume)]).day(on(resume)) == expected
    assert SendingDays([*run(0, 9), on(resume)]).day(on(resume + 1)) == expected + 1


@pytest.mark.parametrize(("idle", "expected"), [(30, 8), (31, 1)])
def test_more_than_30_days_without_traffic_starts_again(idle: int, expected: int) -> None:
    resume = 9 + idle + 1
    assert SendingDays(run(0, 9)).day(on(resume)) == expected
    assert SendingDays([*run(0, 9), on(resume), on(resume + 1)]).day(on(resume + 1)) \
        == expected + 1


def test_stepping_back_stops_at_day_1() -> None:
    assert SendingDays(days(0, 1)).day(on(9)) == 1          # 2 done, 7 idle: back to 1
    assert SendingDays(run(0, 3)).day(on(11)) == 2          # 4 done, 7 idle: day 2
    assert SendingDays(run(0, 2)).day(on(10)) == 1          # 3 done, 7 idle: day 1


def test_pauses_add_up() -> None:
    # 10 days, a week idle (resume at 8, run to 12), a week idle again (resume at 10)
    record = run(0, 9) + run(17, 21)
    assert SendingDays(record).day(on(21)) == 12
    assert SendingDays(record).day(on(29)) == 10


def test_a_schedule_counts_with_its_own_pause_rules() -> None:
    traffic = run(0, 9)
    default = schedule("sparkpost-manual")
    never_back = Schedule("mine", "src", default.daily_caps, pause_rules=())
    quick = Schedule("mine", "src", default.daily_caps,
                     pause_rules=(PauseRule(idle_days=2, step_back=1, source="mine"),))
    assert default.day_for(traffic, on(17)) == 8
    assert never_back.day_for(traffic, on(17)) == 11
    assert never_back.day_for(traffic, on(400)) == 11
    assert quick.day_for(traffic, on(11)) == 11      # 1 idle day: below the rule
    assert quick.day_for(traffic, on(12)) == 10      # 2 idle days: one back
    assert default.cap(default.day_for(traffic, on(17))) == 40_000


def test_rules_given_in_any_order_are_sorted() -> None:
    assert SendingDays([], (SENDGRID_RESTART, WEEK_STEP_BACK)).pause_rules \
        == DEFAULT_PAUSE_RULES


# -- refused input ------------------------------------------------------------------------


def test_a_past_day_reads_only_the_traffic_up_to_it() -> None:
    """One record answers for every day of a chart: later traffic does not change the past."""
    record = SendingDays(run(0, 9) + run(17, 21))
    assert [record.day(on(n)) for n in (0, 4, 9, 12, 16, 17, 21)] == [1, 5, 10, 11, 11, 8, 12]
    assert record.day(on(-5)) == 1


@pytest.mark.parametrize("bad", [datetime(2026, 12, 1, 9, 30), "2026-12-01", 20261201])
def test_traffic_is_calendar_dates(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        SendingDays([on(0), bad])  # type: ignore[list-item]
    assert (info.value.field, info.value.value) == ("traffic", bad)
    with pytest.raises(ValidationError) as info:
        SendingDays({bad: 3})  # type: ignore[dict-item]
    assert (info.value.field, info.value.value) == ("traffic", bad)
    with pytest.raises(ValidationError) as info:
        SendingDays([on(0)]).day(bad)  # type: ignore[arg-type]
    assert (info.value.field, info.value.value) == ("today", bad)


@pytest.mark.parametrize("traffic", ["2026-12-01", b"x", 3, None])
def test_traffic_must_be_a_collection(traffic: object) -> None:
    with pytest.raises(ValidationError) as info:
        SendingDays(traffic)  # type: ignore[arg-type]
    assert info.value.field == "traffic"


@pytest.mark.parametrize("sent", [-1, True, 2.5, "3", None])
def test_counts_are_whole_numbers(sent: object) -> None:
    with pytest.raises(ValidationError) as info:
        SendingDays({on(0): sent})  # type: ignore[dict-item]
    assert (info.value.field, info.value.value) == ("sent", sent)
    assert on(0).isoformat() in info.value.reason


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"idle_days": 0, "step_back": 1, "source": "x"}, "idle_days"),
    ({"idle_days": True, "step_back": 1, "source": "x"}, "idle_days"),
    ({"idle_days": 3661, "step_back": 1, "source": "x"}, "idle_days"),
    ({"idle_days": 7, "step_back": 0, "source": "x"}, "step_back"),
    ({"idle_days": 7, "step_back": 1.5, "source": "x"}, "step_back"),
    ({"idle_days": 7, "step_back": 1, "source": " "}, "source"),
])
def test_a_pause_rule_is_checked(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        PauseRule(**kwargs)  # type: ignore[arg-type]
    assert (info.value.field, info.value.value) == (field, kwargs[field])
    assert PauseRule(idle_days=1, step_back=None, source="x").idle_days == 1
    assert PauseRule(idle_days=3660, step_back=1, source="x").idle_days == 3660


@pytest.mark.parametrize("rules", ["x", 3, [WEEK_STEP_BACK, "rule"]])
def test_pause_rules_are_pause_rules(rules: object) -> None:
    with pytest.raises(ValidationError) as info:
        SendingDays([], rules)  # type: ignore[arg-type]
    assert info.value.field == "pause_rules"


# -- properties ---------------------------------------------------------------------------

offsets = st.sets(st.integers(0, 120), max_size=40)


@settings(max_examples=200, deadline=None)
@given(offsets, st.integers(0, 60))
def test_without_rules_the_day_counts_the_days_with_traffic(sent: set[int], later: int
                                                            ) -> None:
    today = max(sent, default=0) + later
    record = SendingDays(days(*sent), ())
    before = sum(1 for n in sent if n < today)
    assert record.day(on(today)) == before + 1


@settings(max_examples=200, deadline=None)
@given(offsets, st.integers(1, 60))
def test_the_day_never_runs_ahead_of_the_traffic(sent: set[int], later: int) -> None:
    """With the shipped rules a sending day is at least 1 and at most one more than the days
    sent, and one more day of traffic moves it on by exactly one."""
    last = max(sent, default=0)
    record = SendingDays(days(*sent))
    today = record.day(on(last + later))
    assert 1 <= today <= len(sent) + 1
    assert SendingDays([*days(*sent), on(last + later)]).day(on(last + later + 1)) \
        == today + 1
