"""Rate limiters and retry budgets, one per account (and scope of its API), shared by every
thread of a process.

Other packages import from here, never from the modules: ``window`` (``Budget``, a count per
window, and ``parse_rate_limit`` for what users pass as ``rate_limit=``), ``memory`` (the
``Limiter`` protocol and the in-process ``RateLimiter``), ``scopes`` (``ScopedLimiter``: one
limiter per scope of an ESP's API, by request path), ``redis`` (``RedisLimiter``, the same
state in a Redis server or cluster shared by processes and hosts; its Lua lives in
``redis_scripts``, its client in ``redis_client``), ``budget`` (``RetryBudget``) and
``redis_budget`` (``RedisRetryBudget``), ``registry`` (the process-wide limiters and budgets
per account) and ``clock`` (the default clock limiters read). Importing this package does not
import the ``redis`` client: only making a Redis limiter or budget does.
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
from espkit.transport.ratelimit.redis_budget import BUDGET_PREFIX, RedisRetryBudget
from espkit.transport.ratelimit.registry import (
    CATCH_UP,
    ENV_LIMITER_URL,
    MEMORY_URL,
    reset_shared,
    resolve_limiter_url,
    shared_budget,
    shared_limiter,
)
from espkit.transport.ratelimit.scopes import ScopedLimiter, requesting
from espkit.transport.ratelimit.window import (
    DEFAULT_SCOPE,
    MAX_MARGIN,
    MIN_MARGIN,
    WINDOW_MARGIN,
    Budget,
    RateSpec,
    Scope,
    parse_rate_limit,
    window_span,
)
from espkit.transport.redaction import display_url, scrub

__all__ = [
    "BETA",
    "BUDGET_PREFIX",
    "CATCH_UP",
    "DEFAULT_SCOPE",
    "ENV_LIMITER_URL",
    "KEY_PREFIX",
    "MAX_MARGIN",
    "MEASURE_WINDOW",
    "MEMORY_URL",
    "MIN_MARGIN",
    "SCALE",
    "WINDOW_MARGIN",
    "Budget",
    "Limiter",
    "LimiterUnavailable",
    "RateLimiter",
    "RateSpec",
    "RedisLimiter",
    "RedisRetryBudget",
    "RetryBudget",
    "Scope",
    "ScopedLimiter",
    "display_url",
    "parse_rate_limit",
    "redis_key",
    "requesting",
    "reset_shared",
    "resolve_limiter_url",
    "scrub",
    "set_default_clock",
    "shared_budget",
    "shared_limiter",
    "window_span",
]
