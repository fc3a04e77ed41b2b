"""``plan``: per day and stream, the share, each side's volume and the new side's warmup
capacity, flagged (with the fix) exactly where the volume is over it."""

from __future__ import annotations

from datetime import date, timedelta

import attrs
import pytest
from rampcase import FLEET, RAMP, ramp_of

from espkit.errors import ValidationError
from espkit.ramp import PPM, RampState, advance, hold, over_days, plan
from espkit.warmup import schedule

FLEET_, RAMP_ = ramp_of()
START = RAMP_.start
CAP = schedule("conservative")


def cap(day: int, ips: int = 2) -> int:
    value = CAP.capacity(day, ips)
    assert value is not None
    return value


@pytest.mark.parametrize(("volume", "over"), [(cap(1) * 100, False), (cap(1) * 100 + 1, True)])
def test_a_day_is_flagged_exactly_when_its_volume_is_over_capacity(volume: int,
                                                                   over: bool) -> None:
    # day 1: 1 % of the volume on two IPs of day 1 (the new side's volume rounds up)
    first = plan(FLEET_, RAMP_, volumes={"news": volume}, days=1).days[0]
    assert (first.share, first.capacity, first.ips, first.warmup_day) == (10_000, cap(1), 2, 1)
    assert first.new_volume == -(-volume // 100)
    assert first.old_volume == volume - first.new_volume
    assert first.load == first.new_volume
    assert first.over is over
    assert bool(first.fix) is over


def test_the_fix_names_the_ips_needed_and_the_share_that_fits() -> None:
    day3 = plan(FLEET_, RAMP_, volumes={"news": 10_000}).days[2]
    assert (day3.step, day3.share, day3.new_volume) == (3, 250_000, 2_500)
    assert day3.over
    per_ip = cap(3, 1)
    need = -(-2_500 // per_ip)
    fits = cap(3) * PPM // 10_000
    assert day3.fix.startswith(f"add {need - 2} IP(s) (2 -> {need}), or hold the share at ")
    assert f"{fits / 10_000:g}%" in day3.fix
    # with the IPs the fix asks for, the day fits
    assert need * per_ip >= 2_500 > (need - 1) * per_ip


def test_days_are_one_step_a_day_until_a_decision_then_replayed() -> None:
    days = plan(FLEET_, RAMP_, volumes={"news": 1_000}, days=7).days
    assert [d.step for d in days] == [1, 2, 3, 4, 5, 5, 5]
    assert [d.day for d in days] == list(range(1, 8))
    held = hold(RAMP_, advance(RAMP_, None, START + timedelta(days=2), stats_rows=[]),
                START + timedelta(days=3))
    assert [d.step for d in plan(FLEET_, RAMP_, held, {"news": 1_000}, 7).days] == [
        1, 1, 2, 2, 2, 2, 2]  # replayed to the hold, then held: no advance projected
    late = advance(RAMP_, None, START + timedelta(days=4), stats_rows=[])
    assert [d.step for d in plan(FLEET_, RAMP_, late, {"news": 1_000}, 7).days] == [
        1, 1, 1, 1, 2, 3, 4]
    before = plan(FLEET_, RAMP_, None, {"news": 1_000}, 2, since=START - timedelta(days=1))
    assert [(d.step, d.share, d.new_volume, d.over) for d in before.days] == [
        (0, 0, 0, False), (1, 10_000, 10, False)]


def test_ips_not_warming_yet_carry_nothing() -> None:
    later = attrs.evolve(RAMP_, warmup=attrs.evolve(RAMP_.warmup, started=START
                                                    + timedelta(days=1)))
    first, second = plan(FLEET_, later, volumes={"news": 100}, days=2).days
    assert (first.warmup_day, first.capacity, first.over) == (0, 0, True)
    assert "not started warming up" in first.fix
    assert (second.warmup_day, second.capacity) == (1, cap(1))


TWO = FLEET.replace("  mail: {connection: old, domain: \"mail.{domain}\"}\n", """\
  mail: {connection: old, domain: "mail.{domain}"}
  mail-new: {connection: new, pool: mkt-new, domain: "mail2.{domain}"}
  bulk-new: {connection: new, domain: "bulk2.{domain}"}
  part-new: {connection: new, ips: [198.51.100.11, 198.51.100.12], domain: "part2.{domain}"}
""")


def test_streams_sharing_ips_are_judged_together() -> None:
    fleet, ramp = ramp_of(RAMP.replace("{news: news-new}", "{news: news-new, mail: mail-new}")
                          .replace("{news: 10000}", "{news: 20000, mail: 20000}"), TWO)
    news, mail = plan(fleet, ramp, days=1).days
    assert (news.new_volume, mail.new_volume) == (200, 200)
    assert news.load == mail.load == 400 == cap(1)  # each alone fits, together exactly
    assert not news.over
    bigger = plan(fleet, ramp, volumes={"mail": 20_001}, days=1)
    assert [d.over for d in bigger.days] == [True, True]
    assert bigger.days[0].load == 401
    assert over_days([bigger]) == bigger.days


def test_streams_whose_ips_overlap_share_all_of_them() -> None:
    fleet, ramp = ramp_of(RAMP.replace("{news: news-new}", "{news: news-new, mail: part-new}")
                          .replace("{news: 10000}", "{news: 30000, mail: 30000}"), TWO)
    news, mail = plan(fleet, ramp, days=1).days
    assert news.ips == mail.ips == 3  # .10 and .11 of the pool, .11 and .12 listed
    assert news.capacity == mail.capacity == cap(1, 3)
    assert news.load == mail.load == 600
    assert not news.over


def test_a_stream_without_dedicated_ips_has_no_cap() -> None:
    fleet, ramp = ramp_of(RAMP.replace("{news: news-new}", "{news: news-new, mail: bulk-new}")
                          .replace("{news: 10000}", "{news: 100, mail: 10000000}"), TWO)
    days = plan(fleet, ramp, days=5).days
    bulk = [d for d in days if d.stream == "mail"]
    assert all(d.capacity is None and d.ips == 0 and not d.over for d in bulk)
    assert bulk[-1].new_volume == 10_000_000


def test_what_plan_refuses() -> None:
    with pytest.raises(ValidationError, match="daily volume"):
        plan(FLEET_, attrs.evolve(RAMP_, daily_volume=()))
    with pytest.raises(ValidationError, match="not a stream"):
        plan(FLEET_, RAMP_, volumes={"mail": 5})
    with pytest.raises(ValidationError, match="messages a day"):
        plan(FLEET_, RAMP_, volumes={"news": -5})
    for days in (0, 367, True):
        with pytest.raises(ValidationError, match="days"):
            plan(FLEET_, RAMP_, days=days)
    assert len(plan(FLEET_, RAMP_, days=366).days) == 366
    assert len(plan(FLEET_, RAMP_, days=1).days) == 1
    bad = RampState((*advance(RAMP_, None, START, stats_rows=[]).decisions,
                     *advance(RAMP_, None, START, stats_rows=[]).decisions))
    with pytest.raises(ValidationError, match="goes to step"):
        plan(FLEET_, RAMP_, bad)


def test_a_warm_schedule_has_no_cap_after_its_table() -> None:
    sendgrid = attrs.evolve(RAMP_, warmup=attrs.evolve(RAMP_.warmup, schedule="sendgrid-hourly",
                                                       started=date(2025, 1, 1)))
    (day,) = plan(FLEET_, sendgrid, volumes={"news": 10**9}, days=1).days
    assert (day.capacity, day.over) == (None, False)
