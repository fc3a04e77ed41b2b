"""One limiter per scope of an ESP's API, chosen by the path each request goes to.

ESPs budget parts of their API separately: Mailgun allows 300 requests a minute on its
domains API and 500 per 10 seconds on its metrics API. A request to one must not wait for
the other's budget, and a 429 from one says nothing about the other. ``ScopedLimiter``
holds one limiter per scope (each shared per account and scope, see ``registry``) and
sends every call to the limiter of the scope the current request belongs to.

The transport names the request's path with ``requesting(path)`` around the retry loop; the
limiter reads it from a context variable, so the ``Limiter`` protocol (what the retry loop
calls: ``acquire()``, ``on_throttle()`` ...) stays free of paths, and a call made outside
any request (the bulk engine reading ``rate`` to size its workers) reaches the primary
scope: the first budget the provider declared (Mailgun: its domains API).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping, Sequence

from espkit.transport.ratelimit.memory import Limiter
from espkit.transport.ratelimit.window import Budget, Scope

_path: contextvars.ContextVar[str | None] = contextvars.ContextVar("espkit_request_path",
                                                                    default=None)


@contextlib.contextmanager
def requesting(path: str) -> Iterator[None]:
    """Calls on a ``ScopedLimiter`` inside this block are for a request to ``path``."""
    token = _path.set(path)
    try:
        yield
    finally:
        _path.reset(token)


class ScopedLimiter:
    """A ``Limiter`` made of one limiter per scope: ``limiters`` by scope name, ``routed``
    the budgets that claim path prefixes (first match wins), ``default`` the scope of every
    other request and ``primary`` the one that answers outside a request."""

    def __init__(self, limiters: Mapping[str, Limiter], routed: Sequence[Budget | Scope],
                 default: str, primary: str) -> None:
        self.limiters = dict(limiters)
        self._routed = [(b, self.limiters[b.scope]) for b in routed]
        self._default = self.limiters[default]
        self._primary = self.limiters[primary]

    def __repr__(self) -> str:
        return f"ScopedLimiter({self.limiters!r})"

    def scope_of(self, path: str) -> Limiter:
        """The limiter that paces a request to ``path``."""
        for budget, limiter in self._routed:
            if budget.claims(path):
                return limiter
        return self._default

    @property
    def current(self) -> Limiter:
        path = _path.get()
        return self._primary if path is None else self.scope_of(path)

    @property
    def rate(self) -> float | None:
        return self.current.rate

    @property
    def ceiling(self) -> float | None:
        return self.current.ceiling

    @property
    def budget(self) -> Budget | None:
        """The current scope's documented window (``None``: none), as ``RateLimiter.budget``:
        what the bulk engine may size a burst for."""
        budget = getattr(self.current, "budget", None)
        return budget if isinstance(budget, Budget) else None

    @property
    def throttles(self) -> int:
        return sum(limiter.throttles for limiter in self.limiters.values())

    def acquire(self) -> float:
        return self.current.acquire()

    def try_acquire(self) -> float:
        return self.current.try_acquire()

    def on_throttle(self, retry_after: float | None = None) -> None:
        self.current.on_throttle(retry_after)

    def on_success(self) -> None:
        self.current.on_success()

    def pause_for(self, seconds: float) -> None:
        self.current.pause_for(seconds)

    def lower_ceiling(self, rate: float) -> None:
        self.current.lower_ceiling(rate)

    def announce(self, limit: int | None, remaining: int, reset: float) -> None:
        self.current.announce(limit, remaining, reset)


__all__ = ["ScopedLimiter", "requesting"]
