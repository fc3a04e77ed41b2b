"""The bulk engine's run loop: one execution of an operation over the journal's open items.

Kept apart from ``Bulk`` (which checks the input and picks the operation) because this is
the part about *how* items are sent: worker threads sized all the time (``sizing``: a
guess from the budget at the start, Little's law from the measured answer time after, idle
workers retired), a gated queue (``workqueue``), throttled items sent round again, extra
passes over items the ESP failed, a circuit breaker that waits out an outage of the ESP
(``breaker``) instead of failing every item or stopping, early stops on errors that would
fail every item, Ctrl-C handling, progress ticks and the final ``Report``. The constants
below are its policy.

Two kinds of thread: the calling thread feeds journal entries into the queue, re-sizes the
pool, grants the breaker's probes, ticks progress and waits; workers take items and run
them. An ESP-side failure (``UNHEALTHY``) is held back while it is part of a run of failures
in a row: if the run grows to the breaker's threshold the ESP is down, and those items go
back to the queue instead of being marked failed; if something succeeds first, they count
as failed for now and get the extra passes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable

from espkit.account import Account, runner_of
from espkit.bulk.breaker import Breaker
from espkit.bulk.journal import DONE, FAILED, INFLIGHT, PENDING, Entry, Journal
from espkit.bulk.operations import Operation
from espkit.bulk.report import ItemResult, Outcome, Progress, Report
from espkit.bulk.sizing import PERIOD, Sizer
from espkit.bulk.tally import Tally
from espkit.bulk.workqueue import Task, WorkQueue
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

#: when the account has no retry runner to measure with, this many workers
NO_RUNNER_WORKERS = 32
#: how many times an item throttled past the retry policy is sent round again before it
#: counts as failed
THROTTLED_ROUNDS = 10
#: passes over the items that failed on the ESP's side after the main pass
EXTRA_PASSES = 2
#: errors that would fail every item the same way: stop instead of failing 50,000 items
FATAL = (AuthError, RegionMismatch, Unsupported, ConfigError)
#: errors from the ESP struggling rather than refusing the item: a run of them opens the
#: breaker, and their items get the ``EXTRA_PASSES``
UNHEALTHY = (ServerError, TransportError, RateLimited)
#: the longest the calling thread waits in one go while the breaker holds the run, so that
#: progress keeps ticking (seconds on the run's clock)
WAIT_STEP = 0.25
#: the longest the calling thread waits for the workers before its next round of sizing,
#: progress and breaker checks (real seconds; it is woken at once by what it waits for)
TICK = 0.05
#: the same while the worker count ramps up to the first answer (``Sizer.ramping``): it grows
#: with the limiter's grants, a few every millisecond at 1,000 requests/second
RAMP_TICK = 0.002


class Execution:
    """One execution of ``op`` over the journal's pending, in-flight and failed items: feeds
    journal entries to workers, sizes the worker count, waits out outages, reports. ``Bulk``
    makes one per run; the settings are its own. ``clock``/``sleep`` time the outage waits."""

    def __init__(self, op: Operation, *, account: Account, journal: Journal,
                 max_concurrency: int, max_consecutive_failures: int, max_outage: float,
                 on_progress: Callable[[Progress], None] | None,
                 clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.op = op
        self.account = account
        self.journal = journal
        self.max_concurrency = max_concurrency
        self.on_progress = on_progress
        self.runner = runner_of(account.provider)
        self.queue = WorkQueue()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        #: notified (under ``lock``) whenever an item settles or is sent back
        self.changed = threading.Condition(self.lock)
        self.sizer = Sizer(max_concurrency, clock=time.monotonic)
        self.breaker = Breaker(threshold=max_consecutive_failures, max_outage=max_outage,
                               clock=clock or time.monotonic)
        self.sleep = sleep or self.stop.wait
        self.threads: list[threading.Thread] = []
        self.live = 0
        self.peak = 0
        self.tally = Tally(op.name, self.runner)
        #: ESP-side failures in a row, held back until the breaker opens or a success
        self.streak: list[tuple[Task, EspkitError]] = []
        #: the last task started before the streak's first failure came back
        self.streak_seq = 0
        self.taken = 0  # tasks started so far (each gets the count as its ``seq``)
        self.running = 0  # tasks started and not finished
        self.outstanding = 0  # tasks fed in this pass and not settled
        self.todo = 0  # items of this pass not settled (fed or not)
        self.stopped: str | None = None
        self.start = time.monotonic()
        self.last_progress = 0.0
        self.last_waiting: str | None = None
        self.sized_at = -1.0
        #: the limiter's rate and when it was read (a shared limiter's is a Redis round trip)
        self.rate_seen: float | None = None
        self.rate_read_at = -1.0

    # -- sizing ------------------------------------------------------------------------------

    def begin_pass(self, items: int) -> None:
        with self.lock:
            self.todo = items
        if self.runner is None:
            self.sizer.target = min(self.max_concurrency, NO_RUNNER_WORKERS, max(items, 1))
        else:
            self.rate_seen, self.rate_read_at = self.runner.limiter.rate, time.monotonic()
            self.sizer.start(self.rate_seen, self.runner.latency, items,
                             completed=self.runner.stats.get("requests", 0),
                             throttles=self.runner.stats.get("throttled", 0))
        self.sized_at = time.monotonic()
        self.resize()

    @property
    def wait_step(self) -> float:
        """The longest the calling thread waits for the workers before its next rounds."""
        return RAMP_TICK if self.sizer.ramping else TICK

    def size(self) -> None:
        now = time.monotonic()
        if now - self.sized_at < (RAMP_TICK if self.sizer.ramping else PERIOD):
            return
        self.sized_at = now
        runner = self.runner
        if runner is not None:
            with self.lock:
                items = self.todo
            if now - self.rate_read_at >= PERIOD:
                # reading the rate may be a Redis round trip (a shared limiter): a few times
                # a second, not at every step of a ramp
                self.rate_seen, self.rate_read_at = runner.limiter.rate, now
            self.sizer.update(
                rate=self.rate_seen, latency=runner.latency,
                # threads sleeping between retries send nothing: stand in for them
                resting=runner.backing_off, limited=runner.limited,
                throttles=runner.stats.get("throttled", 0),
                completed=runner.stats.get("requests", 0), busy=len(self.queue) > 0,
                items=items)
        self.resize()

    def resize(self) -> None:
        """Start workers up to the target (those above it retire by themselves when idle)."""
        with self.lock:
            want = self.sizer.target - self.live
            self.live += max(0, want)
            self.peak = max(self.peak, self.live)
        if want <= 0:
            return
        self.threads = [t for t in self.threads if t.is_alive()]
        for _ in range(want):
            t = threading.Thread(target=self.work, name=f"espkit-bulk-{len(self.threads)}",
                                 daemon=True)
            self.threads.append(t)
            t.start()

    def retire(self) -> bool:
        with self.lock:
            if self.live > self.sizer.target:
                self.live -= 1
                return True
            return False

    # -- workers -------------------------------------------------------------------------

    def work(self) -> None:
        retired = False
        try:
            while not self.stop.is_set():
                if self.retire():
                    retired = True
                    return
                task = self.queue.take(0.05)
                if task is None:
                    continue
                if self.stop.is_set():
                    self.queue.put(task, front=True)
                    return
                if not self.begin(task):
                    continue
                try:
                    self.one(task)
                except Exception as exc:
                    # the journal could not record the item (a full disk, a file damaged
                    # under us): stop the run rather than lose this worker and wait forever
                    self.halt(f"{type(exc).__name__}: {exc}")
                finally:
                    with self.lock:
                        self.running -= 1
                        self.changed.notify_all()
        finally:
            if not retired:
                with self.lock:
                    self.live -= 1

    def begin(self, task: Task) -> bool:
        """Start ``task`` unless the breaker shut the gate since it was taken (then it goes
        back): checked under the lock the breaker opens under, so once the gate is shut
        only probes start."""
        with self.lock:
            if self.queue.shut and not task.probe:
                self.queue.put(task, front=True)
                return False
            self.taken += 1
            task.seq = self.taken
            task.epoch = self.breaker.epoch
            self.running += 1
            return True

    def one(self, task: Task) -> None:
        entry = task.entry
        if self.runner is not None:
            # once the breaker finds the ESP down, requests in flight stop retrying: only
            # the probe knocks
            self.runner.start_item(lambda: self.queue.shut and not task.probe)
        self.journal.start(entry.key)
        try:
            for throttled in range(THROTTLED_ROUNDS):
                try:
                    result = self.op.run(self.account, entry.key, entry.payload,
                                         task.resumed or throttled > 0)
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
            self.answered(task)
            self.halt(f"{type(exc).__name__}: {exc}")
            self.settle()
            return
        except UNHEALTHY as exc:
            self.unhealthy(task, exc)
            return
        except EspkitError as exc:
            self.journal.fail(entry.key, exc)
            self.answered(task)
            self.record(ItemResult(entry.key, Outcome.FAILED, error=exc), False)
            return
        except Exception as exc:  # a bug or an unmapped library error: keep it per item
            log.exception("%s %s: unexpected error", self.op.name, entry.key)
            self.journal.fail(entry.key, exc)
            self.answered(task)
            self.record(ItemResult(entry.key, Outcome.FAILED, error=exc), False)
            return
        self.journal.finish(entry.key, result.outcome.value)
        self.answered(task)
        self.record(result, entry.state == INFLIGHT)

    def answered(self, task: Task) -> None:
        """The ESP answered (or the run goes on regardless): an outage is over, and a run of
        failures before this answer was not one. An answer to a request sent before the
        run of failures began says nothing about now, and is not counted either way."""
        with self.lock:
            if self.streak and task.seq <= self.streak_seq:
                return
            if self.breaker.answered(task.epoch):
                log.warning("%s: the ESP answers again; carrying on", self.op.name)
                self.queue.open_gate()
            streak, self.streak = self.streak, []
        for held, exc in streak:
            self.fail_now(held, exc)

    def unhealthy(self, task: Task, exc: EspkitError) -> None:
        with self.lock:
            opened = self.breaker.failed(task.epoch, exc, probe=task.probe)
            if opened:
                self.queue.shut_gate()
                back, self.streak = [t for t, _ in self.streak], []
                log.warning("%s: %d ESP-side failures in a row, last: %s; pausing and "
                            "probing until it answers", self.op.name,
                            self.breaker.threshold, exc)
            elif self.breaker.open:
                back = []
            else:
                if not self.streak:
                    self.streak_seq = self.taken  # what was sent before is old news
                self.streak.append((task, exc))
                self.changed.notify_all()
                return
            self.changed.notify_all()
        # the ESP is down: not the item's fault, so it goes back (read back first, it may
        # have applied), the journal keeping it in flight meanwhile
        for held in [task, *back]:
            held.resumed, held.probe = True, False
            self.queue.put(held, front=True)

    def fail_now(self, task: Task, exc: EspkitError) -> None:
        self.journal.fail(task.entry.key, exc)
        self.record(ItemResult(task.entry.key, Outcome.FAILED, error=exc), False)

    def record(self, result: ItemResult, was_inflight: bool) -> None:
        with self.lock:
            self.tally.add(result, was_inflight)
            self.outstanding -= 1
            self.todo -= 1
            self.changed.notify_all()

    def settle(self) -> None:
        """An item leaves the pass without a result (released by a fatal error)."""
        with self.lock:
            self.outstanding -= 1
            self.todo -= 1
            self.changed.notify_all()

    def halt(self, reason: str) -> None:
        with self.lock:
            if self.stopped is None:
                self.stopped = reason
                log.error("%s: stopping: %s", self.op.name, reason)
            self.stop.set()
            self.changed.notify_all()
        self.queue.wake()

    # -- the calling thread ------------------------------------------------------------------

    def execute(self) -> Report:
        states = self.journal.counts()
        self.tally.skipped(states[DONE])
        self.tally.total = sum(states.values())
        self.tick(force=True)
        try:
            self.begin_pass(states[PENDING] + states[INFLIGHT] + states[FAILED])
            self.feed(self.journal.entries(PENDING, INFLIGHT, FAILED))
            self.drain()
            for extra in range(1, EXTRA_PASSES + 1):
                # Items that failed because the ESP was struggling (5xx, network, long
                # throttling) get another pass once the rest is done and the ESP has had
                # time to recover; items it rejected would only be rejected again.
                with self.lock:
                    again = [k for k, r in self.tally.failed.items()
                             if isinstance(r.error, UNHEALTHY)]
                if not again or self.stop.is_set():
                    break
                log.info("%s: pass %d over %d item(s) that failed on the ESP's side",
                         self.op.name, extra + 1, len(again))
                if self.runner is not None:
                    self.runner.pause(2 + extra)
                self.begin_pass(len(again))
                self.feed(e for e in map(self.journal.get, again) if e is not None)
                self.drain()
            self.finish()
        except KeyboardInterrupt:
            self.stop.set()
            self.queue.wake()
            # a second Ctrl-C leaves at once; in-flight items are read back on resume
            with contextlib.suppress(KeyboardInterrupt):
                self.join()
            raise BulkInterrupted(self.report(interrupted=True)) from None
        except BaseException:
            # a journal error while feeding: the workers stop before the error goes up
            self.finish()
            raise
        return self.report()

    def finish(self) -> None:
        self.stop.set()
        self.queue.wake()
        self.join()

    def feed(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            # a batch ahead of the workers, no more: the journal is read as they go
            while not self.queue.wait_room(2 * max(self.sizer.target, 8),
                                           0.005 if self.queue.shut else self.wait_step):
                if self.stop.is_set():
                    return
                self.manage()
            if self.stop.is_set():
                return
            with self.lock:
                self.outstanding += 1
            self.queue.put(Task(entry, resumed=entry.state in (INFLIGHT, FAILED)))
            self.manage()

    def drain(self) -> None:
        """Wait until the workers have settled every fed item (or the run was stopped); a
        run of failures still held at the end counts as failed for now."""
        while not self.stop.is_set():
            self.manage()
            with self.lock:
                left = self.outstanding - len(self.streak)
                if left and not self.queue.shut:
                    # woken by every item that settles or comes back, and by stop
                    self.changed.wait(self.wait_step)
                    left = self.outstanding - len(self.streak)
                streak = self.streak if left == 0 else []
                if left == 0:
                    self.streak = []
            for task, exc in streak:
                self.fail_now(task, exc)
            if left == 0:
                return
            if self.queue.shut:
                self.stop.wait(0.005)  # the outage rounds: probes are granted by manage()

    def manage(self) -> None:
        """The calling thread's rounds: size the pool, tick progress, and while the ESP is
        down grant one probe at a time, wait between them, and give up after
        ``max_outage``."""
        self.size()
        self.tick()
        breaker = self.breaker
        if not self.queue.shut or breaker.probing or self.queue.granted():
            return
        with self.lock:
            if self.running:
                return  # requests sent before the pause finish first: a probe goes alone
        if breaker.gave_up():
            outage = breaker.outage()
            assert outage is not None
            self.halt(f"the ESP was {outage.state} for {outage.lasted:g} s, the longest "
                      f"outage this run waits out (max_outage={breaker.max_outage:g}); "
                      f"last: {outage.last_error}")
            return
        due = breaker.due()
        if due > 0:
            self.sleep(min(due, WAIT_STEP))
            self.tick()
            return
        breaker.start_probe()
        self.queue.grant_probe()

    def join(self) -> None:
        for t in self.threads:
            t.join()
        self.tick(force=True)

    def tick(self, force: bool = False) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        outage = self.breaker.outage() if self.breaker.open else None
        waiting = outage.describe() if outage else None
        # a change of what the run waits for is shown at once, however soon after the last
        if not force and now - self.last_progress < 0.1 and waiting == self.last_waiting:
            return
        self.last_progress, self.last_waiting = now, waiting
        with self.lock:
            progress = self.tally.progress(now - self.start, waiting)
        self.on_progress(progress)

    def report(self, *, interrupted: bool = False) -> Report:
        states = self.journal.counts()
        with self.lock:
            return self.tally.report(
                elapsed=time.monotonic() - self.start, concurrency=self.peak,
                remaining=states[PENDING] + states[INFLIGHT],
                journal=None if self.journal.path == ":memory:" else self.journal.path,
                interrupted=interrupted, stopped=self.stopped,
                outages=self.breaker.outages, outage_seconds=self.breaker.waited)


__all__ = [
    "EXTRA_PASSES",
    "FATAL",
    "NO_RUNNER_WORKERS",
    "THROTTLED_ROUNDS",
    "TICK",
    "UNHEALTHY",
    "WAIT_STEP",
    "Execution",
]
