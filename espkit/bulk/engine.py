"""The bulk engine: run one operation over tens of thousands of items, rate-exact and resumable.

    from espkit.bulk import Bulk
    report = Bulk(acct, journal="run.db").create_domains(["a.example.com", ...])
    print(report.summary())

``Bulk`` is the front: it checks and journals the whole input before anything is sent,
picks the operation (``operations``) and hands the journal to its run loop (``execution``),
which sends the items and builds the ``Report`` (``report``). What the engine guarantees:

* **Nothing is sent before every input is valid.** Each item is checked as the single-object
  call would check it; one bad row raises ``ValidationError`` naming every bad row, and the
  journal is left as it was.
* **Rate-exact.** Requests go through the account's shared limiter (the ESP's documented
  limit, cut on 429 and grown back); the engine only keeps enough requests in flight to
  use it: Little's law, ``in flight = rate x latency``, from the measured answer time.
  Nobody tunes a worker count.
* **Keeps going.** One item's failure is recorded with its typed error and the run goes on.
  When the ESP stops answering (connections refused or reset, 5xx to everything) the run
  pauses every worker and probes with one request at a time until it answers, then carries
  on at full pace; no item is marked failed for the outage. It stops early only when going
  on is pointless (bad credentials, wrong region, an unsupported option) or the ESP has not
  answered for ``max_outage`` seconds; unsent items stay pending for a resume.
* **One journal, one account.** A journal records the account it was started on (provider,
  API host, subaccount scope, key fingerprint); opening it for another is a ``ConfigError``
  naming the difference, and its rows are checked before anything is sent (``journal``).
* **Resumable, duplicate-free.** Each item is journalled before and after its request (see
  ``journal``). A re-run with the same journal skips finished items, re-tries failed ones
  and reads back the ones that were in flight when the process died instead of re-sending
  them, so kill -9 at any moment followed by a resume converges on exactly the requested set.
* **Ctrl-C stops cleanly**: requests in flight finish and are recorded, then
  ``BulkInterrupted`` carries the report and says how to resume. A second Ctrl-C stops
  without waiting; the journal still tells the truth (in-flight items are read back later).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from espkit.account import Account
from espkit.bulk.execution import Execution
from espkit.bulk.identity import identity_of, shown
from espkit.bulk.journal import DONE, Journal, RowCheck
from espkit.bulk.operations import (
    CREATE,
    DELETE,
    VERIFY,
    Operation,
    assign_operation,
    operation_named,
)
from espkit.bulk.report import Progress, Report
from espkit.errors import ConfigError, Unsupported, ValidationError
from espkit.models import DomainSpec

log = logging.getLogger("espkit.bulk")

#: how many consecutive ESP-side failures (5xx, network, throttles past the retry policy)
#: pause the run: past this the ESP is down, and every further item would just fail, so the
#: run probes with one request at a time until it answers
MAX_CONSECUTIVE_FAILURES = 20
#: the longest ESP outage a run waits out before it stops (seconds): long enough for a
#: deploy or a failover at the ESP, short enough that a real outage reaches a human
MAX_OUTAGE = 300.0
#: how many bad input rows a ValidationError lists before summarising the rest
SHOW_BAD_ROWS = 10


# -- the engine ----------------------------------------------------------------------------


class Bulk:
    """Runs one bulk operation at a time on ``account``.

    ``journal``: a path (the job becomes resumable), a ``Journal``, or None (kept in memory).
    ``max_concurrency`` caps requests in flight; the engine picks the number below it.
    ``on_progress`` is called from the calling thread about ten times a second.
    ``max_consecutive_failures`` ESP-side failures in a row pause the run while it probes
    the ESP; ``max_outage`` is how many seconds of the ESP not answering it waits out before
    it stops (items left pending for a resume). ``clock`` and ``sleep`` are what those
    waits are measured and made with (``time.monotonic`` and an interruptible wait; tests
    pass a fake clock's).
    """

    def __init__(
        self,
        account: Account,
        *,
        journal: str | Journal | None = None,
        max_concurrency: int = 256,
        on_progress: Callable[[Progress], None] | None = None,
        max_consecutive_failures: int = MAX_CONSECUTIVE_FAILURES,
        max_outage: float = MAX_OUTAGE,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) \
                or max_concurrency < 1:
            raise ValidationError("max_concurrency", max_concurrency, "must be a positive integer")
        if isinstance(max_consecutive_failures, bool) \
                or not isinstance(max_consecutive_failures, int) or max_consecutive_failures < 1:
            raise ValidationError("max_consecutive_failures", max_consecutive_failures,
                                  "must be a positive integer")
        if isinstance(max_outage, bool) or not isinstance(max_outage, (int, float)) \
                or not math.isfinite(max_outage) or max_outage < 0:
            raise ValidationError("max_outage", max_outage,
                                  "must be a finite, non-negative number of seconds")
        self.account = account
        #: the account as its journal records it; computed once, sending nothing
        self.identity = identity_of(account)
        self.journal = journal if isinstance(journal, Journal) else Journal(journal or ":memory:")
        try:
            # refused here, on opening, before any operation is even chosen
            self.journal.check_identity(self.identity)
        except BaseException:
            if not isinstance(journal, Journal):
                self.journal.close()
            raise
        self.max_concurrency = max_concurrency
        self.on_progress = on_progress
        self.max_consecutive_failures = max_consecutive_failures
        self.max_outage = float(max_outage)
        self.clock = clock
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"Bulk({self.account!r}, journal={self.journal!r})"

    # -- public operations ---------------------------------------------------------------

    def create_domains(self, items: Iterable[str | DomainSpec | Mapping[str, Any]]) -> Report:
        """Create every domain; one already there counts as ``existed``, not a failure."""
        return self._run(CREATE, items)

    def delete_domains(self, items: Iterable[str | Mapping[str, Any]]) -> Report:
        """Delete every domain; one already gone counts as ``absent``."""
        return self._run(DELETE, items)

    def verify_domains(self, items: Iterable[str | Mapping[str, Any]]) -> Report:
        """Ask the ESP to check each domain's DNS; unverified ones are ``pending`` with the
        records still missing in ``Report.pending``."""
        return self._run(VERIFY, items)

    def assign(self, items: Iterable[str | Mapping[str, Any]], *, pool: str | None = None,
               ip: str | None = None) -> Report:
        """Make every domain send from ``pool`` or from the dedicated ``ip``."""
        return self._run(assign_operation(pool, ip), items)

    def run(self, op: Operation, items: Iterable[Any]) -> Report:
        """Run a custom ``Operation`` over ``items`` with the engine's guarantees (what
        ``espkit.fleet.applier`` uses to apply a plan's domain changes)."""
        return self._run(op, items)

    def resume(self) -> Report:
        """Finish the job recorded in the journal, with no input needed."""
        meta = self.journal.meta()
        name = meta.get("operation")
        if not name:
            raise ConfigError(f"journal {self.journal.path} has no job to resume")
        try:
            op = operation_named(name)
        except ValidationError as exc:
            raise ConfigError(f"journal {self.journal.path} holds a {shown(name)!r} job that "
                              f"cannot be resumed: {exc}") from None
        if op is None:
            raise ConfigError(
                f"journal {self.journal.path} holds a {shown(name)!r} job; resume it the way "
                "it was started (for a fleet apply: run apply again, it re-plans what is left)"
            )
        return self._run(op, None)

    # -- the run ---------------------------------------------------------------------------

    def _row_check(self, op: Operation) -> RowCheck | None:
        check = op.check
        if check is None:
            return None
        account = self.account
        return lambda key, payload: check(account, key, payload)

    def _ingest(self, op: Operation, items: Iterable[Any]) -> None:
        bad: list[str] = []
        bad_count = 0
        seen: dict[str, dict[str, Any]] = {}

        def rows() -> Iterable[tuple[str, dict[str, Any]]]:
            nonlocal bad_count
            for number, item in enumerate(items, 1):
                try:
                    key, payload = op.prepare(self.account, item)
                except (ValidationError, Unsupported) as exc:
                    bad_count += 1
                    if len(bad) < SHOW_BAD_ROWS:
                        bad.append(f"item {number}: {exc}")
                    continue
                if key in seen:
                    if seen[key] != payload:
                        bad_count += 1
                        if len(bad) < SHOW_BAD_ROWS:
                            bad.append(f"item {number}: {key} appears twice with different "
                                       "settings")
                    continue
                seen[key] = payload
                yield key, payload
            if bad_count:
                # raising inside the transaction rolls back every row of this input
                more = f" (and {bad_count - len(bad)} more)" if bad_count > len(bad) else ""
                raise ValidationError(
                    "items", f"{bad_count} bad item(s)",
                    "nothing was sent; fix these and run again:\n  "
                    + "\n  ".join(bad) + more,
                )

        added, known = self.journal.add(rows())
        log.info("%s: %d new item(s), %d already in the journal", op.name, added, known)

    def _run(self, op: Operation, items: Iterable[Any] | None) -> Report:
        if op.capability not in self.account.provider.SUPPORTS:
            raise self.account.provider.unsupported(op.capability)
        self.journal.bind(op.name, self.identity)
        # rows an earlier run wrote are input too: a damaged or edited one stops the run
        # here, before anything is sent, rather than being sent or skipped
        self.journal.check_rows(self._row_check(op))
        if items is not None:
            if isinstance(items, (str, bytes)):
                raise ValidationError("items", items, "must be an iterable of items, not one "
                                      "string")
            self._ingest(op, items)
        # one run for the job: the name -> id lookups its items need (pool ids, domain ids)
        # are read once and shared by every worker, sized by what is left to do
        left = sum(n for state, n in self.journal.counts().items() if state != DONE)
        with self.account.batch(size=left):
            return Execution(
                op, account=self.account, journal=self.journal,
                max_concurrency=self.max_concurrency,
                max_consecutive_failures=self.max_consecutive_failures,
                max_outage=self.max_outage, on_progress=self.on_progress,
                clock=self.clock, sleep=self.sleep,
            ).execute()


# -- conveniences --------------------------------------------------------------------------


def create_domains(account: Account, items: Iterable[str | DomainSpec | Mapping[str, Any]],
                   *, journal: str | None = None, **options: Any) -> Report:
    """``Bulk(account, journal=journal, **options).create_domains(items)``."""
    return Bulk(account, journal=journal, **options).create_domains(items)


def delete_domains(account: Account, items: Iterable[str | Mapping[str, Any]],
                   *, journal: str | None = None, **options: Any) -> Report:
    return Bulk(account, journal=journal, **options).delete_domains(items)


def verify_domains(account: Account, items: Iterable[str | Mapping[str, Any]],
                   *, journal: str | None = None, **options: Any) -> Report:
    return Bulk(account, journal=journal, **options).verify_domains(items)


def assign(account: Account, items: Iterable[str | Mapping[str, Any]], *,
           pool: str | None = None, ip: str | None = None, journal: str | None = None,
           **options: Any) -> Report:
    return Bulk(account, journal=journal, **options).assign(items, pool=pool, ip=ip)


__all__ = [
    "MAX_CONSECUTIVE_FAILURES",
    "MAX_OUTAGE",
    "SHOW_BAD_ROWS",
    "Bulk",
    "assign",
    "create_domains",
    "delete_domains",
    "verify_domains",
]
