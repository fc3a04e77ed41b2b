"""``espkit bulk --rate-limit`` takes what ``rate_limit=`` takes: requests a second, or a
count per window; what espkit cannot read is a usage error naming it, before any request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import espkit
from espkit.cli import app as cli_app


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    real = cli_app.connect

    def recording(provider: str, **options: Any) -> espkit.Account:
        seen.append(options)
        return real(provider, **options)

    monkeypatch.setattr(cli_app, "connect", recording)
    return seen


@pytest.mark.parametrize(("given", "passed"), [
    ("300/min", "300/min"), ("500/10s", "500/10s"), ("12.5", 12.5), ("0.01", 0.01),
])
def test_a_rate_or_a_window_reaches_the_connection(
        run: Callable[..., Result], tmp_path: Path, opened: list[dict[str, Any]],
        given: str, passed: object) -> None:
    src = tmp_path / "names.txt"
    src.write_text("a.example.org\nb.example.org\n")
    result = run("bulk", "create", str(src), "--no-progress", "--rate-limit", given)
    assert result.exit_code == 0, result.output
    assert opened[-1]["rate_limit"] == passed


@pytest.mark.parametrize("given", ["300/fortnight", "0", "-1", "abc", "0/min", "nan"])
def test_a_budget_espkit_cannot_read_is_a_usage_error(
        run: Callable[..., Result], tmp_path: Path, opened: list[dict[str, Any]],
        given: str) -> None:
    src = tmp_path / "names.txt"
    src.write_text("a.example.org\n")
    result = run("bulk", "create", str(src), "--no-progress", "--rate-limit", given)
    assert result.exit_code == 2
    assert given in result.output
    assert opened == []                              # no account was even opened
