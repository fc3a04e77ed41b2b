"""A journal file is created private, and what is not an espkit journal is refused untouched."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import espkit
from espkit.bulk import Bulk, Journal
from espkit.bulk.journalfile import SCHEMA
from espkit.sandbox import FakeClock
from espkit.testing import emulator


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def snapshot(path: Path) -> tuple[bytes, int, list[str]]:
    """What must not change when a file is refused: its bytes, its mode, its neighbours."""
    return path.read_bytes(), mode(path), sorted(p.name for p in path.parent.iterdir())


# -- 0600 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o000], ids=["umask 022", "umask 000"])
def test_a_new_journal_and_its_side_files_are_private(tmp_path: Path, mask: int) -> None:
    path = tmp_path / "run.db"
    acct = espkit.connect("sandbox", path=":memory:", clock=FakeClock())
    with umask(mask):
        bulk = Bulk(acct, journal=str(path))
        with bulk.journal:
            bulk.create_domains(["a.example.com", "b.example.com"])
            # open, after writes: SQLite's -wal and -shm are there
            side = [Path(f"{path}{s}") for s in ("-wal", "-shm")]
            assert all(p.exists() for p in side)
            assert {p.name: mode(p) for p in [path, *side]} == {
                p.name: 0o600 for p in [path, *side]}
    assert mode(path) == 0o600


def test_an_empty_file_becomes_the_journal_and_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    with Journal(str(path)) as journal:
        journal.add([("a.example.com", {})])
    assert mode(path) == 0o600


def test_a_journal_readable_by_others_is_tightened_on_opening(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with umask(0o022):
        Journal(str(path)).close()
        os.chmod(path, 0o644)
        with Journal(str(path)) as journal:
            journal.add([("a.example.com", {})])
            assert mode(path) == 0o600
            assert mode(f"{path}-wal") == 0o600


# -- what is not a journal is refused and left as it was ----------------------------------------


def other_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
        db.execute("INSERT INTO notes VALUES ('mine')")
    db.close()


def with_our_tables(path: Path, version: str | None, extra: str = "") -> None:
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA + extra)
        if version is not None:
            db.execute("INSERT INTO meta VALUES ('version', ?)", (version,))
    db.close()


NOT_JOURNALS = {
    "text": (lambda p: p.write_text("name\na.example.com\n"),
             r"not an espkit journal \(not an SQLite database\)"),
    "bytes": (lambda p: p.write_bytes(bytes(range(256)) * 4),
              r"not an espkit journal \(not an SQLite database\)"),
    "another SQLite database": (other_sqlite, r"not an espkit journal \(an SQLite database "
                                              r"without its tables\)"),
    "a journal of a newer format": (lambda p: with_our_tables(p, "3"),
                                    r"written by a newer espkit \(journal format 3"),
    "a nonsense format": (lambda p: with_our_tables(p, "two"),
                          r"not an espkit journal \(format 'two'\)"),
    "an extra table": (lambda p: with_our_tables(p, "2", "CREATE TABLE x (y);"),
                       r"its tables differ from a journal's: 'x'"),
    "a changed table": (lambda p: _changed_items(p),
                        r"its tables differ from a journal's: 'items'"),
}


def _changed_items(path: Path) -> None:
    # the key column without its UNIQUE: the same item could be journalled twice
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA.replace("key TEXT NOT NULL UNIQUE", "key TEXT NOT NULL"))
    db.close()


@pytest.mark.parametrize("name", NOT_JOURNALS, ids=NOT_JOURNALS.keys())
def test_a_file_that_is_not_a_journal_is_refused_unchanged(tmp_path: Path, name: str) -> None:
    make, message = NOT_JOURNALS[name]
    path = tmp_path / "thing.db"
    make(path)
    os.chmod(path, 0o644)
    before = snapshot(path)
    acct = espkit.connect("sandbox", path=":memory:", clock=FakeClock())
    with pytest.raises(espkit.ConfigError, match=message) as caught:
        Bulk(acct, journal=str(path)).create_domains(["a.example.com"])
    assert str(path) in str(caught.value)
    assert snapshot(path) == before
    assert list(emulator(acct).history) == []
    with pytest.raises(espkit.ConfigError, match=message):
        Journal(str(path))
    assert snapshot(path) == before


def test_a_directory_or_a_dangling_link_is_refused(tmp_path: Path) -> None:
    with pytest.raises(espkit.ConfigError, match="is not a regular file"):
        Journal(str(tmp_path))
    link = tmp_path / "link.db"
    link.symlink_to(tmp_path / "elsewhere.db")
    with pytest.raises(espkit.ConfigError, match="cannot read journal"):
        Journal(str(link))
    assert not (tmp_path / "elsewhere.db").exists()  # not created through the link
    with pytest.raises(espkit.ConfigError, match="cannot create journal"):
        Journal(str(tmp_path / "missing" / "run.db"))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tail=st.binary(max_size=3000), sqlite_header=st.booleans())
def test_random_bytes_are_a_config_error_and_left_alone(tmp_path: Path, tail: bytes,
                                                        sqlite_header: bool) -> None:
    path = tmp_path / "fuzz.db"
    for p in tmp_path.iterdir():
        p.unlink()
    data = (b"SQLite format 3\x00" if sqlite_header else b"") + tail
    if not data:
        return  # an empty file is a new journal (tested above)
    path.write_bytes(data)
    before = snapshot(path)
    with pytest.raises(espkit.ConfigError) as caught:
        Journal(str(path)).close()
    assert str(path) in str(caught.value)
    assert snapshot(path) == before
