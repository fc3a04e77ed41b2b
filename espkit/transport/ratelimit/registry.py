"""The process-wide registry: one limiter and one retry budget per account, whatever asks.

Every thread, every scoped copy of a transport and every handle ``espkit.connect`` makes for
the same account must pace and back off together, so they are handed the same objects from
here, keyed by (provider, account fingerprint, endpoint). Where a limiter's state lives is
the URL's choice: in this process (``memory://``, the default) or in a Redis server
(``redis://``, ``rediss://``), shared with every process and host using it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Hashable

from espkit.errors import ConfigError
from espkit.transport.ratelimit.budget import RetryBudget
from espkit.transport.ratelimit.memory import Limiter, RateLimiter
from espkit.transport.ratelimit.redis import RedisLimiter

#: where ``from_options`` looks for ``limiter_url`` when none is given
ENV_LIMITER_URL = "ESPKIT_LIMITER_URL"
MEMORY_URL = "memory://"

_limiters: dict[tuple[Hashable, str], Limiter] = {}
_budgets: dict[Hashable, RetryBudget] = {}
_registry_lock = threading.Lock()


def resolve_limiter_url(url: str | None) -> str | None:
    """``url`` if given, else ``$ESPKIT_LIMITER_URL`` (unset or empty: in-process)."""
    if url is not None:
        return url
    return os.environ.get(ENV_LIMITER_URL) or None


def shared_limiter(key: Hashable, rate: float | None, url: str | None = None) -> Limiter:
    """The one limiter for ``key`` (provider, account fingerprint, region) in this process.

    ``url`` picks where its state lives: ``None`` or ``"memory://"`` in this process (a
    ``RateLimiter``); ``"redis://..."`` or ``"rediss://..."`` in that Redis server, shared
    with every process and host using it for the same key (needs ``espkit[redis]``)."""
    backend = MEMORY_URL if url is None or url.strip() == MEMORY_URL else url.strip()
    with _registry_lock:
        limiter = _limiters.get((key, backend))
        if limiter is None:
            if backend == MEMORY_URL:
                limiter = RateLimiter(rate)
            else:
                limiter = _redis_limiter(key, rate, backend)
            _limiters[(key, backend)] = limiter
        return limiter


def _redis_limiter(key: Hashable, rate: float | None, url: str) -> Limiter:
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in ("redis", "rediss"):
        # the URL may carry a password: name only its scheme
        raise ConfigError(
            f"limiter_url must be memory://, redis:// or rediss://, got a {scheme or 'bare'!r}"
            " URL"
        )
    try:
        return RedisLimiter(key, rate, url=url)
    except ModuleNotFoundError as exc:
        if exc.name not in ("redis", "pyrate_limiter"):
            raise
        raise ConfigError(
            "a redis:// limiter_url needs the redis client: pip install -e '.[redis]'"
        ) from None


def shared_budget(key: Hashable) -> RetryBudget:
    with _registry_lock:
        budget = _budgets.get(key)
        if budget is None:
            budget = _budgets[key] = RetryBudget()
        return budget


def reset_shared() -> None:
    """Forget every shared limiter and budget (tests, or after a long pause). State kept in
    Redis is not touched: it belongs to every process using it."""
    with _registry_lock:
        _limiters.clear()
        _budgets.clear()


__all__ = [
    "ENV_LIMITER_URL",
    "MEMORY_URL",
    "reset_shared",
    "resolve_limiter_url",
    "shared_budget",
    "shared_limiter",
]
