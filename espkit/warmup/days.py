"""Sending days: which day of a warmup schedule an IP is on, counted from the days it sent.

A warmup schedule is written in *sending* days, not calendar days. Mailbox providers build an
IP's reputation from the mail they see, so a day without traffic teaches them nothing and does
not move the IP along its schedule; a long silence lets the reputation cool, so the schedule
steps back before it resumes. What "long" means, and how far back, is data
(``PauseRule``), each rule with the source it comes from.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import TypeGuard

import attrs

from espkit.errors import ValidationError

#: the longest pause a rule may name: a bigger number is a typo (ten years)
MAX_IDLE_DAYS = 3660


def _whole(value: object) -> TypeGuard[int]:
    # bool is an int subclass: True days is a mistake, not 1
    return isinstance(value, int) and not isinstance(value, bool)


def _calendar_date(field: str, value: object) -> date:
    # datetime is a date subclass; which day a timestamp falls on depends on the time zone,
    # so the caller decides that, not espkit
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError(field, value, "must be a calendar date (datetime.date), not a "
                                            "timestamp: say which day it falls on")
    return value


@attrs.frozen
class PauseRule:
    """After ``idle_days`` or more calendar days without traffic, the next sending day is
    ``step_back`` days earlier in the schedule than it would have been (never before day 1);
    ``step_back=None`` starts the schedule again from day 1. ``source`` says who published
    the rule, or that it is espkit's own choice and why."""

    idle_days: int = attrs.field()
    step_back: int | None = attrs.field()
    source: str = attrs.field()

    @idle_days.validator
    def _check_idle(self, attribute: attrs.Attribute[int], value: object) -> None:
        if not _whole(value) or not 1 <= value <= MAX_IDLE_DAYS:
            raise ValidationError("idle_days", value,
                                  f"must be a whole number of days from 1 to {MAX_IDLE_DAYS}")

    @step_back.validator
    def _check_step(self, attribute: attrs.Attribute[int | None], value: object) -> None:
        if value is not None and (not _whole(value) or value < 1):
            raise ValidationError("step_back", value,
                                  "must be a whole number of days, at least 1, or None "
                                  "(start again from day 1)")

    @source.validator
    def _check_source(self, attribute: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("source", value,
                                  "must say where the rule comes from (a rule without a "
                                  "source cannot be checked)")


#: SendGrid's published rule, "Warming Up an IP Address": "You also need to warm up your IP
#: if you haven't sent on it in more than 30 days."
SENDGRID_RESTART = PauseRule(
    idle_days=31, step_back=None,
    source="SendGrid, Warming Up an IP Address: \"You also need to warm up your IP if you "
           "haven't sent on it in more than 30 days.\" "
           "https://www.twilio.com/docs/sendgrid/ui/sending-email/warming-up-an-ip-address")

#: No ESP publishes how far a shorter pause steps back (SendGrid's automated warmup counts
#: calendar days from its start, SparkPost's auto warmup only holds a stage that missed 90%
#: of its volume). SparkPost's "IP Warm-up Strategy Overview" names sending "anything less
#: than weekly" as too infrequent to build reputation, so a week of silence is where espkit
#: starts stepping back; three sending days is espkit's own, conservative, choice: about a
#: third of the volume on SendGrid's table (x1.4 a day), a half to a tenth on SparkPost's.
WEEK_STEP_BACK = PauseRule(
    idle_days=7, step_back=3,
    source="espkit's own conservative choice (no ESP publishes a step-back figure); the "
           "week comes from SparkPost, IP Warm-up Strategy Overview: sending \"anything less "
           "than weekly\" takes more time to build a positive sending reputation. "
           "https://www.sparkpost.com/docs/deliverability/ip-warm-up-overview/")

#: what every shipped schedule uses: a week idle steps back three days, a month restarts
DEFAULT_PAUSE_RULES: tuple[PauseRule, ...] = (WEEK_STEP_BACK, SENDGRID_RESTART)


def check_pause_rules(rules: Iterable[PauseRule]) -> tuple[PauseRule, ...]:
    """``rules`` checked and sorted by ``idle_days``: no two for the same pause, and a longer
    pause never steps back less than a shorter one (or the schedule would jump forward for
    staying silent longer)."""
    if isinstance(rules, (str, bytes)) or not isinstance(rules, Iterable):
        raise ValidationError("pause_rules", rules, "must be a sequence of PauseRule")
    ordered = tuple(sorted(_rules(rules), key=lambda r: r.idle_days))
    for shorter, longer in itertools.pairwise(ordered):
        if shorter.idle_days == longer.idle_days:
            raise ValidationError("pause_rules", ordered,
                                  f"two rules for a pause of {longer.idle_days} days")
        if longer.step_back is not None and (shorter.step_back is None
                                             or longer.step_back < shorter.step_back):
            raise ValidationError("pause_rules", ordered,
                                  f"a pause of {longer.idle_days} days steps back less than "
                                  f"one of {shorter.idle_days} days")
    return ordered


def _rules(rules: Iterable[object]) -> list[PauseRule]:
    found = []
    for rule in rules:
        if not isinstance(rule, PauseRule):
            raise ValidationError("pause_rules", rule, "must be a PauseRule")
        found.append(rule)
    return found


def traffic_dates(traffic: Iterable[date] | Mapping[date, int]) -> tuple[date, ...]:
    """The days with traffic, sorted, each once. A mapping is read as messages sent per day:
    a day that sent 0 had no traffic."""
    if isinstance(traffic, (str, bytes)) or not isinstance(traffic, Iterable):
        raise ValidationError("traffic", traffic,
                              "must be dates with traffic, or a mapping of date to messages "
                              "sent")
    if isinstance(traffic, Mapping):
        days = set()
        for key, sent in traffic.items():
            day = _calendar_date("traffic", key)
            if not _whole(sent) or sent < 0:
                raise ValidationError("sent", sent, f"on {day.isoformat()}: must be a whole "
                                                    "number of messages, 0 or more")
            if sent:
                days.add(day)
        return tuple(sorted(days))
    return tuple(sorted({_calendar_date("traffic", day) for day in traffic}))


@attrs.frozen
class SendingDays:
    """The record of an IP's days with traffic, read against pause rules.

    ``SendingDays(traffic).day(today)`` is the sending day (1 = the first) that ``today`` is,
    or would be if the IP sends today: each earlier day with traffic moves it on by one, days
    without traffic do not, and a pause of ``rule.idle_days`` or more between two days with
    traffic (or between the last one and ``today``) applies the longest matching rule.
    Traffic after ``today`` is not read, so one record answers for every past day as well
    (what the cap was on each day of a chart of sent volume).
    """

    traffic: tuple[date, ...] = attrs.field(converter=traffic_dates)
    pause_rules: tuple[PauseRule, ...] = attrs.field(default=DEFAULT_PAUSE_RULES,
                                                     converter=check_pause_rules)

    def day(self, today: date) -> int:
        today = _calendar_date("today", today)
        done, last = 0, None  # sending days completed before the day being looked at
        for sent in self.traffic:
            if sent >= today:
                break
            done = self._resume(done, last, sent) + 1
            last = sent
        return self._resume(done, last, today) + 1

    def _resume(self, done: int, last: date | None, day: date) -> int:
        """How many sending days count as done on ``day``, after the pause since ``last``."""
        if last is None:
            return done
        idle = (day - last).days - 1
        rule = None
        for candidate in self.pause_rules:
            if candidate.idle_days <= idle:
                rule = candidate
        if rule is None:
            return done
        if rule.step_back is None:
            return 0
        return max(0, done - rule.step_back)
