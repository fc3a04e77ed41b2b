"""The bulk engine's journal: one SQLite row per item, written before and after its request.

An item moves ``pending -> inflight -> done | failed``. ``inflight`` is committed *before*
the request goes out, so after a crash (kill -9, power cut of the process) every item whose
request may have reached the ESP is marked and gets read back on resume instead of being
re-sent blind; an item still ``pending`` was never sent. ``done`` and ``failed`` are
committed after the answer.

WAL mode with ``synchronous=NORMAL``: a commit is durable once the process has written it,
which is what surviving a killed process needs; only an operating-system crash can lose the
last commits, and then the items fall back to ``inflight`` or ``pending``, both safe.

The journal belongs to one operation on one account (kept in ``meta``); opening it for
another is a ``ConfigError`` rather than a silent mix of two jobs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from espkit.errors import ConfigError

if TYPE_CHECKING:
    import sqlite3

PENDING = "pending"
INFLIGHT = "inflight"
DONE = "done"
FAILED = "failed"
STATES = (PENDING, INFLIGHT, DONE, FAILED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    outcome TEXT,
    error_type TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated REAL
);
CREATE INDEX IF NOT EXISTS items_by_state ON items (state, seq);
"""
_VERSION = "1"


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
        import sqlite3  # loaded with the first journal, not with ``import espkit.bulk``

        self.path = path
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"cannot use {path!r} as a journal: {exc}") from None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Journal({self.path!r})"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the job this journal belongs to ---------------------------------------------------

    def meta(self) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM meta").fetchall()
        return {r["key"]: r["value"] for r in rows}

    def bind(self, job: Mapping[str, str]) -> None:
        """Claim the journal for ``job`` (operation, provider, account, target), or check that
        it already belongs to it."""
        current = self.meta()
        if not current:
            with self._lock, self._db:
                self._db.execute("BEGIN IMMEDIATE")
                rows = dict(job, version=_VERSION, created=str(time.time()))
                self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows.items())
            return
        differs = {k: (current.get(k), v) for k, v in job.items() if current.get(k) != v}
        if differs:
            detail = ", ".join(f"{k} is {old!r} there, {new!r} here"
                               for k, (old, new) in sorted(differs.items()))
            raise ConfigError(
                f"journal {self.path} belongs to another job ({detail}); "
                "use a new journal file for this one"
            )

    # -- items -----------------------------------------------------------------------------

    def add(self, items: Iterable[tuple[str, Mapping[str, Any]]]) -> tuple[int, int]:
        """Record items not yet in the journal, all in one transaction. Returns (added,
        already there). An item already there keeps its state; a pending or failed one takes
        the new payload (the user may have fixed the input), a finished one keeps its own."""
        added = known = 0
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
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
        with self._lock:
            self._db.execute(
                "UPDATE items SET state = ?, outcome = ?, error_type = ?, error = ?, "
                "updated = ?, attempts = attempts + ? WHERE key = ?",
                (state, outcome, error_type, error, time.time(), int(attempts), key),
            )

    def get(self, key: str) -> Entry | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM items WHERE key = ?", (key,)).fetchone()
        return None if row is None else _entry(row)

    def entries(self, *states: str, batch: int = 1000) -> Iterator[Entry]:
        """Items in the given states (all when none given) in input order, read a batch at a
        time so a 100,000-item journal is never held in memory at once."""
        wanted = json.dumps(list(states or STATES))
        after = 0
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT * FROM items WHERE state IN (SELECT value FROM json_each(?)) "
                    "AND seq > ? ORDER BY seq LIMIT ?", (wanted, after, batch),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _entry(row)
            after = rows[-1]["seq"]

    def counts(self) -> dict[str, int]:
        """Items per state."""
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) AS n FROM items GROUP BY state")
            found = {r["state"]: r["n"] for r in rows}
        return {s: found.get(s, 0) for s in STATES}

    def outcomes(self) -> dict[str, int]:
        """Finished items per outcome (``created``, ``existed``, ``failed`` ...)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT outcome, COUNT(*) AS n FROM items WHERE outcome IS NOT NULL "
                "GROUP BY outcome ORDER BY outcome"
            )
            return {r["outcome"]: r["n"] for r in rows}


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(
        seq=row["seq"], key=row["key"], payload=json.loads(row["payload"]), state=row["state"],
        outcome=row["outcome"], error_type=row["error_type"], error=row["error"],
        attempts=row["attempts"],
    )


__all__ = ["DONE", "FAILED", "INFLIGHT", "PENDING", "Entry", "Journal"]
