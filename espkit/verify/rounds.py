"""The rounds behind ``espkit.verify.wait``: one account's domains (in any of its scopes) verified
round after round through the bulk engine, with backoff up to a deadline.

``Waiter`` holds each domain's state and runs one round; ``run_rounds`` runs them on the backoff
schedule; ``Stop`` lets the calling thread stop waits running in other threads;
``check_options`` checks ``timeout``, ``poll``, ``max_poll`` and ``backoff``. Used by
``espkit.verify.wait`` (one account) and ``espkit.verify.fleet`` (a whole fleet).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from espkit.account import Account
from espkit.bulk import (
    FATAL,
    SHOW_BAD_ROWS,
    UNHEALTHY,
    Bulk,
    BulkInterrupted,
    ItemResult,
    Operation,
    Outcome,
    Progress,
)
from espkit.errors import ValidationError
from espkit.models import Capability, DnsRecord, Domain
from espkit.verify.report import (
    VerificationOutcome,
    VerificationReport,
    VerificationResult,
    WaitProgress,
)

log = logging.getLogger("espkit.waiter")

#: per-domain errors worth asking again in the next round (the ESP struggling, not
#: refusing): the bulk engine's UNHEALTHY kinds. Its FATAL ones (failing every domain the
#: same way) are raised, not reported per domain.
TRANSIENT = UNHEALTHY


@attrs.frozen
class Target:
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


class Stop:
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


class Waiter:
    def __init__(self, account: Account, targets: list[Target],
                 on_progress: Callable[[WaitProgress], None] | None,
                 clock: Callable[[], float], *, start: float | None = None,
                 stop: Stop | None = None) -> None:
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
        # a run of the account (nested in the wait's, which spans every round)
        with bulk.journal, self.account.batch(size=len(keys)):
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


def run_rounds(waiter: Waiter, *, deadline: float, poll: float, max_poll: float,
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



# -- input checks --------------------------------------------------------------------------


def _number(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _positive(field: str, value: object) -> float:
    if isinstance(value, (int, float)) and _number(value) and value > 0:
        return float(value)
    raise ValidationError(field, value, "must be a positive number of seconds")


def check_options(timeout: object, poll: object, max_poll: object, backoff: object) -> None:
    _positive("timeout", timeout)
    poll = _positive("poll", poll)
    max_poll = _positive("max_poll", max_poll)
    if max_poll < poll:
        raise ValidationError("max_poll", max_poll, f"must be at least poll ({poll})")
    if not _number(backoff) or backoff < 1:  # type: ignore[operator]
        raise ValidationError("backoff", backoff, "must be a number >= 1 (1: no backoff)")



__all__ = [
    "FATAL",
    "SHOW_BAD_ROWS",
    "TRANSIENT",
    "Stop",
    "Target",
    "Waiter",
    "check_options",
    "run_rounds",
]
