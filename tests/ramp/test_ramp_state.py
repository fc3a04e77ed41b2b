"""Operating a ramp: the replay of its decisions, the guardrails on both sides of each
threshold, and the refusals of advance, hold, resume and rollback."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import attrs
import pytest
from rampcase import ramp_of

from espkit.errors import UnsafePlan, ValidationError
from espkit.models import DeliveryStats, Resolution
from espkit.ramp import (
    Action,
    Decision,
    Guardrails,
    RampState,
    advance,
    check,
    hold,
    position,
    resume,
    rollback,
    status,
)
from espkit.ramp.state import readings

_, RAMP = ramp_of()
START = RAMP.start  # 2026-03-02; steps 1 %, 5 %, 25 %, 50 %, 100 %
D = [START + timedelta(days=n) for n in range(12)]


def row(day: date, sent: int | None, bounced: int | None = 0, complained: int | None = 0,
        soft: int | None = 0) -> DeliveryStats:
    return DeliveryStats(period=datetime(day.year, day.month, day.day, tzinfo=timezone.utc),
                         resolution=Resolution.DAY, provider="sandbox", sent=sent,
                         bounced_hard=bounced, bounced_soft=soft, complained=complained)


def test_the_first_step_holds_from_the_start_without_a_decision() -> None:
    assert position(RAMP, None, START - timedelta(days=1)).share == 0
    first = position(RAMP, RampState(), START)
    assert (first.step, first.share, first.held, first.last) == (1, 10_000, False, None)


def test_the_step_of_a_day_is_the_replay_up_to_that_day() -> None:
    state = advance(RAMP, None, D[2], stats_rows=[], by="ana", note="day 3")
    state = advance(RAMP, state, D[3], stats_rows=[])
    state = hold(RAMP, state, D[5], note="complaints")
    state = rollback(RAMP, state, D[6], to_step=1)
    state = resume(RAMP, state, D[8])
    expected = {0: (1, False), 1: (1, False), 2: (2, False), 3: (3, False), 4: (3, False),
                5: (3, True), 6: (1, True), 7: (1, True), 8: (1, False), 11: (1, False)}
    for n, (step, held) in expected.items():
        pos = position(RAMP, state, D[n])
        assert (pos.step, pos.held, pos.share) == (step, held, RAMP.share(step)), n
    assert [d.action for d in state.decisions] == [Action.ADVANCE, Action.ADVANCE,
                                                   Action.HOLD, Action.ROLLBACK, Action.RESUME]
    assert state.decisions[0].by == "ana"
    assert check(RAMP, state).step == 1


def test_decisions_of_other_ramps_are_left_alone() -> None:
    other = attrs.evolve(RAMP, name="other")
    state = advance(other, None, D[1], stats_rows=[])
    assert position(RAMP, state, D[5]).step == 1
    assert position(other, state, D[5]).step == 2


def test_advance_refuses_past_the_last_step_and_without_stats() -> None:
    state = None
    for n in range(1, 5):
        state = advance(RAMP, state, D[n], stats_rows=[])
    assert position(RAMP, state, D[4]).share == 1_000_000
    with pytest.raises(ValidationError, match="last step"):
        advance(RAMP, state, D[5], stats_rows=[])
    with pytest.raises(ValidationError, match="stats"):
        advance(RAMP, None, D[1])
    assert position(RAMP, advance(RAMP, None, D[1], force=True), D[1]).step == 2


def test_decisions_never_go_back_in_time_nor_before_the_start() -> None:
    state = advance(RAMP, None, D[3], stats_rows=[])
    with pytest.raises(ValidationError, match="append-only"):
        hold(RAMP, state, D[2])
    hold(RAMP, state, D[3])  # the same day is fine
    with pytest.raises(ValidationError, match="start"):
        hold(RAMP, None, START - timedelta(days=1))
    with pytest.raises(ValidationError, match="date"):
        hold(RAMP, None, datetime(2026, 3, 3, 12))  # type: ignore[arg-type]


def test_hold_resume_and_rollback_refuse_what_makes_no_sense() -> None:
    held = hold(RAMP, None, D[1])
    with pytest.raises(ValidationError, match="already held"):
        hold(RAMP, held, D[1])
    with pytest.raises(ValidationError, match="not held"):
        resume(RAMP, None, D[1])
    with pytest.raises(ValidationError, match="to_step"):
        rollback(RAMP, None, D[1], to_step=1)  # at step 1: not an earlier step
    with pytest.raises(ValidationError, match="to_step"):
        rollback(RAMP, None, D[1], to_step=-1)
    assert position(RAMP, rollback(RAMP, None, D[1]), D[1]).share == 0  # step 0: all old
    with pytest.raises(ValidationError, match="to_step"):
        rollback(RAMP, rollback(RAMP, None, D[1]), D[1])  # nothing left to roll back
    with pytest.raises(ValidationError, match="note"):
        hold(RAMP, None, D[1], note="two\nlines")
    with pytest.raises(ValidationError, match="by"):
        hold(RAMP, None, D[1], by="x" * 101)
    assert hold(RAMP, None, D[1], by="x" * 100).decisions[0].by == "x" * 100


def test_a_hold_refuses_advances_until_resumed_unless_forced() -> None:
    held = hold(RAMP, None, D[1], by="ops")
    with pytest.raises(UnsafePlan, match="held since 2026-03-03"):
        advance(RAMP, held, D[2], stats_rows=[])
    forced = advance(RAMP, held, D[2], stats_rows=[], force=True, note="go")
    last = forced.decisions[-1]
    assert (last.forced, last.step) == (True, 2)
    assert last.note.startswith("go [forced past: the ramp is held")
    assert position(RAMP, forced, D[2]).held  # still held: force is one advance
    resumed = resume(RAMP, held, D[2])
    assert not advance(RAMP, resumed, D[2], stats_rows=[]).decisions[-1].forced


@pytest.mark.parametrize(("sent", "bounced", "complained", "breached"), [
    (1_000, 20, 0, False),   # 2 % exactly: within the max
    (1_000, 21, 0, True),    # 2.1 %
    (1_000, 0, 1, False),    # 0.1 % exactly
    (1_000, 0, 2, True),     # 0.2 %
    (100_000, 2_000, 100, False),
    (100_000, 2_001, 100, True),  # 2.001 %: one bounce over
    (100_000, 2_000, 101, True),  # 0.101 %: one complaint over
    (999, 999, 999, False),  # under min_sent: not judged yet
])
def test_guardrails_on_both_sides_of_each_threshold(sent: int, bounced: int, complained: int,
                                                     breached: bool) -> None:
    rows = [row(D[1], sent, bounced - bounced // 2, complained, soft=bounced // 2)]
    got = status(RAMP, None, D[1], rows)
    assert got.breached is breached
    if breached:
        with pytest.raises(UnsafePlan, match="BREACHED"):
            advance(RAMP, None, D[1], stats_rows=rows)
        forced = advance(RAMP, None, D[1], stats_rows=rows, force=True)
        assert forced.decisions[-1].forced
        assert "BREACHED" in forced.decisions[-1].note
    else:
        assert not advance(RAMP, None, D[1], stats_rows=rows).decisions[-1].forced


def test_min_sent_is_the_first_count_judged() -> None:
    strict = attrs.evolve(RAMP, guardrails=Guardrails(min_sent=500))
    assert not status(strict, None, D[1], [row(D[1], 499, 499)]).breached
    assert status(strict, None, D[1], [row(D[1], 500, 500)]).breached


def test_the_window_ends_on_the_day_and_reaches_back_window_days() -> None:
    bad = [row(D[5] - timedelta(days=2), 1_000, 500)]  # window 3: D[3], D[4], D[5]
    assert status(RAMP, None, D[5], bad).breached
    assert not status(RAMP, None, D[6], bad).breached  # left the window
    assert not status(RAMP, None, D[2], bad).breached  # the future is not judged
    # figures add up over the window: 2 % + 2.2 % over 2,000 sent is 2.1 %
    split = [row(D[4], 1_000, 20), row(D[5], 1_000, 22)]
    assert status(RAMP, None, D[5], split).breached
    assert not status(RAMP, None, D[5], split[:1]).breached


def test_unknown_figures_are_not_judged_and_bad_rows_are_refused() -> None:
    bounce, complaint = readings(RAMP.guardrails, [row(D[1], 5_000, None, None)], D[1])
    assert (bounce.count, complaint.count, bounce.judged, complaint.breached) == (
        None, None, False, False)
    assert "not reported" in str(bounce)
    assert readings(RAMP.guardrails, [row(D[1], None, 10, 10)], D[1])[0].sent == 0
    with pytest.raises(ValidationError, match="DeliveryStats"):
        readings(RAMP.guardrails, [{"sent": 1}], D[1])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="sent"):
        readings(RAMP.guardrails, [row(D[1], -1)], D[1])


def test_status_reports_the_day() -> None:
    state = hold(RAMP, advance(RAMP, None, D[1], stats_rows=[]), D[2])
    got = status(RAMP, state, D[4], [row(D[4], 2_000, 60)])
    assert (got.step, got.steps, got.share, got.held, got.planned_step) == (2, 5, 50_000,
                                                                              True, 5)
    assert not got.complete
    assert [r.name for r in got.breaches] == ["bounce rate"]
    assert str(got.breaches[0]) == ("bounce rate 3% (60 of 2,000 sent) above the max of 2%: "
                                    "BREACHED")
    assert got.last is not None
    assert got.last.action is Action.HOLD


def test_a_log_that_the_tools_could_not_have_written_is_refused_with_its_line() -> None:
    def log(*decisions: Decision) -> RampState:
        return RampState(decisions)

    bad = [
        (log(Decision("move", Action.ADVANCE, D[1], 3, 250_000, line=7)), "goes to step 2"),
        (log(Decision("move", Action.ADVANCE, D[1], 2, 60_000, line=7)), "steps changed"),
        (log(Decision("move", Action.ROLLBACK, D[1], 1, 10_000, line=7)), "earlier step"),
        (log(Decision("move", Action.RESUME, D[1], 1, 10_000, line=7)), "not held"),
        (log(Decision("move", Action.HOLD, D[1], 2, 50_000, line=7)), "keeps the step"),
        (log(Decision("move", Action.ADVANCE, D[1], 9, 0, line=7)), "not a step"),
        (log(Decision("move", Action.HOLD, D[1], 1, 10_000, line=6),
             Decision("move", Action.ADVANCE, D[1], 2, 50_000, line=7)), "held"),
        (log(Decision("move", Action.HOLD, D[2], 1, 10_000, line=6),
             Decision("move", Action.RESUME, D[1], 1, 10_000, line=7)), "back in time"),
        (log(Decision("move", Action.HOLD, START - timedelta(days=1), 1, 10_000, line=7)),
         "before the ramp's start"),
    ]
    for state, reason in bad:
        with pytest.raises(ValidationError, match=reason) as caught:
            check(RAMP, state)
        assert "line 7" in str(caught.value)
        with pytest.raises(ValidationError):
            hold(RAMP, state, D[3])  # a decision on top of a bad log is refused too
