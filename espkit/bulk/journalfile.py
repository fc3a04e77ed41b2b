"""Opening a journal file: created private, and refused unless it is an espkit journal.

A journal path comes from the command line and the file may come from anywhere (a copy from
another machine, a wrong path, a file someone edited), so it is read as untrusted input:

* **Created 0600.** A journal holds domain names and ESP error text. The file is created by
  ``os.open(O_CREAT | O_EXCL, 0o600)`` before SQLite sees it, and SQLite is then opened with
  ``mode=rw`` so it can never create the file itself with the umask's mode. SQLite gives its
  side files (``-wal``, ``-shm``, ``-journal``) the mode of the database file, so they are
  0600 too. An existing journal that is readable by others is tightened once it is known
  to be an espkit journal.
* **Refused, untouched, unless it is one.** Anything that is not a regular file, not an
  SQLite database, an SQLite database without exactly the journal's tables, or a journal
  of a newer format is a ``ConfigError`` naming the path, raised before anything is
  written: no WAL switch, no table created, no mode changed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import urllib.parse
from typing import TYPE_CHECKING

from espkit.errors import ConfigError

if TYPE_CHECKING:
    import sqlite3

#: the format this espkit writes; "1" journals (no account identity) are still read
VERSION = "2"
LEGACY_VERSION = "1"
_MAGIC = b"SQLite format 3\x00"
#: the side files SQLite keeps next to a database
SIDE_FILES = ("-wal", "-shm", "-journal")

SCHEMA = """
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


def connect(path: str) -> tuple[sqlite3.Connection, bool]:
    """A connection to the journal at ``path`` and whether it is new (empty, to be set up).
    Raises ``ConfigError`` for anything that is not an espkit journal this espkit reads,
    leaving the file as it was."""
    import sqlite3

    if path == ":memory:":
        return _connection(":memory:"), True
    fresh = _create_or_inspect(path)
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=rw"
    try:
        db = _connection(uri, uri=True)
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"cannot open journal {path}: {exc}") from None
    if not fresh:
        try:
            _check_schema(db, path)
        except BaseException:
            db.close()
            raise
        tighten(path)
    return db, fresh


def _connection(target: str, *, uri: bool = False) -> sqlite3.Connection:
    import sqlite3

    db = sqlite3.connect(target, check_same_thread=False, isolation_level=None, uri=uri)
    db.row_factory = sqlite3.Row
    return db


def _create_or_inspect(path: str) -> bool:
    """Create ``path`` 0600 if it is not there (True), or check that what is there could be
    a journal (False for an SQLite database, True for an empty file)."""
    try:
        # O_EXCL also refuses a symlink, dangling or not: a planted link cannot make
        # espkit create a file elsewhere (an existing journal behind a link is opened)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot create journal {path}: {exc.strerror or exc}") from None
    else:
        os.close(fd)
        return True
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"journal {path} is not a regular file")
        if info.st_size == 0:
            # an empty file (mktemp's) holds nothing to lose: it becomes the journal
            tighten(path)
            return True
        with open(path, "rb") as handle:
            head = handle.read(len(_MAGIC))
    except OSError as exc:
        raise ConfigError(f"cannot read journal {path}: {exc.strerror or exc}") from None
    if head != _MAGIC:
        raise ConfigError(f"{path} is not an espkit journal (not an SQLite database); "
                          "it was left unchanged")
    return False


@functools.lru_cache(maxsize=1)
def _expected_tables() -> dict[str, str]:
    """The tables' SQL as SQLite records it (it drops ``IF NOT EXISTS``)."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        db.executescript(SCHEMA)
        rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
        return {str(name): str(sql) for name, sql in rows}


def _check_schema(db: sqlite3.Connection, path: str) -> None:
    import sqlite3

    not_ours = f"{path} is not an espkit journal"
    try:
        tables = {r["name"]: r["sql"] for r in db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")}
        if "meta" not in tables or "items" not in tables:
            raise ConfigError(f"{not_ours} (an SQLite database without its tables); "
                              "it was left unchanged")
        version = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{not_ours} (unreadable: {exc}); it was left unchanged") from None
    if version is not None:
        check_version(version[0], path)
    expected = _expected_tables()
    if tables != expected:
        odd = sorted(set(tables) ^ set(expected)) or sorted(
            t for t in expected if tables.get(t) != expected[t])
        raise ConfigError(f"{not_ours} (its tables differ from a journal's: "
                          f"{', '.join(map(repr, odd))}); it was left unchanged")


def check_version(value: object, path: str) -> None:
    """Refuse a journal of a format this espkit does not read."""
    if value in (VERSION, LEGACY_VERSION):
        return
    # isascii: "٣".isdigit() is true too, and is no format number
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 6 \
            and int(value) > int(VERSION):
        raise ConfigError(f"journal {path} was written by a newer espkit (journal format "
                          f"{value}; this one reads formats {LEGACY_VERSION} and {VERSION}); "
                          "it was left unchanged")
    raise ConfigError(f"{path} is not an espkit journal (format {str(value)[:20]!r}); "
                      "it was left unchanged")


def tighten(path: str) -> None:
    """Make ``path`` and its side files private (0600) when they are readable by others
    and ours to change: journals written before espkit created them 0600 were 0644."""
    for name in (path, *(path + s for s in SIDE_FILES)):
        with contextlib.suppress(OSError):  # not there, or not ours: nothing to do
            mode = stat.S_IMODE(os.stat(name).st_mode)
            if mode & 0o077:
                os.chmod(name, mode & 0o700)


__all__ = ["LEGACY_VERSION", "SCHEMA", "SIDE_FILES", "VERSION", "check_version", "connect",
           "tighten"]
