"""The bulk engine's run loop: one execution of an operation over the journal's open items.

Kept apart from ``Bulk`` (which checks the input and picks the operation) because this is
the part about *how* items are sent: worker threads sized by Little's law from the measured
answer time and the limiter's rate, a bounded queue for backpressure, throttled items sent
round again, extra passes over items the ESP failed, early stops on errors that would fail
every item, Ctrl-C handling, progress ticks and the final ``Report``. The constants below
are its policy.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable

from espkit.account import Account, runner_of
from espkit.bulk.journal import DONE, FAILED, INFLIGHT, PENDING, Entry, Journal
from espkit.bulk.operations import Operation
from espkit.bulk.report import ItemResult, Outcome, Progress, Report, by_key
from espkit.errors import (
    AuthError,
    BulkInterrupted,
    ConfigError,
    EspkitError,
    RateLimited,
    RegionMismatch,
    ServerError,
    TransportError,
    Unsupported,
)

log = logging.getLogger("espkit.bulk")

#: in-flight requests are sized for this much more than the measured need, so that latency
#: jitter does not leave the limiter idle
HEADROOM = 1.3
#: when the ESP's rate limit is not known (no 429 seen yet) size for this many requests a
#: second, at most ``UNKNOWN_RATE_WORKERS`` in flight; the first 429 teaches the real limit
UNKNOWN_RATE_GUESS = 100.0
UNKNOWN_RATE_WORKERS = 32
#: how many times an item throttled past the retry policy is sent round again before it
#: counts as failed
THROTTLED_ROUNDS = 10
#: passes over the items that failed on the ESP's side after the main pass
EXTRA_PASSES = 2
#: errors that would fail every item the same way: stop instead of failing 50,000 items
FATAL = (AuthError, RegionMismatch, Unsupported, ConfigError)
#: errors from the ESP struggling rather than refusing the item: they count towards
#: ``max_consecutive_failures`` in a row and their items get the ``EXTRA_PASSES``
UNHEALTHY = (ServerError, TransportError, RateLimited)


class Execution:
    """One execution of ``op`` over the journal's pending, in-flight and failed items: feeds
    journal entries to workers, sizes the worker count, reports. ``Bulk`` makes one per run;
    the settings are its own."""

    def __init__(self, op: Operation, *, account: Account, journal: Journal,
                 max_concurrency: int, max_consecutive_failures: int,
                 on_progress: Callable[[Progress], None] | None) -> None:
        self.op = op
        self.account = account
        self.journal = journal
        self.max_concurrency = max_concurrency
        self.max_consecutive_failures = max_consecutive_failures
        self.on_progress = on_progress
        self.runner = runner_of(account.provider)
        self.queue: queue.Queue[Entry] = queue.Queue(maxsize=max_concurrency * 2)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.workers: list[threading.Thread] = []
        self.counts: dict[str, int] = {}
        self.failed: dict[str, ItemResult] = {}
        self.pending: list[ItemResult] = []
        self.settled = 0
        self.outstanding = 0
        self.failures_in_a_row = 0
        self.reconciled = 0
        self.stopped: str | None = None
        self.start = time.monotonic()
        self.total = 0
        self.stats0 = dict(self.runner.stats) if self.runner else {}
        self.last_progress = 0.0
        self.sized_at = -1.0

    # -- sizing ------------------------------------------------------------------------------

    def target_workers(self) -> int:
        cap = self.max_concurrency
        if self.runner is None:
            return min(cap, UNKNOWN_RATE_WORKERS)
        latency = self.runner.latency
        if latency is None:
            # nothing measured yet: a few requests to learn the answer time from
            return min(cap, 4)
        rate = self.runner.limiter.rate
        if rate is None:
            cap = min(cap, UNKNOWN_RATE_WORKERS)
            rate = UNKNOWN_RATE_GUESS
        # threads sleeping between retries send nothing: stand in for them
        resting = self.runner.backing_off
        return max(1, min(cap, math.ceil(rate * latency * HEADROOM) + 1 + resting))

    def grow(self) -> None:
        # reading the rate may be a Redis round trip (a shared limiter): a few times a second
        now = time.monotonic()
        if now - self.sized_at < 0.25:
            return
        self.sized_at = now
        want = self.target_workers()
        while len(self.workers) < want:
            t = threading.Thread(target=self.work, name=f"espkit-bulk-{len(self.workers)}",
                                 daemon=True)
            self.workers.append(t)
            t.start()

    # -- workers -------------------------------------------------------------------------

    def work(self) -> None:
        while not self.stop.is_set():
            try:
                entry = self.queue.get(timeout=0.05)
            except queue.Empty:
                continue
            if self.stop.is_set():
                return
            try:
                self.one(entry)
            except Exception as exc:
                # the journal could not record the item (a full disk, a file damaged under
                # us): stop the run rather than lose this worker and wait for it forever
                self.halt(f"{type(exc).__name__}: {exc}")
            finally:
                with self.lock:
                    self.outstanding -= 1

    def one(self, entry: Entry) -> None:
        # in flight when an earlier run died, or failed in a way that may have applied:
        # the operation reads back before re-sending
        resumed = entry.state in (INFLIGHT, FAILED)
        self.journal.start(entry.key)
        try:
            for throttled in range(THROTTLED_ROUNDS):
                try:
                    result = self.op.run(self.account, entry.key, entry.payload,
                                         resumed or throttled > 0)
                    break
                except RateLimited as exc:
                    # Throttling is the ESP pacing us, not the item failing: the limiter
                    # has slowed down and paused, so go round again rather than fail
                    # items by the hundred during a 429 burst. A wait longer than the
                    # policy allows is surfaced.
                    too_long = (exc.retry_after is not None and self.runner is not None
                                and exc.retry_after > self.runner.retry.max_retry_after)
                    if too_long or throttled == THROTTLED_ROUNDS - 1 or self.stop.is_set():
                        raise
        except FATAL as exc:
            # nothing was applied (the ESP refused the caller, not the item): unsend it
            self.journal.release(entry.key)
            self.halt(f"{type(exc).__name__}: {exc}")
            return
        except EspkitError as exc:
            self.journal.fail(entry.key, exc)
            self.record(ItemResult(entry.key, Outcome.FAILED, error=exc), False,
                        unhealthy=isinstance(exc, UNHEALTHY))
            return
        except Exception as exc:  # a bug or an unmapped library error: keep it per item
            log.exception("%s %s: unexpected error", self.op.name, entry.key)
            self.journal.fail(entry.key, exc)
            self.record(ItemResult(entry.key, Outcome.FAILED, error=exc), False)
            return
        self.journal.finish(entry.key, result.outcome.value)
        self.record(result, entry.state == INFLIGHT)

    def record(self, result: ItemResult, was_inflight: bool, *, unhealthy: bool = False
               ) -> None:
        with self.lock:
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
                self.failures_in_a_row = self.failures_in_a_row + 1 if unhealthy else 0
                limit = self.max_consecutive_failures
                if unhealthy and self.failures_in_a_row >= limit:
                    self.halt_locked(f"{limit} failures in a row from the ESP, last: "
                                     f"{result.error}")
            else:
                self.failures_in_a_row = 0
                if result.outcome is Outcome.PENDING:
                    self.pending.append(result)

    def _count(self, outcome: Outcome, delta: int) -> None:
        n = self.counts.get(outcome.value, 0) + delta
        if n:
            self.counts[outcome.value] = n
        else:
            self.counts.pop(outcome.value, None)

    def halt(self, reason: str) -> None:
        with self.lock:
            self.halt_locked(reason)

    def halt_locked(self, reason: str) -> None:
        if self.stopped is None:
            self.stopped = reason
            log.error("%s: stopping: %s", self.op.name, reason)
        self.stop.set()

    # -- the calling thread ------------------------------------------------------------------

    def execute(self) -> Report:
        states = self.journal.counts()
        if states[DONE]:
            self.counts[Outcome.SKIPPED.value] = states[DONE]
        self.total = sum(states.values())
        self.tick(force=True)
        try:
            self.feed(self.journal.entries(PENDING, INFLIGHT, FAILED))
            self.drain()
            for extra in range(1, EXTRA_PASSES + 1):
                # Items that failed because the ESP was struggling (5xx, network, long
                # throttling) get another pass once the rest is done and the ESP has had
                # time to recover; items it rejected would only be rejected again.
                with self.lock:
                    again = [k for k, r in self.failed.items() if isinstance(r.error, UNHEALTHY)]
                if not again or self.stop.is_set():
                    break
                log.info("%s: pass %d over %d item(s) that failed on the ESP's side",
                         self.op.name, extra + 1, len(again))
                if self.runner is not None:
                    self.runner.pause(2 + extra)
                self.feed(e for e in map(self.journal.get, again) if e is not None)
                self.drain()
            self.stop.set()
            self.join()
        except KeyboardInterrupt:
            self.stop.set()
            # a second Ctrl-C leaves at once; in-flight items are read back on resume
            with contextlib.suppress(KeyboardInterrupt):
                self.join()
            raise BulkInterrupted(self.report(interrupted=True)) from None
        except BaseException:
            # a journal error while feeding: the workers stop before the error goes up
            self.stop.set()
            self.join()
            raise
        return self.report()

    def feed(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            with self.lock:
                self.outstanding += 1
            while True:
                if self.stop.is_set():
                    return
                self.grow()
                self.tick()
                try:
                    self.queue.put(entry, timeout=0.05)
                    break
                except queue.Full:
                    continue

    def drain(self) -> None:
        """Wait until the workers have settled every fed item (or the run was stopped)."""
        while not self.stop.is_set():
            with self.lock:
                if self.outstanding == 0:
                    break
            self.tick()
            time.sleep(0.02)

    def join(self) -> None:
        for t in self.workers:
            t.join()
        self.tick(force=True)

    def tick(self, force: bool = False) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if not force and now - self.last_progress < 0.1:
            return
        self.last_progress = now
        stats = self.stats()
        with self.lock:
            done = self.settled + self.counts.get(Outcome.SKIPPED.value, 0)
            failed = len(self.failed)
        self.on_progress(Progress(
            operation=self.op.name, total=self.total, done=done, failed=failed,
            throttled=stats["throttled"], requests=stats["requests"], elapsed=now - self.start,
        ))

    def stats(self) -> dict[str, int]:
        if self.runner is None:
            return {"requests": 0, "throttled": 0, "retries": 0}
        now = dict(self.runner.stats)
        return {k: now.get(k, 0) - self.stats0.get(k, 0)
                for k in ("requests", "throttled", "retries")}

    def report(self, *, interrupted: bool = False) -> Report:
        stats = self.stats()
        states = self.journal.counts()
        with self.lock:
            return Report(
                operation=self.op.name, total=self.total, counts=dict(self.counts),
                failed=sorted(self.failed.values(), key=by_key),
                pending=sorted(self.pending, key=by_key),
                requests=stats["requests"], throttled=stats["throttled"],
                retries=stats["retries"], elapsed=time.monotonic() - self.start,
                concurrency=len(self.workers), reconciled=self.reconciled,
                remaining=states[PENDING] + states[INFLIGHT],
                journal=None if self.journal.path == ":memory:" else self.journal.path,
                interrupted=interrupted, stopped=self.stopped,
            )


__all__ = [
    "EXTRA_PASSES",
    "FATAL",
    "HEADROOM",
    "THROTTLED_ROUNDS",
    "UNHEALTHY",
    "UNKNOWN_RATE_GUESS",
    "UNKNOWN_RATE_WORKERS",
    "Execution",
]
