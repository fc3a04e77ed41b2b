"""A warmup schedule as a value: the cap per IP on each sending day, and where it comes from.

Schedules are data so that the published ones can ship with their source named and be checked
against the published figures, and so that a platform can write its own in the same shape.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from datetime import date

import attrs

from espkit.errors import ValidationError
from espkit.warmup.days import (
    DEFAULT_PAUSE_RULES,
    PauseRule,
    SendingDays,
    check_pause_rules,
)

# the name a fleet file writes (`warmup: {schedule: sendgrid-hourly}`): a lower-case slug
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_NAME = 64
#: the longest schedule espkit accepts, in sending days (the published ones run 29 to 42)
MAX_DAYS = 366


class AfterLast(str, enum.Enum):
    """What a schedule allows after its last day: no cap (the IP is warm), or the last day's
    cap for good (a platform that has not decided the IP is warm keeps the ceiling)."""

    UNLIMITED = "unlimited"
    LAST_CAP = "last_cap"

    def __str__(self) -> str:
        return self.value


def _after_last(value: AfterLast | str) -> AfterLast:
    try:
        return AfterLast(value)
    except ValueError:
        known = ", ".join(a.value for a in AfterLast)
        raise ValidationError("after_last", value, f"must be one of: {known}") from None


def _as_caps(field: str, values: Iterable[int]) -> tuple[int, ...]:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise ValidationError(field, values, "must be a sequence of whole numbers, one per "
                                             "sending day from day 1")
    caps = tuple(values)
    if not 1 <= len(caps) <= MAX_DAYS:
        raise ValidationError(field, caps, f"must have 1 to {MAX_DAYS} days")
    for day, cap in enumerate(caps, start=1):
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise ValidationError(field, cap, f"on day {day}: must be a whole number of "
                                              "messages, at least 1")
        if day > 1 and cap < caps[day - 2]:
            raise ValidationError(field, cap, f"on day {day}: lower than day {day - 1}'s "
                                              f"{caps[day - 2]} (a schedule never slows down; "
                                              "a pause steps back instead)")
    return caps


def _daily(values: Iterable[int]) -> tuple[int, ...]:
    return _as_caps("daily_caps", values)


def _hourly(values: Iterable[int] | None) -> tuple[int, ...] | None:
    return None if values is None else _as_caps("hourly_caps", values)


def _check_day(day: object) -> int:
    if isinstance(day, bool) or not isinstance(day, int) or day < 1:
        raise ValidationError("day", day, "must be a sending day: a whole number from 1 "
                                          "(the first day with traffic)")
    return day


def _check_ips(ips: object) -> int:
    if isinstance(ips, bool) or not isinstance(ips, int) or ips < 0:
        raise ValidationError("ips", ips, "must be a whole number of IPs, 0 or more")
    return ips


@attrs.frozen
class Schedule:
    """A warmup schedule: ``daily_caps[d - 1]`` is what one IP may send on sending day ``d``
    (day 1 is its first day with traffic), ``hourly_caps`` the same per hour where the ESP
    publishes one, ``after_last`` what holds once the table ends. ``source`` names the
    document the figures come from; ``notes`` what a reader of the figures should know.
    ``pause_rules`` turn a record of days with traffic into a sending day (``day_for``).

    ``cap``, ``hourly_cap`` and ``capacity`` answer ``None`` for "no cap": past the end of a
    schedule whose IPs are then warm.
    """

    name: str = attrs.field()
    source: str = attrs.field()
    daily_caps: tuple[int, ...] = attrs.field(converter=_daily)
    hourly_caps: tuple[int, ...] | None = attrs.field(default=None, converter=_hourly)
    after_last: AfterLast = attrs.field(default=AfterLast.UNLIMITED, converter=_after_last)
    pause_rules: tuple[PauseRule, ...] = attrs.field(default=DEFAULT_PAUSE_RULES,
                                                     converter=check_pause_rules)
    notes: str = attrs.field(default="", repr=False)

    @name.validator
    def _check_name(self, attribute: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str) or len(value) > MAX_NAME or not _NAME.fullmatch(value):
            raise ValidationError("name", value, "must be lower-case letters, digits and "
                                                 f"single hyphens, at most {MAX_NAME} long")

    @source.validator
    def _check_source(self, attribute: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("source", value, "must name where the figures come from")

    @hourly_caps.validator
    def _check_hourly(self, attribute: attrs.Attribute[tuple[int, ...] | None],
                      value: tuple[int, ...] | None) -> None:
        if value is None:
            return
        if len(value) != len(self.daily_caps):
            raise ValidationError("hourly_caps", value,
                                  f"has {len(value)} days, daily_caps {len(self.daily_caps)}")
        for day, (hourly, daily) in enumerate(zip(value, self.daily_caps, strict=True), start=1):
            if hourly > daily:
                raise ValidationError("hourly_caps", hourly,
                                      f"on day {day}: more than the day's cap of {daily}")

    @property
    def days(self) -> int:
        """How many sending days the table has."""
        return len(self.daily_caps)

    def cap(self, day: int) -> int | None:
        """What one IP may send on sending day ``day``; ``None``: no cap."""
        return self._lookup(self.daily_caps, _check_day(day))

    def hourly_cap(self, day: int) -> int | None:
        """What one IP may send in an hour of sending day ``day``; ``None`` when the schedule
        has no hourly caps or none applies any more."""
        day = _check_day(day)
        return None if self.hourly_caps is None else self._lookup(self.hourly_caps, day)

    def capacity(self, day: int, ips: int) -> int | None:
        """What ``ips`` IPs, all on sending day ``day``, may send together that day; ``None``:
        no cap. No IPs send nothing."""
        cap = self.cap(day)
        ips = _check_ips(ips)
        if ips == 0:
            return 0
        return None if cap is None else cap * ips

    def day_for(self, traffic: Iterable[date] | Mapping[date, int], today: date) -> int:
        """The sending day ``today`` is for an IP whose days with traffic are ``traffic``
        (dates, or a mapping of date to messages sent), under this schedule's pause rules."""
        return SendingDays(traffic, self.pause_rules).day(today)

    def _lookup(self, caps: tuple[int, ...], day: int) -> int | None:
        if day <= len(caps):
            return caps[day - 1]
        return caps[-1] if self.after_last is AfterLast.LAST_CAP else None
