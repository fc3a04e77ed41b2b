"""Operating a ramp: where it stands on a date (a replay of its decisions), the guardrails
read from the new side's delivery stats, and the decisions themselves (advance, hold,
resume, rollback), each returning a new ``RampState`` with one more decision.

The ramp's first step holds from its ``start`` without a decision; every later change is a
decision in the state file (``espkit.ramp.statefile``), so the step of any date is the replay
of the log up to that date and ``route(on=a past date)`` answers what was routed then.
Decisions carry the step they leave the ramp at and its share; the replay checks both
against the fleet file, so a hand-edited or stale log is refused with its line, never
followed.

Nothing here reads a clock or a file: the caller says which day it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import attrs

from espkit.errors import UnsafePlan, ValidationError
from espkit.models import DeliveryStats
from espkit.ramp.model import (
    PPM,
    Action,
    Decision,
    Guardrails,
    Position,
    Ramp,
    RampState,
    format_share,
)

#: the longest ``by`` and ``note`` of a decision: a name and a sentence, on one line
MAX_BY = 100
MAX_NOTE = 500


def check_date(value: object, field: str = "on") -> date:
    """A calendar day: a ``date``, not a ``datetime`` (a ramp's steps hold for whole days)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError(field, value, "must be a date (datetime.date), not "
                                            f"{type(value).__name__}")
    return value


def _where(decision: Decision) -> str:
    return f"decision of {decision.on}" + (f" (line {decision.line})"
                                           if decision.line is not None else "")


def _step(ramp: Ramp, pos: Position, d: Decision) -> Position:
    """The position after decision ``d``: refused (with the decision's line) when it is not
    one the tools would have written from ``pos``."""
    def bad(reason: str) -> ValidationError:
        return ValidationError(f"ramp {ramp.name} state", _where(d), reason)

    n = len(ramp.steps)
    if not 0 <= d.step <= n:
        raise bad(f"step {d.step} is not a step of this ramp (0 to {n})")
    if d.share != ramp.share(d.step):
        raise bad(f"records step {d.step} as {format_share(d.share)}, but the fleet file makes "
                  f"it {format_share(ramp.share(d.step))}: the steps changed under a running "
                  "ramp (roll back, or start a new ramp with a new name)")
    if d.action is Action.ADVANCE:
        if d.step != pos.step + 1:
            raise bad(f"an advance from step {pos.step} goes to step {pos.step + 1}, "
                      f"not {d.step}")
        if pos.held and not d.forced:
            raise bad("advances while the ramp is held, without being forced")
        return Position(d.step, d.share, pos.held, d)
    if d.action is Action.ROLLBACK:
        if d.step >= pos.step:
            raise bad(f"a rollback from step {pos.step} must go to an earlier step, "
                      f"not {d.step}")
        return Position(d.step, d.share, pos.held, d)
    if d.step != pos.step:
        raise bad(f"a {d.action} keeps the step ({pos.step}), not {d.step}")
    if d.action is Action.HOLD:
        if pos.held:
            raise bad("holds a ramp that is already held")
        return Position(pos.step, pos.share, True, d)
    if not pos.held:
        raise bad("resumes a ramp that is not held")
    return Position(pos.step, pos.share, False, d)


def position(ramp: Ramp, state: RampState | None, on: date) -> Position:
    """Where ``ramp`` stands on day ``on``: step 1 from its start, then every decision that
    took effect on or before ``on``, in the order they were made."""
    on = check_date(on)
    if state is not None and not isinstance(state, RampState):
        raise ValidationError("state", type(state).__name__, "must be a RampState "
                                                             "(load_state)")
    if on < ramp.start:
        return Position(0, 0, False)
    pos = Position(1, ramp.share(1), False)
    previous: date | None = None
    for d in state.of(ramp.name) if state is not None else ():
        if d.on < ramp.start:
            raise ValidationError(f"ramp {ramp.name} state", _where(d),
                                  f"takes effect before the ramp's start ({ramp.start})")
        if previous is not None and d.on < previous:
            raise ValidationError(f"ramp {ramp.name} state", _where(d),
                                  f"goes back in time (after a decision of {previous}): the "
                                  "log is append-only")
        previous = d.on
        if d.on > on:
            break
        pos = _step(ramp, pos, d)
    return pos


def check(ramp: Ramp, state: RampState) -> Position:
    """Replay every decision on ``ramp`` (``ValidationError`` with the line of the first one
    that could not have been made); the position after the last."""
    return position(ramp, state, date.max)


# -- guardrails ------------------------------------------------------------------------------

@attrs.frozen
class Reading:
    """One guardrail over the window: ``count`` (bounces, complaints) of ``sent`` messages
    (the rows that report both), against ``maximum`` (ppm). Judged once ``sent`` reaches
    ``min_sent``; breached when judged and the rate is *above* the maximum (a rate exactly
    at it passes). Compared as integers: count x 1,000,000 > maximum x sent."""

    name: str
    count: int | None
    sent: int
    maximum: int
    min_sent: int

    @property
    def judged(self) -> bool:
        return self.count is not None and self.sent >= self.min_sent

    @property
    def rate(self) -> int | None:
        """The rate in ppm, rounded up (so a shown rate above the maximum is one)."""
        if self.count is None or self.sent <= 0:
            return None
        return -(-self.count * PPM // self.sent)

    @property
    def breached(self) -> bool:
        return self.judged and self.count is not None and \
            self.count * PPM > self.maximum * self.sent

    def __str__(self) -> str:
        limit = format_share(self.maximum)
        if self.count is None:
            return f"{self.name}: not reported by the ESP (max {limit})"
        rate = self.rate
        shown = "n/a" if rate is None else format_share(rate)
        figures = f"{shown} ({self.count:,} of {self.sent:,} sent)"
        if not self.judged:
            return (f"{self.name} {figures}: not judged yet (fewer than {self.min_sent:,} "
                    f"sent; max {limit})")
        verdict = f"above the max of {limit}: BREACHED" if self.breached \
            else f"within the max of {limit}"
        return f"{self.name} {figures} {verdict}"


def _count(value: object, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(field, value, "must be a count of messages, 0 or more")
    return value


def readings(guardrails: Guardrails, rows: Iterable[DeliveryStats], on: date
             ) -> tuple[Reading, Reading]:
    """The bounce and complaint readings over the ``window_days`` days ending with ``on``
    (rows of other days are left out, so a past date is judged as it was)."""
    on = check_date(on)
    first = on - timedelta(days=guardrails.window_days - 1)
    counts = {"bounce": 0, "complaint": 0}
    sents = {"bounce": 0, "complaint": 0}
    reported: set[str] = set()
    for row in rows:
        if not isinstance(row, DeliveryStats):
            raise ValidationError("stats_rows", type(row).__name__,
                                  "must be DeliveryStats rows (acct.stats.delivery)")
        if not first <= row.period.date() <= on:
            continue
        sent = _count(row.sent, "sent")
        if sent is None:
            continue
        hard = _count(row.bounced_hard, "bounced_hard")
        soft = _count(row.bounced_soft, "bounced_soft")
        for name, part in (("bounce", None if hard is None or soft is None else hard + soft),
                           ("complaint", _count(row.complained, "complained"))):
            if part is not None:
                counts[name] += part
                sents[name] += sent
                reported.add(name)

    def reading(name: str, maximum: int) -> Reading:
        return Reading(f"{name} rate", counts[name] if name in reported else None,
                       sents[name], maximum, guardrails.min_sent)

    return (reading("bounce", guardrails.max_bounce_rate),
            reading("complaint", guardrails.max_complaint_rate))


@attrs.frozen
class RampStatus:
    """A ramp on a day: its step (of ``steps``) and share, whether it is held, the step the
    calendar would have it at (one advance a day from the start), and the guardrails."""

    ramp: str
    on: date
    step: int
    steps: int
    share: int
    held: bool
    planned_step: int
    readings: tuple[Reading, ...]
    last: Decision | None = None

    @property
    def breaches(self) -> tuple[Reading, ...]:
        return tuple(r for r in self.readings if r.breached)

    @property
    def breached(self) -> bool:
        return bool(self.breaches)

    @property
    def complete(self) -> bool:
        return self.step == self.steps


def planned_step(ramp: Ramp, on: date) -> int:
    """The step of ``on`` if the ramp advanced once a day from its start, without a hold."""
    if on < ramp.start:
        return 0
    return min(len(ramp.steps), (on - ramp.start).days + 1)


def status(ramp: Ramp, state: RampState | None, on: date,
           stats_rows: Iterable[DeliveryStats] = ()) -> RampStatus:
    """Where ``ramp`` stands on ``on`` and its guardrails read from ``stats_rows`` (the new
    side's delivery stats: ``acct.stats.delivery`` of the ``to`` connection)."""
    pos = position(ramp, state, on)
    return RampStatus(ramp.name, on, pos.step, len(ramp.steps), pos.share, pos.held,
                      planned_step(ramp, on), readings(ramp.guardrails, stats_rows, on),
                      pos.last)


# -- decisions ---------------------------------------------------------------------------------

def _line(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        raise ValidationError(field, value if isinstance(value, str) and len(value) <= limit
                              else f"<{type(value).__name__}>",
                              f"must be one line of at most {limit} printable characters")
    return value


def _decide(ramp: Ramp, state: RampState | None, on: date, action: Action, step: int,
            by: str, note: str, forced: bool = False) -> RampState:
    state = state or RampState()
    on = check_date(on)
    if on < ramp.start:
        raise ValidationError("on", on, f"is before the ramp's start ({ramp.start}): change "
                                        "the start in the fleet file instead")
    mine = state.of(ramp.name)
    if mine and on < mine[-1].on:
        raise ValidationError("on", on, f"is before the last decision ({mine[-1].on}): the "
                                        "state file is append-only")
    decision = Decision(ramp.name, action, on, step, ramp.share(step),
                        _line(by, "by", MAX_BY), _line(note, "note", MAX_NOTE), forced)
    new = RampState((*state.decisions, decision))
    check(ramp, new)
    return new


def _now(ramp: Ramp, state: RampState | None, on: date) -> Position:
    """The position a decision on ``on`` starts from: the whole log must replay."""
    if state is not None:
        check(ramp, state)
    return position(ramp, state, on)


def advance(ramp: Ramp, state: RampState | None, on: date, *,
            stats_rows: Iterable[DeliveryStats] | None = None, force: bool = False,
            by: str = "", note: str = "") -> RampState:
    """The state with an advance to the next step from ``on``. Refused (``UnsafePlan``
    naming the reason) while the ramp is held or a guardrail is breached by ``stats_rows``,
    unless ``force``; a forced advance is recorded as such, with what it overrode."""
    pos = _now(ramp, state, on)
    if pos.step >= len(ramp.steps):
        raise ValidationError("advance", ramp.name, f"is at its last step ({pos.step}, "
                                                    f"{format_share(pos.share)}): complete")
    if stats_rows is None and not force:
        raise ValidationError("stats_rows", None, "advance judges the guardrails from the new "
                              "side's delivery stats (acct.stats.delivery rows): pass them, "
                              "or force")
    reasons: list[str] = []
    if pos.held:
        since = f" since {pos.last.on}" if pos.last is not None else ""
        reasons.append(f"the ramp is held{since}")
    if stats_rows is not None:
        reasons += [str(r) for r in readings(ramp.guardrails, stats_rows, on) if r.breached]
    if reasons and not force:
        raise UnsafePlan(f"ramp {ramp.name}: advance to step {pos.step + 1} refused: "
                         f"{'; '.join(reasons)}. Hold or roll back, or advance with force")
    if reasons:
        note = (f"{note} " if note else "") + f"[forced past: {'; '.join(reasons)}]"
        note = note[:MAX_NOTE]
    return _decide(ramp, state, on, Action.ADVANCE, pos.step + 1, by, note,
                   forced=bool(reasons))


def hold(ramp: Ramp, state: RampState | None, on: date, *, by: str = "",
         note: str = "") -> RampState:
    """The state with advances refused from ``on`` until a resume."""
    pos = _now(ramp, state, on)
    if pos.held:
        raise ValidationError("hold", ramp.name, "is already held")
    return _decide(ramp, state, on, Action.HOLD, pos.step, by, note)


def resume(ramp: Ramp, state: RampState | None, on: date, *, by: str = "",
           note: str = "") -> RampState:
    """The state with advances allowed again from ``on``."""
    pos = _now(ramp, state, on)
    if not pos.held:
        raise ValidationError("resume", ramp.name, "is not held")
    return _decide(ramp, state, on, Action.RESUME, pos.step, by, note)


def rollback(ramp: Ramp, state: RampState | None, on: date, *, to_step: int | None = None,
             by: str = "", note: str = "") -> RampState:
    """The state with the ramp back at ``to_step`` (default: the previous step; 0: all
    traffic on the old side) from ``on``. The keys that moved last move back first."""
    pos = _now(ramp, state, on)
    target = pos.step - 1 if to_step is None else to_step
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < pos.step:
        raise ValidationError("to_step", to_step, f"must be an earlier step than the current "
                                                  f"{pos.step}, from 0")
    return _decide(ramp, state, on, Action.ROLLBACK, target, by, note)


__all__ = [
    "RampStatus",
    "Reading",
    "advance",
    "check",
    "check_date",
    "hold",
    "planned_step",
    "position",
    "readings",
    "resume",
    "rollback",
    "status",
]
