"""``StatsQuery.periods``: the start of every period a complete answer has a row for, and
the rates of ``DeliveryStats`` (None, never 0, when a side is unknown)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from espkit.models import DeliveryStats, Resolution, StatsQuery


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_days_include_both_ends() -> None:
    q = StatsQuery(date(2026, 2, 27), date(2026, 3, 1))
    assert q.periods() == [utc(2026, 2, 27), utc(2026, 2, 28), utc(2026, 3, 1)]
    assert StatsQuery(date(2026, 3, 1), date(2026, 3, 1)).periods() == [utc(2026, 3, 1)]


def test_hours_are_24_a_day_from_midnight() -> None:
    got = StatsQuery(date(2026, 3, 1), date(2026, 3, 2), resolution=Resolution.HOUR).periods()
    assert len(got) == 48
    assert got[0] == utc(2026, 3, 1, 0)
    assert got[23] == utc(2026, 3, 1, 23)
    assert got[-1] == utc(2026, 3, 2, 23)


def test_months_start_on_the_first_and_cross_the_year() -> None:
    q = StatsQuery(date(2025, 11, 15), date(2026, 1, 1), resolution=Resolution.MONTH)
    assert q.periods() == [utc(2025, 11, 1), utc(2025, 12, 1), utc(2026, 1, 1)]
    one = StatsQuery(date(2026, 1, 31), date(2026, 1, 31), resolution=Resolution.MONTH)
    assert one.periods() == [utc(2026, 1, 1)]


def test_rates_are_none_when_a_side_is_unknown_or_nothing_was_sent() -> None:
    row = DeliveryStats(utc(2026, 3, 1), Resolution.DAY, "x", sent=200, delivered=190,
                        bounced_hard=4, bounced_soft=6, complained=1)
    assert row.bounced == 10
    assert row.bounce_rate == pytest.approx(0.05)
    assert row.hard_bounce_rate == pytest.approx(0.02)
    assert row.complaint_rate == pytest.approx(0.005)
    assert row.delivery_rate == pytest.approx(0.95)
    soft_unknown = DeliveryStats(utc(2026, 3, 1), Resolution.DAY, "x", sent=200, bounced_hard=4)
    assert soft_unknown.bounced is None
    assert soft_unknown.bounce_rate is None
    assert soft_unknown.hard_bounce_rate == pytest.approx(0.02)
    nothing = DeliveryStats(utc(2026, 3, 1), Resolution.DAY, "x", sent=0, bounced_hard=0,
                            bounced_soft=0)
    assert nothing.bounce_rate is None
    assert DeliveryStats(utc(2026, 3, 1), Resolution.DAY, "x").delivery_rate is None
