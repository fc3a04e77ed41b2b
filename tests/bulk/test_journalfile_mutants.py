"""Opening a journal file: the behaviours mutation testing found unpinned
(scripts/mutation.py journalfile).

SQLite is opened with ``mode=rw`` so that it can never create the journal itself (with the
umask's mode); a private file is left alone (no chmod: it may not be ours to change); the
messages name what is wrong (the OS reason, every odd table); a format "02" is not called
newer than "2".
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from espkit.bulk import journalfile
from espkit.bulk.journalfile import SCHEMA, VERSION, check_version, connect, tighten
from espkit.errors import ConfigError

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def journal(path: Path) -> Path:
    db, fresh = connect(str(path))
    assert fresh
    with contextlib.closing(db):
        db.executescript(SCHEMA)
        db.execute("INSERT INTO meta VALUES ('version', ?)", (VERSION,))
    return path


def test_sqlite_never_creates_the_journal_itself(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """If the file is gone between espkit's private create and SQLite's open (a race, or a
    cleaner), SQLite must fail rather than create it with the umask's mode."""
    path = tmp_path / "j.db"
    monkeypatch.setattr(journalfile, "_create_or_inspect", lambda p: True)
    with pytest.raises(ConfigError) as info:
        connect(str(path))
    assert str(info.value) == f"cannot open journal {path}: unable to open database file"
    assert not path.exists()


def test_the_journal_opened_is_the_file_at_the_path(tmp_path: Path) -> None:
    # the URI form must reach the file itself (not a file named after the URI)
    path = journal(tmp_path / "j.db")
    before = sorted(p.name for p in tmp_path.iterdir())
    db, fresh = connect(str(path))
    with contextlib.closing(db):
        assert not fresh
        db.execute("INSERT INTO meta VALUES ('seen', 'yes')")
    with contextlib.closing(sqlite3.connect(path)) as check:
        assert check.execute("SELECT value FROM meta WHERE key = 'seen'").fetchone() == ("yes",)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(
        journalfile.SIDE_FILES)) == before


@pytest.mark.parametrize(("error", "shown"), [
    (PermissionError(13, "Permission denied"), "Permission denied"),
    (OSError("no reason given"), "no reason given"),
])
def test_an_unreadable_file_names_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             error: OSError, shown: str) -> None:
    path = tmp_path / "j.db"
    path.write_bytes(b"x")
    real_stat = os.stat

    def stat_refused(name: object, *args: object, **kwargs: object) -> os.stat_result:
        if str(name) == str(path):
            raise error
        return real_stat(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", stat_refused)
    with pytest.raises(ConfigError) as info:
        connect(str(path))
    # the OS's reason alone when it gives one, not the "[Errno 13] ..." form
    assert str(info.value) == f"cannot read journal {path}: {shown}"


def test_every_odd_table_is_named(tmp_path: Path) -> None:
    path = journal(tmp_path / "j.db")
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE extra (x)")
        db.execute("CREATE TABLE another (y)")
        db.commit()
    with pytest.raises(ConfigError) as info:
        connect(str(path))
    assert str(info.value) == (f"{path} is not an espkit journal (its tables differ from a "
                               "journal's: 'another', 'extra'); it was left unchanged")


@pytest.mark.parametrize("value", ["02", "002", "00002"])
def test_this_format_written_with_leading_zeros_is_not_called_newer(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_version(value, "j.db")
    assert str(info.value) == (f"j.db is not an espkit journal (format {value!r}); it was "
                               "left unchanged")


@pytest.mark.parametrize("value", ["03", "0003"])
def test_a_newer_format_with_leading_zeros_is_called_newer(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_version(value, "j.db")
    assert "written by a newer espkit" in str(info.value)


@pytest.mark.parametrize(("before", "changed"), [
    (0o600, False), (0o700, False), (0o400, False), (0o000, False),
    (0o601, True), (0o610, True), (0o640, True),
])
def test_a_private_file_is_not_touched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       before: int, changed: bool) -> None:
    """A journal that is already private may belong to someone else (a shared directory):
    espkit does not chmod it at all, rather than chmod it to what it already is."""
    path = tmp_path / "j.db"
    path.write_bytes(b"")
    os.chmod(path, before)
    calls: list[tuple[str, int]] = []
    real_chmod = os.chmod

    def spy(name: str, mode: int) -> None:
        calls.append((str(name), mode))
        real_chmod(name, mode)

    monkeypatch.setattr(os, "chmod", spy)
    tighten(str(path))
    assert calls == ([(str(path), before & 0o700)] if changed else [])
    assert stat.S_IMODE(path.stat().st_mode) == before & 0o700
