"""``espkit sandbox path`` / ``reset`` and what ``espkit demo`` says about its sandbox: a
fresh start is one command, and it never deletes a file that is not a sandbox."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import platformdirs
import pytest
from click.testing import CliRunner, Result

import espkit
from espkit.cli import cli
from espkit.cli.sandbox import reset_hint

Run = Callable[..., Result]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user data directory, where the default sandbox file lives."""
    data = tmp_path / "data"
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(data))
    for name in ("ESPKIT_SANDBOX_DB", "ESPKIT_PROVIDER", "ESPKIT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return data


@pytest.fixture
def run(home: Path) -> Run:
    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), input=input, prog_name="espkit")

    return invoke


def filled(path: Path) -> Path:
    """A sandbox file holding one domain, written as a command would write it (WAL)."""
    with espkit.connect("sandbox", path=str(path)) as acct:
        acct.domains.create("news.acme.example")
    return path


def names(run: Run, *options: str) -> list[str]:
    result = run(*options, "-o", "json", "domains", "list")
    assert result.exit_code == 0, result.output
    return [d["name"] for d in json.loads(result.stdout)]


# -- path ------------------------------------------------------------------------------------


def test_path_is_the_default_file_in_the_user_data_directory(run: Run, home: Path) -> None:
    result = run("sandbox", "path")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{home / 'sandbox.db'}\n"
    # the file every sandbox command uses: a domain created lands there
    assert run("domains", "create", "news.acme.example").exit_code == 0
    assert (home / "sandbox.db").is_file()


def test_path_follows_the_variable_then_the_option(run: Run, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESPKIT_SANDBOX_DB", str(tmp_path / "env.db"))
    assert run("sandbox", "path").stdout.strip() == str(tmp_path / "env.db")
    given = run("--sandbox-db", "opt.db", "sandbox", "path")
    assert given.stdout.strip() == "opt.db"


def test_path_in_json_says_whether_the_file_exists(run: Run, tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    before = json.loads(run("--sandbox-db", db, "-o", "json", "sandbox", "path").stdout)
    assert before == {"path": db, "exists": False, "memory": False}
    filled(tmp_path / "s.db")
    after = json.loads(run("--sandbox-db", db, "sandbox", "path", "-o", "json").stdout)
    assert after["exists"] is True
    memory = json.loads(run("--sandbox-db", ":memory:", "-o", "json", "sandbox", "path").stdout)
    assert memory == {"path": ":memory:", "exists": False, "memory": True}


# -- reset -----------------------------------------------------------------------------------


def test_reset_deletes_the_file_and_its_wal_so_the_next_command_starts_empty(
        run: Run, tmp_path: Path) -> None:
    db = filled(tmp_path / "s.db")
    # a WAL file beside it, as a process that has the database open leaves one
    with sqlite3.connect(db) as keep:
        keep.execute("PRAGMA journal_mode = WAL")
        keep.execute("CREATE TABLE IF NOT EXISTS scratch (x)")
        assert Path(f"{db}-wal").exists()
        result = run("--sandbox-db", str(db), "sandbox", "reset", "--yes")
    assert result.exit_code == 0, result.output
    assert f"deleted {db}" in result.stdout
    assert not db.exists()
    assert not Path(f"{db}-wal").exists()
    assert not Path(f"{db}-shm").exists()
    assert names(run, "--sandbox-db", str(db)) == []


def test_reset_of_the_default_file(run: Run, home: Path) -> None:
    assert run("domains", "create", "news.acme.example").exit_code == 0
    assert names(run) == ["news.acme.example"]
    result = run("sandbox", "reset", "-y", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"path": str(home / "sandbox.db"), "deleted": True}
    assert names(run) == []


def test_reset_follows_the_variable_whatever_the_provider(
        run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = filled(tmp_path / "env.db")
    monkeypatch.setenv("ESPKIT_SANDBOX_DB", str(db))
    monkeypatch.setenv("ESPKIT_PROVIDER", "mailgun")  # the sandbox commands are the sandbox's
    result = run("sandbox", "reset", "--yes")
    assert result.exit_code == 0, result.output
    assert not db.exists()


def test_reset_off_a_terminal_without_yes_changes_nothing(run: Run, tmp_path: Path) -> None:
    db = filled(tmp_path / "s.db")
    result = run("--sandbox-db", str(db), "sandbox", "reset", input="y\n")
    assert result.exit_code == 2
    assert "pass --yes" in result.stderr
    assert db.exists()
    assert names(run, "--sandbox-db", str(db)) == ["news.acme.example"]


@pytest.mark.parametrize(("answer", "code", "kept"), [("n\n", 1, True), ("y\n", 0, False)])
def test_reset_at_a_terminal_asks(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  answer: str, code: int, kept: bool) -> None:
    monkeypatch.setattr("espkit.cli.app.stdin_is_terminal", lambda: True)
    db = filled(tmp_path / "s.db")
    result = run("--sandbox-db", str(db), "sandbox", "reset", input=answer)
    assert result.exit_code == code, result.output
    assert str(db) in result.stderr  # the question names the file
    assert db.exists() is kept


@pytest.mark.parametrize("content", [b"version: 1\n", b"", b"SQLite format 3\x00garbage"])
def test_reset_refuses_a_file_that_is_not_a_sandbox(run: Run, tmp_path: Path,
                                                    content: bytes) -> None:
    other = tmp_path / "fleet.yaml"
    other.write_bytes(content)
    result = run("--sandbox-db", str(other), "sandbox", "reset", "--yes")
    assert result.exit_code == 2
    assert "sandbox" in result.stderr
    assert other.read_bytes() == content


def test_reset_refuses_another_applications_database(run: Run, tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (text)")
    before = other.read_bytes()
    result = run("--sandbox-db", str(other), "sandbox", "reset", "--yes")
    assert result.exit_code == 2
    assert other.read_bytes() == before


@pytest.mark.parametrize("where", ["missing.db", ":memory:"])
def test_reset_with_nothing_to_reset_is_not_an_error(run: Run, tmp_path: Path,
                                                     where: str) -> None:
    result = run("--sandbox-db", where, "sandbox", "reset")  # no --yes needed: nothing to ask
    assert result.exit_code == 0, result.output
    assert "nothing to reset" in result.stdout
    assert not (tmp_path / "missing.db").exists()


# -- the demo says where its sandbox lives ---------------------------------------------------


def test_demo_says_where_its_sandbox_is_and_how_to_reset_it(run: Run, tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = run("--sandbox-db", str(db), "demo", "--customers", "1")
    assert result.exit_code == 0, result.output
    assert "provisioning" not in result.stdout  # the progress bar is stderr's
    text = " ".join(result.stdout.split())
    assert f"The sandbox keeps this fleet in {db}" in text
    assert f"Start afresh with: espkit --sandbox-db {db} sandbox reset --yes" in text
    # re-running adopts what is there; the reset it names empties it
    assert run("--sandbox-db", str(db), "demo", "--customers", "1").exit_code == 0
    assert len(names(run, "--sandbox-db", str(db))) == 2
    assert run("--sandbox-db", str(db), "sandbox", "reset", "--yes").exit_code == 0
    assert names(run, "--sandbox-db", str(db)) == []


def test_demo_on_the_default_sandbox_names_the_plain_reset(run: Run, home: Path) -> None:
    result = run("demo", "--customers", "1", "--no-progress")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert str(home / "sandbox.db") in text
    assert text.endswith("Start afresh with: espkit sandbox reset --yes")


def test_demo_in_memory_keeps_nothing_and_names_no_reset(run: Run) -> None:
    result = run("--sandbox-db", ":memory:", "demo", "--customers", "1")
    assert result.exit_code == 0, result.output
    assert "nothing was kept" in result.stdout
    assert "reset" not in result.stdout


def test_demo_json_names_its_sandbox(run: Run, tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    result = run("--sandbox-db", db, "-o", "json", "demo", "--customers", "1")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["sandbox"] == {"path": db, "reset": f"espkit --sandbox-db {db} sandbox reset"}
    assert len(report["domains"]) == 2


def test_demo_without_progress_shows_none(run: Run, tmp_path: Path) -> None:
    quiet = run("--sandbox-db", str(tmp_path / "demo.db"), "demo", "--customers", "1",
                "--no-progress")
    assert quiet.exit_code == 0, quiet.output
    assert "provisioning" not in quiet.stdout + quiet.stderr


def test_the_reset_hint_quotes_a_path_a_shell_would_split(home: Path) -> None:
    assert reset_hint(str(home / "sandbox.db")) == "espkit sandbox reset"
    assert reset_hint("my dir/s.db") == "espkit --sandbox-db 'my dir/s.db' sandbox reset"
    assert reset_hint("s.db") == "espkit --sandbox-db s.db sandbox reset"
