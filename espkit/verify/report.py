"""What a verification wait reports: each domain's outcome, the whole report, the progress
snapshots given to ``on_progress``, and the Ctrl-C exception carrying the report so far.

The waits themselves are in ``espkit.verify.wait``; ``espkit.verify`` re-exports them.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import attrs

from espkit import validate
from espkit.errors import VerificationInterrupted
from espkit.models import DnsRecord

#: how many stuck domains, and records per domain, ``summary()`` names before counting
SUMMARY_DOMAINS = 10
SUMMARY_RECORDS = 3


class VerificationOutcome(str, enum.Enum):
    """Where a domain stands at the end of the wait."""

    VERIFIED = "verified"
    PENDING = "pending"  # the ESP still sees some records not valid (or has not checked)
    FAILED = "failed"  # the ESP refused the check, e.g. NotFound; see ``error``

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class VerificationResult:
    """One domain's outcome.

    ``failing``: the records the ESP reported not valid at its last answer (empty once
    verified). ``error``: the typed error of a ``failed`` domain. ``checks``: how many times
    the ESP answered about this domain. ``verified_after``: seconds from the start of the wait
    to the answer that said verified. ``subaccount``: the id of the subaccount the domain was
    verified in (None: the account's own scope); ``subaccount_name``: its name, where known
    (``wait_for_fleet`` sets it, also for a declared subaccount that does not exist yet)."""

    domain: str
    outcome: VerificationOutcome
    failing: tuple[DnsRecord, ...] = ()
    error: BaseException | None = None
    checks: int = 0
    verified_after: float | None = None
    subaccount: str | None = None
    subaccount_name: str | None = None

    @property
    def verified(self) -> bool:
        return self.outcome is VerificationOutcome.VERIFIED

    @property
    def scope(self) -> str | None:
        """The subaccount as people know it: its name where known, else its id."""
        return self.subaccount_name or self.subaccount

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"domain": self.domain}
        if self.subaccount is not None:
            out["subaccount"] = self.subaccount
        if self.subaccount_name is not None:
            out["subaccount_name"] = self.subaccount_name
        out.update({
            "outcome": self.outcome.value,
            "checks": self.checks,
            "verified_after_s": (None if self.verified_after is None
                                 else round(self.verified_after, 3)),
            "failing": [_record_dict(r) for r in self.failing],
        })
        if self.error is not None:
            out["error"] = {"type": type(self.error).__name__, "message": str(self.error)}
            status = getattr(self.error, "status", None)
            if status is not None:
                out["error"]["status"] = status
        return out

    def describe(self, max_records: int = SUMMARY_RECORDS) -> str:
        """``name: what is wrong`` in a few words (for summaries and tables); a domain in a
        subaccount is ``name (subaccount S): ...``."""
        label = self.domain if self.scope is None else f"{self.domain} (subaccount {self.scope})"
        if self.outcome is VerificationOutcome.VERIFIED:
            return f"{label}: verified"
        if self.error is not None:
            why = f"{type(self.error).__name__}: {self.error}"
        else:
            why = describe_records(self.failing, max_records)
        return f"{label}: {why}"


def describe_records(records: tuple[DnsRecord, ...], limit: int | None = None) -> str:
    """``dkim TXT k1._domainkey.a.com (invalid), ...``; at most ``limit`` named."""
    if not records:
        return "not verified, no record reported invalid"
    shown = records if limit is None else records[:limit]
    text = ", ".join(f"{r.purpose} {r.type} {r.host} ({r.status})" for r in shown)
    if len(records) > len(shown):
        text += f" (+{len(records) - len(shown)} more)"
    return text


def _record_dict(r: DnsRecord) -> dict[str, Any]:
    return {"purpose": r.purpose.value, "type": r.type, "host": r.host, "value": r.value,
            "priority": r.priority, "status": r.status.value}


@attrs.frozen
class VerificationReport:
    """What the wait found, one result per distinct domain (per scope) in input order.

    ``rounds``: verification rounds run; ``elapsed``: seconds on the waiter's clock;
    ``requests``/``throttled``: requests sent and 429s met (on accounts whose provider has a
    retry runner; 0 otherwise); ``interrupted``: Ctrl-C stopped the wait."""

    results: tuple[VerificationResult, ...]
    rounds: int = 0
    elapsed: float = 0.0
    requests: int = 0
    throttled: int = 0
    interrupted: bool = False

    @property
    def verified(self) -> tuple[VerificationResult, ...]:
        return self._with(VerificationOutcome.VERIFIED)

    @property
    def pending(self) -> tuple[VerificationResult, ...]:
        return self._with(VerificationOutcome.PENDING)

    @property
    def failed(self) -> tuple[VerificationResult, ...]:
        return self._with(VerificationOutcome.FAILED)

    def _with(self, outcome: VerificationOutcome) -> tuple[VerificationResult, ...]:
        return tuple(r for r in self.results if r.outcome is outcome)

    @property
    def ok(self) -> bool:
        """Every domain verified (true for an empty list)."""
        return all(r.verified for r in self.results) and not self.interrupted

    def __getitem__(self, domain: str) -> VerificationResult:
        """The result for ``domain`` (any spelling ``validate.domain_name`` accepts); the
        first one when the name is in several scopes."""
        name = validate.domain_name(domain)
        for r in self.results:
            if r.domain == name:
                return r
        raise KeyError(domain)

    def counts(self) -> dict[str, int]:
        return {o.value: len(self._with(o)) for o in VerificationOutcome}

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "total": len(self.results),
            "counts": self.counts(),
            "rounds": self.rounds,
            "elapsed_s": round(self.elapsed, 3),
            "requests": self.requests,
            "throttled": self.throttled,
            "interrupted": self.interrupted,
            "results": [r.to_dict() for r in self.results],
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        """One paragraph: the counts, then each stuck domain with what is wrong with it
        (the first ``SUMMARY_DOMAINS`` per outcome, the rest counted)."""
        total = len(self.results)
        if not total:
            return "no domains to verify"
        verified, pending, failed = self.verified, self.pending, self.failed
        took = (f"{self.rounds} round{'s' if self.rounds != 1 else ''}, "
                f"{self.elapsed:.0f} s")
        lead = "interrupted: " if self.interrupted else ""
        if len(verified) == total:
            return f"{lead}all {total} domain(s) verified ({took})"
        text = (f"{lead}{len(verified)} of {total} domain(s) verified, {len(pending)} pending, "
                f"{len(failed)} failed ({took}).")
        if pending:
            text += (" Pending, records not valid yet: "
                     + _listing(pending, SUMMARY_DOMAINS) + ".")
        if failed:
            text += " Failed: " + _listing(failed, SUMMARY_DOMAINS) + "."
        return text


def _listing(results: tuple[VerificationResult, ...], limit: int) -> str:
    shown = "; ".join(r.describe() for r in results[:limit])
    if len(results) > limit:
        shown += f"; and {len(results) - limit} more"
    return shown


@attrs.frozen
class WaitProgress:
    """A snapshot for progress displays, given to ``on_progress``.

    ``round`` is the current (or last) round, ``checking`` whether it is under way, with
    ``checked`` of ``to_check`` domains answered so far; between rounds ``next_check_in`` is
    the wait before the next one (``None`` when there will be none)."""

    total: int
    verified: int
    pending: int
    failed: int
    round: int
    checking: bool
    checked: int
    to_check: int
    next_check_in: float | None
    elapsed: float


__all__ = [
    "SUMMARY_DOMAINS",
    "SUMMARY_RECORDS",
    "VerificationInterrupted",
    "VerificationOutcome",
    "VerificationReport",
    "VerificationResult",
    "WaitProgress",
    "describe_records",
]
