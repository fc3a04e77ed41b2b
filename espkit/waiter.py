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
* **Several scopes of one account in one wait.** An item may say which subaccount (id) it
  lives in (a ``Domain`` whose ``subaccount`` is set, or a mapping with a ``subaccount``
  key); it is verified on behalf of that subaccount, in the same rounds as the others, so
  one limiter paces them all. The same name in two scopes is two domains.
* **A whole fleet**: ``wait_for_fleet(fleet)`` waits for every domain a fleet file declares,
  in its subaccounts and connections (one thread per connection, one deadline), and merges
  the results into one report in fleet order.
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
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs

from . import validate
from .account import Account, runner_of
from .bulk import Bulk, BulkInterrupted, ItemResult, Operation, Outcome, Progress
from .errors import (
    AuthError,
    ConfigError,
    NotFound,
    RateLimited,
    RegionMismatch,
    ServerError,
    TransportError,
    Unsupported,
    ValidationError,
)
from .models import Capability, DnsRecord, Domain, DomainSpec

if TYPE_CHECKING:
    from .fleet import DesiredDomain, Fleet

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
#: how many scopes (main account, subaccounts) ``wait_for_fleet`` lists at a time
READ_WORKERS = 16
#: what a declared domain or subaccount missing from the account is told
NOT_APPLIED = "not in the account: run espkit apply first"


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


@attrs.frozen
class _Target:
    """One domain to wait for: its name, the subaccount (id) to verify it in, and for a
    fleet domain that cannot be asked about (not in the account) the error to report."""

    name: str
    subaccount: str | None = None
    subaccount_name: str | None = None
    error: BaseException | None = None

    @property
    def key(self) -> str:
        # domain names hold no "/", so this cannot collide with another scope's key
        if self.subaccount is not None:
            return f"{self.subaccount}/{self.name}"
        if self.subaccount_name is not None:  # a declared subaccount that does not exist
            return f"?{self.subaccount_name}/{self.name}"
        return self.name


@attrs.define
class _State:
    name: str
    subaccount: str | None = None
    subaccount_name: str | None = None
    outcome: VerificationOutcome = VerificationOutcome.PENDING
    failing: tuple[DnsRecord, ...] = ()
    error: BaseException | None = None
    checks: int = 0
    verified_after: float | None = None
    #: no further round: verified, or refused in a way asking again cannot change
    settled: bool = False

    def result(self) -> VerificationResult:
        return VerificationResult(self.name, self.outcome, self.failing, self.error,
                                  self.checks, self.verified_after, self.subaccount,
                                  self.subaccount_name)


class _Stop:
    """Stops the waits of several connections running in threads: set by the calling
    thread on Ctrl-C or when one connection raises; each thread then behaves as if it had
    received the Ctrl-C itself (between rounds at once, during one after the requests in
    flight)."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def check(self) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt

    def sleep(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        def interruptible(seconds: float) -> None:
            self.check()
            if sleep is time.sleep:
                self.event.wait(seconds)
            else:
                sleep(seconds)
            self.check()
        return interruptible


class _Waiter:
    def __init__(self, account: Account, targets: list[_Target],
                 on_progress: Callable[[WaitProgress], None] | None,
                 clock: Callable[[], float], *, start: float | None = None,
                 stop: _Stop | None = None) -> None:
        self.account = account
        self.states: dict[str, _State] = {}
        for t in targets:
            state = _State(t.name, t.subaccount, t.subaccount_name)
            if t.error is not None:
                state.outcome = VerificationOutcome.FAILED
                state.error = t.error
                state.settled = True
            self.states.setdefault(t.key, state)
        # the scoped handles, made before anything is sent: a provider without subaccount
        # scope raises Unsupported here; they share the account's limiter and counters
        self.scopes: dict[str, Account] = {}
        for t in targets:
            if t.subaccount is not None and t.error is None and t.subaccount not in self.scopes:
                self.scopes[t.subaccount] = account.on_behalf_of(t.subaccount)
        self.on_progress = on_progress
        self.clock = clock
        self.stop = stop
        self.lock = threading.Lock()
        self.start = clock() if start is None else start
        self.rounds = 0
        self.requests = 0
        self.throttled = 0
        self.fatal: BaseException | None = None
        self.op = Operation("verify until verified", _prepare, self._check,
                            Capability.DOMAIN_VERIFY)

    # -- one domain (on the bulk engine's worker threads) ----------------------------------

    def _check(self, acct: Account, key: str, payload: Mapping[str, Any], resumed: bool
               ) -> ItemResult:
        state = self.states[key]
        scope = acct if state.subaccount is None else self.scopes[state.subaccount]
        try:
            domain = scope.domains.verify(state.name)
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
            return [key for key, s in self.states.items() if not s.settled]

    def round(self, keys: list[str]) -> None:
        self.rounds += 1
        log.info("verification round %d: %d domain(s)", self.rounds, len(keys))
        self.progress(checking=True, to_check=len(keys))

        def forward(p: Progress) -> None:
            if self.stop is not None:
                self.stop.check()  # a KeyboardInterrupt here stops the run like Ctrl-C
            self.progress(checking=True, checked=p.done, to_check=len(keys))

        watch = self.on_progress is not None or self.stop is not None
        bulk = Bulk(self.account, on_progress=forward if watch else None)
        with bulk.journal:
            try:
                report = bulk.run(self.op, keys)
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

    def snapshot(self, *, checking: bool, checked: int = 0, to_check: int = 0,
                 next_check_in: float | None = None) -> WaitProgress:
        with self.lock:
            counts = dict.fromkeys(VerificationOutcome, 0)
            for s in self.states.values():
                counts[s.outcome] += 1
        return WaitProgress(
            total=len(self.states), verified=counts[VerificationOutcome.VERIFIED],
            pending=counts[VerificationOutcome.PENDING],
            failed=counts[VerificationOutcome.FAILED], round=self.rounds, checking=checking,
            checked=checked, to_check=to_check, next_check_in=next_check_in,
            elapsed=self.clock() - self.start,
        )

    def progress(self, *, checking: bool, checked: int = 0, to_check: int = 0,
                 next_check_in: float | None = None) -> None:
        if self.on_progress is None:
            return
        self.on_progress(self.snapshot(checking=checking, checked=checked, to_check=to_check,
                                       next_check_in=next_check_in))

    def results(self) -> list[VerificationResult]:
        with self.lock:
            return [s.result() for s in self.states.values()]

    def report(self, *, interrupted: bool = False) -> VerificationReport:
        return VerificationReport(tuple(self.results()), rounds=self.rounds,
                                  elapsed=self.clock() - self.start, requests=self.requests,
                                  throttled=self.throttled, interrupted=interrupted)


def _prepare(acct: Account, item: Any) -> tuple[str, dict[str, Any]]:
    # items are the waiter's own keys; the scope and name are in its state for the key
    return str(item), {}


def _rounds(waiter: _Waiter, *, deadline: float, poll: float, max_poll: float,
            backoff: float, sleep: Callable[[float], None], clock: Callable[[], float],
            once: bool = False) -> None:
    """Round 1 over every unsettled domain, then the backoff schedule up to ``deadline``
    (or just the one round when ``once``)."""
    todo = waiter.unsettled()
    interval = poll
    while todo:
        waiter.round(todo)
        todo = waiter.unsettled()
        left = deadline - clock()
        if once or not todo or left <= 0:
            break
        wait = min(interval, left)
        waiter.progress(checking=False, next_check_in=wait)
        sleep(wait)
        interval = min(interval * backoff, max_poll)
        if wait >= left:  # this is the round at the deadline: the last one
            waiter.round(todo)
            break
    waiter.progress(checking=False)


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
    ``domain``) key, e.g. from ``espkit.bulk.read_items``. A ``Domain`` whose ``subaccount``
    is set, or a mapping with a ``subaccount`` (id) key, is verified on behalf of that
    subaccount, in the same rounds as the rest. Waits ``poll`` seconds after the
    first round, then ``backoff`` times longer after each round up to ``max_poll``; the last
    round happens at the deadline. ``on_progress`` is called from the calling thread at each
    round's start and end and about ten times a second during a round. ``sleep`` and
    ``clock`` (monotonic seconds) may be replaced, e.g. by a test's fake clock.

    Raises ``ValidationError`` (before anything is sent) for bad input, the fatal errors
    (``AuthError``, ``RegionMismatch``, ``Unsupported``, ``ConfigError``) as they come, and
    ``VerificationInterrupted`` on Ctrl-C.
    """
    _check_options(timeout, poll, max_poll, backoff)
    targets = _targets(domains, account)
    waiter = _Waiter(account, targets, on_progress, clock)
    if not targets:
        return waiter.report()
    try:
        _rounds(waiter, deadline=waiter.start + timeout, poll=poll, max_poll=max_poll,
                backoff=backoff, sleep=sleep, clock=clock)
    except KeyboardInterrupt:
        raise VerificationInterrupted(waiter.report(interrupted=True)) from None
    return waiter.report()


def verify_once(
    account: Account,
    domains: Iterable[str | Domain | DomainSpec | Mapping[str, Any]],
    *,
    on_progress: Callable[[WaitProgress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> VerificationReport:
    """One round of ``wait_until_verified``: ask the ESP to verify every domain now and
    report where each stands (same outcomes, scopes, errors and interruption)."""
    targets = _targets(domains, account)
    waiter = _Waiter(account, targets, on_progress, clock)
    if targets:
        try:
            _rounds(waiter, deadline=waiter.start, poll=1.0, max_poll=1.0, backoff=1.0,
                    sleep=time.sleep, clock=clock, once=True)
        except KeyboardInterrupt:
            raise VerificationInterrupted(waiter.report(interrupted=True)) from None
    return waiter.report()


# -- a whole fleet -------------------------------------------------------------------------


def wait_for_fleet(
    fleet: Fleet,
    accounts: Mapping[str, Account] | None = None,
    *,
    timeout: float = 600.0,
    poll: float = 15.0,
    max_poll: float = 300.0,
    backoff: float = 1.5,
    on_progress: Callable[[WaitProgress], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    names: Iterable[str] | None = None,
) -> VerificationReport:
    """Wait until every domain ``fleet`` declares (or only those in ``names``) is verified:
    ``wait_until_verified`` over the fleet, one report in fleet order.

    Per connection: its subaccount names are resolved to ids and the declared scopes are
    listed once; a domain (or a declared subaccount) not in the account comes back
    ``failed`` with a ``NotFound`` saying to run ``espkit apply`` first, and is never asked
    about. The rest are verified in their scopes, one bulk job per round, so the account's
    limiter paces them all. Several connections wait concurrently, one thread each, against
    one deadline ``timeout`` seconds from the start (listing included); ``requests`` counts
    the listing too. With several connections ``on_progress`` gets the sums over them, one
    call at a time from their threads.

    ``accounts``: connection name -> open ``Account``; None opens the fleet's connections
    (and closes them at the end). Raises ``ValidationError`` for bad options or a name the
    fleet does not declare, ``ConfigError`` for a connection without an account, the fatal
    errors of ``wait_until_verified`` (after stopping the other connections), and
    ``VerificationInterrupted`` on Ctrl-C with the merged report so far.
    """
    return _for_fleet(fleet, accounts, timeout=timeout, poll=poll, max_poll=max_poll,
                      backoff=backoff, on_progress=on_progress, sleep=sleep, clock=clock,
                      names=names)


def _for_fleet(
    fleet: Fleet,
    accounts: Mapping[str, Account] | None,
    *,
    timeout: float,
    poll: float,
    max_poll: float,
    backoff: float,
    on_progress: Callable[[WaitProgress], None] | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    names: Iterable[str] | None,
    once: bool = False,
) -> VerificationReport:
    _check_options(timeout, poll, max_poll, backoff)
    wanted = _select(fleet, names)
    by_connection: dict[str, list[DesiredDomain]] = {}
    for d in wanted:
        by_connection.setdefault(d.connection, []).append(d)
    if accounts is not None:
        missing = sorted(set(by_connection) - set(accounts))
        if missing:
            raise ConfigError(f"no account given for connection(s) {', '.join(missing)}")
    opened: dict[str, Account] = {}
    try:
        if accounts is None:
            for name in by_connection:
                opened[name] = fleet.connections[name].connect()
            accounts = opened
        start = clock()
        run = _FleetRun(accounts, wanted, by_connection, on_progress, clock, start,
                        threaded=len(by_connection) > 1)
        options = {"deadline": start + timeout, "poll": poll, "max_poll": max_poll,
                   "backoff": backoff, "clock": clock, "once": once}
        run.execute(sleep, options)
        return run.report()
    finally:
        for acct in opened.values():
            acct.close()


def _select(fleet: Fleet, names: Iterable[str] | None) -> list[DesiredDomain]:
    """The fleet's domains in file order, or those named (any spelling); a name the fleet
    does not declare is a ValidationError, before anything is opened or sent."""
    declared = list(fleet.domains())
    if names is None:
        return declared
    if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
        raise ValidationError("names", names, "must be an iterable of domain names")
    chosen: dict[str, None] = {}
    bad: list[str] = []
    for name in names:
        try:
            chosen.setdefault(validate.domain_name(name), None)
        except ValidationError as exc:
            bad.append(str(exc))
    known = {validate.domain_name(d.name) for d in declared}
    unknown = [n for n in chosen if n not in known]
    if unknown:
        shown = ", ".join(unknown[:_SHOW_BAD_ROWS])
        more = f" (and {len(unknown) - _SHOW_BAD_ROWS} more)" if len(unknown) > \
            _SHOW_BAD_ROWS else ""
        bad.append(f"not declared in {fleet.source}: {shown}{more}")
    if bad:
        raise ValidationError("names", f"{len(bad)} problem(s)",
                              "nothing was sent:\n  " + "\n  ".join(bad))
    return [d for d in declared if validate.domain_name(d.name) in chosen]


class _FleetRun:
    """One connection's wait per thread (or in the calling thread when there is one)."""

    def __init__(self, accounts: Mapping[str, Account], wanted: list[DesiredDomain],
                 by_connection: Mapping[str, list[DesiredDomain]],
                 on_progress: Callable[[WaitProgress], None] | None,
                 clock: Callable[[], float], start: float, *, threaded: bool) -> None:
        self.accounts = accounts
        self.wanted = wanted
        self.by_connection = by_connection
        self.user_progress = on_progress
        self.clock = clock
        self.start = start
        self.threaded = threaded
        self.stop = _Stop() if threaded else None
        self.lock = threading.Lock()
        self.waiters: dict[str, _Waiter] = {}
        self.read: dict[str, tuple[int, int]] = {}  # connection -> (requests, throttled)
        # until a connection reports, its domains count as pending in round 0
        self.latest: dict[str, WaitProgress] = {
            c: WaitProgress(total=len(ds), verified=0, pending=len(ds), failed=0, round=0,
                            checking=False, checked=0, to_check=0, next_check_in=None,
                            elapsed=0.0)
            for c, ds in by_connection.items()}
        self.errors: dict[str, BaseException] = {}
        self.interrupted = False

    # -- per connection --------------------------------------------------------------------

    def targets(self, connection: str, acct: Account) -> list[_Target]:
        """Resolve subaccount names to ids and find which declared domains exist, listing
        each scope in use once."""
        domains = self.by_connection[connection]
        runner = runner_of(acct.provider)
        before = dict(runner.stats) if runner is not None else {}
        declared_subs = list(dict.fromkeys(d.subaccount for d in domains if d.subaccount))
        sub_ids: dict[str, str] = {}
        if declared_subs:
            if Capability.SUBACCOUNTS not in acct.capabilities:
                raise acct.provider.unsupported(Capability.SUBACCOUNTS)
            sub_ids = {s.name: s.id for s in acct.subaccounts.list()}
        scopes: list[str | None] = []
        if any(not d.subaccount for d in domains):
            scopes.append(None)
        scopes += [sub_ids[s] for s in declared_subs if s in sub_ids]

        def names_in(sub_id: str | None) -> tuple[str | None, set[str]]:
            scoped = acct if sub_id is None else acct.on_behalf_of(sub_id)
            return sub_id, {validate.domain_name(d.name) for d in scoped.domains.list()}

        with ThreadPoolExecutor(max_workers=max(1, min(READ_WORKERS, len(scopes)))) as pool:
            present = dict(pool.map(names_in, scopes))
        if runner is not None:
            self.read[connection] = (runner.stats["requests"] - before.get("requests", 0),
                                     runner.stats["throttled"] - before.get("throttled", 0))
        out: list[_Target] = []
        for d in domains:
            name = validate.domain_name(d.name)
            sub = d.subaccount
            if sub and sub not in sub_ids:
                error = NotFound(f"subaccount {sub} (of domain {name}) is {NOT_APPLIED}",
                                 provider=acct.name, code="not_applied")
                out.append(_Target(name, None, sub, error))
                continue
            sub_id = sub_ids[sub] if sub else None
            if name not in present[sub_id]:
                where = f" (subaccount {sub})" if sub else ""
                error = NotFound(f"domain {name}{where} is {NOT_APPLIED}",
                                 provider=acct.name, code="not_applied")
                out.append(_Target(name, sub_id, sub, error))
                continue
            out.append(_Target(name, sub_id, sub))
        return out

    def one(self, connection: str, sleep: Callable[[float], None], options: dict[str, Any]
            ) -> None:
        acct = self.accounts[connection]
        if self.stop is not None:
            self.stop.check()
        targets = self.targets(connection, acct)
        progress = None
        if self.user_progress is not None:
            progress = self.user_progress if not self.threaded else (
                lambda p, name=connection: self.combined(name, p))
        waiter = _Waiter(acct, targets, progress, self.clock, start=self.start,
                         stop=self.stop)
        waiter.requests, waiter.throttled = self.read.get(connection, (0, 0))
        with self.lock:
            self.waiters[connection] = waiter
        _rounds(waiter, sleep=sleep if self.stop is None else self.stop.sleep(sleep),
                **options)

    def combined(self, connection: str, p: WaitProgress) -> None:
        """Sums over the connections, one call at a time."""
        assert self.user_progress is not None
        with self.lock:
            self.latest[connection] = p
            parts = list(self.latest.values())
            checking = [x for x in parts if x.checking]
            waits = [x.next_check_in for x in parts
                     if not x.checking and x.next_check_in is not None]
            self.user_progress(WaitProgress(
                total=sum(x.total for x in parts), verified=sum(x.verified for x in parts),
                pending=sum(x.pending for x in parts), failed=sum(x.failed for x in parts),
                round=max(x.round for x in parts), checking=bool(checking),
                checked=sum(x.checked for x in checking),
                to_check=sum(x.to_check for x in checking),
                next_check_in=None if checking or not waits else min(waits),
                elapsed=self.clock() - self.start,
            ))

    # -- all of them -----------------------------------------------------------------------

    def execute(self, sleep: Callable[[float], None], options: dict[str, Any]) -> None:
        if not self.threaded:
            try:
                for connection in self.by_connection:
                    self.one(connection, sleep, options)
            except KeyboardInterrupt:
                self.interrupted = True
            if self.interrupted:
                raise VerificationInterrupted(self.report(interrupted=True))
            return
        assert self.stop is not None
        threads = [threading.Thread(target=self.guarded, args=(c, sleep, options),
                                    name=f"espkit-wait-{c}", daemon=True)
                   for c in self.by_connection]
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(0.05)
                if self.errors:
                    self.stop.event.set()  # one connection failed or was interrupted
        except KeyboardInterrupt:
            self.interrupted = True
            self.stop.event.set()
            for t in threads:  # the requests in flight finish; a second Ctrl-C leaves now
                t.join()
        fatal = [e for e in self.errors.values() if not isinstance(e, KeyboardInterrupt)]
        if fatal:
            raise fatal[0]
        if self.interrupted or self.errors:
            raise VerificationInterrupted(self.report(interrupted=True))

    def guarded(self, connection: str, sleep: Callable[[float], None],
                options: dict[str, Any]) -> None:
        try:
            self.one(connection, sleep, options)
        except BaseException as exc:  # handed to the calling thread
            with self.lock:
                self.errors[connection] = exc

    def report(self, *, interrupted: bool = False) -> VerificationReport:
        """The connections' reports merged, the results in fleet order."""
        with self.lock:
            waiters = dict(self.waiters)
        found: dict[tuple[str, str, str | None], VerificationResult] = {}
        for connection, waiter in waiters.items():
            for r in waiter.results():
                found.setdefault((connection, r.domain, r.subaccount_name), r)
        ordered: dict[tuple[str, str, str | None], VerificationResult] = {}
        for d in self.wanted:
            key = (d.connection, validate.domain_name(d.name), d.subaccount or None)
            if key in found:
                ordered.setdefault(key, found[key])
        return VerificationReport(
            tuple(ordered.values()), rounds=max((w.rounds for w in waiters.values()), default=0),
            elapsed=self.clock() - self.start,
            requests=sum(w.requests for w in waiters.values()),
            throttled=sum(w.throttled for w in waiters.values()), interrupted=interrupted)


# -- input checks --------------------------------------------------------------------------


def _number(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _positive(field: str, value: object) -> float:
    if isinstance(value, (int, float)) and _number(value) and value > 0:
        return float(value)
    raise ValidationError(field, value, "must be a positive number of seconds")


def _check_options(timeout: object, poll: object, max_poll: object, backoff: object) -> None:
    _positive("timeout", timeout)
    poll = _positive("poll", poll)
    max_poll = _positive("max_poll", max_poll)
    if max_poll < poll:
        raise ValidationError("max_poll", max_poll, f"must be at least poll ({poll})")
    if not _number(backoff) or backoff < 1:  # type: ignore[operator]
        raise ValidationError("backoff", backoff, "must be a number >= 1 (1: no backoff)")


def _subaccount_of(value: object) -> str | None:
    """A subaccount id from an item (an int such as a Postmark server id read from JSON is
    fine); empty means the account's own scope (a CSV row's empty cell)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return validate.identifier(value.strip() if isinstance(value, str) else value,
                               "subaccount")


def _target_of(item: object, own_scope: str | None) -> _Target:
    sub: str | None = None
    if isinstance(item, Domain):
        name = validate.domain_name(item.name)
        sub = _subaccount_of(item.subaccount)
    elif isinstance(item, DomainSpec):
        name = validate.domain_name(item.name)
    elif isinstance(item, Mapping):
        for field in ("name", "domain"):
            if item.get(field):
                name = validate.domain_name(item[field])
                break
        else:
            raise ValidationError("item", dict(item), "has no 'name' (or 'domain') field")
        sub = _subaccount_of(item.get("subaccount"))
    else:
        name = validate.domain_name(item)
    if sub is not None and sub == own_scope:
        sub = None  # the account already acts in it
    return _Target(name, sub)


def _targets(domains: object, account: Account) -> list[_Target]:
    """The distinct (scope, canonical name) pairs in input order; every bad row named at
    once."""
    if isinstance(domains, (str, bytes)) or not isinstance(domains, Iterable):
        raise ValidationError("domains", domains, "must be an iterable of domain names, not "
                              "one name (Domains.wait_until_verified takes one name)")
    seen: dict[str, _Target] = {}
    bad: list[str] = []
    bad_count = 0
    own = account.subaccount
    for number, item in enumerate(domains, 1):
        try:
            target = _target_of(item, own)
        except ValidationError as exc:
            bad_count += 1
            if len(bad) < _SHOW_BAD_ROWS:
                bad.append(f"item {number}: {exc}")
            continue
        seen.setdefault(target.key, target)
    if bad_count:
        more = f" (and {bad_count - len(bad)} more)" if bad_count > len(bad) else ""
        raise ValidationError("domains", f"{bad_count} bad item(s)",
                              "nothing was sent; fix these and run again:\n  "
                              + "\n  ".join(bad) + more)
    return list(seen.values())


__all__ = [
    "FATAL",
    "NOT_APPLIED",
    "VerificationInterrupted",
    "VerificationOutcome",
    "VerificationReport",
    "VerificationResult",
    "WaitProgress",
    "describe_records",
    "verify_once",
    "wait_for_fleet",
    "wait_until_verified",
]
