"""`espkit bulk ...` against a sandbox file, as a person or a script runs it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import espkit


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
        from espkit.bulk import Journal

        with Journal(str(journal)) as j:
            j.bind({"operation": "create", "provider": "sandbox"})
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
    assert run("bulk", "delete", str(src), input="n\n").exit_code == 1  # aborted
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
