"""The espkit command against the sandbox, the way a person or a script runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from espkit.cli import cli


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    db = str(tmp_path / "sandbox.db")
    monkeypatch.delenv("ESPKIT_PROVIDER", raising=False)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, ["--sandbox-db", db, *args], input=input)

    return invoke


def test_domain_lifecycle_in_json(run) -> None:
    created = run("-o", "json", "domains", "create", "news.acme.example", "--dkim-key-size",
                  "2048")
    assert created.exit_code == 0, created.output
    data = json.loads(created.output)
    assert data["name"] == "news.acme.example"
    purposes = {r["purpose"] for r in data["dns_records"]}
    assert {"spf", "dkim"} <= purposes
    assert "raw" not in data

    listed = json.loads(run("-o", "json", "domains", "list").output)
    assert [d["name"] for d in listed] == ["news.acme.example"]

    shown = run("domains", "show", "news.acme.example")
    assert shown.exit_code == 0
    assert "_domainkey" in shown.output  # long hosts fold across lines at 80 columns
    assert "dkim" in shown.output

    deleted = run("domains", "delete", "news.acme.example", "--yes")
    assert deleted.exit_code == 0
    missing = run("domains", "show", "news.acme.example")
    assert missing.exit_code == 1
    assert "not found" in missing.output
    assert "Traceback" not in missing.output


def test_bad_input_is_one_line_with_exit_code_2(run) -> None:
    result = run("domains", "create", "bad/name.example")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "invalid domain 'bad/name.example'" in lines[0]


def test_delete_off_a_terminal_needs_yes(run) -> None:
    run("domains", "create", "mail.acme.example")
    refused = run("domains", "delete", "mail.acme.example", input="y\n")  # piped: no answer
    assert refused.exit_code == 2
    assert "pass --yes to delete mail.acme.example from sandbox" in refused.stderr
    assert "Aborted" not in refused.output
    assert run("domains", "show", "mail.acme.example").exit_code == 0


def test_pools_assign_and_assignments(run) -> None:
    ips = json.loads(run("-o", "json", "ips", "list").output)
    first, second = ips[0]["address"], ips[1]["address"]
    assert run("pools", "create", "marketing", "--ip", first).exit_code == 0
    added = json.loads(run("-o", "json", "pools", "add-ip", "marketing", second).output)
    assert set(added["ips"]) == {first, second}
    removed = json.loads(run("-o", "json", "pools", "remove-ip", "marketing", second).output)
    assert removed["ips"] == [first]

    run("domains", "create", "news.acme.example")
    assigned = run("assign", "news.acme.example", "--pool", "marketing")
    assert assigned.exit_code == 0, assigned.output
    current = json.loads(run("-o", "json", "assignments", "news.acme.example").output)
    assert current == [{"domain": "news.acme.example", "kind": "pool", "target": "marketing",
                        "provider": "sandbox"}]
    assert run("unassign", "news.acme.example", "--pool", "marketing").exit_code == 0
    assert json.loads(run("-o", "json", "assignments", "news.acme.example").output) == []
    assert run("pools", "delete", "marketing", "--yes").exit_code == 0
    assert json.loads(run("-o", "json", "pools", "list").output) == []


def test_assign_needs_exactly_one_target(run) -> None:
    run("domains", "create", "news.acme.example")
    result = run("assign", "news.acme.example")
    assert result.exit_code == 2
    assert "give exactly one of --pool POOL and --ip IP (neither given)" in result.stderr
    assert "None" not in result.output


def test_subaccounts_and_scoping(run) -> None:
    sub = json.loads(run("-o", "json", "subaccounts", "create", "customer-42").output)
    assert sub["name"] == "customer-42"
    assert sub["enabled"] is True
    disabled = json.loads(run("-o", "json", "subaccounts", "disable", sub["id"]).output)
    assert disabled["enabled"] is False
    enabled = json.loads(run("-o", "json", "subaccounts", "enable", sub["id"]).output)
    assert enabled["enabled"] is True
    assert json.loads(run("-o", "json", "subaccounts", "show", sub["id"]).output)["id"] == sub["id"]

    scoped = run("--subaccount", sub["id"], "domains", "create", "mail.customer42.example")
    assert scoped.exit_code == 0, scoped.output
    parent = json.loads(run("-o", "json", "domains", "list").output)
    child = json.loads(run("--subaccount", sub["id"], "-o", "json", "domains", "list").output)
    assert [d["name"] for d in child] == ["mail.customer42.example"]
    assert "mail.customer42.example" not in [d["name"] for d in parent]


def test_verify_exit_code_tracks_state(run) -> None:
    run("domains", "create", "news.acme.example")
    result = run("-o", "json", "domains", "verify", "news.acme.example")
    [only] = json.loads(result.output)["results"]
    assert (result.exit_code == 0) == (only["outcome"] == "verified")


def test_capabilities_matrix_lists_every_provider(run) -> None:
    data = json.loads(run("-o", "json", "capabilities").stdout)
    assert {"sandbox", "mailgun"} <= set(data)
    assert "domains" in data["sandbox"]
    table = run("capabilities")
    header = table.stdout.splitlines()[1]
    for name in data:  # every provider's name stays whole, however many there are
        assert f" {name} " in header


def test_unknown_provider_is_a_config_error(run) -> None:
    result = run("-p", "nosuchesp", "domains", "list")
    assert result.exit_code == 2
    assert "unknown provider 'nosuchesp'" in result.output


def test_missing_mailgun_key_names_where_it_looked(
    run, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring
    from keyring.backends.fail import Keyring as FailKeyring

    monkeypatch.delenv("MAILGUN_API_KEY", raising=False)
    monkeypatch.delenv("ESPKIT_MAILGUN_API_KEY", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    try:
        result = run("-p", "mailgun", "domains", "list")
    finally:
        keyring.set_keyring(previous)
    assert result.exit_code == 2
    assert "$MAILGUN_API_KEY" in result.output
    assert "espkit login mailgun" in result.output


def test_login_stores_key_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    stored: dict[tuple[str, str], str] = {}
    import keyring

    monkeypatch.setattr(keyring, "set_password",
                        lambda s, u, p: stored.__setitem__((s, u), p))
    result = CliRunner().invoke(cli, ["login", "mailgun", "--key-stdin"],
                                input="key-supersecret-123\n")
    assert result.exit_code == 0, result.output
    assert stored == {("espkit", "mailgun"): "key-supersecret-123"}
    assert "supersecret" not in result.output


def test_demo_provisions_a_fleet_idempotently(run) -> None:
    first = run("-o", "json", "demo", "--customers", "3")
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert len(report["domains"]) == 6
    assert {d["stream"] for d in report["domains"]} == {"marketing", "transactional"}
    assert report["http"]["throttled"] == 1
    assert report["pools"]["marketing"]
    assert report["pools"]["transactional"]
    assert not set(report["pools"]["marketing"]) & set(report["pools"]["transactional"])

    again = run("-o", "json", "demo", "--customers", "3")
    assert again.exit_code == 0, again.output
    names = [d["name"] for d in json.loads(run("-o", "json", "domains", "list").output)]
    assert len(names) == len(set(names)) == 6

    table = run("demo", "--customers", "2")
    assert table.exit_code == 0
    assert "news.acme.example" in table.output
    assert "rate-limited (429) and retried" in table.output
