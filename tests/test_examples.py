"""Every script in examples/ runs on the sandbox and does what it says."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> None:
    monkeypatch.setenv("ESPKIT_SANDBOX_DB", str(tmp_path / "sandbox.db"))
    monkeypatch.delenv("ESPKIT_PROVIDER", raising=False)
    monkeypatch.setattr(sys, "argv", [name, *args])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")


def test_examples_are_all_covered() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} == {
        "provision_streams.py", "customer_subaccounts.py", "wait_for_verification.py",
        "bulk_migration.py", "onboard_fleet.py", "warm_new_ips.py", "migrate_esp.py",
    }


def test_provision_streams(monkeypatch, tmp_path, capsys) -> None:
    run_example("provision_streams.py", monkeypatch, tmp_path, "acme.example")
    out = capsys.readouterr().out
    assert "== marketing: news.acme.example" in out
    assert "== transactional: mail.acme.example" in out
    assert "sends from pool marketing" in out
    assert "sends from pool transactional" in out
    # re-running adopts what exists instead of failing
    run_example("provision_streams.py", monkeypatch, tmp_path, "acme.example")
    assert "sends from pool marketing" in capsys.readouterr().out


def test_customer_subaccounts(monkeypatch, tmp_path, capsys) -> None:
    run_example("customer_subaccounts.py", monkeypatch, tmp_path, "2")
    out = capsys.readouterr().out
    assert "customer-1: mail.customer-1.example" in out
    assert "2 subaccounts in the account" in out


def test_wait_for_verification(monkeypatch, tmp_path, capsys) -> None:
    run_example("wait_for_verification.py", monkeypatch, tmp_path)
    out = capsys.readouterr().out
    assert "receipts.acme.example is verified" in out


def test_bulk_migration(monkeypatch, tmp_path, capsys) -> None:
    run_example("bulk_migration.py", monkeypatch, tmp_path, "60", str(tmp_path))
    out = capsys.readouterr().out
    assert "interrupted: stopped by Ctrl-C after" in out
    # how far the first run got before the interrupt landed depends on the machine's speed;
    # the second run created the rest (the summary omits "created" when it created none)
    summary = out.split("create: ")[1].splitlines()[0]
    created = int(summary.split(" created")[0]) if " created" in summary else 0
    skipped = int(out.split("skipped (done before the interruption): ")[1].split()[0])
    assert created + skipped == 120
    assert skipped >= 40
    assert "assign pool:marketing: 60 assigned of 60" in out
    import espkit

    with espkit.connect("sandbox", path=str(tmp_path / "sandbox.db")) as acct:
        assert sum(1 for _ in acct.domains.list()) == 120
        assert acct.domains.assignments("news.customer0.example")[0].target == "marketing"


def test_onboard_fleet(monkeypatch, tmp_path, capsys) -> None:
    run_example("onboard_fleet.py", monkeypatch, tmp_path, "30", str(tmp_path / "work"))
    out = capsys.readouterr().out
    # 2 pools + 3 enterprise subaccounts + 60 domains, then nothing left to do
    assert "65 to create" in out
    assert "Applied 65 change(s): 65 created." in out
    assert "no changes; the accounts match the fleet" in out
    assert (tmp_path / "work" / "records.zone").read_text().count("IN\tMX") == 120
    assert "all 60 domain(s) verified" in out  # the whole fleet, subaccounts included
    run_example("onboard_fleet.py", monkeypatch, tmp_path, "30", str(tmp_path / "work"))
    assert "no changes" in capsys.readouterr().out.splitlines()[0]


def test_warm_new_ips(monkeypatch, tmp_path, capsys) -> None:
    run_example("warm_new_ips.py", monkeypatch, tmp_path, "14")
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("day ")]
    assert len(lines) == 14
    # the stage moves one per sending day and the cap grows with it
    assert lines[0].startswith("day  1: stage 1/")
    assert lines[13].startswith("day 14: stage 14/")
    caps = [int(line.split("cap")[1].split()[0]) for line in lines]
    assert caps == sorted(caps)
    assert caps[0] < caps[-1]
    # nothing was sent over the cap, and the demand capped the last days
    assert "over" not in out
    assert "sent 40,000" in lines[-1]
    assert "14 days, " in out
    assert "bounce rate 1.40%" in out
    assert "warming" in out.splitlines()[-1]
