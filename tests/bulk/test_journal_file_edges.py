"""Opening a journal file, refusal by refusal: what is refused, with which message, and that
a refused file is left exactly as it was (bytes and mode). Modes are checked on both sides
(private stays private, readable-by-others is tightened, only for a real journal).

Written from mutation testing (scripts/mutation.py).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from espkit.bulk.journalfile import (
    LEGACY_VERSION,
    SCHEMA,
    SIDE_FILES,
    VERSION,
    check_version,
    connect,
    tighten,
)
from espkit.errors import ConfigError

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def journal(path: Path, version: str | None = VERSION) -> Path:
    """A journal as espkit sets one up."""
    db, fresh = connect(str(path))
    assert fresh
    with contextlib.closing(db):
        db.executescript(SCHEMA)
        if version is not None:
            db.execute("INSERT INTO meta VALUES ('version', ?)", (version,))
    return path


def refused(path: Path) -> str:
    before = path.read_bytes() if path.is_file() else None
    before_mode = mode(path)
    with pytest.raises(ConfigError) as info:
        connect(str(path))
    if before is not None:
        assert path.read_bytes() == before
    assert mode(path) == before_mode
    return str(info.value)


def test_memory_is_always_fresh() -> None:
    db, fresh = connect(":memory:")
    with contextlib.closing(db):
        assert fresh
        assert db.row_factory is sqlite3.Row
        assert db.isolation_level is None


def test_a_new_journal_is_created_private_and_fresh(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    db, fresh = connect(str(path))
    db.close()
    assert fresh
    assert mode(path) == 0o600


def test_a_set_up_journal_reopens_as_not_fresh_and_usable(tmp_path: Path) -> None:
    path = journal(tmp_path / "j.db")
    db, fresh = connect(str(path))
    with contextlib.closing(db):
        assert not fresh
        row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        assert row["value"] == VERSION  # rows by name: sqlite3.Row
    # a journal without a version row (set up, never written) opens too
    path2 = journal(tmp_path / "j2.db", version=None)
    db, fresh = connect(str(path2))
    db.close()
    assert not fresh


def test_an_existing_journal_readable_by_others_is_tightened(tmp_path: Path) -> None:
    path = journal(tmp_path / "j.db")
    os.chmod(path, 0o644)
    wal = Path(str(path) + "-wal")
    wal.write_bytes(b"")
    os.chmod(wal, 0o640)
    db, _ = connect(str(path))
    db.close()
    assert mode(path) == 0o600
    assert mode(wal) == 0o600


def test_an_empty_file_becomes_the_journal_and_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    path.write_bytes(b"")
    os.chmod(path, 0o644)
    db, fresh = connect(str(path))
    db.close()
    assert fresh
    assert mode(path) == 0o600


def test_a_directory_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dir"
    path.mkdir()
    assert refused(path) == f"journal {path} is not a regular file"


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"my notes, not a journal")
    os.chmod(path, 0o644)
    assert refused(path) == (f"{path} is not an espkit journal (not an SQLite database); "
                             "it was left unchanged")


def test_a_file_shorter_than_the_magic_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "short"
    path.write_bytes(b"SQLite")
    assert "not an SQLite database" in refused(path)


def test_an_sqlite_database_without_the_tables_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE meta (key TEXT)")
        db.commit()
    os.chmod(path, 0o644)
    assert refused(path) == (f"{path} is not an espkit journal (an SQLite database without "
                             "its tables); it was left unchanged")


def test_an_extra_table_is_named(tmp_path: Path) -> None:
    path = journal(tmp_path / "j.db")
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE extra (x)")
        db.commit()
    assert refused(path) == (f"{path} is not an espkit journal (its tables differ from a "
                             "journal's: 'extra'); it was left unchanged")


def test_a_changed_table_is_named(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(SCHEMA.replace("attempts INTEGER", "tries INTEGER"))
    assert refused(path) == (f"{path} is not an espkit journal (its tables differ from a "
                             "journal's: 'items'); it was left unchanged")


def test_a_newer_journal_is_refused(tmp_path: Path) -> None:
    path = journal(tmp_path / "j.db", version="3")
    assert refused(path) == (f"journal {path} was written by a newer espkit (journal format 3; "
                             "this one reads formats 1 and 2); it was left unchanged")


def test_an_unreadable_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    message = refused(path)
    assert message.startswith(f"{path} is not an espkit journal (unreadable: ") or \
        message.startswith(f"cannot open journal {path}: ")


def test_a_journal_in_a_missing_directory_cannot_be_created(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "j.db"
    with pytest.raises(ConfigError) as info:
        connect(str(path))
    assert str(info.value) == f"cannot create journal {path}: No such file or directory"
    assert not path.parent.exists()


@pytest.mark.parametrize("value", [VERSION, LEGACY_VERSION])
def test_the_versions_read(value: str) -> None:
    check_version(value, "j.db")
    assert (LEGACY_VERSION, VERSION) == ("1", "2")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3", "journal j.db was written by a newer espkit (journal format 3; this one reads "
              "formats 1 and 2); it was left unchanged"),
        ("99999", "journal j.db was written by a newer espkit (journal format 99999; this one "
                  "reads formats 1 and 2); it was left unchanged"),
        ("999999", "j.db is not an espkit journal (format '999999'); it was left unchanged"),
        ("0", "j.db is not an espkit journal (format '0'); it was left unchanged"),
        (3, "j.db is not an espkit journal (format '3'); it was left unchanged"),
        ("x" * 30, f"j.db is not an espkit journal (format {'x' * 20!r}); it was left "
                   "unchanged"),
    ],
)
def test_the_versions_refused(value: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_version(value, "j.db")
    assert str(info.value) == message


def test_a_non_ascii_digit_version_is_not_called_newer() -> None:
    # str.isdigit() is true of Arabic-Indic digits, which are no format number
    with pytest.raises(ConfigError) as info:
        check_version("\u0663", "j.db")
    assert "is not an espkit journal" in str(info.value)
    assert "newer" not in str(info.value)


@pytest.mark.parametrize(("before", "after"),
                         [(0o600, 0o600), (0o644, 0o600), (0o640, 0o600), (0o604, 0o600),
                          (0o755, 0o700), (0o400, 0o400)])
def test_tighten_removes_group_and_other_bits_only(tmp_path: Path, before: int,
                                                   after: int) -> None:
    path = tmp_path / "j.db"
    path.write_bytes(b"")
    os.chmod(path, before)
    for suffix in SIDE_FILES:
        side = Path(str(path) + suffix)
        side.write_bytes(b"")
        os.chmod(side, before)
    tighten(str(path))
    assert mode(path) == after
    for suffix in SIDE_FILES:
        assert mode(Path(str(path) + suffix)) == after
    assert SIDE_FILES == ("-wal", "-shm", "-journal")


def test_tighten_skips_missing_side_files(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    path.write_bytes(b"")
    os.chmod(path, 0o644)
    shm = Path(str(path) + "-shm")
    shm.write_bytes(b"")
    os.chmod(shm, 0o666)
    tighten(str(path))  # no -wal, no -journal: nothing raised, the rest still tightened
    assert (mode(path), mode(shm)) == (0o600, 0o600)
    tighten(str(tmp_path / "absent.db"))
