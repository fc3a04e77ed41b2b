"""The retry budget (botocore's ``RetryQuota``): how many retries a failing ESP gets.

Each retry spends tokens, each success earns one back, and when the budget is empty errors
surface at once instead of every thread hammering an ESP that is down. One budget is shared
by every thread using an account (see ``registry.shared_budget``).
"""

from __future__ import annotations

import threading


class RetryBudget:
    """Tokens spent by retries and earned back by successes (botocore ``RetryQuota``)."""

    def __init__(self, capacity: int = 500, retry_cost: int = 5, timeout_cost: int = 10) -> None:
        self.capacity = capacity
        self.retry_cost = retry_cost
        self.timeout_cost = timeout_cost
        self._available = capacity
        self._lock = threading.Lock()

    @property
    def available(self) -> int:
        return self._available

    def spend(self, *, timeout: bool = False) -> int:
        """Take the cost of one retry; returns the cost, or 0 if the budget is exhausted."""
        cost = self.timeout_cost if timeout else self.retry_cost
        with self._lock:
            if cost > self._available:
                return 0
            self._available -= cost
            return cost

    def refund(self, amount: int = 1) -> None:
        with self._lock:
            self._available = min(self.capacity, self._available + amount)


__all__ = ["RetryBudget"]
