"""The sandbox path: a file that is not an espkit sandbox database is a ConfigError naming the
path, and is left byte for byte as it was; a path that does not exist is created whole."""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import espkit
from espkit import ConfigError
from espkit.sandbox import Store
from espkit.sandbox.database import APPLICATION_ID, SCHEMA, SCHEMA_VERSION, SQLITE_MAGIC

NAME = "news.acme.example"


def files_in(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def refused(path: Path, match: str) -> ConfigError:
    """Open ``path`` both ways a user does; each must refuse it, naming it."""
    with pytest.raises(ConfigError, match=match) as info:
        espkit.connect("sandbox", path=str(path))
    assert str(path) in str(info.value)
    with pytest.raises(ConfigError, match=match):
        Store(str(path))
    return info.value


def other_app_db(path: Path, *, app_id: int = 0, version: int = 0,
                 tables: str = "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)") -> None:
    conn = sqlite3.connect(path)
    conn.executescript(tables)
    conn.execute(f"PRAGMA application_id = {app_id}")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


# -- files that are not sandboxes ---------------------------------------------------------


@pytest.mark.parametrize(("content", "match"), [
    (b"customer,domain\nacme,news.acme.example\n", "not a SQLite file"),
    (b"\x00" * 4096, "not a SQLite file"),
    (SQLITE_MAGIC[:-1], "not a SQLite file"),  # one byte short of the magic
    (SQLITE_MAGIC + b"\xff" * 84, "not an espkit sandbox database"),  # a header, no database
])
def test_a_file_that_is_not_sqlite_is_refused_and_unchanged(
    tmp_path: Path, content: bytes, match: str
) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(content)
    refused(path, match)
    assert files_in(tmp_path) == {"state.db": content}  # no byte changed, nothing beside it


def test_an_empty_file_is_not_turned_into_a_database(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.touch()
    err = refused(path, "empty file")
    assert "does not exist" in str(err)
    assert files_in(tmp_path) == {"state.db": b""}


@pytest.mark.parametrize(("app_id", "version", "tables", "match"), [
    (0, 0, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", "lacks the sandbox's"),
    # the same schema version as the sandbox's is not enough
    (0, SCHEMA_VERSION, "CREATE TABLE notes (id INTEGER)", "lacks the sandbox's"),
    # nor four of its five tables
    (0, SCHEMA_VERSION, SCHEMA.replace("assignments", "other"),
     "lacks the sandbox's"),
    # another application that says so, even with the sandbox's tables
    (0x0F0F0F0F, SCHEMA_VERSION, SCHEMA, "another application's SQLite database"),
    (0, 0, "", "lacks the sandbox's"),  # a SQLite file with nothing in it
])
def test_another_applications_sqlite_database_is_refused_and_unchanged(
    tmp_path: Path, app_id: int, version: int, tables: str, match: str
) -> None:
    path = tmp_path / "app.sqlite"
    other_app_db(path, app_id=app_id, version=version, tables=tables)
    before = files_in(tmp_path)
    refused(path, match)
    assert files_in(tmp_path) == before


def test_a_live_wal_database_of_another_application_is_refused_and_unchanged(
    tmp_path: Path,
) -> None:
    # its newest pages are still in the -wal file, which espkit reads but never writes
    path = tmp_path / "live.sqlite"
    owner = sqlite3.connect(path, isolation_level=None)
    try:
        owner.execute("PRAGMA journal_mode = WAL")
        owner.execute("PRAGMA wal_autocheckpoint = 0")
        owner.execute("CREATE TABLE notes (body TEXT)")
        owner.execute("INSERT INTO notes VALUES ('keep me')")
        assert (tmp_path / "live.sqlite-wal").stat().st_size > 0
        main, wal = path.read_bytes(), (tmp_path / "live.sqlite-wal").read_bytes()
        refused(path, "lacks the sandbox's")
        assert path.read_bytes() == main
        assert (tmp_path / "live.sqlite-wal").read_bytes() == wal
        assert owner.execute("SELECT body FROM notes").fetchall() == [("keep me",)]
    finally:
        owner.close()


def test_a_directory_or_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    refused(tmp_path, "not a regular file")
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)  # opening it for reading would block: it must only be stat'ed
        refused(fifo, "not a regular file")


def test_a_symlink_is_judged_by_its_target(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_bytes(b"hello\n")
    link = tmp_path / "state.db"
    link.symlink_to(target)
    refused(link, "not a SQLite file")
    assert target.read_bytes() == b"hello\n"
    dangling = tmp_path / "dangling.db"
    dangling.symlink_to(tmp_path / "nowhere" / "x.db")
    refused(dangling, "cannot open")
    assert not (tmp_path / "nowhere").exists()


def test_an_empty_path_is_refused() -> None:
    with pytest.raises(ConfigError, match="file path"):
        Store("")


@settings(max_examples=60, deadline=None)
@given(content=st.one_of(
    st.binary(min_size=1, max_size=2048),
    st.binary(max_size=2048).map(lambda b: SQLITE_MAGIC + b),
    # a plausible header: 4096-byte pages, then anything
    st.binary(min_size=80, max_size=4096).map(lambda b: SQLITE_MAGIC + b"\x10\x00" + b),
))
def test_any_bytes_are_refused_and_unchanged(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "state.db"
        path.write_bytes(content)
        with pytest.raises(ConfigError) as info:
            Store(str(path))
        assert str(path) in str(info.value)
        assert files_in(Path(directory)) == {"state.db": content}


# -- sandboxes -----------------------------------------------------------------------------


def test_a_new_path_is_created_as_a_marked_sandbox_with_nothing_left_beside_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "new.db"
    with espkit.connect("sandbox", path=str(path)) as acct:
        acct.domains.create(NAME)
    assert {p.name for p in tmp_path.iterdir()} == {"new.db"}  # no temporary file, no WAL
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    with espkit.connect("sandbox", path=str(path)) as again:
        assert again.domains.get(NAME).name == NAME


def test_memory_still_works_and_touches_no_file(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with espkit.connect("sandbox", path=":memory:") as acct:
        acct.domains.create(NAME)
        assert acct.domains.get(NAME).name == NAME
    assert list(tmp_path.iterdir()) == []


def test_a_sandbox_made_before_the_application_id_still_opens(tmp_path: Path) -> None:
    # what espkit wrote before it marked its files: WAL, the schema, user_version 1
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO pools (id, name, description) VALUES ('pool_1', 'mkt', NULL)")
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    with espkit.connect("sandbox", path=str(path)) as acct:
        assert acct.pools.get("mkt").name == "mkt"


def test_a_file_that_appears_while_creating_is_judged_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # another process writes the path between espkit's look and its link: the link fails
    # (a link never replaces a file) and that file is judged like any other
    path = tmp_path / "race.db"
    real_link = os.link

    def link_after_someone_else(src: str, dst: str) -> None:
        Path(dst).write_bytes(b"written by someone else\n")
        real_link(src, dst)

    monkeypatch.setattr(os, "link", link_after_someone_else)
    with pytest.raises(ConfigError, match="not a SQLite file"):
        Store(str(path))
    assert files_in(tmp_path) == {"race.db": b"written by someone else\n"}


@pytest.mark.parametrize("error", [PermissionError, OSError])
def test_without_hard_links_the_database_is_copied_into_a_new_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Callable[[str], OSError]
) -> None:
    def no_links(src: str, dst: str) -> None:
        raise error("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "copied.db"
    store = Store(str(path))
    store.close()
    assert {p.name for p in tmp_path.iterdir()} == {"copied.db"}
    Store(str(path)).close()  # and it is a sandbox


def test_two_stores_starting_on_one_new_path_share_one_database(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    stores: list[Store] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_store() -> None:
        start.wait()
        try:
            stores.append(Store(path))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stores[0].create_pool("mkt", [], None)
    assert [p["name"] for p in stores[-1].list_pools(0, 10)[0]] == ["mkt"]
    for s in stores:
        s.close()
    assert {p.name for p in tmp_path.iterdir()} == {"shared.db"}
