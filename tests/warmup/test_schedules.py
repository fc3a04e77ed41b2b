"""The shipped warmup schedules equal the published figures, and a ``Schedule`` answers caps
and capacities on both sides of every boundary (day 1, the last day, 0 IPs)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espkit.errors import ValidationError
from espkit.warmup import (
    DEFAULT_PAUSE_RULES,
    SENDGRID_RESTART,
    AfterLast,
    PauseRule,
    Schedule,
    schedule,
    schedules,
)

# Figures as published, quoted from the pages (read 2026 from the ESPs' own docs repositories).

#: https://www.twilio.com/docs/sendgrid/ui/sending-email/warming-up-an-ip-address
#: "Automated IP warmup hourly send schedule": Warmup Age (Days) -> Hourly Email Limit
#: (github.com/sendgrid/docs content/docs/ui/sending-email/warming-up-an-ip-address.md)
SENDGRID_PUBLISHED = {
    0: "20", 1: "28", 2: "39", 5: "108", 11: "810", 12: "1,000", 13: "1,587", 19: "11,953",
    25: "89,998", 33: "1,328,175", 39: "10,000,539", 40: "14,000,754", 41: "19,601,056",
}

#: https://www.sparkpost.com/docs/user-guide/automated-ip-warmup/ "Stage-Based Progression
#: Schedule": Stage Number -> Target Volume (github.com/SparkPost/support-docs
#: content/docs/user-guide/automated-ip-warmup.md); stage 28 is printed "7,50,000/day" there,
#: 7,500,000 in the manual plan below and in SparkPost's app (2web2ui constants.js)
SPARKPOST_AUTO_PUBLISHED = {
    1: "200", 2: "500", 3: "1,000", 8: "40,000", 9: "50,000", 15: "325,000",
    16: "400,000", 20: "1,000,000", 27: "6,000,000", 28: "7,500,000", 29: "10,000,000",
}

#: https://www.sparkpost.com/docs/deliverability/ip-warm-up-overview/ "IP Warm-up Plan":
#: Day -> Daily Volume per IP, "Day 30 | DONE" (github.com/SparkPost/support-docs
#: content/docs/deliverability/ip-warm-up-overview.md)
SPARKPOST_MANUAL_PUBLISHED = {
    1: "200", 2: "500", 7: "20,000", 8: "40,000", 14: "250,000", 21: "1,250,000",
    22: "1,750,000", 25: "4,250,000", 28: "7,500,000", 29: "10,000,000",
}


def figure(text: str) -> int:
    return int(text.replace(",", ""))


# -- the registry -------------------------------------------------------------------------


def test_the_registry_lists_the_shipped_schedules() -> None:
    assert schedules() == ("conservative", "sendgrid-hourly", "sparkpost-auto",
                           "sparkpost-manual")
    for name in schedules():
        assert schedule(name).name == name


@pytest.mark.parametrize("name", ["sendgrid", "SendGrid-Hourly", "", None, 3])
def test_an_unknown_schedule_names_the_known_ones(name: object) -> None:
    with pytest.raises(ValidationError) as info:
        schedule(name)  # type: ignore[arg-type]
    assert info.value.field == "schedule"
    assert info.value.value == name
    for known in schedules():
        assert known in str(info.value)


@pytest.mark.parametrize("name", ["sendgrid-hourly", "sparkpost-auto", "sparkpost-manual",
                                  "conservative"])
def test_every_shipped_schedule_names_its_source(name: str) -> None:
    shipped = schedule(name)
    assert "https://" in shipped.source
    assert shipped.notes
    assert shipped.pause_rules == DEFAULT_PAUSE_RULES


# -- the published figures ----------------------------------------------------------------


@pytest.mark.parametrize(("age", "published"), sorted(SENDGRID_PUBLISHED.items()))
def test_sendgrid_hourly_is_the_published_table(age: int, published: str) -> None:
    sendgrid = schedule("sendgrid-hourly")
    day = age + 1  # warmup age 0 is the first sending day
    assert sendgrid.hourly_cap(day) == figure(published)
    assert sendgrid.cap(day) == 24 * figure(published)


def test_sendgrid_hourly_runs_ages_0_to_41_at_about_x14_a_day() -> None:
    sendgrid = schedule("sendgrid-hourly")
    assert sendgrid.days == 42
    assert "sendgrid/ui/sending-email/warming-up-an-ip-address" in sendgrid.source
    hourly = sendgrid.hourly_caps or ()
    assert hourly == tuple(sendgrid.hourly_cap(day) for day in range(1, 43))
    assert all(1.2 < b / a < 1.6 for a, b in itertools.pairwise(hourly))
    assert 1.38 < (hourly[-1] / hourly[0]) ** (1 / 41) < 1.42


@pytest.mark.parametrize(("stage", "published"), sorted(SPARKPOST_AUTO_PUBLISHED.items()))
def test_sparkpost_auto_is_the_published_stage_table(stage: int, published: str) -> None:
    auto = schedule("sparkpost-auto")
    assert auto.cap(stage) == figure(published)
    assert auto.hourly_cap(stage) is None  # SparkPost publishes daily volumes only


@pytest.mark.parametrize(("day", "published"), sorted(SPARKPOST_MANUAL_PUBLISHED.items()))
def test_sparkpost_manual_is_the_published_plan(day: int, published: str) -> None:
    assert schedule("sparkpost-manual").cap(day) == figure(published)


def test_the_sparkpost_schedules_have_29_days_and_their_own_sources() -> None:
    auto, manual = schedule("sparkpost-auto"), schedule("sparkpost-manual")
    assert auto.days == manual.days == 29
    assert auto.daily_caps == manual.daily_caps
    assert "user-guide/automated-ip-warmup" in auto.source
    assert "deliverability/ip-warm-up-overview" in manual.source


def test_conservative_takes_the_lower_published_figure_each_day() -> None:
    conservative = schedule("conservative")
    assert conservative.days == 29
    assert conservative.cap(1) == 200          # SparkPost's 200 < SendGrid's 24 x 20
    assert conservative.cap(2) == 500          # SparkPost's 500 < 24 x 28
    assert conservative.cap(3) == 24 * 39      # SendGrid's 936 < SparkPost's 1,000
    assert conservative.cap(29) == 24 * 246_953
    for day in range(1, 30):
        published = [schedule(name).cap(day) for name in
                     ("sendgrid-hourly", "sparkpost-auto", "sparkpost-manual")]
        assert conservative.cap(day) == min(published)  # type: ignore[type-var]


# -- boundaries ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "last"), [("sendgrid-hourly", 42), ("sparkpost-auto", 29),
                                            ("sparkpost-manual", 29)])
def test_a_warm_ip_has_no_cap_the_day_after_the_table(name: str, last: int) -> None:
    shipped = schedule(name)
    assert shipped.after_last is AfterLast.UNLIMITED
    assert shipped.cap(last) == shipped.daily_caps[-1]
    assert shipped.capacity(last, 2) == 2 * shipped.daily_caps[-1]
    assert shipped.cap(last + 1) is None
    assert shipped.hourly_cap(last + 1) is None
    assert shipped.capacity(last + 1, 2) is None
    assert shipped.capacity(last + 1, 0) == 0


def test_sendgrid_last_hourly_cap_is_day_42() -> None:
    sendgrid = schedule("sendgrid-hourly")
    assert sendgrid.hourly_cap(42) == 19_601_056
    assert sendgrid.hourly_cap(43) is None


def test_conservative_keeps_the_last_cap_after_the_table() -> None:
    conservative = schedule("conservative")
    assert conservative.after_last is AfterLast.LAST_CAP
    assert conservative.cap(30) == conservative.cap(29) == 5_926_872
    assert conservative.cap(10_000) == 5_926_872
    assert conservative.capacity(30, 3) == 3 * 5_926_872


def test_capacity_is_the_cap_times_the_ips() -> None:
    manual = schedule("sparkpost-manual")
    assert manual.capacity(1, 0) == 0
    assert manual.capacity(1, 1) == 200
    assert manual.capacity(2, 1) == 500
    assert manual.capacity(1, 3) == 600
    assert manual.capacity(29, 4) == 40_000_000


@pytest.mark.parametrize("day", [0, -1, True, 1.0, "1", None])
def test_a_day_before_day_1_or_not_a_whole_number_is_refused(day: object) -> None:
    manual = schedule("sparkpost-manual")
    for call in (manual.cap, manual.hourly_cap, lambda d: manual.capacity(d, 1)):
        with pytest.raises(ValidationError) as info:
            call(day)  # type: ignore[operator]
        assert (info.value.field, info.value.value) == ("day", day)
    assert manual.cap(1) == 200  # the other side of the boundary


@pytest.mark.parametrize("ips", [-1, True, 1.5, "2", None])
def test_a_negative_or_fractional_number_of_ips_is_refused(ips: object) -> None:
    with pytest.raises(ValidationError) as info:
        schedule("conservative").capacity(1, ips)  # type: ignore[arg-type]
    assert (info.value.field, info.value.value) == ("ips", ips)


# -- a Schedule of one's own --------------------------------------------------------------


def test_after_last_may_be_given_by_name_and_decides_past_the_table() -> None:
    unlimited = Schedule("mine", "my notes", (1, 2, 3), hourly_caps=(1, 1, 2))
    kept = Schedule("mine", "my notes", (1, 2, 3), hourly_caps=(1, 1, 2),
                    after_last="last_cap")  # type: ignore[arg-type]
    assert kept.after_last is AfterLast.LAST_CAP
    assert (unlimited.cap(3), kept.cap(3)) == (3, 3)
    assert (unlimited.cap(4), kept.cap(4)) == (None, 3)
    assert (unlimited.hourly_cap(4), kept.hourly_cap(4)) == (None, 2)
    assert Schedule("mine", "x", (5,)).hourly_cap(1) is None


@pytest.mark.parametrize(("caps", "bad", "why"), [
    ((10, 5, 20), 5, "on day 2: lower than day 1's 10"),
    ((10, 10, 9), 9, "on day 3: lower than day 2's 10"),
    ((0, 5), 0, "on day 1"),
    ((5, -1), -1, "on day 2"),
    ((True, 5), True, "on day 1"),
    ((5, 7.5), 7.5, "on day 2"),
])
def test_bad_caps_are_named(caps: tuple[object, ...], bad: object, why: str) -> None:
    with pytest.raises(ValidationError) as info:
        Schedule("mine", "src", caps)  # type: ignore[arg-type]
    assert (info.value.field, info.value.value) == ("daily_caps", bad)
    assert why in info.value.reason


def test_equal_caps_on_consecutive_days_are_allowed() -> None:
    assert Schedule("mine", "src", (5, 5, 5)).cap(3) == 5


@pytest.mark.parametrize("caps", [(), "123", 5, {1: 2}])
def test_caps_must_be_a_non_empty_sequence(caps: object) -> None:
    with pytest.raises(ValidationError) as info:
        Schedule("mine", "src", caps)  # type: ignore[arg-type]
    assert info.value.field == "daily_caps"


def test_hourly_caps_match_the_days_and_fit_in_them() -> None:
    with pytest.raises(ValidationError, match="has 2 days, daily_caps 3"):
        Schedule("mine", "src", (24, 48, 72), hourly_caps=(1, 2))
    with pytest.raises(ValidationError) as info:
        Schedule("mine", "src", (24, 48), hourly_caps=(1, 49))
    assert (info.value.field, info.value.value) == ("hourly_caps", 49)
    assert Schedule("mine", "src", (24, 48), hourly_caps=(1, 48)).hourly_cap(2) == 48
    with pytest.raises(ValidationError) as info:
        Schedule("mine", "src", (24, 48), hourly_caps=(2, 1))
    assert (info.value.field, info.value.value) == ("hourly_caps", 1)


@pytest.mark.parametrize("name", ["", "SendGrid", "my schedule", "-x", "x-", "a--b", "a_b",
                                  "x" * 65, None])
def test_a_name_is_a_slug(name: object) -> None:
    with pytest.raises(ValidationError) as info:
        Schedule(name, "src", (1,))  # type: ignore[arg-type]
    assert (info.value.field, info.value.value) == ("name", name)
    assert Schedule("a-b-2", "src", (1,)).name == "a-b-2"


@pytest.mark.parametrize("source", ["", "   ", None])
def test_a_schedule_names_where_its_figures_come_from(source: object) -> None:
    with pytest.raises(ValidationError) as info:
        Schedule("mine", source, (1,))  # type: ignore[arg-type]
    assert info.value.field == "source"


def test_an_unknown_after_last_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        Schedule("mine", "src", (1,), after_last="forever")  # type: ignore[arg-type]
    assert (info.value.field, info.value.value) == ("after_last", "forever")
    assert "unlimited" in info.value.reason
    assert "last_cap" in info.value.reason


def test_pause_rules_are_checked_when_a_schedule_is_made() -> None:
    week = PauseRule(7, 3, "mine")
    with pytest.raises(ValidationError, match="two rules for a pause of 7 days"):
        Schedule("mine", "src", (1,), pause_rules=(week, PauseRule(7, 4, "mine")))
    with pytest.raises(ValidationError, match="steps back less"):
        Schedule("mine", "src", (1,), pause_rules=(week, PauseRule(14, 2, "mine")))
    with pytest.raises(ValidationError, match="steps back less"):
        Schedule("mine", "src", (1,), pause_rules=(PauseRule(3, None, "x"), week))
    same = (week, PauseRule(14, 3, "mine"))  # a longer pause may step back as far
    assert Schedule("mine", "src", (1,), pause_rules=same).pause_rules == same
    kept = Schedule("mine", "src", (1,), pause_rules=(SENDGRID_RESTART, week))
    assert kept.pause_rules == (week, SENDGRID_RESTART)  # sorted by the pause
    assert Schedule("mine", "src", (1,), pause_rules=()).pause_rules == ()


# -- properties ---------------------------------------------------------------------------

INFINITE = float("inf")


def as_number(capacity: int | None) -> float:
    return INFINITE if capacity is None else capacity


@st.composite
def any_schedule(draw: st.DrawFn) -> Schedule:
    """A shipped schedule, or one of arbitrary non-decreasing caps."""
    if draw(st.booleans()):
        return schedule(draw(st.sampled_from(schedules())))
    caps = sorted(draw(st.lists(st.integers(1, 10**9), min_size=1, max_size=50)))
    after = draw(st.sampled_from(list(AfterLast)))
    return Schedule("drawn", "hypothesis", caps, after_last=after)


@settings(max_examples=300, deadline=None)
@given(any_schedule(), st.integers(1, 60), st.integers(0, 500), st.integers(1, 50))
def test_capacity_never_decreases_with_more_ips_or_a_later_day(
        drawn: Schedule, day: int, ips: int, more: int) -> None:
    now = as_number(drawn.capacity(day, ips))
    assert now <= as_number(drawn.capacity(day, ips + more))
    assert now <= as_number(drawn.capacity(day + 1, ips))
    if day <= drawn.days:  # within the table every day has a cap
        assert drawn.capacity(day, ips) == drawn.daily_caps[day - 1] * ips
