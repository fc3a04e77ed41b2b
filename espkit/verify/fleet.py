"""Wait for a whole fleet: every domain a fleet file declares, in its subaccounts and
connections (one thread per connection, one deadline), merged into one report in fleet
order. ``wait_for_fleet`` is re-exported by ``espkit.verify``; the rounds themselves are
``espkit.verify.rounds``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from espkit import validate
from espkit.account import Account, runner_of
from espkit.errors import ConfigError, NotFound, ValidationError
from espkit.models import Capability
from espkit.verify.report import (
    VerificationInterrupted,
    VerificationReport,
    VerificationResult,
    WaitProgress,
)
from espkit.verify.rounds import SHOW_BAD_ROWS, Stop, Target, Waiter, check_options, run_rounds

if TYPE_CHECKING:
    from espkit.fleet import DesiredDomain, Fleet

#: how many scopes (main account, subaccounts) ``wait_for_fleet`` lists at a time
READ_WORKERS = 16
#: what a declared domain or subaccount missing from the account is told
NOT_APPLIED = "not in the account: run espkit apply first"


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
    return for_fleet(fleet, accounts, timeout=timeout, poll=poll, max_poll=max_poll,
                     backoff=backoff, on_progress=on_progress, sleep=sleep, clock=clock,
                     names=names)


def for_fleet(
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
    check_options(timeout, poll, max_poll, backoff)
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
        shown = ", ".join(unknown[:SHOW_BAD_ROWS])
        more = f" (and {len(unknown) - SHOW_BAD_ROWS} more)" if len(unknown) > \
            SHOW_BAD_ROWS else ""
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
        self.stop = Stop() if threaded else None
        self.lock = threading.Lock()
        self.waiters: dict[str, Waiter] = {}
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

    def targets(self, connection: str, acct: Account) -> list[Target]:
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
            sub_ids = acct.subaccounts.ids_by_name()
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
        out: list[Target] = []
        for d in domains:
            name = validate.domain_name(d.name)
            sub = d.subaccount
            if sub and sub not in sub_ids:
                error = NotFound(f"subaccount {sub} (of domain {name}) is {NOT_APPLIED}",
                                 provider=acct.name, code="not_applied")
                out.append(Target(name, None, sub, error))
                continue
            sub_id = sub_ids[sub] if sub else None
            if name not in present[sub_id]:
                where = f" (subaccount {sub})" if sub else ""
                error = NotFound(f"domain {name}{where} is {NOT_APPLIED}",
                                 provider=acct.name, code="not_applied")
                out.append(Target(name, sub_id, sub, error))
                continue
            out.append(Target(name, sub_id, sub))
        return out

    def one(self, connection: str, sleep: Callable[[float], None], options: dict[str, Any]
            ) -> None:
        acct = self.accounts[connection]
        if self.stop is not None:
            self.stop.check()
        # one run for the listing and every round: what the checks need is read once
        with acct.batch(size=len(self.by_connection[connection])):
            self.rounds(connection, acct, sleep, options)

    def rounds(self, connection: str, acct: Account, sleep: Callable[[float], None],
               options: dict[str, Any]) -> None:
        targets = self.targets(connection, acct)
        progress = None
        if self.user_progress is not None:
            progress = self.user_progress if not self.threaded else (
                lambda p, name=connection: self.combined(name, p))
        waiter = Waiter(acct, targets, progress, self.clock, start=self.start,
                        stop=self.stop)
        waiter.requests, waiter.throttled = self.read.get(connection, (0, 0))
        with self.lock:
            self.waiters[connection] = waiter
        run_rounds(waiter, sleep=sleep if self.stop is None else self.stop.sleep(sleep),
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


__all__ = [
    "NOT_APPLIED",
    "READ_WORKERS",
    "for_fleet",
    "wait_for_fleet",
]
