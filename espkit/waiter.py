"""Wait until a fleet of domains is verified: trigger, poll with backoff, report per domain.

    from espkit.waiter import wait_until_verified
    report = wait_until_verified(acct, ["a.acme.com", "b.acme.com", ...], timeout=1800)
    print(report.summary())
    for r in report.pending:
        print(r.domain, [f"{x.type} {x.host}" for x in r.failing])

How it runs:

* **Round 1 asks the ESP to verify every domain**; each later round re-verifies only the
  ones not settled yet. Rounds are runs of the bulk engine (``espkit.bulk``), so every
  request goes through the account's shared rate limiter, with as many in flight as the
  measured latency needs, retries by the account's policy and 429s waited out.
* **Backoff between rounds**: ``poll`` seconds after round 1, then ``backoff`` times longer
  each time, capped at ``max_poll``, counted from the end of a round. The wait before the
  last round is shortened so that it happens exactly at the deadline, never after it.
* **Never raises for slow DNS.** A domain not verified by the deadline comes back
  ``pending`` with the records the ESP still reports not valid; a domain the ESP refused
  (``NotFound``: it does not exist; any error left after the retry policy) comes back
  ``failed`` with its typed error. Only errors that would fail every domain the same way
  (``AuthError``, ``RegionMismatch``, ``Unsupported``, ``ConfigError``) raise.
* **Checked before anything is sent**: every name, ``timeout``, ``poll``, ``max_poll`` and
  ``backoff``; a ``ValidationError`` names every bad row. Duplicates are verified once.
* **Ctrl-C** stops at once (between rounds) or after the requests in flight (during one),
  and raises ``VerificationInterrupted`` carrying the report of what is known.
"""

from __future__ import annotations

import enum
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from . import validate
from .account import Account
from .bulk import Bulk, BulkInterrupted, ItemResult, Operation, Outcome, Progress
from .errors import (
    AuthError,
    ConfigError,
    RateLimited,
    RegionMismatch,
    ServerError,
    TransportError,
    Unsupported,
    ValidationError,
)
from .models import Capability, DnsRecord, Domain, DomainSpec

log = logging.getLogger("espkit.waiter")

#: errors that would fail every domain the same way: raised, not reported per domain
FATAL = (AuthError, RegionMismatch, Unsupported, ConfigError)
#: per-domain errors worth asking again in the next round (the ESP struggling, not refusing)
TRANSIENT = (ServerError, TransportError, RateLimited)
#: how many stuck domains, and records per domain, ``summary()`` names before counting
SUMMARY_DOMAINS = 10
SUMMARY_RECORDS = 3
#: how many bad input rows a ValidationError lists
_SHOW_BAD_ROWS = 10


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
    to the answer that said verified."""

    domain: str
    outcome: VerificationOutcome
    failing: tuple[DnsRecord, ...] = ()
    error: BaseException | None = None
    checks: int = 0
    verified_after: float | None = None

    @property
    def verified(self) -> bool:
        return self.outcome is VerificationOutcome.VERIFIED

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "domain": self.domain,
            "outcome": self.outcome.value,
            "checks": self.checks,
            "verified_after_s": (None if self.verified_after is None
                                 else round(self.verified_after, 3)),
            "failing": [_record_dict(r) for r in self.failing],
        }
        if self.error is not None:
            out["error"] = {"type": type(self.error).__name__, "message": str(self.error)}
            status = getattr(self.error, "status", None)
            if status is not None:
                out["error"]["status"] = status
        return out

    def describe(self, max_records: int = SUMMARY_RECORDS) -> str:
        """``name: what is wrong`` in a few words (for summaries and tables)."""
        if self.outcome is VerificationOutcome.VERIFIED:
            return f"{self.domain}: verified"
        if self.error is not None:
            why = f"{type(self.error).__name__}: {self.error}"
        else:
            why = describe_records(self.failing, max_records)
        return f"{self.domain}: {why}"


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
    """What the wait found, one result per distinct domain in input order.

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
        """The result for ``domain`` (any spelling ``validate.domain_name`` accepts)."""
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


class VerificationInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the wait; ``report`` holds what was known (``interrupted`` set).

    A ``KeyboardInterrupt`` so that code catching ``Exception`` does not swallow it."""

    def __init__(self, report: VerificationReport) -> None:
        self.report = report
        counts = report.counts()
        super().__init__(
            f"stopped by Ctrl-C in round {report.rounds}: {counts['verified']} of "
            f"{len(report.results)} domain(s) verified, {counts['pending']} pending, "
            f"{counts['failed']} failed"
        )


# -- the waiter ----------------------------------------------------------------------------


@attrs.define
class _State:
    name: str
    outcome: VerificationOutcome = VerificationOutcome.PENDING
    failing: tuple[DnsRecord, ...] = ()
    error: BaseException | None = None
    checks: int = 0
    verified_after: float | None = None
    #: no further round: verified, or refused in a way asking again cannot change
    settled: bool = False

    def result(self) -> VerificationResult:
        return VerificationResult(self.name, self.outcome, self.failing, self.error,
                                  self.checks, self.verified_after)


class _Waiter:
    def __init__(self, account: Account, names: list[str],
                 on_progress: Callable[[WaitProgress], None] | None,
                 clock: Callable[[], float]) -> None:
        self.account = account
        self.states = {n: _State(n) for n in names}
        self.on_progress = on_progress
        self.clock = clock
        self.lock = threading.Lock()
        self.start = clock()
        self.rounds = 0
        self.requests = 0
        self.throttled = 0
        self.fatal: BaseException | None = None
        self.op = Operation("verify until verified", _prepare, self._check,
                            Capability.DOMAIN_VERIFY)

    # -- one domain (on the bulk engine's worker threads) ----------------------------------

    def _check(self, acct: Account, key: str, payload: Mapping[str, Any], resumed: bool
               ) -> ItemResult:
        try:
            domain = acct.domains.verify(key)
        except FATAL as exc:
            with self.lock:
                if self.fatal is None:
                    self.fatal = exc
            raise
        self._answer(key, domain)
        return ItemResult(key, Outcome.VERIFIED if domain.verified else Outcome.PENDING)

    def _answer(self, key: str, domain: Domain) -> None:
        when = self.clock() - self.start
        with self.lock:
            state = self.states[key]
            state.checks += 1
            state.error = None
            if domain.verified:
                state.outcome = VerificationOutcome.VERIFIED
                state.failing = ()
                state.verified_after = when
                state.settled = True
            else:
                state.outcome = VerificationOutcome.PENDING
                state.failing = tuple(r for r in domain.dns_records if not r.valid)

    # -- rounds --------------------------------------------------------------------------

    def unsettled(self) -> list[str]:
        with self.lock:
            return [s.name for s in self.states.values() if not s.settled]

    def round(self, names: list[str]) -> None:
        self.rounds += 1
        log.info("verification round %d: %d domain(s)", self.rounds, len(names))
        self.progress(checking=True, to_check=len(names))

        def forward(p: Progress) -> None:
            self.progress(checking=True, checked=p.done, to_check=len(names))

        bulk = Bulk(self.account, on_progress=forward if self.on_progress else None)
        with bulk.journal:
            try:
                report = bulk.run(self.op, names)
            except BulkInterrupted as stop:
                self._count(stop.report.requests, stop.report.throttled)
                self._failures(stop.report.failed)
                raise
        self._count(report.requests, report.throttled)
        if self.fatal is not None:
            raise self.fatal
        self._failures(report.failed)
        if report.stopped:
            log.warning("verification round %d stopped early: %s", self.rounds, report.stopped)

    def _count(self, requests: int, throttled: int) -> None:
        self.requests += requests
        self.throttled += throttled

    def _failures(self, failed: list[ItemResult]) -> None:
        with self.lock:
            for item in failed:
                state = self.states.get(item.key)
                if state is None or item.error is None:
                    continue
                state.outcome = VerificationOutcome.FAILED
                state.error = item.error
                # the ESP struggling may answer next round; a refusal will not change
                state.settled = not isinstance(item.error, TRANSIENT)

    def progress(self, *, checking: bool, checked: int = 0, to_check: int = 0,
                 next_check_in: float | None = None) -> None:
        if self.on_progress is None:
            return
        with self.lock:
            counts = dict.fromkeys(VerificationOutcome, 0)
            for s in self.states.values():
                counts[s.outcome] += 1
        self.on_progress(WaitProgress(
            total=len(self.states), verified=counts[VerificationOutcome.VERIFIED],
            pending=counts[VerificationOutcome.PENDING],
            failed=counts[VerificationOutcome.FAILED], round=self.rounds, checking=checking,
            checked=checked, to_check=to_check, next_check_in=next_check_in,
            elapsed=self.clock() - self.start,
        ))

    def report(self, *, interrupted: bool = False) -> VerificationReport:
        with self.lock:
            results = tuple(s.result() for s in self.states.values())
        return VerificationReport(results, rounds=self.rounds,
                                  elapsed=self.clock() - self.start, requests=self.requests,
                                  throttled=self.throttled, interrupted=interrupted)


def _prepare(acct: Account, item: Any) -> tuple[str, dict[str, Any]]:
    return validate.domain_name(item), {}


def wait_until_verified(
    account: Account,
    domains: Iterable[str | Domain | DomainSpec | Mapping[str, Any]],
    *,
    timeout: float = 600.0,
    poll: float = 15.0,
    max_poll: float = 300.0,
    backoff: float = 1.5,
    on_progress: Callable[[WaitProgress], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> VerificationReport:
    """Verify every domain, re-checking the unverified ones until all are verified or
    ``timeout`` seconds have passed; a ``VerificationReport`` either way.

    ``domains``: names, ``Domain``s, ``DomainSpec``s or mappings with a ``name`` (or
    ``domain``) key, e.g. from ``espkit.bulk.read_items``. Waits ``poll`` seconds after the
    first round, then ``backoff`` times longer after each round up to ``max_poll``; the last
    round happens at the deadline. ``on_progress`` is called from the calling thread at each
    round's start and end and about ten times a second during a round. ``sleep`` and
    ``clock`` (monotonic seconds) may be replaced, e.g. by a test's fake clock.

    Raises ``ValidationError`` (before anything is sent) for bad input, the fatal errors
    (``AuthError``, ``RegionMismatch``, ``Unsupported``, ``ConfigError``) as they come, and
    ``VerificationInterrupted`` on Ctrl-C.
    """
    timeout = _positive("timeout", timeout)
    poll = _positive("poll", poll)
    max_poll = _positive("max_poll", max_poll)
    if max_poll < poll:
        raise ValidationError("max_poll", max_poll, f"must be at least poll ({poll})")
    if not _number(backoff) or backoff < 1:
        raise ValidationError("backoff", backoff, "must be a number >= 1 (1: no backoff)")
    names = _names(domains)
    waiter = _Waiter(account, names, on_progress, clock)
    if not names:
        return waiter.report()
    deadline = waiter.start + timeout
    interval = poll
    try:
        todo = names
        while True:
            waiter.round(todo)
            todo = waiter.unsettled()
            left = deadline - clock()
            if not todo or left <= 0:
                break
            wait = min(interval, left)
            waiter.progress(checking=False, next_check_in=wait)
            sleep(wait)
            interval = min(interval * backoff, max_poll)
            if wait >= left:  # this is the round at the deadline: the last one
                waiter.round(todo)
                break
    except KeyboardInterrupt:
        raise VerificationInterrupted(waiter.report(interrupted=True)) from None
    waiter.progress(checking=False)
    return waiter.report()


def verify_once(
    account: Account,
    domains: Iterable[str | Domain | DomainSpec | Mapping[str, Any]],
    *,
    on_progress: Callable[[WaitProgress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> VerificationReport:
    """One round of ``wait_until_verified``: ask the ESP to verify every domain now and
    report where each stands (same outcomes, errors and interruption)."""
    names = _names(domains)
    waiter = _Waiter(account, names, on_progress, clock)
    if names:
        try:
            waiter.round(names)
        except KeyboardInterrupt:
            raise VerificationInterrupted(waiter.report(interrupted=True)) from None
        waiter.progress(checking=False)
    return waiter.report()


# -- input checks --------------------------------------------------------------------------


def _number(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _positive(field: str, value: object) -> float:
    if isinstance(value, (int, float)) and _number(value) and value > 0:
        return float(value)
    raise ValidationError(field, value, "must be a positive number of seconds")


def _name_of(item: object) -> str:
    if isinstance(item, (Domain, DomainSpec)):
        return validate.domain_name(item.name)
    if isinstance(item, Mapping):
        for field in ("name", "domain"):
            if item.get(field):
                return validate.domain_name(item[field])
        raise ValidationError("item", dict(item), "has no 'name' (or 'domain') field")
    return validate.domain_name(item)


def _names(domains: object) -> list[str]:
    """The distinct canonical names in input order; every bad row named at once."""
    if isinstance(domains, (str, bytes)) or not isinstance(domains, Iterable):
        raise ValidationError("domains", domains, "must be an iterable of domain names, not "
                              "one name (Domains.wait_until_verified takes one name)")
    seen: dict[str, None] = {}
    bad: list[str] = []
    bad_count = 0
    for number, item in enumerate(domains, 1):
        try:
            seen.setdefault(_name_of(item), None)
        except ValidationError as exc:
            bad_count += 1
            if len(bad) < _SHOW_BAD_ROWS:
                bad.append(f"item {number}: {exc}")
    if bad_count:
        more = f" (and {bad_count - len(bad)} more)" if bad_count > len(bad) else ""
        raise ValidationError("domains", f"{bad_count} bad item(s)",
                              "nothing was sent; fix these and run again:\n  "
                              + "\n  ".join(bad) + more)
    return list(seen)


__all__ = [
    "FATAL",
    "VerificationInterrupted",
    "VerificationOutcome",
    "VerificationReport",
    "VerificationResult",
    "WaitProgress",
    "describe_records",
    "verify_once",
    "wait_until_verified",
]
