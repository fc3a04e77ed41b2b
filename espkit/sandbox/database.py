"""The sandbox's SQLite file: opened only if it is an espkit sandbox database, created whole.

A sandbox path may be mistyped or come from a fleet file, so it must never turn a file that
is something else (a text file, another application's SQLite database, an empty file) into
a sandbox, nor change a byte of it: every such file is a ``ConfigError`` naming the path,
decided from a read-only look before anything opens it for writing.

An espkit database is known by its SQLite ``application_id``; files made before espkit set
one are known by their tables. A new database is built under a temporary name beside the
path and hard-linked into place only when complete (a link, unlike a rename, never replaces
a file that appeared meanwhile), so no process ever finds a half-made sandbox, an
interrupted start leaves no empty file behind, and two processes starting on the same new
path both end up on the one database that won.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import sqlite3
import stat
import tempfile
from collections.abc import Callable

from espkit.errors import ConfigError

MEMORY = ":memory:"
#: ``PRAGMA application_id`` of an espkit sandbox database ("ESPK")
APPLICATION_ID = 0x4553504B
SCHEMA_VERSION = 2
#: older versions this espkit upgrades in place when it opens them (each step only adds)
UPGRADABLE = frozenset({1})
#: what ``sqlite3`` files start with (https://www.sqlite.org/fileformat.html)
SQLITE_MAGIC = b"SQLite format 3\x00"

#: schema version 2: message streams (Postmark's), and the pool a subaccount sends from
#: (SendGrid's and SparkPost's binding). ``IF NOT EXISTS`` so the step is safe to re-run.
UPGRADE_1_TO_2 = (
    """
CREATE TABLE IF NOT EXISTS streams (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,  -- "" = main account, else the subaccount id
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('transactional', 'broadcast', 'inbound')),
    created_at REAL NOT NULL,
    UNIQUE (account, id)
)""",
    """
CREATE TABLE IF NOT EXISTS subaccount_pools (
    sub_seq INTEGER PRIMARY KEY REFERENCES subaccounts (seq) ON DELETE CASCADE,
    pool_seq INTEGER NOT NULL REFERENCES pools (seq)
)""",
)

#: tables added within schema version 2, read only by espkit versions that know them: the
#: simulated warmup plan of a dedicated IP (``warmup``) and the sends recorded for delivery
#: statistics (``sends``). Adding tables leaves every existing one as it was, so an espkit
#: that predates them still opens the file (it checks the version and ``TABLES`` only) and
#: ignores them; this one adds them, ``IF NOT EXISTS``, to a version 2 file that lacks them
#: (``_add_missing``) rather than raising the version and locking older espkits out.
ADDITIONS_2 = (
    """
CREATE TABLE IF NOT EXISTS warmups (
    ip_seq INTEGER PRIMARY KEY REFERENCES ips (seq) ON DELETE CASCADE,
    schedule TEXT NOT NULL,       -- an espkit.warmup schedule name
    started_at REAL,              -- when the plan began (NULL: before the sandbox's records)
    anchor_day TEXT NOT NULL,     -- ISO day from which the IP's traffic counts
    anchor_stage INTEGER NOT NULL CHECK (anchor_stage >= 1)  -- its stage on anchor_day
)""",
    """
CREATE TABLE IF NOT EXISTS sends (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,          -- epoch seconds, UTC
    account TEXT NOT NULL,        -- the sending domain's: "" = main account, else subaccount id
    domain TEXT NOT NULL,
    ip TEXT,                      -- canonical address (NULL: the shared IPs)
    pool TEXT,
    sent INTEGER NOT NULL CHECK (sent >= 0),
    delivered INTEGER NOT NULL CHECK (delivered >= 0),
    bounced_hard INTEGER NOT NULL CHECK (bounced_hard >= 0),
    bounced_soft INTEGER NOT NULL CHECK (bounced_soft >= 0),
    complained INTEGER NOT NULL CHECK (complained >= 0),
    deferred INTEGER NOT NULL CHECK (deferred >= 0)
)""",
    "CREATE INDEX IF NOT EXISTS sends_by_at ON sends (at)",
    "CREATE INDEX IF NOT EXISTS sends_by_ip ON sends (ip, at)",
)
#: the tables ``ADDITIONS_2`` makes, looked for before taking a write lock to add them
ADDED_TABLES = frozenset({"warmups", "sends"})

SCHEMA = """
CREATE TABLE subaccounts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL
);
CREATE TABLE domains (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    settings TEXT NOT NULL,  -- JSON: dkim_key_size, dkim_selector, spam_action, ...
    records TEXT NOT NULL    -- JSON: the generated DNS records with their status
);
CREATE INDEX domains_by_account ON domains (account, seq);
CREATE TABLE pools (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    description TEXT
);
CREATE TABLE ips (
    seq INTEGER PRIMARY KEY,
    address TEXT NOT NULL UNIQUE,
    rdns TEXT NOT NULL,
    warming_up INTEGER NOT NULL,
    -- one column, not a link table: an IP is in at most one pool, adding moves it
    pool_seq INTEGER REFERENCES pools (seq) ON DELETE SET NULL
);
CREATE TABLE assignments (
    domain_seq INTEGER NOT NULL REFERENCES domains (seq) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('pool', 'ip')),
    target TEXT NOT NULL,  -- pool name or IP address
    PRIMARY KEY (domain_seq, kind, target)
);
CREATE INDEX assignments_by_target ON assignments (kind, target);
""" + "".join(f"{s};" for s in (*UPGRADE_1_TO_2, *ADDITIONS_2))
#: the tables that tell a sandbox database made before ``APPLICATION_ID`` was set
TABLES = frozenset({"subaccounts", "domains", "pools", "ips", "assignments"})

Seed = Callable[[sqlite3.Connection], None]


def open_database(path: str, seed: Seed) -> sqlite3.Connection:
    """A connection (autocommit, foreign keys on) to the sandbox database at ``path``,
    created and filled by ``seed`` if ``path`` does not exist, or ``":memory:"``."""
    if path == MEMORY:
        db = _connect(path, path)
        _initialise(db, seed)
        return db
    if not isinstance(path, str) or not path:
        raise ConfigError(f"sandbox state path must be a file path or {MEMORY!r}, got {path!r}")
    if not os.path.lexists(path):
        _create(path, seed)
    check(path)
    db = _connect(path, _uri(path, "mode=rw"), uri=True)  # never creates: the file was checked
    try:
        # again on this connection: the file could have been replaced since the look
        _check_identity(path, *_identity(db))
        # WAL lets a CLI read while another process writes; NORMAL skips an fsync per
        # commit, which is the difference between 50 and 5,000 creates a second
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            _upgrade(db)
        _add_missing(db)
    except BaseException:
        db.close()
        raise
    return db


def check(path: str) -> None:
    """Raise ``ConfigError`` unless ``path`` is an espkit sandbox database of this schema
    version or one ``open_database`` upgrades. Reads only: the file, whatever it is, is left
    as it was."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ConfigError(f"cannot open sandbox state {path!r}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"sandbox state {path!r} is not a regular file")
    if info.st_size == 0:
        raise ConfigError(
            f"sandbox state {path!r} is an empty file, not an espkit sandbox database: "
            "give a path that does not exist (espkit creates the database) or delete the file"
        )
    try:
        with open(path, "rb") as f:
            magic = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise ConfigError(f"cannot read sandbox state {path!r}: {exc.strerror}") from None
    if magic != SQLITE_MAGIC:
        raise ConfigError(f"sandbox state {path!r} is not an espkit sandbox database "
                          "(not a SQLite file); use another path")
    _check_identity(path, *_peek(path))


def _peek(path: str) -> tuple[int, int, frozenset[str]]:
    """The identity of the SQLite file at ``path``, read without writing anything to it:
    ``immutable`` (no locks, no journal rollback, no -shm file) unless a WAL file holds
    newer pages, which a read-only connection reads."""
    wal = os.path.exists(path + "-wal")
    try:
        db = sqlite3.connect(_uri(path, "mode=ro" if wal else "immutable=1"), uri=True)
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open sandbox state {path!r}: {exc}") from None
    try:
        return _identity(db)
    except sqlite3.Error as exc:
        raise ConfigError(
            f"sandbox state {path!r} is not an espkit sandbox database ({exc}); use another path"
        ) from None
    finally:
        db.close()


def _identity(db: sqlite3.Connection) -> tuple[int, int, frozenset[str]]:
    """(application_id, user_version, table names)"""
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = frozenset(row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
    ))
    return app_id, version, tables


def _check_identity(path: str, app_id: int, version: int, tables: frozenset[str]) -> None:
    if app_id not in (0, APPLICATION_ID):
        raise ConfigError(
            f"sandbox state {path!r} is another application's SQLite database "
            f"(application_id {app_id:#x}), not an espkit sandbox; use another path"
        )
    if app_id == 0 and not TABLES.issubset(tables):
        raise ConfigError(
            f"sandbox state {path!r} is a SQLite database but not an espkit sandbox "
            "(it lacks the sandbox's tables); use another path"
        )
    if version != SCHEMA_VERSION and version not in UPGRADABLE:
        raise ConfigError(
            f"sandbox state {path!r} has schema version {version}; this espkit "
            f"understands {SCHEMA_VERSION} (and upgrades "
            f"{', '.join(map(str, sorted(UPGRADABLE)))}). Use another path, or delete the "
            "file to start afresh."
        )


def _upgrade(db: sqlite3.Connection) -> None:
    """Bring an older sandbox database up to ``SCHEMA_VERSION`` in one transaction: the
    steps only add tables, so everything the file held stays as it was."""
    db.execute("BEGIN IMMEDIATE")
    try:
        # re-read under the write lock: another process may have upgraded it meanwhile
        if db.execute("PRAGMA user_version").fetchone()[0] == 1:
            for statement in UPGRADE_1_TO_2:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _add_missing(db: sqlite3.Connection) -> None:
    """Add ``ADDITIONS_2``'s tables to a file made before them, in one transaction; a file
    that has them is only read."""
    if ADDED_TABLES.issubset(_identity(db)[2]):
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        for statement in ADDITIONS_2:
            db.execute(statement)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _create(path: str, seed: Seed) -> None:
    """Build the database beside ``path`` and link it into place, unless something is
    there by then (then that is what ``check`` judges)."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".espkit-sandbox-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ConfigError(f"cannot open sandbox state {path!r}: {exc.strerror}") from None
    os.close(fd)
    try:
        db = _connect(path, tmp)
        try:
            _initialise(db, seed)
        finally:
            db.close()
        _link(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _link(tmp: str, path: str) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process made it first
    except OSError:
        # a file system without hard links: copy into a file only this call can create
        try:
            with open(tmp, "rb") as src, open(path, "xb") as dst:
                shutil.copyfileobj(src, dst)
        except FileExistsError:
            pass
        except OSError as exc:
            raise ConfigError(f"cannot create sandbox state {path!r}: {exc.strerror}"
                              ) from None


def _initialise(db: sqlite3.Connection, seed: Seed) -> None:
    """The schema, the seed rows and the identity, in one transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        seed(db)
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _connect(path: str, target: str, uri: bool = False) -> sqlite3.Connection:
    # autocommit mode; transactions are explicit (see Store._tx)
    try:
        db = sqlite3.connect(target, check_same_thread=False, isolation_level=None,
                             timeout=10.0, uri=uri)
        db.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open sandbox state {path!r}: {exc}") from None
    return db


def _uri(path: str, mode: str) -> str:
    return f"{pathlib.Path(os.path.abspath(path)).as_uri()}?{mode}"


__all__ = ["ADDED_TABLES", "ADDITIONS_2", "APPLICATION_ID", "MEMORY", "SCHEMA", "SCHEMA_VERSION",
           "TABLES", "UPGRADABLE", "UPGRADE_1_TO_2", "check", "open_database"]
