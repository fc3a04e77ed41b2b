"""Budgets as ESPs state them: a count of requests per window, per scope of the API.

ESPs document (or announce) their limits as "N requests per window", not as a smooth rate:
Mailgun allows 300 requests a minute on its domains API, SendGrid says on every answer how
many requests are left until its window resets. Pacing such a budget at N/window per second
from the first request wastes it: listing 100 pages, well inside one minute's budget, would
take 20 s at Mailgun's 5/s. So a limiter keeps, beside its adaptive rate:

* ``SlidingLog``: the documented window. It lets a burst of up to ``count`` requests go at
  once, then one more each time an old grant leaves the window: **never more than ``count``
  in any window of ``per`` seconds**, wherever the ESP's own window starts (a GCRA or token
  bucket with a burst of ``count`` would allow up to ``2 * count - 1`` in one window). The
  window is held ``WINDOW_MARGIN`` longer (from ``MIN_MARGIN`` to ``MAX_MARGIN``), so a grant
  sent at the end of our window cannot reach the ESP inside its previous one when answer
  times vary.
* ``Announced``: the window an ESP announces (``X-RateLimit-Limit/-Remaining/-Reset``).
  ``remaining`` requests until ``reset`` seconds from now, then ``limit`` again: exactly
  what the ESP allows, upward as well as downward, replacing the documented window while it
  is current.

``Budget`` is the declaration (``Budget(300, 60, "domains", paths=("/v4/domains", ...))``)
and ``parse_rate_limit`` reads what a user passes as ``rate_limit=``.
"""

from __future__ import annotations

import collections
import math
import re
from collections.abc import Iterable
from typing import TypeAlias

import attrs

from espkit.errors import ValidationError

#: the documented window is held this much longer (a fraction of it), at least ``MIN_MARGIN``
#: and at most ``MAX_MARGIN`` seconds: answer times vary, and a request granted at the very
#: end of our window may reach the ESP before one granted at its start did. The margin is
#: about that jitter, which does not grow with the window: a minute is held 61 s, a day
#: one second longer than a day
WINDOW_MARGIN = 0.02
MIN_MARGIN = 0.05
MAX_MARGIN = 1.0
#: a rate given as a number (requests/second) is paced this much slower, for the same
#: reason: an ESP enforcing exactly that rate with a bucket of one request answers 429 to a
#: request that overtook its neighbour by a millisecond on the way, and each 429 pauses the
#: whole run (measured: 10 creates/s against a 10/s bucket of one, 10 % of requests were
#: 429s and the job took twice the bound; at 9.8/s none were)
RATE_MARGIN = 0.02
#: bounds of what ``rate_limit=`` may say (a window's count is kept as that many timestamps)
MAX_COUNT = 100_000
MIN_PER, MAX_PER = 0.001, 86_400.0
MIN_RATE, MAX_RATE = 0.001, 1_000_000.0
DEFAULT_SCOPE = "account"
#: float slack when comparing times, so an injected clock moved by exactly a computed wait
#: does not spin on a 1e-15 shortfall
EPSILON = 1e-9

_SCOPE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_UNITS = {
    "ms": 0.001, "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}
_WINDOW_TEXT = re.compile(
    r"\s*([0-9]{1,7})\s*/\s*([0-9]{0,7}(?:\.[0-9]{1,6})?)\s*([a-z]{0,7})\s*", re.I)
_NUMBER_TEXT = re.compile(r"\s*[0-9]{1,9}(?:\.[0-9]{1,9})?\s*")


def _check_scope(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _SCOPE.fullmatch(value):
        raise ValidationError(attribute.name, value,
                              "a scope is 1-32 of a-z, 0-9, '_' and '-', starting with a letter")


def _as_paths(value: Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _check_paths(_: object, attribute: attrs.Attribute[tuple[str, ...]],
                 value: tuple[str, ...]) -> None:
    if not all(isinstance(p, str) and p.startswith("/") and len(p) > 1 for p in value):
        raise ValidationError(attribute.name, value, "paths are prefixes such as '/v4/domains'")


@attrs.frozen
class Budget:
    """``count`` requests in any window of ``per`` seconds, for the requests of ``scope``.

    ``paths``: the path prefixes (``"/v4/domains"``) whose requests this budget paces when a
    provider declares several; a budget without paths paces every request no other budget
    claims."""

    count: int
    per: float
    scope: str = attrs.field(default=DEFAULT_SCOPE, validator=_check_scope)
    paths: tuple[str, ...] = attrs.field(default=(), converter=_as_paths, validator=_check_paths)

    def __attrs_post_init__(self) -> None:
        count, per = self.count, self.per
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
            raise ValidationError("count", count, f"must be a whole number from 1 to {MAX_COUNT}")
        if isinstance(per, bool) or not isinstance(per, (int, float)) \
                or not math.isfinite(per) or not MIN_PER <= per <= MAX_PER:
            raise ValidationError("per", per, f"must be seconds from {MIN_PER:g} to {MAX_PER:g}")
        if count / per > MAX_RATE:
            raise ValidationError("per", per, f"{count} per {per:g} s is over {MAX_RATE:g}/s")

    @property
    def rate(self) -> float:
        """The long-run rate the window allows, requests/second."""
        return self.count / self.per

    @property
    def span(self) -> float:
        """The window the limiter holds: ``per`` plus the safety margin."""
        return window_span(self.per)

    def claims(self, path: str) -> bool:
        """Whether a request to ``path`` is paced by this budget (by its path prefixes)."""
        return _claims(self.paths, path)

    def __str__(self) -> str:
        return f"{self.count}/{self.per:g}s"


@attrs.frozen
class Scope:
    """A part of an ESP's API that has a budget of its own which is not documented (SendGrid
    limits each endpoint apart and only announces the figures): its own limiter, which
    spends what the answers announce and learns from 429s, for the requests to ``paths``."""

    scope: str = attrs.field(validator=_check_scope)
    paths: tuple[str, ...] = attrs.field(converter=_as_paths, validator=_check_paths)

    def claims(self, path: str) -> bool:
        return _claims(self.paths, path)


def _claims(paths: tuple[str, ...], path: str) -> bool:
    """``path`` is one of ``paths`` or below one (a whole segment: ``/v4/domainsx`` is not)."""
    return any(path == p or (path.startswith(p) and path[len(p)] in "/?") for p in paths)


#: what a limiter or a provider's ``RATE_LIMIT`` may say: a smooth rate in requests/second,
#: one budget, budgets per scope of the API, or ``None`` (not known: learnt from 429s)
RateSpec: TypeAlias = float | Budget | tuple[Budget | Scope, ...] | None


def window_span(per: float) -> float:
    """The window a limiter holds for a documented one of ``per`` seconds."""
    return per + min(max(per * WINDOW_MARGIN, MIN_MARGIN), MAX_MARGIN)


def parse_rate_limit(value: object, field: str = "rate_limit") -> float | Budget | None:
    """What a user may pass as ``rate_limit=``: a number (requests/second, as always), a
    count per window as text (``"300/min"``, ``"500/10s"``, ``"5/s"``, ``"1000/hour"``), a
    ``(count, seconds)`` pair or a ``Budget``. Anything else is a ``ValidationError`` naming
    the value, raised before any request is sent."""
    if value is None or isinstance(value, Budget):
        return value
    if isinstance(value, bool):
        raise ValidationError(field, value, _HOW)
    if isinstance(value, (int, float)):
        return _rate(field, value)
    if isinstance(value, str):
        if _NUMBER_TEXT.fullmatch(value):
            return _rate(field, float(value))
        m = _WINDOW_TEXT.fullmatch(value)
        unit = _UNITS.get((m.group(3) or "s").lower()) if m else None
        if m is None or unit is None or not (m.group(2) or m.group(3)):
            raise ValidationError(field, value, _HOW)
        return _budget(field, value, int(m.group(1)), float(m.group(2) or 1) * unit)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        count, per = value
        if isinstance(count, bool) or not isinstance(count, int) \
                or isinstance(per, bool) or not isinstance(per, (int, float)):
            raise ValidationError(field, value, _HOW)
        return _budget(field, value, count, float(per))
    raise ValidationError(field, value, _HOW)


_HOW = ("must be requests/second (a number) or a count per window: '300/min', '500/10s', "
        "(300, 60)")


def _rate(field: str, value: float) -> float:
    if not math.isfinite(value) or not MIN_RATE <= value <= MAX_RATE:
        raise ValidationError(field, value,
                              f"requests/second must be from {MIN_RATE:g} to {MAX_RATE:g}")
    return float(value)


def _budget(field: str, value: object, count: int, per: float) -> Budget:
    try:
        return Budget(count, per)
    except ValidationError as exc:
        # name what the user wrote, not the part of it that was wrong
        raise ValidationError(field, value, exc.reason) from None


def split_spec(spec: RateSpec) -> tuple[dict[str, float | Budget | None],
                                        list[Budget | Scope], str]:
    """A provider's declaration as (limit per scope, scopes that claim paths in the order
    declared, default scope). A declaration without a budget free of paths paces other
    requests by nothing (``None``: learnt from 429s) in ``DEFAULT_SCOPE``."""
    if not isinstance(spec, tuple):
        scope = spec.scope if isinstance(spec, Budget) else DEFAULT_SCOPE
        return {scope: spec}, [], scope
    limits: dict[str, float | Budget | None] = {}
    routed: list[Budget | Scope] = []
    default = DEFAULT_SCOPE
    for part in spec:
        if part.scope in limits:
            raise ValidationError("scope", part.scope, "declared twice")
        limits[part.scope] = part if isinstance(part, Budget) else None
        if part.paths:
            routed.append(part)
        else:
            default = part.scope
    limits.setdefault(default, None)
    return limits, routed, default


class SlidingLog:
    """The last ``count`` grant times: a grant is allowed when fewer than ``count`` fall in
    the window that ends now. Not thread-safe: the limiter holding it locks."""

    def __init__(self, budget: Budget) -> None:
        self.count = budget.count
        self.span = budget.span
        self._times: collections.deque[float] = collections.deque(maxlen=budget.count)

    def wait(self, now: float) -> float:
        """Seconds until one more grant fits in the window (0: now)."""
        if len(self._times) < self.count:
            return 0.0
        wait = self._times[0] + self.span - now
        return wait if wait > EPSILON else 0.0

    def record(self, now: float) -> None:
        self._times.append(now)


class Announced:
    """The window the ESP's last answers announced: ``left`` grants until ``end`` (on the
    limiter's clock), then ``limit`` per ``length`` seconds (the longest reset seen) until an
    answer says otherwise. Not thread-safe: the limiter holding it locks.

    Answers overlap with requests in flight, which the ESP may not have counted yet. An
    announcement is therefore read as "``remaining`` minus the grants made after the request
    it answers", and within the same window (an end within ``min(1 s, length / 2)`` of the
    one first announced) only ever lowers what is left; a later window replaces it, upward
    as well."""

    def __init__(self) -> None:
        self.end: float | None = None
        self.left = 0
        self.limit: int | None = None
        self.length = 0.0

    def wait(self, now: float) -> float | None:
        """Seconds until the announced window allows a grant (0: now); ``None`` when no
        window has been announced (the documented budget applies)."""
        self._roll(now)
        if self.end is None:
            return None
        return 0.0 if self.left > 0 else max(0.0, self.end - now)

    def take(self, now: float) -> None:
        self._roll(now)
        if self.end is not None:
            self.left = max(0, self.left - 1)

    def refuse(self, now: float) -> bool:
        """The ESP refused a request (429): nothing is left in the current window. True when
        a window was current (the 429 then teaches no rate)."""
        self._roll(now)
        if self.end is None:
            return False
        self.left = 0
        return True

    def announce(self, now: float, limit: int | None, remaining: int, reset: float,
                 later: int) -> None:
        """The ESP says ``remaining`` requests are left for ``reset`` seconds, ``limit`` per
        window (``None``: not said); ``later`` grants were made after the request answered."""
        self._roll(now)
        self.length = max(self.length, reset)
        if limit:
            self.limit = limit
        end = now + reset
        left = max(0, remaining - later)
        slack = min(1.0, self.length / 2)
        if self.end is None or end > self.end + slack:
            self.end, self.left = end, left  # a later window: the ESP's word, up or down
        else:
            # the same window (or an older answer): its end stays where it was first said,
            # since an ESP that announces time-to-full moves it on with every answer
            self.left = min(self.left, left)

    def _roll(self, now: float) -> None:
        """At the end of the announced window the next one holds ``limit`` again."""
        if self.end is None or now < self.end:
            return
        if self.limit and self.length > 0:
            windows = math.floor((now - self.end) / self.length) + 1
            self.end += windows * self.length
            self.left = self.limit
        else:
            self.end = None


__all__ = [
    "DEFAULT_SCOPE",
    "MAX_MARGIN",
    "MIN_MARGIN",
    "WINDOW_MARGIN",
    "Announced",
    "Budget",
    "RateSpec",
    "Scope",
    "SlidingLog",
    "parse_rate_limit",
    "split_spec",
    "window_span",
]
