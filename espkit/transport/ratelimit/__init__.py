"""espkit.transport.ratelimit."""

from espkit.transport.ratelimit.memory import (
    BETA,
    ENV_LIMITER_URL,
    SCALE,
    Limiter,
    RateLimiter,
    RetryBudget,
    reset_shared,
    resolve_limiter_url,
    set_default_clock,
    shared_budget,
    shared_limiter,
)
from espkit.transport.ratelimit.redis import (
    KEY_PREFIX,
    LimiterUnavailable,
    RedisLimiter,
    display_url,
    redis_key,
    scrub,
)

__all__ = [
    "BETA",
    "ENV_LIMITER_URL",
    "KEY_PREFIX",
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


__all__ = [
    "BETA",
    "ENV_LIMITER_URL",
    "KEY_PREFIX",
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


__all__ = [
    "BETA",
    "ENV_LIMITER_URL",
    "KEY_PREFIX",
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
