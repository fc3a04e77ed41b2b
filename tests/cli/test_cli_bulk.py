"""`espkit bulk ...` against a sandbox file, as a person or a script runs it."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import stat
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.clitext import flat

import espkit
from espkit.bulk import ItemResult, Journal, Outcome, Report, identity_of
from espkit.bulk.journalfile import SCHEMA
from espkit.cli import cli
from espkit.cli.bulk import csv_cell, write_failed, write_private_csv


def names_on(sandbox_db: str) -> set[str]:
    with espkit.connect("sandbox", path=sandbox_db) as acct:
        return {d.name for d in acct.domains.list()}


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_create_from_csv_reports_json_and_a_rerun_skips(run, sandbox_db: str, tmp_path: Path
                                                        ) -> None:
    with espkit.connect("sandbox", path=sandbox_db) as acct:
        acct.pools.create("mkt")
    src = write_csv(tmp_path / "domains.csv", [
        {"name": "news.acme.example", "pool": "mkt", "dkim_key_size": "2048"},
        {"name": "mail.acme.example", "pool": "", "dkim_key_size": ""},
    ])
    journal = str(tmp_path / "run.db")
    first = run("-o", "json", "bulk", "--journal", journal, "create", str(src))
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["counts"] == {"created": 2}
    assert report["journal"] == journal
    assert names_on(sandbox_db) == {"news.acme.example", "mail.acme.example"}

    again = run("-o", "json", "bulk", "--journal", journal, "create", str(src))
    assert again.exit_code == 0
    assert json.loads(again.stdout)["counts"] == {"skipped": 2}

    status = run("-o", "json", "bulk", "--journal", journal, "status")
    data = json.loads(status.stdout)
    assert data["states"]["done"] == 2
    assert data["outcomes"] == {"created": 2}
    assert data["job"]["operation"] == "create"


def test_table_output_and_progress(run, tmp_path: Path) -> None:
    src = tmp_path / "names.txt"
    src.write_text("# one per line\na.example.org\nb.example.org\n")
    result = run("bulk", "create", str(src))
    assert result.exit_code == 0, result.output
    assert "created" in result.stdout
    assert "2 created of 2" in result.stdout
    assert "create" in result.stderr  # the progress bar goes to stderr


def test_bad_input_exits_2_and_sends_nothing(run, sandbox_db: str, tmp_path: Path) -> None:
    src = tmp_path / "names.txt"
    src.write_text("a.example.org\nnot a domain\n")
    result = run("bulk", "create", str(src))
    assert result.exit_code == 2
    assert "item 2" in result.stderr
    assert "'not a domain'" in result.stderr
    assert names_on(sandbox_db) == set()
    missing = run("bulk", "create", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2
    assert "nope.csv" in missing.stderr


def test_failures_exit_1_and_the_failed_file_can_be_fed_back(run, sandbox_db: str,
                                                             tmp_path: Path) -> None:
    src = tmp_path / "names.json"
    src.write_text(json.dumps(["a.example.org", "b.example.org"]))
    assert run("bulk", "create", str(src)).exit_code == 0
    journal = str(tmp_path / "assign.db")
    failed = run("-o", "json", "bulk", "-j", journal, "assign", str(src), "--pool", "txn")
    assert failed.exit_code == 1
    report = json.loads(failed.stdout)
    assert report["counts"] == {"failed": 2}
    assert report["failed"][0]["error"]["type"] == "NotFound"
    failed_file = tmp_path / "assign.failed.csv"
    assert "failed item(s) written to" in failed.stderr
    rows = list(csv.DictReader(failed_file.open()))
    assert [r["name"] for r in rows] == ["a.example.org", "b.example.org"]
    assert all(r["error_type"] == "NotFound" for r in rows)

    with espkit.connect("sandbox", path=sandbox_db) as acct:
        acct.pools.create("txn")
    retry = run("-o", "json", "bulk", "assign", str(failed_file), "--pool", "txn")
    assert retry.exit_code == 0, retry.output
    assert json.loads(retry.stdout)["counts"] == {"assigned": 2}


def test_resume_needs_a_journal_and_finishes_the_recorded_job(run, sandbox_db: str,
                                                              tmp_path: Path) -> None:
    assert run("bulk", "resume").exit_code == 2
    journal = tmp_path / "run.db"
    with espkit.connect("sandbox", path=sandbox_db) as acct:
        # a job recorded but never run (as after a kill before the first request)
        with Journal(str(journal)) as j:
            j.bind("create", identity_of(acct))
            j.add([("x.example.org", {"name": "x.example.org"})])
        assert not list(acct.domains.list())
    result = run("-o", "json", "bulk", "-j", str(journal), "resume")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"] == {"created": 1}
    assert names_on(sandbox_db) == {"x.example.org"}


def test_delete_asks_first(run, sandbox_db: str, tmp_path: Path) -> None:
    src = tmp_path / "names.txt"
    src.write_text("a.example.org\n")
    run("bulk", "create", str(src))
    refused = run("bulk", "delete", str(src), input="y\n")  # piped input is no answer
    assert refused.exit_code == 2
    assert "pass --yes to delete every domain listed in" in refused.stderr
    assert names_on(sandbox_db) == {"a.example.org"}
    result = run("-o", "json", "bulk", "delete", str(src), "--yes")
    assert json.loads(result.stdout)["counts"] == {"deleted": 1}
    assert names_on(sandbox_db) == set()


def test_verify_and_stdin(run, sandbox_db: str) -> None:
    run("bulk", "create", "-", input="a.example.org\n")
    result = run("-o", "json", "bulk", "verify", "-", input="name\na.example.org\n")
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)["counts"]
    assert counts in ({"verified": 1}, {"pending": 1})


# -- issue 12: journals belong to one account; what bulk writes is private and inert ----------


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_journal_and_the_failed_items_file_are_private(run, tmp_path: Path) -> None:
    src = tmp_path / "names.txt"
    src.write_text("a.example.org\nb.example.org\n")
    assert run("bulk", "create", str(src)).exit_code == 0
    journal = tmp_path / "assign.db"
    failed_file = tmp_path / "assign.failed.csv"
    failed_file.write_text("an earlier file, readable by everyone\n")
    os.chmod(failed_file, 0o644)
    result = run("bulk", "-j", str(journal), "assign", str(src), "--pool", "nope")
    assert result.exit_code == 1
    assert mode(journal) == 0o600
    assert mode(failed_file) == 0o600  # replaced, not written into
    assert "an earlier file" not in failed_file.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_journal_of_another_sandbox_is_refused(run, sandbox_db: str, tmp_path: Path) -> None:
    src = tmp_path / "names.txt"
    src.write_text("a.example.org\nb.example.org\n")
    journal = str(tmp_path / "run.db")
    assert run("bulk", "-j", journal, "create", str(src)).exit_code == 0
    other_db = str(tmp_path / "other.db")
    runner = CliRunner()
    result = runner.invoke(cli, ["--sandbox-db", other_db, "bulk", "-j", journal, "create",
                                 str(src)], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "belongs to sandbox at sandbox" in result.stderr
    assert "(the API host differs)" in result.stderr
    assert names_on(other_db) == set()  # the old bug: "2 skipped", nothing created


def test_an_old_journal_is_adopted_on_request(run, sandbox_db: str, tmp_path: Path) -> None:
    journal = tmp_path / "old.db"
    with sqlite3.connect(journal) as db:  # as espkit wrote journals before they named accounts
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("operation", "create"), ("provider", "sandbox"), ("version", "1")])
        db.execute("INSERT INTO items (key, payload, state, outcome) VALUES "
                   "('a.example.org', '{\"name\":\"a.example.org\"}', 'done', 'created'), "
                   "('b.example.org', '{\"name\":\"b.example.org\"}', 'pending', NULL)")
    db.close()
    refused = run("bulk", "-j", str(journal), "resume")
    assert refused.exit_code == 2
    assert "adopt" in refused.stderr
    assert names_on(sandbox_db) == set()
    adopted = run("bulk", "-j", str(journal), "adopt")
    assert adopted.exit_code == 0, adopted.output
    assert "belongs to sandbox at sandbox" in adopted.stderr
    resumed = run("-o", "json", "bulk", "-j", str(journal), "resume")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["counts"] == {"skipped": 1, "created": 1}
    assert run("bulk", "-j", str(tmp_path / "none.db"), "adopt").exit_code == 2


def test_a_tampered_journal_is_named_by_resume_and_status(run, sandbox_db: str,
                                                          tmp_path: Path) -> None:
    src = tmp_path / "names.txt"
    src.write_text("a.example.org\n")
    journal = tmp_path / "run.db"
    run("bulk", "-j", str(journal), "create", str(src))
    db = sqlite3.connect(journal)
    with db:
        db.execute("UPDATE meta SET value = '[bold]x\x1b[2J' WHERE key = 'provider'")
    db.close()
    status = run("bulk", "-j", str(journal), "status", columns=200)
    assert status.exit_code == 0, status.output
    assert "create on '[bold]x\\x1b[2J' at sandbox" in flat(status.stdout)  # text, not markup
    assert "\x1b" not in status.stdout
    refused = run("bulk", "-j", str(journal), "resume")
    assert refused.exit_code == 2
    assert "(the provider differs)" in refused.stderr
    db = sqlite3.connect(journal)
    with db:
        db.execute("UPDATE meta SET value = 'sandbox' WHERE key = 'provider'")
        db.execute("UPDATE items SET state = 'paused'")
    db.close()
    for args in (["resume"], ["status"]):
        result = run("bulk", "-j", str(journal), *args)
        assert result.exit_code == 2, args
        assert f"journal {journal} has been altered or damaged (row 1)" in result.stderr
    assert names_on(sandbox_db) == {"a.example.org"}


def test_failed_item_cells_cannot_run_as_formulas(tmp_path: Path) -> None:
    journal = Journal()
    journal.add([("a.example.org", {"name": "a.example.org"}),
                  ("b.example.org", {"name": "b.example.org", "ips": ["192.0.2.1"]})])
    journal.fail("a.example.org", ValueError('=HYPERLINK("http://evil","x")'))
    journal.fail("b.example.org", ValueError("@SUM(1+1)\ttext"))
    report = Report(operation="create", total=2, counts={"failed": 2},
                    failed=[ItemResult(k, Outcome.FAILED) for k in ("a", "b")], pending=[],
                    requests=0, throttled=0, retries=0, elapsed=0.1, concurrency=1,
                    reconciled=0, remaining=0, journal=None)
    path = tmp_path / "failed.csv"
    assert write_failed(journal, path, report) == path
    rows = list(csv.DictReader(path.open(newline="")))
    assert [r["error"] for r in rows] == ["'=HYPERLINK(\"http://evil\",\"x\")",
                                         "'@SUM(1+1)\ttext"]
    assert [r["name"] for r in rows] == ["a.example.org", "b.example.org"]  # untouched
    assert rows[1]["ips"] == "192.0.2.1"
    assert mode(path) == 0o600


FORMULA = ("=", "+", "-", "@", "\t", "\r", "\n")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40) | st.sampled_from(FORMULA).flatmap(
    lambda c: st.text(max_size=20).map(lambda t: c + t)))
def test_csv_cell_neutralises_exactly_formula_starts(text: str) -> None:
    cell = csv_cell(text)
    assert not cell.startswith(FORMULA)
    if text.startswith(FORMULA):
        assert cell == "'" + text  # shown as it was, prefixed
    else:
        assert cell == text  # harmless text is left alone


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.text(max_size=15), min_size=2, max_size=2), max_size=5))
def test_private_csv_reads_back_cell_for_cell(tmp_path: Path, rows: list[list[str]]) -> None:
    path = tmp_path / "out.csv"
    write_private_csv(path, [["name", "error"], *rows])
    with path.open(newline="", encoding="utf-8") as handle:
        back = list(csv.reader(handle))
    assert back == [["name", "error"], *([csv_cell(c) for c in r] for r in rows)]
    assert mode(path) == 0o600


def test_esp_error_text_is_shown_as_text(run, tmp_path: Path, monkeypatch) -> None:
    src = tmp_path / "names.txt"
    src.write_text("a.example.org\n")
    assert run("bulk", "create", str(src)).exit_code == 0

    def refuse(self: object, name: str, **target: str) -> None:
        raise espkit.Rejected("[red]no[/] \x1b]0;owned\x07 \x1b[2J", provider="sandbox",
                              status=400)

    monkeypatch.setattr("espkit.account.domains.Domains.assign", refuse)
    result = run("bulk", "assign", str(src), "--pool", "p", columns=200)
    assert result.exit_code == 1
    assert "[red]no[/]" in flat(result.stdout)  # markup from the ESP printed, not obeyed
    assert "\x1b" not in result.stdout
