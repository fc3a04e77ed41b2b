"""The bulk engine's journal: one SQLite row per item, written before and after its request.

An item moves ``pending -> inflight -> done | failed``. ``inflight`` is committed *before*
the request goes out, so after a crash (kill -9, power cut of the process) every item whose
request may have reached the ESP is marked and gets read back on resume instead of being
re-sent blind; an item still ``pending`` was never sent. ``done`` and ``failed`` are
committed after the answer.

WAL mode with ``synchronous=NORMAL``: a commit is durable once the process has written it,
which is what surviving a killed process needs; only an operating-system crash can lose the
last commits, and then the items fall back to ``inflight`` or ``pending``, both safe.

**A journal belongs to one job on one account.** ``bind`` records the operation and the
account's identity (provider, API host, subaccount scope, key fingerprint: ``identity``);
opening it for another account or operation is a ``ConfigError`` naming what differs, and
nothing is sent. Journals written before the identity was recorded (format 1) are refused
once they hold items, because their finished items may be another account's work:
``adopt`` records the account for one the user knows to be theirs. An empty one is simply
claimed.

**A journal file is untrusted input.** ``journalfile`` refuses what is not a journal before
writing anything, and creates journals 0600. Rows are checked as they are read: a row
espkit could not have written (wrong types, an unknown state, an outcome that does not fit
its state) is a ``ConfigError`` naming the journal and the row, never an untyped error and
never an item silently left out; ``check_rows`` reads them all before a run sends anything.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from espkit.bulk import journalfile
from espkit.bulk.identity import META_KEYS, AccountIdentity, shown
from espkit.bulk.report import Outcome
from espkit.errors import ConfigError

if TYPE_CHECKING:
    import sqlite3

log = logging.getLogger("espkit.bulk")

PENDING = "pending"
INFLIGHT = "inflight"
DONE = "done"
FAILED = "failed"
STATES = (PENDING, INFLIGHT, DONE, FAILED)
#: what a finished row may say happened (``skipped`` is a report's word, never a row's)
_DONE_OUTCOMES = frozenset(o.value for o in Outcome) - {Outcome.SKIPPED.value,
                                                        Outcome.FAILED.value}
#: a row check: raises when (key, payload) is not what the job's operation would journal
RowCheck = Callable[[str, Mapping[str, Any]], None]


@attrs.frozen
class Entry:
    """One journal row. ``payload`` is the item's input as given (a spec as a dict)."""

    seq: int
    key: str
    payload: Mapping[str, Any]
    state: str
    outcome: str | None = None
    error_type: str | None = None
    error: str | None = None
    attempts: int = 0


class Journal:
    """A job's items and their states. ``path`` ``":memory:"`` keeps it in memory (no resume).

    Thread-safe: one connection behind a lock. Each state change is its own commit, which in
    WAL mode costs tens of microseconds, far below any ESP round trip.
    """

    def __init__(self, path: str = ":memory:") -> None:
        # sqlite3 is loaded with the first journal (by ``journalfile``), not with
        # ``import espkit.bulk``
        self.path = path
        self._lock = threading.Lock()
        self._db, fresh = journalfile.connect(path)
        try:
            with self._errors():
                if path != ":memory:":
                    self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute("PRAGMA synchronous=NORMAL")
                if fresh:
                    self._db.executescript(journalfile.SCHEMA)
                    self._db.execute("INSERT OR IGNORE INTO meta VALUES ('version', ?)",
                                     (journalfile.VERSION,))
        except BaseException:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"Journal({self.path!r})"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's errors as ``ConfigError`` naming the journal: a damaged file, a full
        disk or a lock held by another process stop the run with a typed error."""
        import sqlite3

        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"journal {self.path}: {exc}") from None

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, self._errors():
            return self._db.execute(sql, tuple(args)).fetchall()

    # -- the job and account this journal belongs to ----------------------------------------

    def meta(self) -> dict[str, str]:
        """The job's record (operation, account identity, format). Every value is checked to
        be text: the file may have been edited."""
        return self._meta(self._query("SELECT key, value FROM meta"))

    def _meta(self, rows: Iterable[sqlite3.Row]) -> dict[str, str]:
        meta: dict[str, str] = {}
        for row in rows:
            key, value = row[0], row[1]
            if not isinstance(key, str) or not isinstance(value, str):
                raise self._tampered(f"job record {shown(str(key))} is not text")
            meta[key] = value
        return meta

    @property
    def identity(self) -> AccountIdentity | None:
        """The account this journal belongs to, None until a run claims it (or for a journal
        written before identities were recorded)."""
        return AccountIdentity.from_meta(self.meta())

    def check_identity(self, identity: AccountIdentity) -> None:
        """Raise ``ConfigError`` unless this journal may be used for ``identity``'s account:
        what a run checks before it sends anything."""
        with self._lock, self._errors():
            meta = self._meta(self._db.execute("SELECT key, value FROM meta"))
            started = self._started()
        refusal = self._refusal(meta, identity, started)
        if refusal:
            raise ConfigError(refusal)

    def bind(self, operation: str, identity: AccountIdentity) -> None:
        """Claim the journal for ``operation`` on ``identity``'s account, or check that it
        already belongs to them; ``ConfigError`` naming the difference when it does not."""
        with self._lock, self._errors():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                meta = self._meta(self._db.execute("SELECT key, value FROM meta"))
                refusal = self._refusal(meta, identity, self._started())
                if refusal:
                    raise ConfigError(refusal)
                recorded = meta.get("operation")
                if recorded is not None and recorded != operation:
                    raise ConfigError(
                        f"journal {self.path} belongs to another job (a {shown(recorded)!r} "
                        f"job; this is {operation!r}); nothing was sent: use a new journal "
                        "file for this one")
                if AccountIdentity.from_meta(meta) is None or recorded is None:
                    self._record(operation, identity, meta)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def adopt(self, identity: AccountIdentity) -> None:
        """Record ``identity`` in a journal written before journals recorded their account,
        so it can be resumed: for a journal the user knows was started on this account.
        The provider and subaccount such a journal recorded must still match, and a journal
        that already names its account is never re-assigned."""
        with self._lock, self._errors():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                meta = self._meta(self._db.execute("SELECT key, value FROM meta"))
                refusal = self._refusal(meta, identity, False)
                if refusal:
                    raise ConfigError(refusal)
                if AccountIdentity.from_meta(meta) is None:
                    self._record(meta.get("operation"), identity, meta)
                    log.warning("journal %s adopted for %s", self.path, identity.describe())
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _record(self, operation: str | None, identity: AccountIdentity,
                meta: Mapping[str, str]) -> None:
        rows = {**identity.to_meta(), "version": journalfile.VERSION}
        if operation is not None:
            rows["operation"] = operation
        if "created" not in meta:
            rows["created"] = str(time.time())
        self._db.execute("DELETE FROM meta WHERE key = 'subaccount'")  # format 1's scope
        self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows.items())

    def _started(self) -> bool:
        """Whether any item has been worked on: only then can a finished item be skipped."""
        found = self._db.execute(
            "SELECT EXISTS (SELECT 1 FROM items WHERE state IS NOT ?)", (PENDING,)).fetchone()
        return bool(found[0])

    def _refusal(self, meta: Mapping[str, str], identity: AccountIdentity, started: bool
                 ) -> str | None:
        """Why this journal may not be used for ``identity``'s account, or None. ``started``:
        some item of it is past pending (an earlier run worked on it)."""
        version = meta.get("version", journalfile.LEGACY_VERSION)
        journalfile.check_version(version, self.path)
        recorded = AccountIdentity.from_meta(meta)
        if recorded is not None:
            differ = recorded.differences(identity)
            if not differ:
                return None
            return (f"journal {self.path} belongs to {recorded.describe()}; this run is "
                    f"{identity.describe()} (the {' and the '.join(differ)} differ"
                    f"{'s' if len(differ) == 1 else ''}). Nothing was sent: use a new "
                    "journal for this account")
        if any(k in meta for k in META_KEYS.values() if k != "provider"):
            raise self._tampered("its account is recorded only in part")
        if version == journalfile.VERSION:
            # this format records the account before any item is worked on
            if started:
                raise self._tampered("items were worked on but no account is recorded")
            return None
        # Format 1 recorded at most the provider and the subaccount: they must still match.
        old = {"provider": meta.get("provider", identity.provider),
               "scope": meta.get("subaccount", identity.scope)}
        differ = [f"{k} is {shown(v)!r} there, {getattr(identity, k)!r} here"
                  for k, v in old.items() if v != getattr(identity, k)]
        if differ:
            return (f"journal {self.path} belongs to another account ({', '.join(differ)}); "
                    "nothing was sent: use a new journal for this account")
        if not started:
            return None  # nothing in it is finished, so nothing can be skipped: claim it
        return (f"journal {self.path} was written by an earlier espkit and does not record "
                "which account it belongs to, so its finished items may be another "
                "account's work; nothing was sent. Start a new journal (items already done "
                "then show as existed or absent), or, if it was started on "
                f"{identity.describe()}, adopt it: espkit bulk --journal {self.path} adopt")

    def _tampered(self, why: str, seq: object = None) -> ConfigError:
        where = f" (row {shown(str(seq))})" if seq is not None else ""
        why = why if len(why) <= 300 else why[:300] + "..."
        return ConfigError(f"journal {self.path} has been altered or damaged{where}: {why}; "
                           "nothing was sent for it")

    # -- items -----------------------------------------------------------------------------

    def add(self, items: Iterable[tuple[str, Mapping[str, Any]]]) -> tuple[int, int]:
        """Record items not yet in the journal, all in one transaction. Returns (added,
        already there). An item already there keeps its state; a pending or failed one takes
        the new payload (the user may have fixed the input), a finished one keeps its own."""
        added = known = 0
        with self._lock, self._errors():
            self._db.execute("BEGIN IMMEDIATE")  # outside the try: no rollback if it fails
            try:
                for key, payload in items:
                    body = json.dumps(payload, sort_keys=True, separators=(",", ":"))
                    cur = self._db.execute(
                        "INSERT OR IGNORE INTO items (key, payload) VALUES (?, ?)", (key, body)
                    )
                    if cur.rowcount:
                        added += 1
                    else:
                        known += 1
                        self._db.execute(
                            "UPDATE items SET payload = ? WHERE key = ? AND state IN (?, ?)",
                            (body, key, PENDING, FAILED),
                        )
                self._db.execute("COMMIT")
            except BaseException:
                # validation of a later item failed (or Ctrl-C): nothing of this batch stays
                self._db.execute("ROLLBACK")
                raise
        return added, known

    def start(self, key: str) -> None:
        """Mark ``key`` in flight; committed before its request is sent."""
        self._set(key, INFLIGHT, None, None, None, attempts=True)

    def finish(self, key: str, outcome: str) -> None:
        self._set(key, DONE, outcome, None, None)

    def fail(self, key: str, error: BaseException) -> None:
        self._set(key, FAILED, "failed", type(error).__name__, str(error))

    def release(self, key: str) -> None:
        """Put an in-flight item back to pending: its request was never sent (a stop
        between marking and sending)."""
        self._set(key, PENDING, None, None, None)

    def _set(self, key: str, state: str, outcome: str | None, error_type: str | None,
             error: str | None, *, attempts: bool = False) -> None:
        with self._lock, self._errors():
            self._db.execute(
                "UPDATE items SET state = ?, outcome = ?, error_type = ?, error = ?, "
                "updated = ?, attempts = attempts + ? WHERE key = ?",
                (state, outcome, error_type, error, time.time(), int(attempts), key),
            )

    def get(self, key: str) -> Entry | None:
        rows = self._query("SELECT * FROM items WHERE key = ?", (key,))
        return self._entry(rows[0]) if rows else None

    def entries(self, *states: str, batch: int = 1000) -> Iterator[Entry]:
        """Items in the given states (all when none given) in input order, read a batch at a
        time so a 100,000-item journal is never held in memory at once."""
        wanted = json.dumps(list(states or STATES))
        after = 0
        while True:
            rows = self._query(
                "SELECT * FROM items WHERE state IN (SELECT value FROM json_each(?)) "
                "AND seq > ? ORDER BY seq LIMIT ?", (wanted, after, batch),
            )
            if not rows:
                return
            for row in rows:
                yield self._entry(row)
            after = rows[-1]["seq"]

    def check_rows(self, check: RowCheck | None = None, *, batch: int = 1000) -> int:
        """Read every row and raise ``ConfigError`` at the first one espkit could not have
        written: unreadable (see ``Entry``) or, with ``check``, not what the job's operation
        journals for its key. Returns the number of rows. A run calls it before sending."""
        seen = after = 0
        while True:
            # every row, whatever its state says: a row in no known state is an error here,
            # where ``entries`` would leave it out
            rows = self._query("SELECT * FROM items WHERE seq > ? ORDER BY seq LIMIT ?",
                               (after, batch))
            if not rows:
                return seen
            for row in rows:
                entry = self._entry(row)
                if check is not None:
                    try:
                        check(entry.key, entry.payload)
                    except ConfigError as exc:
                        raise self._tampered(str(exc), entry.seq) from None
                    except (TypeError, ValueError, KeyError, AttributeError) as exc:
                        raise self._tampered(f"unreadable item ({type(exc).__name__})",
                                             entry.seq) from None
                seen += 1
            after = rows[-1]["seq"]

    def counts(self) -> dict[str, int]:
        """Items per state."""
        found = {r["state"]: r["n"] for r in self._query(
            "SELECT state, COUNT(*) AS n FROM items GROUP BY state")}
        return {s: found.get(s, 0) for s in STATES}

    def outcomes(self) -> dict[str, int]:
        """Finished items per outcome (``created``, ``existed``, ``failed`` ...)."""
        return {str(r["outcome"]): r["n"] for r in self._query(
            "SELECT outcome, COUNT(*) AS n FROM items WHERE outcome IS NOT NULL "
            "GROUP BY outcome ORDER BY outcome")}

    def _entry(self, row: sqlite3.Row) -> Entry:
        """``row`` as an ``Entry``, or ``ConfigError`` for one espkit could not have written."""
        seq, key, state, outcome = row["seq"], row["key"], row["state"], row["outcome"]
        if not isinstance(key, str) or not key:
            raise self._tampered("an item key that is not text", seq)
        if state not in STATES:
            raise self._tampered(f"item {shown(key)}: unknown state {shown(str(state))!r}", seq)
        fits = {PENDING: outcome is None, INFLIGHT: outcome is None,
                DONE: outcome in _DONE_OUTCOMES, FAILED: outcome == Outcome.FAILED.value}
        if not fits[state]:
            raise self._tampered(f"item {shown(key)}: outcome {shown(str(outcome))!r} does not "
                                 f"fit state {state!r}", seq)
        texts = (row["error_type"], row["error"])
        if not all(t is None or isinstance(t, str) for t in texts):
            raise self._tampered(f"item {shown(key)}: error text that is not text", seq)
        attempts = row["attempts"]
        if not isinstance(attempts, int) or attempts < 0:
            raise self._tampered(f"item {shown(key)}: attempts is not a count", seq)
        try:
            payload = json.loads(row["payload"])
        except (TypeError, ValueError, RecursionError):
            payload = None
        if not isinstance(payload, dict):
            raise self._tampered(f"item {shown(key)}: its input is not a JSON object", seq)
        return Entry(seq=seq, key=key, payload=payload, state=state, outcome=outcome,
                     error_type=texts[0], error=texts[1], attempts=attempts)


__all__ = ["DONE", "FAILED", "INFLIGHT", "PENDING", "STATES", "Entry", "Journal", "RowCheck"]
