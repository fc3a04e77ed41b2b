"""The process-wide registry: one limiter per account and scope, one retry budget per account.

Every thread, every scoped copy of a transport and every handle ``espkit.connect`` makes for
the same account must pace and back off together, so they are handed the same objects from
here, keyed by (provider, account fingerprint, endpoint) and the scope of the ESP's API a
budget covers. Where their state lives is the URL's choice: in this process (``memory://``,
the default), in a Redis server (``redis://``, ``rediss://``) or a Redis Cluster
(``redis+cluster://``, ``rediss+cluster://``), shared with every process and host using it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

from espkit.errors import ConfigError
from espkit.transport.ratelimit.budget import RetryBudget
from espkit.transport.ratelimit.memory import Limiter, RateLimiter
from espkit.transport.ratelimit.redis import RedisLimiter
from espkit.transport.ratelimit.redis_budget import RedisRetryBudget
from espkit.transport.ratelimit.redis_client import REDIS_SCHEMES
from espkit.transport.ratelimit.scopes import ScopedLimiter
from espkit.transport.ratelimit.window import RATE_MARGIN, Budget, RateSpec, split_spec

#: where ``from_options`` looks for ``limiter_url`` when none is given
ENV_LIMITER_URL = "ESPKIT_LIMITER_URL"
MEMORY_URL = "memory://"
#: seconds of grants a smooth pace may catch up at once. The thread next in line for a
#: grant must first wake up and take the GIL from workers parsing answers; at 1,000/s that
#: costs a good part of each 1 ms interval, and a bucket of one grant drops it (measured:
#: 3,000 creates at 1,000/s went at 670/s; with 20 ms of catch-up at 900/s on a loaded
#: machine). 20 ms is within the jitter of any network path, so an ESP allowing a rate
#: cannot demand closer spacing than it; at 50/s and under it is one grant, as before.
CATCH_UP = 0.02
T = TypeVar("T")

_limiters: dict[tuple[Hashable, str, str], Limiter] = {}
_routers: dict[tuple[Hashable, str, RateSpec], ScopedLimiter] = {}
_budgets: dict[tuple[Hashable, str], RetryBudget] = {}
_registry_lock = threading.Lock()


def resolve_limiter_url(url: str | None) -> str | None:
    """``url`` if given, else ``$ESPKIT_LIMITER_URL`` (unset or empty: in-process)."""
    if url is not None:
        return url
    return os.environ.get(ENV_LIMITER_URL) or None


def shared_limiter(key: Hashable, rate: RateSpec, url: str | None = None) -> Limiter:
    """The one limiter for ``key`` (provider, account fingerprint, region) in this process.

    ``rate``: requests/second, a ``Budget`` (a count per window), budgets per scope (a
    ``ScopedLimiter`` then routes each request to its scope's limiter, each shared per
    account and scope), or ``None`` (learnt from 429s). The first caller's ``rate`` wins.
    ``url`` picks where the state lives: ``None`` or ``"memory://"`` in this process (a
    ``RateLimiter``); ``redis://``, ``rediss://``, ``redis+cluster://`` or
    ``rediss+cluster://`` in that Redis, shared with every process and host using it for the
    same key (needs ``espkit[redis]``)."""
    backend = _backend(url)
    limits, routed, default = split_spec(rate)
    limiters = {scope: _one(key, scope, limit, backend) for scope, limit in limits.items()}
    if len(limiters) == 1:
        return limiters[default]
    primary = rate[0].scope if isinstance(rate, tuple) else default
    with _registry_lock:
        router = _routers.get((key, backend, rate))
        if router is None:
            router = _routers[(key, backend, rate)] = ScopedLimiter(
                limiters, routed, default, primary)
        return router


def _backend(url: str | None) -> str:
    return MEMORY_URL if url is None or url.strip() == MEMORY_URL else url.strip()


def paced(rate: float | Budget | None) -> float | Budget | None:
    """What a limiter is built with for ``rate``: a number is held ``RATE_MARGIN`` under
    (a ``Budget`` carries its own margin, ``None`` is learnt)."""
    if isinstance(rate, Budget) or rate is None:
        return rate
    return rate * (1.0 - RATE_MARGIN)


def catch_up(rate: float | Budget | None) -> float:
    """The bucket a smooth pace keeps: ``CATCH_UP`` seconds of grants, at least one (a
    ``Budget``'s window allows its own burst; an unknown rate starts at one)."""
    if isinstance(rate, Budget) or rate is None:
        return 1.0
    return max(1.0, rate * CATCH_UP)


def _one(key: Hashable, scope: str, rate: float | Budget | None, backend: str) -> Limiter:
    rate = paced(rate)
    with _registry_lock:
        limiter = _limiters.get((key, scope, backend))
        if limiter is None:
            if backend == MEMORY_URL:
                limiter = RateLimiter(rate, burst=catch_up(rate))
            else:
                limiter = _redis(lambda: RedisLimiter(key, rate, url=backend, scope=scope),
                                 backend)
            _limiters[(key, scope, backend)] = limiter
        return limiter


def _redis(make: Callable[[], T], url: str) -> T:
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in REDIS_SCHEMES:
        # the URL may carry a password: name only its scheme
        raise ConfigError(
            f"limiter_url must be memory://, redis://, rediss://, redis+cluster:// or "
            f"rediss+cluster://, got a {scheme or 'bare'!r} URL"
        )
    try:
        return make()
    except ModuleNotFoundError as exc:
        if exc.name not in ("redis", "pyrate_limiter"):
            raise
        raise ConfigError(
            "a redis:// limiter_url needs the redis client: pip install -e '.[redis]'"
        ) from None


def shared_budget(key: Hashable, url: str | None = None) -> RetryBudget:
    """The one retry budget for ``key`` in this process; with a Redis ``url`` (the
    limiter's) its tokens live in that Redis, shared by every process and host using it."""
    backend = _backend(url)
    with _registry_lock:
        budget = _budgets.get((key, backend))
        if budget is None:
            if backend == MEMORY_URL:
                budget = RetryBudget()
            else:
                budget = _redis(lambda: RedisRetryBudget(key, url=backend), backend)
            _budgets[(key, backend)] = budget
        return budget


def reset_shared() -> None:
    """Forget every shared limiter and budget (tests, or after a long pause). State kept in
    Redis is not touched: it belongs to every process using it."""
    with _registry_lock:
        _limiters.clear()
        _routers.clear()
        _budgets.clear()


__all__ = [
    "CATCH_UP",
    "ENV_LIMITER_URL",
    "MEMORY_URL",
    "catch_up",
    "reset_shared",
    "resolve_limiter_url",
    "shared_budget",
    "shared_limiter",
]
