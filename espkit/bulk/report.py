"""What a bulk run says about itself: per-item results, progress snapshots and the final report.

Plain values with no behaviour beyond presenting themselves (``to_dict``, ``to_json``,
``summary``), kept apart from the engine so that the CLI, the fleet applier and the
verification rounds can read and print them without reaching into the run loop.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import attrs

#: columns of a failed-items file that say what went wrong; ignored when it is fed back
REPORT_COLUMNS = ("outcome", "error_type", "error")


class Outcome(str, enum.Enum):
    """What happened to one item."""

    CREATED = "created"
    EXISTED = "existed"  # create: the domain was already there (the job converges, no error)
    DELETED = "deleted"
    ABSENT = "absent"  # delete: there was nothing to delete
    VERIFIED = "verified"
    PENDING = "pending"  # verify: the ESP checked and the DNS records are not all there yet
    ASSIGNED = "assigned"
    UPDATED = "updated"  # apply: an existing object changed to match the fleet (pool IPs)
    FAILED = "failed"
    SKIPPED = "skipped"  # finished by an earlier run of the same journal

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class ItemResult:
    """One item's result. ``error`` is the typed exception for failures in this run (the
    journal keeps its type and text for later runs); ``detail`` says more, e.g. the records a
    pending domain still lacks."""

    key: str
    outcome: Outcome
    error: BaseException | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "outcome": self.outcome.value}
        if self.error is not None:
            out["error"] = {"type": type(self.error).__name__, "message": str(self.error)}
            status = getattr(self.error, "status", None)
            if status is not None:
                out["error"]["status"] = status
        if self.detail:
            out["detail"] = self.detail
        return out


@attrs.frozen
class Progress:
    """A snapshot for progress displays; ``done`` counts items settled so far, including
    the ones an earlier run finished. ``waiting`` says what the run is waiting out while
    the ESP does not answer ("ESP unreachable since 12:01:03 (...), probing every 8 s"),
    None while it is sending."""

    operation: str
    total: int
    done: int
    failed: int
    throttled: int
    requests: int
    elapsed: float
    waiting: str | None = None


@attrs.define
class Report:
    """What a bulk run did. ``counts`` is per outcome for this run (``skipped`` = finished
    by an earlier run); ``remaining`` items are still to do (after an interruption or an
    early stop) and a resume with the same journal picks them up. ``outages`` counts the
    times the run paused because the ESP stopped answering, ``outage_seconds`` how long it
    waited in all; ``stopped`` says why a run ended early (an outage longer than
    ``max_outage`` among the reasons)."""

    operation: str
    total: int
    counts: dict[str, int]
    failed: list[ItemResult]
    pending: list[ItemResult]
    requests: int
    throttled: int
    retries: int
    elapsed: float
    concurrency: int
    reconciled: int
    remaining: int
    journal: str | None
    interrupted: bool = False
    stopped: str | None = None
    outages: int = 0
    outage_seconds: float = 0.0

    @property
    def throughput(self) -> float:
        """Items settled per second in this run (skipped ones not counted)."""
        settled = sum(n for k, n in self.counts.items() if k != Outcome.SKIPPED.value)
        return settled / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def ok(self) -> bool:
        """Every item settled and none failed."""
        return not self.failed and self.remaining == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "total": self.total,
            "counts": dict(sorted(self.counts.items())),
            "remaining": self.remaining,
            "requests": self.requests,
            "throttled": self.throttled,
            "retries": self.retries,
            "elapsed_s": round(self.elapsed, 3),
            "throughput_per_s": round(self.throughput, 2),
            "concurrency": self.concurrency,
            "reconciled": self.reconciled,
            "journal": self.journal,
            "interrupted": self.interrupted,
            "stopped": self.stopped,
            "outages": self.outages,
            "outage_s": round(self.outage_seconds, 3),
            "failed": [r.to_dict() for r in self.failed],
            "pending": [r.to_dict() for r in self.pending],
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        parts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items()) if n)
        line = (f"{self.operation}: {parts or 'nothing to do'} of {self.total} in "
                f"{self.elapsed:.1f} s ({self.throughput:.1f}/s); {self.requests} requests, "
                f"{self.throttled} throttled (429), {self.retries} retries")
        if self.reconciled:
            line += f"; {self.reconciled} in flight at a crash, settled by reading back"
        if self.outages:
            line += (f"; paused {self.outages} time(s), {self.outage_seconds:.0f} s in all, "
                     "while the ESP did not answer")
        if self.stopped:
            line += f"\nstopped early: {self.stopped}"
        if self.remaining:
            line += f"\n{self.remaining} item(s) not done yet" + (
                f": run again with the same journal ({self.journal}) to finish"
                if self.journal else "")
        return line


def by_key(result: ItemResult) -> str:
    """Sort key that lists results in item-key order, as a ``Report`` does."""
    return result.key


__all__ = [
    "REPORT_COLUMNS",
    "ItemResult",
    "Outcome",
    "Progress",
    "Report",
    "by_key",
]
