"""`espkit domains verify` against a sandbox file: one name as before, many names, --wait,
--from-file, exit codes, JSON and the table."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import espkit
from espkit.cli import app as cli_app
from espkit.cli import cli
from espkit.cli import verify as cli_verify
from espkit.sandbox import FakeClock
from espkit.testing import emulator

ZONE = "verify.example"


@pytest.fixture
def sandbox_db(tmp_path: Path) -> str:
    return str(tmp_path / "sandbox.db")


@pytest.fixture
def run(sandbox_db: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ESPKIT_PROVIDER", raising=False)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, ["--sandbox-db", sandbox_db, *args], input=input)

    return invoke


def create(sandbox_db: str, *names: str, dns_in: float = 0.0,
           clock: FakeClock | None = None) -> None:
    """Create domains in the sandbox file whose DNS the sandbox sees ``dns_in`` seconds from
    now, on ``clock`` or the real one (it judges propagation from the creation time, so
    these are created "later")."""
    now = time.time() if clock is None else clock.time()
    with espkit.connect("sandbox", path=sandbox_db, clock=FakeClock(start=now + dns_in)) as acct:
        for name in names:
            acct.domains.create(name)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """One fake clock for the sandbox the command opens and for its ``--wait``: the waits
    take no time, and the rounds fall where the schedule puts them however busy the
    machine is (on the real clock a slow first round could see DNS that should only
    propagate by the second)."""
    fake = FakeClock()
    connect = cli_app.connect
    wait = cli_verify.wait_until_verified

    def on_the_clock(provider: str, **options: Any) -> espkit.Account:
        return connect(provider, clock=fake, **options)

    def waiting_on_the_clock(*args: Any, **kwargs: Any) -> Any:
        return wait(*args, sleep=fake.sleep, clock=fake.monotonic, **kwargs)

    monkeypatch.setattr(cli_app, "connect", on_the_clock)
    monkeypatch.setattr(cli_verify, "wait_until_verified", waiting_on_the_clock)
    return fake


def report_of(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def outcomes(result: Result) -> dict[str, str]:
    return {r["domain"]: r["outcome"] for r in report_of(result)["results"]}


GOOD = [f"ok{i}.{ZONE}" for i in range(3)]
STUCK = f"stuck.{ZONE}"
MISSING = f"missing.{ZONE}"
NEVER = 10**6  # seconds until the stuck domain's DNS propagates


# -- one name: its records in the table, the report in JSON ------------------------------------


def test_one_name_without_wait_prints_the_domain_as_before(run, sandbox_db: str) -> None:
    create(sandbox_db, GOOD[0])
    create(sandbox_db, STUCK, dns_in=NEVER)
    ok = run("-o", "json", "domains", "verify", GOOD[0])
    assert ok.exit_code == 0, ok.output
    assert outcomes(ok) == {GOOD[0]: "verified"}  # the report: a list even of one
    late = run("-o", "json", "domains", "verify", STUCK)
    assert late.exit_code == 1
    assert outcomes(late) == {STUCK: "pending"}
    table = run("domains", "verify", STUCK)
    assert table.exit_code == 1
    assert "_domainkey" in table.stdout
    assert "pending" in table.stdout


# -- several names, one check --------------------------------------------------------------


def test_several_names_are_checked_once_with_a_report(run, sandbox_db: str) -> None:
    create(sandbox_db, *GOOD)
    create(sandbox_db, STUCK, dns_in=NEVER)
    result = run("-o", "json", "domains", "verify", *GOOD, STUCK, MISSING, GOOD[0].upper())
    assert result.exit_code == 1, result.output
    data = report_of(result)
    assert data["rounds"] == 1
    assert data["counts"] == {"verified": 3, "pending": 1, "failed": 1}
    assert outcomes(result) == {**dict.fromkeys(GOOD, "verified"), STUCK: "pending",
                                MISSING: "failed"}
    stuck = next(r for r in data["results"] if r["domain"] == STUCK)
    assert {r["purpose"] for r in stuck["failing"]} == {"spf", "dkim", "mx", "tracking"}
    missing = next(r for r in data["results"] if r["domain"] == MISSING)
    assert missing["error"]["type"] == "NotFound"

    all_good = run("-o", "json", "domains", "verify", *GOOD)
    assert all_good.exit_code == 0
    assert report_of(all_good)["ok"] is True


def test_the_table_names_stuck_domains_their_records_and_the_next_step(run, sandbox_db: str
                                                                      ) -> None:
    create(sandbox_db, *GOOD)
    create(sandbox_db, STUCK, dns_in=NEVER)
    result = run("domains", "verify", "--no-progress", *GOOD, STUCK, MISSING)
    assert result.exit_code == 1
    text = result.stdout
    for name in [*GOOD, STUCK, MISSING]:
        assert name in text
    for word in ("pending", "failed", "NotFound"):
        assert word in text
    assert "_domainkey" in text  # the stuck domain's records (hosts fold in the table)
    assert "3 of 5 domain(s) verified, 1 pending, 1 failed" in text
    assert "espkit dns check" in text
    assert result.stderr == ""  # --no-progress


def test_big_fleets_list_only_the_domains_not_verified(run, sandbox_db: str) -> None:
    fleet = [f"d{i:03d}.{ZONE}" for i in range(60)]
    create(sandbox_db, *fleet)
    create(sandbox_db, STUCK, dns_in=NEVER)
    result = run("domains", "verify", "--no-progress", *fleet, STUCK)
    assert result.exit_code == 1
    assert STUCK in result.stdout
    assert fleet[0] not in result.stdout
    assert "60 verified domain(s) not listed" in result.stdout


# -- --wait ----------------------------------------------------------------------------------


def test_wait_polls_until_all_are_verified(run, sandbox_db: str, clock: FakeClock) -> None:
    create(sandbox_db, *GOOD, dns_in=0.3, clock=clock)
    result = run("-o", "json", "domains", "verify", "--wait", "--poll", "0.1",
                 "--timeout", "20", *GOOD)
    assert result.exit_code == 0, result.output
    data = report_of(result)
    assert data["ok"] is True
    # checks at 0, 0.1, 0.25 and 0.475 s (each wait 1.5 times the last): DNS is seen at 0.3
    assert data["rounds"] == 4
    assert all(r["checks"] == 4 for r in data["results"])
    assert all(r["verified_after_s"] == pytest.approx(0.475) for r in data["results"])


def test_wait_reports_what_is_still_pending_at_the_deadline(run, sandbox_db: str,
                                                           clock: FakeClock) -> None:
    create(sandbox_db, *GOOD, clock=clock)
    create(sandbox_db, STUCK, dns_in=NEVER, clock=clock)
    result = run("-o", "json", "domains", "verify", "--wait", "--poll", "0.1",
                 "--timeout", "0.5", *GOOD, STUCK)
    assert result.exit_code == 1
    data = report_of(result)
    assert data["counts"] == {"verified": 3, "pending": 1, "failed": 0}
    # checks at 0, 0.1, 0.25, 0.475 and the last at the deadline
    assert data["rounds"] == 5
    stuck = next(r for r in data["results"] if r["domain"] == STUCK)
    assert stuck["checks"] == 5
    assert len(stuck["failing"]) == 5
    assert data["elapsed_s"] == pytest.approx(0.5)


def test_wait_shows_progress_on_stderr_and_the_table_on_stdout(run, sandbox_db: str,
                                                              clock: FakeClock) -> None:
    create(sandbox_db, *GOOD, clock=clock)
    create(sandbox_db, STUCK, dns_in=NEVER, clock=clock)
    result = run("domains", "verify", "--wait", "--poll", "0.02", "--timeout", "0.05",
                 *GOOD, STUCK)
    assert result.exit_code == 1
    assert "verified" in result.stderr
    assert "round" in result.stderr
    assert "waiting" in result.stderr
    assert "3 of 4 domain(s) verified, 1 pending, 0 failed" in result.stdout
    assert "round" not in result.stdout.split("verification")[0]  # no progress on stdout


def test_the_old_interval_option_still_works(run, sandbox_db: str) -> None:
    create(sandbox_db, GOOD[0])
    result = run("-o", "json", "domains", "verify", "--wait", "--interval", "1", GOOD[0])
    assert result.exit_code == 0, result.output
    assert report_of(result)["ok"]
    slow = run("-o", "json", "domains", "verify", "--wait", "--poll", "900", GOOD[0])
    assert slow.exit_code == 0, slow.output  # a first wait above the 300 s cap is allowed
    clash = run("domains", "verify", "--wait", "--interval", "1", "--poll", "2", GOOD[0])
    assert clash.exit_code == 2
    assert "old name of --poll" in clash.stderr


# -- --from-file ------------------------------------------------------------------------------


def test_names_from_a_file_and_the_command_line(run, sandbox_db: str, tmp_path: Path) -> None:
    create(sandbox_db, *GOOD)
    text = tmp_path / "names.txt"
    text.write_text(f"# the fleet\n{GOOD[0]}\n{GOOD[1]}\n\n{GOOD[0]}\n")
    result = run("-o", "json", "domains", "verify", "--from-file", str(text), GOOD[2])
    assert result.exit_code == 0, result.output
    assert list(outcomes(result)) == [GOOD[2], GOOD[0], GOOD[1]]

    table = tmp_path / "fleet.csv"
    table.write_text(f"name,pool\n{GOOD[0]},mkt\n{MISSING},mkt\n")
    from_csv = run("-o", "json", "domains", "verify", "--from-file", str(table))
    assert from_csv.exit_code == 1
    assert outcomes(from_csv) == {GOOD[0]: "verified", MISSING: "failed"}

    stdin = run("-o", "json", "domains", "verify", "--from-file", "-", input=f"{GOOD[1]}\n")
    assert stdin.exit_code == 0
    assert outcomes(stdin) == {GOOD[1]: "verified"}


# -- bad input, fatal errors, Ctrl-C --------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["domains", "verify"],
    ["domains", "verify", "bad/name.example", GOOD[0]],
    ["domains", "verify", "--wait", "--timeout", "0", GOOD[0]],
    ["domains", "verify", "--wait", "--poll", "-1", GOOD[0]],
    ["domains", "verify", "--wait", "--timeout", "soon", GOOD[0]],
    ["domains", "verify", "--from-file", "no-such-file.txt"],
])
def test_bad_input_exits_2_before_anything_is_sent(run, sandbox_db: str,
                                                   args: list[str]) -> None:
    create(sandbox_db, GOOD[0])
    before = run("-o", "json", "domains", "show", GOOD[0])
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    # nothing was verified: the domain is as it was
    assert run("-o", "json", "domains", "show", GOOD[0]).stdout == before.stdout


def test_bad_names_are_all_named(run) -> None:
    result = run("domains", "verify", "bad/name.example", "localhost", GOOD[0])
    assert result.exit_code == 2
    assert "2 bad item(s)" in result.stderr
    assert "item 1" in result.stderr
    assert "item 2" in result.stderr


def test_bad_credentials_are_one_line_and_exit_1(run, sandbox_db: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    create(sandbox_db, *GOOD)
    real = cli_app.connect

    def revoked(provider: str, **options: Any) -> espkit.Account:
        acct = real(provider, **options)
        emulator(acct).revoke_key("sandbox")
        return acct

    monkeypatch.setattr(cli_app, "connect", revoked)
    result = run("domains", "verify", "--wait", *GOOD)
    assert result.exit_code == 1
    assert "authentication failed" in result.stderr
    assert "Traceback" not in result.output


def test_ctrl_c_prints_what_is_known_and_exits_130(run, sandbox_db: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    create(sandbox_db, *GOOD)
    create(sandbox_db, STUCK, dns_in=NEVER)
    real = cli_verify.wait_until_verified

    def interrupted_in_the_first_wait(*args: Any, **kwargs: Any) -> Any:
        def ctrl_c(seconds: float) -> None:
            raise KeyboardInterrupt
        return real(*args, sleep=ctrl_c, **kwargs)

    monkeypatch.setattr(cli_verify, "wait_until_verified", interrupted_in_the_first_wait)
    result = run("-o", "json", "domains", "verify", "--wait", *GOOD, STUCK)
    assert result.exit_code == 130
    data = report_of(result)
    assert data["interrupted"] is True
    assert data["counts"] == {"verified": 3, "pending": 1, "failed": 0}
    assert "stopped by Ctrl-C in round 1" in result.stderr
