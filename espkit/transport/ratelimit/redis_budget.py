"""The retry budget kept in Redis: one allowance of retries for every process on an account.

``RetryBudget`` decides per process when an ESP is failing too much to keep retrying; ten
processes on one account then send ten times the retries a failing ESP should get. With a
Redis limiter URL the budget lives beside the limiter, under the same hash tag
(``espkit:retry:{<sha256>}``, one slot of a Redis Cluster with the account's limiter keys),
and every process spends from and earns back into the same tokens, atomically in Lua.

A success earns one token back. Sending each refund would double the Redis traffic of a
healthy run, so refunds are counted here and sent with the next spend, or every
``FLUSH_EVERY`` successes: a failing run (which spends) sees every token it earned. If
Redis cannot be reached a spend is refused (the failure surfaces instead of being retried;
the next ``acquire`` on the limiter raises ``LimiterUnavailable`` anyway) and a refund is
dropped, each with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from espkit.errors import LimiterUnavailable
from espkit.transport.ratelimit import redis_client
from espkit.transport.ratelimit.budget import RetryBudget
from espkit.transport.ratelimit.redis import IDLE_TTL, redis_key

if TYPE_CHECKING:
    from redis.commands.core import Script

log = logging.getLogger("espkit.ratelimit")

BUDGET_PREFIX = "espkit:retry:"
#: successes counted here before their refund is sent on its own
FLUSH_EVERY = 20

# KEYS: the budget hash. ARGV: capacity, cost (0: only refund), refund, ttl_ms.
# Returns {cost taken (0: refused), tokens left}.
_SPEND_LUA = """
local capacity = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local left = tonumber(redis.call('HGET', KEYS[1], 'available')) or capacity
left = math.min(capacity, left + tonumber(ARGV[3]))
local taken = 0
if cost > 0 and cost <= left then
    left = left - cost
    taken = cost
end
redis.call('HSET', KEYS[1], 'available', left)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
return {taken, left}
"""


class RedisRetryBudget(RetryBudget):
    """``RetryBudget`` whose tokens live in Redis, shared by every process and host using
    the same ``url`` for the same account ``key``. Idle budgets expire (back to full)."""

    def __init__(self, key: Hashable, *, url: str, capacity: int = 500, retry_cost: int = 5,
                 timeout_cost: int = 10, idle_ttl: float = IDLE_TTL) -> None:
        super().__init__(capacity, retry_cost, timeout_cost)
        redis_client.check_url(url)
        self._url = url
        self._errors = redis_client.client_errors()
        # the account's hash tag: the same slot as its limiter keys
        self.redis_key = BUDGET_PREFIX + redis_key(key).rpartition(":")[2]
        self._ttl_ms = max(1, round(idle_ttl * 1000))
        self._pending = 0
        self._script: Script | None = None

    def __repr__(self) -> str:
        return f"RedisRetryBudget({self.redis_key!r})"

    @property
    def available(self) -> int:
        """Tokens left for every process together (sends the refunds counted so far)."""
        reply = self._call(0)
        return self._available if reply is None else reply[1]

    def spend(self, *, timeout: bool = False) -> int:
        """Take the cost of one retry from the shared tokens; 0 if they cannot cover it."""
        reply = self._call(self.timeout_cost if timeout else self.retry_cost)
        return 0 if reply is None else reply[0]

    def refund(self, amount: int = 1) -> None:
        with self._lock:
            self._pending += amount
            due = self._pending >= FLUSH_EVERY
        if due:
            self._call(0)

    def _call(self, cost: int) -> tuple[int, int] | None:
        with self._lock:
            refund, self._pending = self._pending, 0
        try:
            script = self._load()
            taken, left = script(keys=[self.redis_key],
                                 args=[self.capacity, cost, refund, self._ttl_ms])
        except LimiterUnavailable as exc:
            log.warning("%s; retry budget not shared this time", exc)
            return None
        except self._errors as exc:
            log.warning("%s; retry budget not shared this time",
                        redis_client.unavailable(self._url, exc))
            return None
        self._available = int(left)
        return int(taken), int(left)

    def _load(self) -> Any:
        if self._script is None:
            self._script = redis_client.client(self._url).register_script(_SPEND_LUA)
        return self._script


__all__ = ["BUDGET_PREFIX", "RedisRetryBudget"]
