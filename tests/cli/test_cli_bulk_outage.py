"""`espkit bulk ... --max-outage` and what the progress display says while a run waits out an
outage of its ESP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import espkit.cli.bulk as cli_bulk
from espkit.bulk import Bulk, Progress
from espkit.cli.progress import ProgressBar


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments of every ``Bulk`` the command line makes."""
    seen: list[dict[str, Any]] = []

    def recording(*args: Any, **kwargs: Any) -> Bulk:
        seen.append(kwargs)
        return Bulk(*args, **kwargs)

    monkeypatch.setattr(cli_bulk, "Bulk", recording)
    return seen


@pytest.fixture
def names(tmp_path: Path) -> str:
    src = tmp_path / "names.txt"
    src.write_text("a.example.org\nb.example.org\n")
    return str(src)


def test_max_outage_is_taken_before_or_after_the_subcommand(run, names: str,
                                                            made: list[dict[str, Any]]) -> None:
    after = run("-o", "json", "bulk", "create", names, "--max-outage", "30")
    assert after.exit_code == 0, after.output
    assert json.loads(after.stdout)["counts"] == {"created": 2}
    before = run("-o", "json", "bulk", "--max-outage", "0", "delete", names, "--yes")
    assert before.exit_code == 0, before.output
    default = run("-o", "json", "bulk", "verify", names)
    assert default.exit_code in (0, 1), default.output
    assert [m["max_outage"] for m in made] == [30.0, 0.0, 300.0]


@pytest.mark.parametrize("bad", ["-1", "nan", "604801", "soon"])
def test_a_bad_max_outage_exits_2_before_anything_is_sent(run, names: str, bad: str,
                                                          made: list[dict[str, Any]]) -> None:
    result = run("bulk", "create", names, "--max-outage", bad)
    assert result.exit_code == 2
    assert "--max-outage" in result.stderr
    assert made == []


def _progress(waiting: str | None) -> Progress:
    return Progress(operation="create", total=10, done=4, failed=0, throttled=1, requests=5,
                    elapsed=3.0, waiting=waiting)


def test_the_progress_display_says_what_the_run_is_waiting_for() -> None:
    bar = ProgressBar()
    bar.update(_progress(None))
    assert bar.task is not None
    assert bar.bar.tasks[0].fields["extra"] == "429s 1  failed 0"
    bar.update(_progress("ESP unreachable since 12:01:03, probing every 8 s (last: [red]x)"))
    extra = bar.bar.tasks[0].fields["extra"]
    assert "waiting: ESP unreachable since 12:01:03, probing every 8 s" in extra
    assert r"\[red]x" in extra  # the ESP's text is shown, never run as markup
    bar.update(_progress(None))  # the ESP answers again
    assert bar.bar.tasks[0].fields["extra"] == "429s 1  failed 0"
