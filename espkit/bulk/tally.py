"""What a bulk run has settled, and the ``Progress`` and ``Report`` built from it.

Kept apart from the run loop (``execution``), which decides *what happens* to each item;
this is the bookkeeping of what did: counts per outcome, the items that failed (a later pass
over one replaces its failure), the verifications still pending, the items read back after
a crash, and the request counters of the account's retry runner since the run began.
"""

from __future__ import annotations

from espkit.bulk.report import ItemResult, Outcome, Progress, Report, by_key
from espkit.transport import RetryRunner


class Tally:
    """Not thread-safe by itself: the run loop calls it under its lock."""

    def __init__(self, operation: str, runner: RetryRunner | None) -> None:
        self.operation = operation
        self.runner = runner
        self.counts: dict[str, int] = {}
        self.failed: dict[str, ItemResult] = {}
        self.pending: list[ItemResult] = []
        self.settled = 0
        self.reconciled = 0
        self.total = 0
        self._stats0 = dict(runner.stats) if runner else {}

    def skipped(self, n: int) -> None:
        """``n`` items an earlier run finished."""
        if n:
            self.counts[Outcome.SKIPPED.value] = n

    def add(self, result: ItemResult, was_inflight: bool) -> None:
        earlier = self.failed.pop(result.key, None)
        if earlier is None:
            self.settled += 1
        else:  # a later pass over this run's failures: replace the failure
            self._count(Outcome.FAILED, -1)
        self._count(result.outcome, 1)
        if was_inflight:
            self.reconciled += 1
        if result.outcome is Outcome.FAILED:
            self.failed[result.key] = result
        elif result.outcome is Outcome.PENDING:
            self.pending.append(result)

    def _count(self, outcome: Outcome, delta: int) -> None:
        n = self.counts.get(outcome.value, 0) + delta
        if n:
            self.counts[outcome.value] = n
        else:
            self.counts.pop(outcome.value, None)

    def stats(self) -> dict[str, int]:
        """The runner's requests, throttles and retries since the run began."""
        if self.runner is None:
            return {"requests": 0, "throttled": 0, "retries": 0}
        now = dict(self.runner.stats)
        return {k: now.get(k, 0) - self._stats0.get(k, 0)
                for k in ("requests", "throttled", "retries")}

    def progress(self, elapsed: float, waiting: str | None) -> Progress:
        stats = self.stats()
        return Progress(
            operation=self.operation, total=self.total,
            done=self.settled + self.counts.get(Outcome.SKIPPED.value, 0),
            failed=len(self.failed), throttled=stats["throttled"],
            requests=stats["requests"], elapsed=elapsed, waiting=waiting,
        )

    def report(self, *, elapsed: float, concurrency: int, remaining: int,
               journal: str | None, interrupted: bool, stopped: str | None, outages: int,
               outage_seconds: float) -> Report:
        stats = self.stats()
        return Report(
            operation=self.operation, total=self.total, counts=dict(self.counts),
            failed=sorted(self.failed.values(), key=by_key),
            pending=sorted(self.pending, key=by_key),
            requests=stats["requests"], throttled=stats["throttled"],
            retries=stats["retries"], elapsed=elapsed, concurrency=concurrency,
            reconciled=self.reconciled, remaining=remaining, journal=journal,
            interrupted=interrupted, stopped=stopped, outages=outages,
            outage_seconds=outage_seconds,
        )


__all__ = ["Tally"]
