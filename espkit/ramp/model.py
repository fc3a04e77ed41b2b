"""The values of a migration ramp: the ramp as the fleet file declares it, the route a sender
gets back, and the log of decisions (advance, hold, resume, rollback) the state file keeps.

A ramp moves streams from one connection to another. The fleet declares each stream on both
sides, as two streams: the one senders name (on ``from``) and its twin on ``to``, each
with its pool and domain template. Every customer of the old stream needs a domain of the
twin (``espkit apply`` creates them on the new side before the ramp starts)::

    streams:
      news:    {connection: mailgun, pool: mkt, domain: "news.{domain}"}
      news-sg: {connection: sendgrid, pool: sg-mkt, domain: "news2.{domain}"}
    ramps:
      to-sendgrid:
        from: mailgun
        to: sendgrid
        streams: {news: news-sg}        # old stream: its twin on the new side
        key: recipient                  # recipient (default) | customer | domain
        steps: [1%, 2%, 5%, 10%, 20%, 35%, 50%, 75%, 100%]   # or: schedule: warmup
        warmup: sendgrid-hourly         # or {schedule: sendgrid-hourly, started: 2026-03-01}
        daily_volume: {news: 1200000}   # messages a day; needed by schedule: warmup
        start: 2026-03-02               # step 1 from this day
        salt: "7dK2pQ9xWm4vB8nR"        # 16+ printable ASCII characters; never shown
        guardrails: {max_bounce_rate: 2%, max_complaint_rate: 0.1%, min_sent: 1000,
                     window_days: 3}

Shares are whole numbers of parts per million (``PPM``: 1 % is 10,000) everywhere a decision
is made, so that a share written ``0.5%`` routes the same keys in every language and on every
machine: no float ever reaches a comparison.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

import attrs

from espkit.errors import ValidationError

#: a share of 100 %: shares and rates are integers in 0..PPM
PPM = 1_000_000
#: the names of ramps (and of the fleet's streams, connections and pools)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: a salt is 16 to 256 printable ASCII characters without spaces: the same bytes in every
#: language, with enough of them that nobody picks one by accident twice
SALT = re.compile(r"[!-~]{16,256}")
# "2.5%", "0.0001%", "100 %": at most four decimals (one part per million)
_PERCENT = re.compile(r"\s*(\d{1,3}(?:\.\d{1,4})?)\s*%\s*")


class RoutingKey(str, enum.Enum):
    """What stays together on one side of a ramp: one recipient address (the default: a
    recipient never sees mail of one stream from both ESPs on a day), every recipient of one
    customer, or every recipient at one recipient domain (``@example.com``; a mailbox
    provider's share of the traffic moves as one block, so shares are coarse)."""

    RECIPIENT = "recipient"
    CUSTOMER = "customer"
    DOMAIN = "domain"

    def __str__(self) -> str:
        return self.value


class Action(str, enum.Enum):
    """A decision in the state file. ``advance`` moves to the next step; ``hold`` refuses
    advances until ``resume``; ``rollback`` goes back to an earlier step (0: all traffic on
    the old side)."""

    ADVANCE = "advance"
    HOLD = "hold"
    RESUME = "resume"
    ROLLBACK = "rollback"

    def __str__(self) -> str:
        return self.value


def parse_share(value: object, field: str = "share") -> int:
    """``"2.5%"`` -> 25,000 parts per million, exactly (Decimal, never float). Only the
    ``%`` form is read: a bare ``5`` could mean 5 % or 500 %."""
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a percentage such as '5%' or '0.5%'")
    match = _PERCENT.fullmatch(value)
    if match is None:
        raise ValidationError(field, value, "must be a percentage such as '5%' or '0.5%' "
                                            "(at most four decimals)")
    try:
        ppm = Decimal(match.group(1)) * PPM / 100
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValidationError(field, value, "is not a number") from None
    if ppm > PPM:
        raise ValidationError(field, value, "must be at most 100%")
    return int(ppm)


def format_share(ppm: int) -> str:
    """25,000 -> ``"2.5%"``: the exact share, no rounding, as ``parse_share`` reads it."""
    whole, rest = divmod(ppm, PPM // 100)
    if not rest:
        return f"{whole}%"
    return f"{whole}.{rest:04d}".rstrip("0") + "%"


class Salt:
    """The ramp's HMAC key. Not a credential (the fleet file holds it in clear), but changing
    it reshuffles which side every key is on, so it is never shown in full: ``repr`` and
    ``str`` give a fingerprint, and only ``export`` writes it (a sender needs it)."""

    __slots__ = ("_value",)

    def __init__(self, value: object) -> None:
        if not isinstance(value, str) or not SALT.fullmatch(value):
            length = len(value) if isinstance(value, str) else 0
            raise ValidationError("salt", "<not shown>", "must be 16 to 256 printable ASCII "
                                  f"characters without spaces (got {length} characters "
                                  f"{'of text' if isinstance(value, str) else 'that are not text'}"
                                  ")")
        self._value = value

    def reveal(self) -> str:
        return self._value

    @property
    def key(self) -> bytes:
        """The HMAC key: the salt's ASCII bytes."""
        return self._value.encode("ascii")

    @property
    def fingerprint(self) -> str:
        """The first 12 hex digits of SHA-256 over the salt: shows *which* salt, not it."""
        return hashlib.sha256(self.key).hexdigest()[:12]

    def __repr__(self) -> str:
        return f"Salt(fingerprint={self.fingerprint!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Salt) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@attrs.frozen
class Guardrails:
    """The new side's limits: a ramp may not advance while the bounce or complaint rate over
    the last ``window_days`` days is *above* its maximum (a rate exactly at the maximum
    passes: the issue's "bounces <= 2 %"). A rate is judged once ``min_sent`` messages were
    sent in the window; before that it reads "not judged yet" and does not block."""

    max_bounce_rate: int = 20_000  # ppm: 2 %
    max_complaint_rate: int = 1_000  # ppm: 0.1 %
    min_sent: int = 1_000
    window_days: int = 3


@attrs.frozen
class WarmupSpec:
    """The schedule the new side's IPs warm up on (``espkit.warmup.schedule(name)``) and the
    day their warmup started (default: the ramp's start, their first day with traffic)."""

    schedule: str = "conservative"
    started: date | None = None


def _pairs(value: Any) -> tuple[tuple[str, Any], ...]:
    if isinstance(value, Mapping):
        return tuple(value.items())
    return tuple(tuple(p) for p in value)


@attrs.frozen
class Ramp:
    """One move of ``streams`` from connection ``from_connection`` to ``to_connection``.

    ``streams`` pairs each old-side stream (what senders name) with its twin on the new
    side; ``steps`` are the shares, in parts per million, of successive steps (step 1 from
    ``start``); ``derived`` says they were computed from the warmup schedule and
    ``daily_volume`` (old stream -> messages a day). ``salt`` keys the bucket hash."""

    name: str
    from_connection: str
    to_connection: str
    streams: tuple[tuple[str, str], ...] = attrs.field(converter=_pairs)
    key: RoutingKey
    steps: tuple[int, ...]
    start: date
    salt: Salt
    guardrails: Guardrails = Guardrails()
    warmup: WarmupSpec = WarmupSpec()
    daily_volume: tuple[tuple[str, int], ...] = attrs.field(default=(), converter=_pairs)
    derived: bool = False
    line: int | None = attrs.field(default=None, eq=False)

    def new_stream(self, old: str) -> str | None:
        """The new side's twin of old-side stream ``old``; None if the ramp does not cover it."""
        return dict(self.streams).get(old)

    def volume(self, old: str) -> int | None:
        return dict(self.daily_volume).get(old)

    def share(self, step: int) -> int:
        """The share of step ``step`` (0: before the first step, all traffic on the old side)."""
        return 0 if step <= 0 else self.steps[min(step, len(self.steps)) - 1]

    @property
    def warmup_started(self) -> date:
        return self.warmup.started or self.start


def _options(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen
class SendingRoute:
    """Where one message goes: the connection (and its provider), the from-domain, and the
    per-message ``options`` that make that ESP send it from the stream's pool, named as the
    ESP's send API names them (Mailgun ``o:sending-ip-pool``, SendGrid ``ip_pool_name``,
    SparkPost ``options.ip_pool``, SES ``ConfigurationSetName``, Postmark ``MessageStream``).
    ``payload()`` nests them for a JSON body. ``side`` is ``old`` or ``new`` under a ramp,
    ``only`` for a stream no ramp covers."""

    connection: str
    provider: str
    from_domain: str
    stream: str
    pool: str | None = None
    options: Mapping[str, str] = attrs.field(factory=dict, converter=_options, hash=False)
    side: str = "only"
    ramp: str | None = None

    def payload(self) -> dict[str, Any]:
        """The options as a fresh JSON-shaped mapping (``options.ip_pool`` -> nested)."""
        out: dict[str, Any] = {}
        for name, value in self.options.items():
            head, dot, tail = name.partition(".")
            if dot:
                out.setdefault(head, {})[tail] = value
            else:
                out[name] = value
        return out


@attrs.frozen
class Decision:
    """One line of the state file: ``action`` on ``ramp`` taking effect on ``on`` (the whole
    day), leaving the ramp at ``step`` (of share ``share``, written for the reviewer and
    checked against the fleet file on replay). ``forced``: an advance made despite a hold or
    a breached guardrail."""

    ramp: str
    action: Action
    on: date
    step: int
    share: int
    by: str = ""
    note: str = ""
    forced: bool = False
    line: int | None = attrs.field(default=None, eq=False)


@attrs.frozen
class RampState:
    """The state file: every decision on every ramp of one fleet, oldest first. Append-only:
    a ramp's decisions never go back in time, so replaying them up to a date gives the step
    that held on it."""

    decisions: tuple[Decision, ...] = ()

    def of(self, ramp: str) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.ramp == ramp)


@attrs.frozen
class Position:
    """Where a ramp stands on a date: its step (0 before the start or after a rollback to
    the old side), that step's share, whether advances are held, and the decision that put it
    there (None: the start, or nothing yet)."""

    step: int
    share: int
    held: bool
    last: Decision | None = None


__all__ = [
    "NAME",
    "PPM",
    "Action",
    "Decision",
    "Guardrails",
    "Position",
    "Ramp",
    "RampState",
    "RoutingKey",
    "Salt",
    "SendingRoute",
    "WarmupSpec",
    "format_share",
    "parse_share",
]
