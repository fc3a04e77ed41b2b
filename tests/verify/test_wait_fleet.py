"""Waiting for a whole fleet file to verify on the sandbox: customers in subaccounts, a
stuck subaccount domain, declared domains that were never applied, two connections waited
concurrently against one deadline, Ctrl-C and fatal errors across them, and
`espkit domains verify --wait --fleet`."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.clitext import flat, write
from support.hang import HANG, within

import espkit
from espkit import fleet as fleet_file
from espkit.account import Account
from espkit.fleet import apply, plan
from espkit.sandbox import FakeClock
from espkit.testing import emulator
from espkit.verify import (
    NOT_APPLIED,
    VerificationInterrupted,
    VerificationReport,
    WaitProgress,
    wait_for_fleet,
)


def fleet_text(connections: dict[str, str], customers: int, *, sub_every: int = 3,
               options: str = "") -> str:
    """A fleet of ``customers`` x 2 streams; every ``sub_every``-th customer in a subaccount
    of its own; customers spread over the connections in turn. ``connections``: name ->
    sandbox path ("" for none: the CLI's --sandbox-db)."""
    conns = []
    for name, path in connections.items():
        where = f', path: "{path}"' if path else ""
        conns.append(f"  {name}: {{provider: sandbox{where}{options}}}")
    rows = []
    names = list(connections)
    for n in range(customers):
        extra = ", template: enterprise" if sub_every and n % sub_every == 0 else ""
        if len(names) > 1:
            extra += f", connection: {names[n % len(names)]}"
        rows.append(f"  - {{name: cust{n}, domain: cust{n}.example.com{extra}}}")
    default = f"default_connection: {names[0]}\n" if len(names) > 1 else ""
    return (
        "version: 1\nconnections:\n" + "\n".join(conns) + "\n" + default
        + 'ownership: {domains: ["*.example.com"]}\n'
        + "streams:\n"
        + '  marketing: {domain: "news.{domain}"}\n'
        + '  transactional: {domain: "mail.{domain}"}\n'
        + "templates:\n"
        + '  enterprise: {streams: [marketing, transactional], subaccount: "{customer}"}\n'
        + "customers:\n" + "\n".join(rows) + "\n"
    )


def load(text: str, tmp_path: Path) -> fleet_file.Fleet:
    return fleet_file.loads(text, source="fleet.yaml", base_dir=tmp_path)


def applied(fleet: fleet_file.Fleet, accounts: dict[str, Account]) -> None:
    report = apply(plan(fleet, accounts), accounts)
    assert report.ok, report.summary()


class Sandbox:
    """One sandbox file on a fake clock, with the waiter's sleep and clock on the same time."""

    def __init__(self, tmp_path: Path, **options: Any) -> None:
        self.clock = FakeClock()
        self.path = str(tmp_path / "sandbox.db")
        self.acct = espkit.connect("sandbox", path=self.path, clock=self.clock, **options)
        self.emu = emulator(self.acct)
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.sleep(seconds)

    def wait(self, fleet: fleet_file.Fleet, **options: Any) -> VerificationReport:
        return wait_for_fleet(fleet, {"sandbox": self.acct}, sleep=self.sleep,
                              clock=self.clock.monotonic, **options)

    def sub_ids(self) -> dict[str, str]:
        return {s.name: s.id for s in self.acct.subaccounts.list()}

    def verifies(self, since: int = 0) -> list[tuple[str, int | str]]:
        return [(path, status) for method, path, status in list(self.emu.history)[since:]
                if method == "PUT" and path.endswith("/verify")]


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path, verify_delay=20)
    yield box
    box.acct.close()


# -- one connection, several scopes ----------------------------------------------------------


def test_a_fleet_with_customers_in_subaccounts_all_verifies(sb: Sandbox, tmp_path: Path
                                                              ) -> None:
    fleet = load(fleet_text({"sandbox": sb.path}, 12), tmp_path)
    applied(fleet, {"sandbox": sb.acct})
    declared = list(fleet.domains())
    assert len(declared) == 24
    assert sum(1 for d in declared if d.subaccount) == 8
    ids = sb.sub_ids()
    history = len(sb.emu.history)

    report = sb.wait(fleet, poll=15)

    assert report.ok
    assert report.summary() == "all 24 domain(s) verified (3 rounds, 38 s)"
    assert sb.slept == pytest.approx([15, 22.5])
    assert [r.domain for r in report.results] == [d.name for d in declared]
    for r, d in zip(report.results, declared, strict=True):
        assert r.subaccount_name == d.subaccount
        assert r.subaccount == (ids[d.subaccount] if d.subaccount else None)
        assert r.checks == 3
    verifies = sb.verifies(history)
    assert len(verifies) == 3 * 24
    assert {status for _, status in verifies} == {200}  # each asked in its own scope
    # the listing (subaccounts, then the main account and the 4 subaccounts) counts too
    assert report.requests == len(sb.emu.history) - history == 3 * 24 + 1 + 5
    rows = report.to_dict()["results"]
    assert "subaccount" not in rows[2]
    assert rows[0]["subaccount"] == ids["cust0"]
    assert rows[0]["subaccount_name"] == "cust0"


def test_a_stuck_domain_in_a_subaccount_is_pending_with_its_scope_and_records(
        tmp_path: Path) -> None:
    sb = Sandbox(tmp_path, verify_delay=1010)
    fleet = load(fleet_text({"sandbox": sb.path}, 6), tmp_path)
    applied(fleet, {"sandbox": sb.acct})
    ids = sb.sub_ids()
    stuck = "mail.cust3.example.com"
    scoped = sb.acct.on_behalf_of(ids["cust3"])
    scoped.domains.delete(stuck)
    sb.clock.advance(1000)  # the others see their DNS at 1010 s; the re-created one at 2010
    scoped.domains.create(stuck)

    report = sb.wait(fleet, timeout=300, poll=15)

    assert report.counts() == {"verified": 11, "pending": 1, "failed": 0}
    late = report.pending[0]
    assert late.domain == stuck
    assert late.subaccount == ids["cust3"]
    assert late.subaccount_name == "cust3"
    assert late.failing
    assert late.failing == tuple(r for r in scoped.domains.get(stuck).dns_records
                                 if not r.valid)
    assert late.checks == report.rounds
    assert report.elapsed == pytest.approx(300)
    assert f"{stuck} (subaccount cust3): spf TXT" in report.summary()
    row = next(r for r in report.to_dict()["results"] if r["domain"] == stuck)
    assert (row["subaccount"], row["subaccount_name"], row["outcome"]) == (
        ids["cust3"], "cust3", "pending")
    assert len(row["failing"]) == len(late.failing)


def test_declared_but_not_applied_is_failed_without_a_request_for_it(sb: Sandbox,
                                                                     tmp_path: Path) -> None:
    applied(load(fleet_text({"sandbox": sb.path}, 6), tmp_path), {"sandbox": sb.acct})
    gone = "news.cust3.example.com"
    sb.acct.on_behalf_of(sb.sub_ids()["cust3"]).domains.delete(gone)
    bigger = load(fleet_text({"sandbox": sb.path}, 9), tmp_path)  # cust6 (own sub), 7, 8 new
    history = len(sb.emu.history)

    report = sb.wait(bigger)

    missing = {"news.cust6.example.com", "mail.cust6.example.com", "news.cust7.example.com",
               "mail.cust7.example.com", "news.cust8.example.com", "mail.cust8.example.com",
               gone}
    assert report.counts() == {"verified": 11, "pending": 0, "failed": 7}
    assert {r.domain for r in report.failed} == missing
    assert [r.domain for r in report.results] == [d.name for d in bigger.domains()]
    for r in report.failed:
        assert isinstance(r.error, espkit.NotFound)
        assert NOT_APPLIED in str(r.error)
        assert r.checks == 0
    by_name = {r.domain: r for r in report.results}
    assert "subaccount cust6 (of domain news.cust6.example.com) is not in the account: run " \
           "espkit apply first" in str(by_name["news.cust6.example.com"].error)
    assert by_name["news.cust6.example.com"].subaccount is None  # it has no id yet
    assert by_name["news.cust6.example.com"].subaccount_name == "cust6"
    assert f"domain {gone} (subaccount cust3) is not in the account" in str(by_name[gone].error)
    assert by_name[gone].subaccount == sb.sub_ids()["cust3"]
    assert "domain news.cust7.example.com is not in the account" in str(
        by_name["news.cust7.example.com"].error)
    sent = list(sb.emu.history)[history:]
    assert not [path for _, path, _ in sent if any(name in path for name in missing)]
    assert report.rounds == 3  # at 0, 15 and 37.5 s: the DNS is there at 20
    assert "news.cust6.example.com (subaccount cust6): NotFound" in report.summary()


def test_names_restrict_the_wait_and_an_undeclared_name_sends_nothing(sb: Sandbox,
                                                                      tmp_path: Path) -> None:
    fleet = load(fleet_text({"sandbox": sb.path}, 6), tmp_path)
    applied(fleet, {"sandbox": sb.acct})
    history = len(sb.emu.history)
    report = sb.wait(fleet, names=["MAIL.cust4.example.com.", "news.cust3.example.com"])
    assert [r.domain for r in report.results] == ["news.cust3.example.com",
                                                  "mail.cust4.example.com"]  # fleet order
    assert report.ok
    assert [r.subaccount_name for r in report.results] == ["cust3", None]
    assert len(sb.verifies(history)) == 2 * report.rounds

    history = len(sb.emu.history)
    with pytest.raises(espkit.ValidationError) as info:
        sb.wait(fleet, names=["news.cust3.example.com", "news.other.example.com", "bad/name"])
    text = str(info.value)
    assert "not declared in fleet.yaml: news.other.example.com" in text
    assert "bad/name" in text
    assert "nothing was sent" in text
    with pytest.raises(espkit.ValidationError):
        sb.wait(fleet, names="news.cust3.example.com")
    with pytest.raises(espkit.ValidationError) as bad:
        sb.wait(fleet, poll=0)
    assert bad.value.field == "poll"
    assert len(sb.emu.history) == history


def test_a_connection_without_an_account_is_a_config_error(sb: Sandbox, tmp_path: Path
                                                           ) -> None:
    fleet = load(fleet_text({"sandbox": sb.path}, 2), tmp_path)
    with pytest.raises(espkit.ConfigError, match="no account given for connection"):
        wait_for_fleet(fleet, {})


def test_with_no_accounts_it_opens_and_closes_the_fleets_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = load(fleet_text({"sandbox": str(tmp_path / "own.db")}, 4), tmp_path)
    with espkit.connect("sandbox", path=str(tmp_path / "own.db")) as acct:
        applied(fleet, {"sandbox": acct})
    opened: list[Account] = []
    connect = fleet_file.Connection.connect

    def recorded(self: fleet_file.Connection) -> Account:
        opened.append(connect(self))
        return opened[-1]

    monkeypatch.setattr(fleet_file.Connection, "connect", recorded)
    report = wait_for_fleet(fleet)
    assert report.ok
    assert len(report.results) == 8
    assert len(opened) == 1
    assert emulator(opened[0]).closed


# -- several connections ------------------------------------------------------------------------


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[fleet_file.Fleet, dict[str, Account]]]:
    """A fleet over two sandbox files (connections a and b), applied; every domain's DNS
    is far off until a test sets the emulators' verify_delay to 0."""
    paths = {"a": str(tmp_path / "a.db"), "b": str(tmp_path / "b.db")}
    fleet = load(fleet_text(paths, 8), tmp_path)
    accounts = {n: espkit.connect("sandbox", path=p, verify_delay=10**6)
                for n, p in paths.items()}
    applied(fleet, accounts)
    yield fleet, accounts
    for acct in accounts.values():
        acct.close()


def test_two_connections_are_waited_concurrently(two: tuple[fleet_file.Fleet,
                                                            dict[str, Account]]) -> None:
    fleet, accounts = two
    # both connections must be between rounds at the same time to get past the barrier:
    # waited one after the other, the first would wait for the second in vain
    barrier = threading.Barrier(2, timeout=HANG)  # a bound on a hang
    sleepers: list[str] = []

    def sleep(seconds: float) -> None:
        sleepers.append(threading.current_thread().name)
        if len(sleepers) <= 2:
            barrier.wait()
        for acct in accounts.values():
            emulator(acct).verify_delay = 0
        time.sleep(seconds)

    seen: list[WaitProgress] = []
    report = wait_for_fleet(fleet, accounts, poll=0.05, sleep=sleep, on_progress=seen.append)

    assert report.ok
    assert report.rounds == 2
    assert sorted(set(sleepers)) == ["espkit-wait-a", "espkit-wait-b"]
    declared = list(fleet.domains())
    assert [r.domain for r in report.results] == [d.name for d in declared]  # interleaved
    assert {d.connection for d in declared[:4]} == {"a", "b"}
    assert sum(1 for r in report.results if r.subaccount) == 6
    for acct in accounts.values():
        assert {s for _, p, s in emulator(acct).history if p.endswith("/verify")} == {200}
    # progress sums over both connections
    assert all(p.total == 16 and p.verified + p.pending + p.failed == 16 for p in seen)
    assert seen[-1].verified == 16


class Lockstep:
    """A fake clock for connections waiting in threads of their own: a sleep waits for
    every connection's, then the clock moves on once by what they asked (the same seconds:
    one schedule, one deadline). Waited one after the other, the first connection's sleep
    would wait in vain for the second's; the barrier breaks after ``HANG`` seconds."""

    def __init__(self, connections: int) -> None:
        self.clock = FakeClock()
        self.asked: list[float] = []
        self.barrier = threading.Barrier(connections, action=self._advance, timeout=HANG)

    def _advance(self) -> None:
        assert len(set(self.asked)) == 1, self.asked
        self.clock.advance(self.asked[0])
        self.asked.clear()

    def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        self.barrier.wait()


def test_two_connections_share_one_deadline(two: tuple[fleet_file.Fleet,
                                                       dict[str, Account]]) -> None:
    fleet, accounts = two
    steps = Lockstep(2)
    report = wait_for_fleet(fleet, accounts, timeout=1.0, poll=0.25, backoff=1,
                            sleep=steps.sleep, clock=steps.clock.monotonic)
    assert report.counts() == {"verified": 0, "pending": 16, "failed": 0}
    assert all(r.failing for r in report.pending)
    # rounds at 0, 0.25, 0.5, 0.75 and the last at the shared deadline, 1 s after the start,
    # in both connections at once
    assert report.rounds == 5
    assert {r.checks for r in report.results} == {5}
    assert report.elapsed == 1.0


def test_ctrl_c_in_one_connection_stops_both_with_the_report_so_far(
        two: tuple[fleet_file.Fleet, dict[str, Account]]) -> None:
    fleet, accounts = two

    def interrupt(p: WaitProgress) -> None:
        if p.round >= 2 and not p.checking and p.next_check_in is not None:
            raise KeyboardInterrupt

    # the other connection's wait is stopped, not left to its deadline (60 s): it ends within
    # the hang bound (30 s), in fact at once
    with pytest.raises(VerificationInterrupted) as info:
        within(lambda: wait_for_fleet(fleet, accounts, timeout=60, poll=0.1, backoff=1,
                                      on_progress=interrupt))
    report = info.value.report
    assert report.interrupted
    assert len(report.results) == 16
    assert [r.domain for r in report.results] == [d.name for d in fleet.domains()]
    assert report.counts()["pending"] == 16
    assert report.rounds >= 2


def test_bad_credentials_on_one_connection_raise_and_stop_the_other(
        two: tuple[fleet_file.Fleet, dict[str, Account]]) -> None:
    fleet, accounts = two
    emulator(accounts["b"]).revoke_key("sandbox")
    # a's wait was stopped, not left to its deadline (60 s): it ends within the hang bound
    with pytest.raises(espkit.AuthError):
        within(lambda: wait_for_fleet(fleet, accounts, timeout=60, poll=0.1, backoff=1))


# -- the command line -----------------------------------------------------------------------


def test_cli_waits_for_the_fleet_on_the_global_sandbox_db(run, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    run = functools.partial(run, columns=200)  # a wide terminal: no folded cells
    fleet = write(tmp_path, fleet_text({"sandbox": ""}, 6))  # no path: --sandbox-db
    assert run("apply", fleet, "--yes", "--no-progress").exit_code == 0

    done = run("-o", "json", "domains", "verify", "--wait", "--fleet", fleet, "--poll", "0.1")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["ok"] is True
    assert data["total"] == 12
    assert data["results"][0]["domain"] == "news.cust0.example.com"
    assert data["results"][0]["subaccount_name"] == "cust0"
    assert "subaccount" not in data["results"][2]

    some = run("-o", "json", "domains", "verify", "--wait", "--fleet", fleet,
               "mail.cust5.example.com", "news.cust3.example.com")
    assert some.exit_code == 0, some.output
    assert [r["domain"] for r in json.loads(some.stdout)["results"]] == [
        "news.cust3.example.com", "mail.cust5.example.com"]

    once = run("-o", "json", "domains", "verify", "--fleet", fleet)
    assert once.exit_code == 0, once.output
    assert json.loads(once.stdout)["rounds"] == 1

    table = run("domains", "verify", "--wait", "--no-progress", "--fleet", fleet)
    assert table.exit_code == 0, table.output
    assert "subaccount" in table.stdout
    assert "cust3" in table.stdout
    assert "12 of 12 domain(s) verified" in flat(table.stdout)


def test_cli_exit_codes_for_a_fleet_not_applied_stuck_or_misused(run, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    run = functools.partial(run, columns=200)  # a wide terminal: no folded cells
    small = write(tmp_path, fleet_text({"sandbox": ""}, 3, options=", verify_delay: 1000000"))
    assert run("apply", small, "--yes", "--no-progress").exit_code == 0
    bigger = write(tmp_path, fleet_text({"sandbox": ""}, 4), "bigger.yaml")

    # the small file's connection is slow to see DNS: pending at the deadline
    stuck = run("domains", "verify", "--wait", "--no-progress", "--fleet", small,
                "--timeout", "0.3", "--poll", "0.1", "news.cust0.example.com")
    assert stuck.exit_code == 1
    text = flat(stuck.stdout)
    row = next(line for line in stuck.stdout.splitlines() if "news.cust0.example.com" in line)
    assert [cell.strip() for cell in row.split("│")[1:4]] == [
        "news.cust0.example.com", "cust0", "pending"]
    assert f"espkit dns check --fleet {small} --only-problems" in text

    # the bigger file's connection sees DNS at once; cust3 was never applied
    result = run("-o", "json", "domains", "verify", "--wait", "--fleet", bigger,
                 "--timeout", "0.3", "--poll", "0.1")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["counts"] == {"verified": 6, "pending": 0, "failed": 2}
    failed = [r for r in data["results"] if r["outcome"] == "failed"]
    assert {r["domain"] for r in failed} == {"news.cust3.example.com",
                                             "mail.cust3.example.com"}
    assert failed[0]["subaccount_name"] == "cust3"
    assert failed[0]["error"]["type"] == "NotFound"
    assert NOT_APPLIED in failed[0]["error"]["message"]

    undeclared = run("domains", "verify", "--wait", "--fleet", small, "x.other.example.com")
    assert undeclared.exit_code == 2
    assert "not declared in" in flat(undeclared.stderr)
    both = run("domains", "verify", "--fleet", small, "--from-file", small)
    assert both.exit_code == 2
    scoped = run("--subaccount", "sub_1", "domains", "verify", "--fleet", small)
    assert scoped.exit_code == 2
    assert "--subaccount does not apply with --fleet" in flat(scoped.stderr)
    bad = write(tmp_path, "version: 1\nconnections: {}\n", "bad.yaml")
    assert run("domains", "verify", "--wait", "--fleet", bad).exit_code == 2

