"""Bulk operations at fleet scale: create, delete, verify or assign tens of thousands of domains.

    from espkit.bulk.engine import Bulk
    report = Bulk(acct, journal="run.db").create_domains(["a.example.com", ...])
    print(report.summary())

What the engine guarantees:

* **Nothing is sent before every input is valid.** Each item is checked as the single-object
  call would check it; one bad row raises ``ValidationError`` naming every bad row, and the
  journal is left as it was.
* **Rate-exact.** Requests go through the account's shared limiter (the ESP's documented
  limit, cut on 429 and grown back); the engine only keeps enough requests in flight to
  use it: Little's law, ``in flight = rate x latency``, from the measured answer time.
  Nobody tunes a worker count.
* **Keeps going.** One item's failure is recorded with its typed error and the run goes on.
  It stops early only when going on is pointless (bad credentials, wrong region, an
  unsupported option) or harmful (the ESP failing every request in a row); unsent items stay
  pending for a resume.
* **Resumable, duplicate-free.** Each item is journalled before and after its request (see
  ``journal``). A re-run with the same journal skips finished items, re-tries failed ones
  and reads back the ones that were in flight when the process died instead of re-sending
  them, so kill -9 at any moment followed by a resume converges on exactly the requested set.
* **Ctrl-C stops cleanly**: requests in flight finish and are recorded, then
  ``BulkInterrupted`` carries the report and says how to resume. A second Ctrl-C stops
  without waiting; the journal still tells the truth (in-flight items are read back later).
"""

from __future__ import annotations

import contextlib
import csv
import enum
import itertools
import json
import logging
import math
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import attrs

from espkit import validate
from espkit.account import Account, runner_of
from espkit.bulk.journal import DONE, FAILED, INFLIGHT, PENDING, Entry, Journal
from espkit.errors import (
    AlreadyExists,
    AuthError,
    BulkInterrupted,
    ConfigError,
    EspkitError,
    NotFound,
    RateLimited,
    RegionMismatch,
    ServerError,
    TransportError,
    Unsupported,
    ValidationError,
)
from espkit.models import Capability, DomainSpec

log = logging.getLogger("espkit.bulk")

#: in-flight requests are sized for this much more than the measured need, so that latency
#: jitter does not leave the limiter idle
HEADROOM = 1.3
#: when the ESP's rate limit is not known (no 429 seen yet) size for this many requests a
#: second, at most ``UNKNOWN_RATE_WORKERS`` in flight; the first 429 teaches the real limit
UNKNOWN_RATE_GUESS = 100.0
UNKNOWN_RATE_WORKERS = 32
#: how many consecutive ESP-side failures (5xx, network, throttles past the retry policy)
#: stop the run: past this the ESP is down, and every further item would just fail
MAX_CONSECUTIVE_FAILURES = 50
#: how many times an item throttled past the retry policy is sent round again before it
#: counts as failed
THROTTLED_ROUNDS = 10
#: passes over the items that failed on the ESP's side after the main pass
EXTRA_PASSES = 2
#: errors that would fail every item the same way: stop instead of failing 50,000 items
FATAL = (AuthError, RegionMismatch, Unsupported, ConfigError)
UNHEALTHY = (ServerError, TransportError, RateLimited)
#: how many bad input rows a ValidationError lists before summarising the rest
SHOW_BAD_ROWS = 10


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
    the ones an earlier run finished."""

    operation: str
    total: int
    done: int
    failed: int
    throttled: int
    requests: int
    elapsed: float


@attrs.define
class Report:
    """What a bulk run did. ``counts`` is per outcome for this run (``skipped`` = finished
    by an earlier run); ``remaining`` items are still to do (after an interruption or an
    early stop) and a resume with the same journal picks them up."""

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
        if self.stopped:
            line += f"\nstopped early: {self.stopped}"
        if self.remaining:
            line += f"\n{self.remaining} item(s) not done yet" + (
                f": run again with the same journal ({self.journal}) to finish"
                if self.journal else "")
        return line


# -- the operations ------------------------------------------------------------------------
# Each turns an input item into (key, payload) before anything is sent, and runs one item:
# ``resumed`` is true when the item was in flight when an earlier run died.

Prepare = Callable[[Account, Any], tuple[str, dict[str, Any]]]
Run = Callable[[Account, str, Mapping[str, Any], bool], ItemResult]


def read_items(path: str | Path, *, stdin: TextIO | None = None) -> Iterator[Any]:
    """Items from a file, read lazily: CSV with a header naming ``name`` (or ``domain``)
    and any ``DomainSpec`` fields (``pool``, ``ips`` ...); JSON (a list of names or objects);
    JSON Lines (``.jsonl``/``.ndjson``); or plain text, one name per line (``#`` starts a
    comment). ``"-"`` reads standard input as CSV or text."""
    if str(path) == "-":
        yield from _read_text_or_csv(stdin or sys.stdin, "<stdin>")
        return
    file = Path(path)
    suffix = file.suffix.lower()
    try:
        handle = file.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from None
    with handle:
        if suffix == ".json":
            try:
                data = json.load(handle)
            except ValueError as exc:
                raise ConfigError(f"{file} is not valid JSON: {exc}") from None
            if not isinstance(data, list):
                raise ConfigError(f"{file}: expected a JSON list of names or objects")
            yield from data
        elif suffix in (".jsonl", ".ndjson"):
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError as exc:
                        raise ConfigError(f"{file} line {number}: not JSON: {exc}") from None
        else:
            yield from _read_text_or_csv(handle, str(file))


def _read_text_or_csv(handle: TextIO, label: str) -> Iterator[Any]:
    lines = (line for line in handle if line.strip() and not line.lstrip().startswith("#"))
    first = next(lines, None)
    if first is None:
        return
    header = [c.strip().lower() for c in next(csv.reader([first]))]
    if "name" in header or "domain" in header:
        for row in csv.DictReader(lines, fieldnames=header):
            if None in row:
                raise ConfigError(f"{label}: a row has more cells than the header: "
                                  f"{row[None]!r}")
            yield {k: (v or "").strip() for k, v in row.items()}
    else:
        # no header: one name per line (a first cell of a headerless CSV is the name)
        for line in itertools.chain([first], lines):
            yield next(csv.reader([line]))[0].strip()


def _name_of(item: Any) -> str:
    if isinstance(item, Mapping):
        for field in ("name", "domain"):
            if item.get(field):
                return validate.domain_name(item[field])
        raise ValidationError("item", dict(item), "has no 'name' (or 'domain') field")
    if isinstance(item, DomainSpec):
        return validate.domain_name(item.name)
    return validate.domain_name(item)


_SPEC_FIELDS = tuple(f.name for f in attrs.fields(DomainSpec))
#: columns of a failed-items file that say what went wrong; ignored when it is fed back
REPORT_COLUMNS = ("outcome", "error_type", "error")


def _spec_of(item: Any) -> DomainSpec:
    if isinstance(item, DomainSpec):
        return item
    if isinstance(item, str):
        return DomainSpec(name=item)
    if isinstance(item, Mapping):
        data = {k: v for k, v in item.items()
                if v not in (None, "") and k not in REPORT_COLUMNS}
        if "domain" in data and "name" not in data:
            data["name"] = data.pop("domain")
        unknown = sorted(set(data) - set(_SPEC_FIELDS))
        if unknown:
            raise ValidationError("item", dict(item), f"unknown field(s) {', '.join(unknown)}; "
                                  f"known: {', '.join(_SPEC_FIELDS)}")
        if "name" not in data:
            raise ValidationError("item", dict(item), "has no 'name' (or 'domain') field")
        ips = data.get("ips", ())
        if isinstance(ips, str):  # CSV cells: "192.0.2.1 192.0.2.2" or comma-separated
            ips = ips.replace(",", " ").split()
        data["ips"] = tuple(ips)
        if isinstance(data.get("dkim_key_size"), str):
            size = data["dkim_key_size"]
            if not size.isdigit():
                raise ValidationError("dkim_key_size", size, "must be 1024 or 2048")
            data["dkim_key_size"] = int(size)
        if isinstance(data.get("wildcard"), str):
            flag = data["wildcard"].strip().lower()
            if flag not in ("true", "false", "yes", "no", "1", "0"):
                raise ValidationError("wildcard", data["wildcard"], "must be true or false")
            data["wildcard"] = flag in ("true", "yes", "1")
        return DomainSpec(**data)
    raise ValidationError("item", item, "must be a domain name, a DomainSpec or a mapping")


def _prepare_create(acct: Account, item: Any) -> tuple[str, dict[str, Any]]:
    spec = acct.domains.check_spec(_spec_of(item))
    payload = {k: v for k, v in attrs.asdict(spec).items() if v not in (None, ())}
    if "ips" in payload:
        payload["ips"] = list(payload["ips"])
    return spec.name, payload


def _prepare_name(acct: Account, item: Any) -> tuple[str, dict[str, Any]]:
    return _name_of(item), {}


def _run_create(acct: Account, key: str, payload: Mapping[str, Any], resumed: bool
                ) -> ItemResult:
    if resumed:
        # The request may have landed before the crash: look before re-sending.
        try:
            acct.domains.get(key)
        except NotFound:
            pass
        else:
            return ItemResult(key, Outcome.CREATED, detail="confirmed by reading back")
    data = dict(payload)
    data["ips"] = tuple(data.get("ips", ()))
    try:
        acct.domains.create(DomainSpec(**data))
    except AlreadyExists:
        return ItemResult(key, Outcome.EXISTED)
    return ItemResult(key, Outcome.CREATED)


def _run_delete(acct: Account, key: str, payload: Mapping[str, Any], resumed: bool
                ) -> ItemResult:
    try:
        acct.domains.delete(key)
    except NotFound:
        # after a crash mid-request, "gone" is most likely our own earlier delete
        return ItemResult(key, Outcome.DELETED if resumed else Outcome.ABSENT)
    return ItemResult(key, Outcome.DELETED)


def _run_verify(acct: Account, key: str, payload: Mapping[str, Any], resumed: bool
                ) -> ItemResult:
    domain = acct.domains.verify(key)
    if domain.verified:
        return ItemResult(key, Outcome.VERIFIED)
    missing = [f"{r.type} {r.host}" for r in domain.dns_records if not r.valid]
    return ItemResult(key, Outcome.PENDING,
                      detail="records not valid yet: " + (", ".join(missing) or "none named"))


@attrs.frozen
class Operation:
    """One kind of item work the engine can run: ``prepare`` validates an input item into
    (journal key, payload) before anything is sent; ``run`` does one item and says what
    happened (``resumed`` is true when an earlier run died with it in flight: look before
    re-sending). ``capability`` is checked once before the run."""

    name: str
    prepare: Prepare
    run: Run
    capability: Capability


_CREATE = Operation("create", _prepare_create, _run_create, Capability.DOMAINS)
_DELETE = Operation("delete", _prepare_name, _run_delete, Capability.DOMAINS)
_VERIFY = Operation("verify", _prepare_name, _run_verify, Capability.DOMAIN_VERIFY)


def _assign_operation(pool: str | None, ip: str | None) -> Operation:
    if (pool is None) == (ip is None):
        raise ValidationError("target", {"pool": pool, "ip": ip}, "give exactly one of pool, ip")
    target = validate.pool_name(pool) if pool is not None else validate.ip_address(ip)
    capability = (Capability.ASSIGN_DOMAIN_POOL if pool is not None
                  else Capability.ASSIGN_DOMAIN_IP)

    def run(acct: Account, key: str, payload: Mapping[str, Any], resumed: bool) -> ItemResult:
        # assigning again is harmless, so an in-flight item is simply re-sent
        if pool is not None:
            acct.domains.assign(key, pool=target)
        else:
            acct.domains.assign(key, ip=target)
        return ItemResult(key, Outcome.ASSIGNED)

    name = f"assign pool:{target}" if pool is not None else f"assign ip:{target}"
    return Operation(name, _prepare_name, run, capability)


# -- the engine ----------------------------------------------------------------------------


class Bulk:
    """Runs one bulk operation at a time on ``account``.

    ``journal``: a path (the job becomes resumable), a ``Journal``, or None (kept in memory).
    ``max_concurrency`` caps requests in flight; the engine picks the number below it.
    ``on_progress`` is called from the calling thread about ten times a second.
    """

    def __init__(
        self,
        account: Account,
        *,
        journal: str | Journal | None = None,
        max_concurrency: int = 256,
        on_progress: Callable[[Progress], None] | None = None,
        max_consecutive_failures: int = MAX_CONSECUTIVE_FAILURES,
    ) -> None:
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ValidationError("max_concurrency", max_concurrency, "must be a positive integer")
        self.account = account
        self.journal = journal if isinstance(journal, Journal) else Journal(journal or ":memory:")
        self.max_concurrency = max_concurrency
        self.on_progress = on_progress
        self.max_consecutive_failures = max_consecutive_failures

    def __repr__(self) -> str:
        return f"Bulk({self.account!r}, journal={self.journal!r})"

    # -- public operations ---------------------------------------------------------------

    def create_domains(self, items: Iterable[str | DomainSpec | Mapping[str, Any]]) -> Report:
        """Create every domain; one already there counts as ``existed``, not a failure."""
        return self._run(_CREATE, items)

    def delete_domains(self, items: Iterable[str | Mapping[str, Any]]) -> Report:
        """Delete every domain; one already gone counts as ``absent``."""
        return self._run(_DELETE, items)

    def verify_domains(self, items: Iterable[str | Mapping[str, Any]]) -> Report:
        """Ask the ESP to check each domain's DNS; unverified ones are ``pending`` with the
        records still missing in ``Report.pending``."""
        return self._run(_VERIFY, items)

    def assign(self, items: Iterable[str | Mapping[str, Any]], *, pool: str | None = None,
               ip: str | None = None) -> Report:
        """Make every domain send from ``pool`` or from the dedicated ``ip``."""
        return self._run(_assign_operation(pool, ip), items)

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
        if name.startswith("assign "):
            kind, _, target = name.partition(" ")[2].partition(":")
            op = _assign_operation(target if kind == "pool" else None,
                                   target if kind == "ip" else None)
        else:
            known = {o.name: o for o in (_CREATE, _DELETE, _VERIFY)}
            if name not in known:
                raise ConfigError(
                    f"journal {self.journal.path} holds a {name!r} job; resume it the way it "
                    "was started (for a fleet apply: run apply again, it re-plans what is left)"
                )
            op = known[name]
        return self._run(op, None)

    # -- the run ---------------------------------------------------------------------------

    def _job(self, op: Operation) -> dict[str, str]:
        job = {"operation": op.name, "provider": self.account.name}
        if self.account.subaccount:
            job["subaccount"] = self.account.subaccount
        return job

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
        self.journal.bind(self._job(op))
        if items is not None:
            if isinstance(items, (str, bytes)):
                raise ValidationError("items", items, "must be an iterable of items, not one "
                                      "string")
            self._ingest(op, items)
        return _Run(self, op).execute()


class _Run:
    """One execution: feeds journal entries to workers, sizes the worker count, reports."""

    def __init__(self, bulk: Bulk, op: Operation) -> None:
        self.bulk = bulk
        self.op = op
        self.journal = bulk.journal
        self.runner = runner_of(bulk.account.provider)
        self.queue: queue.Queue[Entry] = queue.Queue(maxsize=bulk.max_concurrency * 2)
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
        cap = self.bulk.max_concurrency
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
                    result = self.op.run(self.bulk.account, entry.key, entry.payload,
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
                limit = self.bulk.max_consecutive_failures
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
        if self.bulk.on_progress is None:
            return
        now = time.monotonic()
        if not force and now - self.last_progress < 0.1:
            return
        self.last_progress = now
        stats = self.stats()
        with self.lock:
            done = self.settled + self.counts.get(Outcome.SKIPPED.value, 0)
            failed = len(self.failed)
        self.bulk.on_progress(Progress(
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
                failed=sorted(self.failed.values(), key=_by_key),
                pending=sorted(self.pending, key=_by_key),
                requests=stats["requests"], throttled=stats["throttled"],
                retries=stats["retries"], elapsed=time.monotonic() - self.start,
                concurrency=len(self.workers), reconciled=self.reconciled,
                remaining=states[PENDING] + states[INFLIGHT],
                journal=None if self.journal.path == ":memory:" else self.journal.path,
                interrupted=interrupted, stopped=self.stopped,
            )


def _by_key(result: ItemResult) -> str:
    return result.key


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
    "Bulk",
    "BulkInterrupted",
    "ItemResult",
    "Operation",
    "Outcome",
    "Progress",
    "Report",
    "assign",
    "create_domains",
    "delete_domains",
    "read_items",
    "verify_domains",
]
