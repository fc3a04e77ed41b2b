"""``espkit ramp ...`` on two sandbox files: the capacity plan, readiness of the new side,
status from its delivery stats, and the decisions written to the ramp state file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

import espkit
from espkit.ramp import load_export, load_state, state_path

FLEET = """\
version: 1
default_connection: old
connections:
  old: {{provider: sandbox, path: old.db, like: mailgun}}
  new: {{provider: sandbox, path: new.db, like: mailgun}}
pools:
  mkt-old: {{connection: old, ips: [198.51.100.1]}}
  mkt-new: {{connection: new, ips: [{new_ips}]}}
streams:
  news: {{connection: old, pool: mkt-old, domain: "news.{{domain}}"}}
  news-new: {{connection: new, pool: mkt-new, domain: "news.{{domain}}"}}
customers:
  - {{name: acme, domain: acme.com, streams: [news, news-new]}}
ramps:
  move:
    from: old
    to: new
    streams: {{news: news-new}}
    steps: [10%, 50%, 100%]
    start: 2026-03-02
    salt: "test-salt-0123456789"
    daily_volume: {{news: {volume}}}
    warmup: sparkpost-manual
    guardrails: {{max_bounce_rate: 2%, max_complaint_rate: 0.1%, min_sent: 100,
                 window_days: 1}}
"""


@pytest.fixture
def fleet_path(tmp_path: Path) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(new_ips="198.51.100.10, 198.51.100.11", volume=1000))
    return path


def test_plan_flags_a_day_over_capacity_with_the_fix(run, tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(new_ips="198.51.100.10", volume=10_000))
    result = run("ramp", "plan", str(path), columns=200)
    assert result.exit_code == 3, result.output
    assert "OVER" in result.stdout
    assert "over" in result.stdout  # the chart's flag
    assert "IP" in result.stdout  # the fix names IPs or a slower ramp
    as_json = json.loads(run("ramp", "plan", str(path), "-o", "json").stdout)
    days = as_json["days"]
    assert [d["share"] for d in days] == [100_000, 500_000, 1_000_000]
    assert days[0]["new_volume"] == 1000
    assert days[0]["old_volume"] == 9000
    assert any(d["over"] for d in days)


def test_plan_within_capacity_exits_0(run, fleet_path: Path) -> None:
    result = run("ramp", "plan", str(fleet_path), "--days", "2", columns=200)
    assert result.exit_code == 0, result.output
    assert "OVER" not in result.stdout


def _ready_the_new_side(fleet_path: Path) -> None:
    from espkit import fleet

    f = fleet.load(fleet_path)
    report = fleet.apply_fleet(f)
    assert report.ok, report.summary()
    with espkit.connect("sandbox", path=str(fleet_path.parent / "new.db")) as acct:
        acct.domains.verify("news.acme.com")


def test_check_says_what_keeps_the_new_side_from_taking_traffic(run, fleet_path) -> None:
    before = run("ramp", "check", str(fleet_path), "-o", "json")
    assert before.exit_code == 3, before.output
    problems = json.loads(before.stdout)["problems"]
    assert any("news.acme.com" in p for p in problems)
    assert any("mkt-new" in p for p in problems)
    _ready_the_new_side(fleet_path)
    after = run("ramp", "check", str(fleet_path))
    assert after.exit_code == 0, after.output
    assert "is ready" in after.stdout


def _sends(fleet_path: Path, day: str, sent: int, bounced: int) -> None:
    with espkit.connect("sandbox", path=str(fleet_path.parent / "new.db")) as acct:
        acct.provider.record_sends(  # type: ignore[attr-defined]
            "news.acme.com", sent, at=day, ip="198.51.100.10", pool="mkt-new",
            bounced_hard=bounced)


def test_advance_hold_resume_rollback_go_to_the_state_file(run, fleet_path) -> None:
    path = str(fleet_path)
    refused = run("ramp", "advance", path, "--on", "2026-03-02")
    assert refused.exit_code == 2, refused.output  # the new side is not ready
    assert "not ready" in refused.output
    _ready_the_new_side(fleet_path)
    _sends(fleet_path, "2026-03-02", 1000, 20)  # 2 %: at the max, passes
    ok = run("ramp", "advance", path, "--on", "2026-03-02", "--by", "ops", "--note", "day 1")
    assert ok.exit_code == 0, ok.output
    assert "step 2 of 3, 50%" in ok.stdout
    _sends(fleet_path, "2026-03-03", 1000, 21)  # 2.1 %: over
    status = run("ramp", "status", path, "--on", "2026-03-03")
    assert status.exit_code == 3, status.output
    assert "BREACHED" in status.stdout
    breached = run("ramp", "advance", path, "--on", "2026-03-03")
    assert breached.exit_code == 2
    assert "bounce rate" in breached.output
    assert run("ramp", "hold", path, "--on", "2026-03-03", "--note", "bounces").exit_code == 0
    back = run("ramp", "rollback", path, "--on", "2026-03-03")
    assert back.exit_code == 0, back.output
    assert "step 1 of 3, 10%" in back.stdout
    assert "held" in back.stdout
    assert run("ramp", "resume", path, "--on", "2026-03-04").exit_code == 0
    forced = run("ramp", "advance", path, "--on", "2026-03-04", "--override")
    assert forced.exit_code == 0, forced.output
    state = load_state(state_path(path))
    actions = [(d.action.value, d.step, d.forced) for d in state.decisions]
    assert actions == [("advance", 2, False), ("hold", 2, False), ("rollback", 1, False),
                       ("resume", 1, False), ("advance", 2, False)]
    assert state.decisions[0].by == "ops"


def test_route_and_export(run, fleet_path: Path, tmp_path: Path) -> None:
    got = run("ramp", "route", str(fleet_path), "acme", "news", "ana@example.com",
              "--on", "2026-03-02", "-o", "json")
    assert got.exit_code == 0, got.output
    route = json.loads(got.stdout)
    assert route["connection"] in {"old", "new"}
    assert route["from_domain"] == "news.acme.com"
    target = tmp_path / "routing.json"
    done = run("ramp", "export", str(fleet_path), "--out", str(target))
    assert done.exit_code == 0, done.output
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600  # it holds the salt
    assert "test-salt" not in done.stdout
    definition = load_export(target.read_text())
    assert definition is not None


def test_an_unknown_ramp_is_refused_naming_the_ramps(run, fleet_path: Path) -> None:
    result = run("ramp", "status", str(fleet_path), "--ramp", "nope")
    assert result.exit_code == 2
    assert "no ramp 'nope'" in result.output
    assert "ramps: move" in result.output


def test_a_bad_day_is_refused_before_anything_is_read(run, fleet_path: Path) -> None:
    result = run("ramp", "status", str(fleet_path), "--on", "2026-02-30")
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


def test_route_names_a_mailgun_pool_by_its_id(run, fleet_path: Path) -> None:
    _ready_the_new_side(fleet_path)
    with espkit.connect("sandbox", path=str(fleet_path.parent / "old.db")) as acct:
        pool_id = next(p.id for p in acct.pools.list() if p.name == "mkt-old")
    assert pool_id
    got = json.loads(run("ramp", "route", str(fleet_path), "acme", "news", "ana@example.com",
                         "--on", "2026-03-01", "-o", "json").stdout)  # before the start: old
    assert got["connection"] == "old"
    assert got["options"] == {"o:sending-ip-pool": pool_id}
