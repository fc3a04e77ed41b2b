"""Will the new side's IPs carry the ramp? Per day and stream: the share, the expected volume
on each side (from the stream's declared daily volume), and what the new side's IPs may send
that day under their warmup schedule (``espkit.warmup``: IPs x the schedule's cap), flagged
where the volume is over it, with the fix in words. Pure: no account is asked.

How the figures are counted:

* The new side's IPs of a stream: every IP of the pools (or listed ``ips``) its domains on
  the new side send from. Streams whose IPs overlap share them: their volumes are added up
  against the IPs of all of them. A stream without dedicated IPs (shared IPs, Postmark) has
  no cap espkit can know: its capacity is ``None`` and never flagged.
* Warmup day: every calendar day from the warmup's start is a sending day (a ramp sends
  every day), day 1 being the start.
* The new side's volume rounds up (volume x share, to the next message), the old side's is
  the rest.
* Days ahead of the last decision are projected at one advance a day (none while held).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING

import attrs

from espkit.errors import ValidationError
from espkit.ramp.model import PPM, Ramp, RampState, format_share
from espkit.ramp.state import check, position
from espkit.warmup import Schedule, schedule

if TYPE_CHECKING:
    from espkit.fleet.model import Fleet

#: the longest plan: a year of days
MAX_DAYS = 366


def stream_ips(fleet: Fleet, connection: str, stream: str) -> frozenset[str]:
    """The IPs the domains of ``stream`` on ``connection`` send from."""
    pools = {p.name: p.ips for p in fleet.pools if p.connection == connection}
    ips: set[str] = set()
    for customer in fleet.customers:
        for domain in customer.domains:
            if domain.stream == stream and domain.connection == connection:
                ips.update(domain.ips)
                if domain.pool is not None:
                    ips.update(pools.get(domain.pool, ()))
    return frozenset(ips)


def groups(fleet: Fleet, ramp: Ramp) -> list[tuple[frozenset[str], tuple[str, ...]]]:
    """The new side's IP groups: (IPs, the old streams sending from them); streams whose
    IPs overlap are one group. Streams without IPs are left out."""
    found: list[tuple[frozenset[str], tuple[str, ...]]] = []
    for old, new in ramp.streams:
        ips = stream_ips(fleet, ramp.to_connection, new)
        if not ips:
            continue
        members: tuple[str, ...] = (old,)
        for other in [g for g in found if g[0] & ips]:
            found.remove(other)
            ips, members = ips | other[0], other[1] + members
        found.append((ips, members))
    return found


def _capacity(sched: Schedule, day: int, ips: int) -> int | None:
    return 0 if day < 1 else sched.capacity(day, ips)


def derive_steps(fleet: Fleet, ramp: Ramp) -> tuple[int, ...]:
    """The shares of a ``schedule: warmup`` ramp: on each day the most the new side's IPs may
    carry of the covered streams' daily volume (the tightest group sets it), until 100 %.
    ``ValidationError`` when a stream has no volume or no IPs, or the schedule never
    carries the whole volume."""
    sched = schedule(ramp.warmup.schedule)
    found = groups(fleet, ramp)
    covered = {s for _, members in found for s in members}
    for old, new in ramp.streams:
        if ramp.volume(old) is None:
            raise ValidationError("daily_volume", old, "is needed for every stream of a "
                                                       "schedule: warmup ramp")
        if old not in covered:
            raise ValidationError("streams", new, "has no dedicated IPs on the new side: "
                                  "schedule: warmup needs them (write the steps instead)")
    offset = (ramp.start - ramp.warmup_started).days
    steps: list[int] = []
    for day in range(1, sched.days + 2):
        share = PPM
        for ips, members in found:
            volume = sum(ramp.volume(m) or 0 for m in members)
            cap = _capacity(sched, day + offset, len(ips))
            if cap is not None and volume > 0:
                share = min(share, cap * PPM // volume)
        if share == 0:
            raise ValidationError("schedule", ramp.warmup.schedule, f"day {day} carries under "
                                  "one part per million of the volume: add IPs")
        steps.append(share)
        if share == PPM:
            return tuple(steps)
    need = _ips_needed(sched, found, ramp)
    raise ValidationError("schedule", ramp.warmup.schedule, "never carries the whole volume "
                          f"(its last cap is kept for good): {need}")


def _ips_needed(sched: Schedule, found: list[tuple[frozenset[str], tuple[str, ...]]],
                ramp: Ramp) -> str:
    cap = sched.daily_caps[-1]
    words = []
    for ips, members in found:
        volume = sum(ramp.volume(m) or 0 for m in members)
        need = -(-volume // cap)
        if need > len(ips):
            words.append(f"{', '.join(members)} need {need} IPs, have {len(ips)}")
    return "; ".join(words) or "add IPs"


@attrs.frozen
class CapacityDay:
    """One day of one stream: ``share`` of ``volume`` goes new (``new_volume``), the rest
    old. ``load`` is what the stream's IP group carries that day (its streams together),
    ``capacity`` what its ``ips`` may send on warmup day ``warmup_day`` (None: no cap).
    ``over``: load above capacity, ``fix`` says what would fit."""

    on: date
    day: int
    stream: str
    step: int
    share: int
    volume: int
    old_volume: int
    new_volume: int
    ips: int
    warmup_day: int
    capacity: int | None
    load: int
    over: bool
    fix: str = ""


@attrs.frozen
class CapacityPlan:
    ramp: str
    schedule: str
    days: tuple[CapacityDay, ...]

    @property
    def over(self) -> tuple[CapacityDay, ...]:
        return tuple(d for d in self.days if d.over)


def _steps(ramp: Ramp, state: RampState | None, dates: list[date]) -> dict[date, int]:
    """The step of each date: replayed up to the last decision, then one advance a day
    (none while held)."""
    decided = state.of(ramp.name) if state is not None else ()
    anchor = decided[-1].on if decided else ramp.start
    base = position(ramp, state, anchor)
    out: dict[date, int] = {}
    for day in dates:
        if day <= anchor:
            out[day] = position(ramp, state, day).step
        elif base.held:
            out[day] = base.step
        else:
            out[day] = min(len(ramp.steps), base.step + (day - anchor).days)
    return out


def _fix(ips: int, load: int, cap: int | None, volume: int, share: int) -> str:
    """What would fit: the IPs the load needs at this day's cap per IP, or the share whose
    volume the IPs carry (``volume``: the whole daily volume of the IP group)."""
    if cap is None or cap == 0 or ips == 0:
        return "the IPs have not started warming up: start their warmup before this day, " \
               "or start the ramp later"
    per_ip = cap // ips
    need = -(-load // per_ip)
    fits = min(share, cap * PPM // volume) if volume else share
    return (f"add {need - ips} IP(s) ({ips} -> {need}), or hold the share at "
            f"{format_share(fits)} or less ({cap:,} a day of {volume:,})")


def plan(fleet: Fleet, ramp: Ramp, state: RampState | None = None,
         volumes: Mapping[str, int] | None = None, days: int | None = None, *,
         since: date | None = None) -> CapacityPlan:
    """The capacity check of ``ramp`` for ``days`` days from ``since`` (default: from its
    start to its last step). ``volumes``: old stream -> messages a day, over the ramp's
    declared ``daily_volume``."""
    if state is not None:
        check(ramp, state)
    first = since or ramp.start
    count = len(ramp.steps) if days is None else days
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_DAYS:
        raise ValidationError("days", days, f"must be 1 to {MAX_DAYS}")
    volume_of = dict(ramp.daily_volume)
    for name, value in (volumes or {}).items():
        if ramp.new_stream(name) is None:
            raise ValidationError("volumes", name, f"is not a stream of ramp {ramp.name}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError("volumes", value, f"{name}: must be messages a day, 0 or "
                                                    "more")
        volume_of[name] = value
    missing = [old for old, _ in ramp.streams if old not in volume_of]
    if missing:
        raise ValidationError("volumes", ", ".join(missing), "have no daily volume: declare "
                              "daily_volume in the ramp or pass volumes")
    sched = schedule(ramp.warmup.schedule)
    dates = [first + timedelta(days=n) for n in range(count)]
    step_of = _steps(ramp, state, dates)
    group_of = {m: ips for ips, members in groups(fleet, ramp) for m in members}
    out: list[CapacityDay] = []
    for day in dates:
        step = step_of[day]
        share = ramp.share(step)
        new_volume = {old: -(-volume_of[old] * share // PPM) for old, _ in ramp.streams}
        warmup_day = (day - ramp.warmup_started).days + 1
        for old, _ in ramp.streams:
            ips = group_of.get(old, frozenset())
            load = sum(v for s, v in new_volume.items() if group_of.get(s) == ips) \
                if ips else new_volume[old]
            cap = _capacity(sched, warmup_day, len(ips)) if ips else None
            over = cap is not None and load > cap
            total = sum(volume_of[s] for s in new_volume if group_of.get(s) == ips) \
                if ips else volume_of[old]
            out.append(CapacityDay(
                on=day, day=(day - ramp.start).days + 1, stream=old, step=step, share=share,
                volume=volume_of[old], old_volume=volume_of[old] - new_volume[old],
                new_volume=new_volume[old], ips=len(ips), warmup_day=warmup_day,
                capacity=cap, load=load, over=over,
                fix=_fix(len(ips), load, cap, total, share) if over else "",
            ))
    return CapacityPlan(ramp.name, sched.name, tuple(out))


def over_days(plans: Iterable[CapacityPlan]) -> tuple[CapacityDay, ...]:
    """Every flagged day of several plans (what ``espkit ramp plan`` exits non-zero on)."""
    return tuple(d for p in plans for d in p.over)


__all__ = [
    "MAX_DAYS",
    "CapacityDay",
    "CapacityPlan",
    "derive_steps",
    "groups",
    "over_days",
    "plan",
    "stream_ips",
]
