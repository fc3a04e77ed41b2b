from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from espkit import providers
from espkit.cli import cli
from espkit.transport import ratelimit

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SPECS = SHARED / "specs"


@pytest.fixture(autouse=True)
def _fresh_limiters(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Limiters and retry budgets are process-wide by design; isolate tests from each other.
    A developer's exported ESPKIT_LIMITER_URL must not put the suite on their Redis (the
    Redis tests set it themselves)."""
    monkeypatch.delenv(ratelimit.ENV_LIMITER_URL, raising=False)
    # a developer's own opt-ins must not widen what the fleet-file tests allow
    for name in ("ESPKIT_ALLOW_HOSTS", "ESPKIT_ALLOW_ENV", "ESPKIT_ALLOW_KEYRING_SERVICES",
                 "ESPKIT_ALLOW_PATHS"):
        monkeypatch.delenv(name, raising=False)
    ratelimit.reset_shared()
    yield
    ratelimit.reset_shared()


@pytest.fixture(autouse=True)
def _restore_registry() -> Iterator[None]:
    """Providers registered by a test module do not leak into other tests (or the CLI)."""
    with providers.registry_snapshot():
        yield


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Record instead of performing every sleep espkit asks for (retries, limiter waits)."""
    recorded: list[float] = []
    skipped = [0.0]
    real_monotonic = time.monotonic

    def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)
        skipped[0] += seconds

    # the limiters' clock moves on by every skipped sleep, so a wait they ask for is over
    monkeypatch.setattr(time, "sleep", fake_sleep)
    ratelimit.set_default_clock(lambda: real_monotonic() + skipped[0])
    yield recorded
    ratelimit.set_default_clock(None)


@pytest.fixture
def sandbox_db(tmp_path: Path) -> str:
    """A sandbox state file of the test's own."""
    return str(tmp_path / "cli-sandbox.db")


@pytest.fixture
def run(sandbox_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> Callable[..., Result]:
    """``run("domains", "list")``: the espkit command line on the test's sandbox file, as a
    user runs it from a shell (in the test's own directory, where files it writes by default
    land); ``columns`` is the terminal width rich lays tables out in."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ESPKIT_PROVIDER", raising=False)
    monkeypatch.delenv("ESPKIT_SANDBOX_DB", raising=False)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, columns: int = 80) -> Result:
        return runner.invoke(cli, ["--sandbox-db", sandbox_db, *args], input=input,
                             env={"COLUMNS": str(columns)})

    return invoke


@pytest.fixture
def spec_dir() -> Path:
    """The official ESP specs beside the repository. A checkout without them skips the spec
    tests with this reason; CI (ESPKIT_REQUIRE_SPECS=1) fails instead, since it always has
    them and a silent skip would pass unchecked requests."""
    if not SPECS.is_dir():
        reason = f"official ESP specs not found at {SPECS} (they live in ../shared/specs)"
        if os.environ.get("ESPKIT_REQUIRE_SPECS") == "1":
            pytest.fail(f"{reason} (ESPKIT_REQUIRE_SPECS=1)")
        pytest.skip(reason)
    return SPECS


_SKIPPED: list[pytest.TestReport] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _SKIPPED.append(report)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With ESPKIT_NO_SKIPS=1 (CI sets it) a single skipped test fails the run: CI has every
    server and file the suite needs, so a skip there is a test that did not run."""
    if _SKIPPED and os.environ.get("ESPKIT_NO_SKIPS") == "1" and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Every skip is counted and named at the end of a run, so none passes unnoticed."""
    terminalreporter.write_line(f"espkit: {len(_SKIPPED)} test(s) skipped")
    for report in _SKIPPED:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        terminalreporter.write_line(f"  skipped {report.nodeid}: {reason}")
    if _SKIPPED and os.environ.get("ESPKIT_NO_SKIPS") == "1":
        terminalreporter.write_line("ESPKIT_NO_SKIPS=1: a skipped test fails this run",
                                    red=True)
