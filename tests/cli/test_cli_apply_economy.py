"""``espkit apply`` reads each account once for plan and apply: on Mailgun's wire-level fake,
applying N new domains in two pools costs N creates plus a constant, not a pool listing per
create, and the same as ``espkit.fleet.apply_fleet`` does for the same file."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.fakes.mailgun import KEY, MailgunFake

from espkit import fleet
from espkit.cli import cli


def fleet_text(customers: int) -> str:
    rows = "".join(f"  - {{name: c{i}, domain: c{i}.economy.example.com}}\n"
                   for i in range(customers))
    return ("version: 1\nconnections:\n  main: {provider: mailgun, region: us, "
            "credentials: env/ECONOMY_MAILGUN_KEY}\n"
            "pools:\n  mkt: {ips: [203.0.113.10]}\n  txn: {ips: [203.0.113.11]}\n"
            "streams:\n  marketing: {pool: mkt, domain: 'news.{domain}'}\n"
            "  transactional: {pool: txn, domain: 'mail.{domain}'}\n"
            f"customers:\n{rows}")


@pytest.fixture
def fake(sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> Iterator[MailgunFake]:
    monkeypatch.setenv("ECONOMY_MAILGUN_KEY", KEY)
    with MailgunFake() as f:
        yield f


def by_kind(log: list[tuple[str, str]]) -> collections.Counter[str]:
    return collections.Counter(f"{m} {'/'.join(p.split('/')[:3])}" for m, p in log)


def apply_cli(tmp_path: Path, customers: int) -> None:
    path = tmp_path / f"fleet{customers}.yaml"
    path.write_text(fleet_text(customers))
    result = CliRunner().invoke(cli, ["apply", str(path), "--yes", "--no-progress",
                                      "--allow-env", "ECONOMY_MAILGUN_KEY"])
    assert result.exit_code == 0, result.output


def test_apply_costs_one_create_per_domain_plus_a_constant(
        fake: MailgunFake, tmp_path: Path) -> None:
    extra = {}
    for customers in (5, 40):
        with MailgunFake() as each:
            apply_cli(tmp_path, customers)
            domains = 2 * customers
            assert len(each.domains) == domains
            kinds = by_kind(each.log)
            assert kinds["POST /v4/domains"] == domains
            assert kinds["GET /v3/ip_pools"] == 1     # the plan's listing serves the apply
            extra[customers] = len(each.log) - domains
    assert extra[5] == extra[40]                      # the constant does not grow with N
    assert extra[5] <= 12


def test_the_cli_costs_what_apply_fleet_costs(fake: MailgunFake, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(fleet_text(10))
    result = CliRunner().invoke(cli, ["apply", str(path), "--yes", "--no-progress",
                                      "--allow-env", "ECONOMY_MAILGUN_KEY"])
    assert result.exit_code == 0, result.output
    cli_requests = len(fake.log)
    with MailgunFake() as other:
        loaded = fleet.load(path, trust=fleet.Trust(env=["ECONOMY_MAILGUN_KEY"]))
        assert fleet.apply_fleet(loaded).ok
        assert len(other.log) == cli_requests
