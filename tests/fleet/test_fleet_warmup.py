"""``warmup:`` on pools and streams: what the loader accepts and refuses (with lines), which
IPs it covers, and the plan and apply that start and stop the ESP's warmups, counted in
requests on the sandbox."""

from __future__ import annotations

import textwrap
from datetime import date

import pytest

import espkit
from espkit import fleet
from espkit.errors import FleetFileError, Unsupported
from espkit.fleet import Action, Kind, Problem, WarmupSpec, apply, plan

HEAD = """\
version: 1
connections:
  main: {provider: sandbox, path: ":memory:"}
"""  # 3 lines


def problems(text: str) -> list[Problem]:
    with pytest.raises(FleetFileError) as info:
        fleet.loads(HEAD + textwrap.dedent(text))
    return info.value.problems


def test_auto_off_and_a_schedule_load_with_their_lines() -> None:
    f = fleet.loads(HEAD + textwrap.dedent("""\
        pools:
          mkt: {ips: [192.0.2.10, 192.0.2.11], warmup: auto}
          txn: {ips: [192.0.2.20], warmup: "off"}
          new: {ips: [192.0.2.30], warmup: {schedule: sendgrid-hourly, started: 2026-12-01}}
        streams:
          news: {pool: mkt}
          bulk: {ips: [192.0.2.40], warmup: {schedule: conservative}}
        """))
    pools = {p.name: p for p in f.pools}
    assert pools["mkt"].warmup == WarmupSpec("auto")
    assert pools["mkt"].warmup.line == 5
    assert pools["txn"].warmup == WarmupSpec("off")
    assert pools["new"].warmup == WarmupSpec("schedule", "sendgrid-hourly", date(2026, 12, 1))
    assert f.streams["news"].warmup is None  # the pool's, not the stream's own
    assert f.streams["bulk"].warmup == WarmupSpec("schedule", "conservative")
    covered = f.warmups("main")
    assert covered == {
        "192.0.2.10": (WarmupSpec("auto"), "pool mkt"),
        "192.0.2.11": (WarmupSpec("auto"), "pool mkt"),
        "192.0.2.20": (WarmupSpec("off"), "pool txn"),
        "192.0.2.30": (WarmupSpec("schedule", "sendgrid-hourly", date(2026, 12, 1)),
                       "pool new"),
        "192.0.2.40": (WarmupSpec("schedule", "conservative"), "stream bulk"),
    }
    assert f.warmups("elsewhere") == {}


def test_a_stream_may_repeat_its_pools_warmup_but_not_contradict_it() -> None:
    same = fleet.loads(HEAD + textwrap.dedent("""\
        pools:
          mkt: {ips: [192.0.2.10], warmup: auto}
        streams:
          news: {pool: mkt, warmup: auto}
        """))
    assert same.streams["news"].warmup == WarmupSpec("auto")
    (p,) = problems("""\
        pools:
          mkt: {ips: [192.0.2.10], warmup: auto}
        streams:
          news: {pool: mkt, warmup: "off"}
        """)
    assert p.line == 7
    assert "disagrees with pool 'mkt'" in p.message
    assert "line 5" in p.message


def test_a_stream_warmup_needs_ips_to_warm() -> None:
    (p,) = problems("""\
        streams:
          news: {warmup: auto}
        """)
    assert p.line == 5
    assert "warms up nothing" in p.message


@pytest.mark.parametrize(("value", "needle"), [
    ("fast", "warmup"),
    ("{started: 2026-12-01}", "schedule"),
    ("{schedule: conservative, pace: 2}", "pace"),
    ("{schedule: sendgrid-hourl}", "sendgrid-hourly"),  # did you mean
    ("{schedule: conservative, started: 2026-13-01}", "!!timestamp"),
    ("{schedule: conservative, started: \"2026-13-01\"}", "not a day"),
    ("{schedule: conservative, started: 2026-12-01T10:00:00}", "not a day"),
    ("{schedule: conservative, started: yesterday}", "not a day"),
])
def test_bad_warmups_are_refused_with_their_line(value: str, needle: str) -> None:
    found = problems(f"""\
        pools:
          mkt:
            ips: [192.0.2.10]
            warmup: {value}
        """)
    assert found, value
    assert any(needle in p.message for p in found), [str(p) for p in found]
    assert all(p.line in (5, 6, 7) for p in found), [str(p) for p in found]


# -- plan and apply on the sandbox ---------------------------------------------------------------


def _fleet(ips: list[str], mode: str) -> fleet.Fleet:
    warm = "auto" if mode == "auto" else ('"off"' if mode == "off" else
                                           "{schedule: conservative}")
    return fleet.loads(HEAD + textwrap.dedent(f"""\
        pools:
          mkt: {{ips: [{ips[0]}, {ips[1]}], warmup: {warm}}}
          txn: {{ips: [{ips[2]}]}}
        """))


def _ips(acct: espkit.Account) -> list[str]:
    return [ip.address for ip in acct.ips.list() if ":" not in ip.address]


def _writes(acct: espkit.Account) -> list[tuple[str, str, int | str]]:
    return [h for h in acct.provider.emulator.history  # type: ignore[attr-defined]
            if h[0] != "GET"]


def test_auto_plans_a_start_per_ip_not_warming_and_applies_to_zero(acct) -> None:
    ips = _ips(acct)
    acct.ips.start_warmup(ips[1])  # already warming: left alone
    f = _fleet(ips, "auto")
    before = len(_writes(acct))
    p = plan(f, {"main": acct})
    assert len(_writes(acct)) == before  # a plan changes nothing
    warm = [c for c in p.changes if c.kind is Kind.WARMUP]
    assert [(c.action, c.name) for c in warm] == [(Action.START, ips[0])]
    assert "warmup: auto" in warm[0].reason
    assert "pool mkt" in warm[0].reason
    assert p.counts()["start"] == 1
    assert p.counts()["stop"] == 0
    assert "1 warmup(s) to start, 0 to stop" in p.summary()
    report = apply(p, {"main": acct})
    assert report.ok
    assert acct.ips.warmup_status(ips[0]).warming
    assert not acct.ips.warmup_status(ips[2]).warming  # no warmup declared: untouched
    assert [c for c in plan(f, {"main": acct}).changes if c.kind is Kind.WARMUP] == []


@pytest.mark.parametrize("mode", ["off", "schedule"])
def test_off_and_a_schedule_stop_the_esps_warmup(acct, mode: str) -> None:
    ips = _ips(acct)
    acct.ips.start_warmup(ips[0])
    acct.ips.start_warmup(ips[2])  # not covered by the declaration
    f = _fleet(ips, mode)
    p = plan(f, {"main": acct})
    warm = [(c.action, c.name) for c in p.changes if c.kind is Kind.WARMUP]
    assert warm == [(Action.STOP, ips[0])]
    assert apply(p, {"main": acct}).ok
    assert not acct.ips.warmup_status(ips[0]).warming
    assert acct.ips.warmup_status(ips[2]).warming
    assert [c for c in plan(f, {"main": acct}).changes if c.kind is Kind.WARMUP] == []


def test_the_plan_reads_warmups_in_one_request(acct) -> None:
    ips = _ips(acct)
    f = _fleet(ips, "auto")
    history = acct.provider.emulator.history  # type: ignore[attr-defined]
    start = len(history)
    plan(f, {"main": acct})
    warmup_reads = [h for h in list(history)[start:] if h[0] == "GET" and "warmup" in h[1]]
    assert len(warmup_reads) == 1


def test_no_warmup_declared_reads_no_warmups(acct) -> None:
    ips = _ips(acct)
    f = fleet.loads(HEAD + f"pools:\n  mkt: {{ips: [{ips[0]}]}}\n")
    history = acct.provider.emulator.history  # type: ignore[attr-defined]
    start = len(history)
    plan(f, {"main": acct})
    assert not [h for h in list(history)[start:] if "warmup" in h[1]]


def test_auto_on_an_esp_without_warmups_is_refused_before_anything_is_sent() -> None:
    with espkit.connect("sandbox", path=":memory:", like="postmark") as acct:
        f = fleet.loads(HEAD + "pools:\n  mkt: {ips: [192.0.2.10], warmup: auto}\n")
        with pytest.raises(Unsupported):
            plan(f, {"main": acct})


def test_espkit_plan_and_apply_show_warmup_changes(run, tmp_path) -> None:
    from espkit.fleet import Action as A

    path = tmp_path / "fleet.yaml"
    path.write_text("version: 1\nconnections:\n  main: {provider: sandbox}\n"
                    "pools:\n  mkt: {ips: [198.51.100.1], warmup: auto}\n")
    shown = run("plan", str(path), columns=200)
    assert shown.exit_code == 0, shown.output
    assert "start" in shown.stdout
    assert "198.51.100.1" in shown.stdout
    assert "1 warmup(s) to start" in shown.stdout
    applied = run("apply", str(path), "--yes", columns=200)
    assert applied.exit_code == 0, applied.output
    assert "no changes" in run("plan", str(path), columns=400).stdout
    assert {a.value for a in A} >= {"start", "stop"}
