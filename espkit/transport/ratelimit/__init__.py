"""Rate limiters and retry budgets, one per account, shared by every thread of a process.

Other packages import from here, never from the modules: ``memory`` (the ``Limiter``
protocol and the in-process ``RateLimiter``), ``redis`` (``RedisLimiter``, the same state in
a Redis server shared by processes and hosts; its Lua lives in ``redis_scripts``),
``budget`` (``RetryBudget``), ``registry`` (the process-wide limiter and budget per account)
and ``clock`` (the default clock limiters read). Importing this package does not import the
``redis`` client: only making a ``RedisLimiter`` does.
"""

from espkit.errors import LimiterUnavailable
from espkit.transport.ratelimit.budget import RetryBudget
from espkit.transport.ratelimit.clock import set_default_clock
from espkit.transport.ratelimit.memory import (
    BETA,
    MEASURE_WINDOW,
    SCALE,
    Limiter,
    RateLimiter,
)
from espkit.transport.ratelimit.redis import KEY_PREFIX, RedisLimiter, redis_key
from espkit.transport.ratelimit.registry import (
    ENV_LIMITER_URL,
    MEMORY_URL,
    reset_shared,
    resolve_limiter_url,
    shared_budget,
    shared_limiter,
)
from espkit.transport.redaction import display_url, scrub

__all__ = [
    "BETA",
    "ENV_LIMITER_URL",
    "KEY_PREFIX",
    "MEASURE_WINDOW",
    "MEMORY_URL",
    "SCALE",
    "Limiter",
    "LimiterUnavailable",
    "RateLimiter",
    "RedisLimiter",
    "RetryBudget",
    "display_url",
    "redis_key",
    "reset_shared",
    "resolve_limiter_url",
    "scrub",
    "set_default_clock",
    "shared_budget",
    "shared_limiter",
]
