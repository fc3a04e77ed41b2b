"""The terminal bars ``espkit stats`` (and the ramp plan) print: a value against a cap."""

from __future__ import annotations

import datetime as dt

from espkit import warmup
from espkit.cli.chart import FULL, bars
from espkit.cli.stats import caps
from espkit.models import DeliveryStats, Resolution


def test_the_largest_value_fills_the_width_and_the_cap_is_marked() -> None:
    lines = bars([("a", 100, None), ("b", 50, 100)], width=20)
    assert lines[0].startswith("a  " + FULL * 20)
    assert lines[0].endswith(" 100")
    # 50 of 100 fills half; dots up to the cap mark at the 20th cell
    b = lines[1]
    assert b.startswith("b  " + FULL * 10 + "·" * 9 + "│")
    assert b.endswith("50 / 100")
    assert "over" not in b


def test_over_the_cap_is_flagged_on_both_sides_of_it() -> None:
    at, over = bars([("at", 100, 100), ("over", 101, 100)], width=20)
    assert not at.endswith("over")
    assert over.endswith("101 / 100  over")


def test_not_reported_is_not_zero_and_nothing_is_drawn_for_it() -> None:
    (line,) = bars([("d", None, 10)], width=10)
    assert "not reported / 10" in line
    assert FULL not in line


def test_no_rows_no_lines_and_labels_line_up() -> None:
    assert bars([]) == []
    lines = bars([("2026-12-01", 1, None), ("x", 1, None)], width=10)
    assert lines[0].index(FULL) == lines[1].index(FULL)


def test_partial_cells_are_drawn_in_eighths() -> None:
    (_, line) = bars([("max", 80, None), ("part", 9, None)], width=10)
    # 9/80 of 10 cells = 1.125 cells: one full and one eighth
    assert line.split("  ", 1)[1].startswith(FULL + "▏")


def _row(day: int, sent: int | None) -> DeliveryStats:
    return DeliveryStats(dt.datetime(2026, 12, day, tzinfo=dt.timezone.utc), Resolution.DAY,
                         "sandbox", sent=sent)


def test_caps_follow_the_sending_days_not_the_calendar() -> None:
    schedule = warmup.schedule("sparkpost-manual")
    rows = [_row(1, 100), _row(2, 0), _row(3, 100), _row(4, None)]
    got = caps(rows, schedule, 2)
    # day 1 is sending day 1; the 2nd had no traffic, so the 3rd is sending day 2 and the
    # 4th sending day 3
    assert got == [schedule.capacity(1, 2), schedule.capacity(2, 2), schedule.capacity(2, 2),
                   schedule.capacity(3, 2)]
    assert got[0] != got[3]
