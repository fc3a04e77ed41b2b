"""``espkit stats`` and ``espkit ips warmup ...`` on a sandbox file: what they print, the JSON
they give scripts, and the mistakes they refuse before asking the ESP."""

from __future__ import annotations

import json

import pytest

import espkit


def _ip(sandbox_db: str) -> str:
    with espkit.connect("sandbox", path=sandbox_db) as acct:
        return next(i.address for i in acct.ips.list() if ":" not in i.address)


def _record(sandbox_db: str, ip: str, days: dict[str, int]) -> None:
    with espkit.connect("sandbox", path=sandbox_db) as acct:
        if not any(d.name == "news.acme.example" for d in acct.domains.list()):
            acct.domains.create("news.acme.example")
        for day, sent in days.items():
            acct.provider.record_sends(  # type: ignore[attr-defined]
                "news.acme.example", sent, at=day, ip=ip, bounced_hard=sent // 50,
                complained=min(1, sent))


def test_stats_json_has_rates_and_none_never_stands_for_zero(run, sandbox_db: str) -> None:
    ip = _ip(sandbox_db)
    _record(sandbox_db, ip, {"2026-11-20": 1000, "2026-11-21": 0})
    result = run("stats", "--since", "2026-11-20", "--until", "2026-11-21", "--ip", ip,
                 "-o", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["period"][:10] for r in rows] == ["2026-11-20", "2026-11-21"]
    assert rows[0]["sent"] == 1000
    assert rows[0]["bounced_hard"] == 20
    assert rows[0]["bounce_rate"] == pytest.approx(0.02)
    assert rows[0]["complaint_rate"] == pytest.approx(0.001)
    assert rows[1]["sent"] == 0
    assert rows[1]["bounce_rate"] is None  # nothing sent: no rate, not 0 %
    assert "cap" not in rows[0]


def test_stats_charts_against_a_schedule_and_flags_a_day_over_its_cap(
        run, sandbox_db: str) -> None:
    ip = _ip(sandbox_db)
    cap1 = espkit.warmup.schedule("sparkpost-auto").cap(1)
    cap2 = espkit.warmup.schedule("sparkpost-auto").cap(2)
    assert cap1 is not None
    assert cap2 is not None
    _record(sandbox_db, ip, {"2026-11-20": cap1, "2026-11-21": cap2 + 1})
    result = run("stats", "--since", "2026-11-20", "--until", "2026-11-21", "--ip", ip,
                 "--schedule", "sparkpost-auto", columns=160)
    assert result.exit_code == 0, result.output
    chart = result.stdout.split("sent against sparkpost-auto's cap:")[1].strip().splitlines()
    assert chart[0].startswith("2026-11-20")
    assert chart[0].endswith(f"{cap1:,} / {cap1:,}")  # at the cap: not over
    assert chart[1].endswith(f"{cap2 + 1:,} / {cap2:,}  over")
    as_json = json.loads(run("stats", "--since", "2026-11-20", "--until", "2026-11-21",
                             "--ip", ip, "--schedule", "sparkpost-auto", "--ips", "3",
                             "-o", "json").stdout)
    assert [r["cap"] for r in as_json] == [cap1 * 3, cap2 * 3]


@pytest.mark.parametrize(("args", "needle"), [
    (["--since", "2026-11-22", "--until", "2026-11-21"], "before since"),
    (["--since", "yesterday", "--until", "2026-11-21"], "since"),
    (["--until", "2026-13-01"], "until"),
    (["--since", "2026-11-20", "--until", "2026-11-21", "--domain", "x.example",
      "--ip", "192.0.2.1"], "one of"),
    (["--since", "2026-11-20", "--until", "2026-11-21", "--schedule", "fast"], "schedule"),
    (["--since", "2026-11-20", "--until", "2026-11-21", "--schedule", "conservative",
      "--resolution", "hour"], "per day"),
])
def test_stats_refuses_mistakes_with_exit_2_before_asking(
        run, sandbox_db: str, args: list[str], needle: str) -> None:
    result = run("stats", *args)
    assert result.exit_code == 2, result.output
    assert needle in result.output


def test_stats_defaults_to_the_last_seven_days(run) -> None:
    result = run("stats", "-o", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 7
    days = [r["period"][:10] for r in rows]
    assert days == sorted(days)


def test_warmup_start_status_list_stop(run, sandbox_db: str) -> None:
    ip = _ip(sandbox_db)
    started = run("ips", "warmup", "start", ip, "-o", "json")
    assert started.exit_code == 0, started.output
    (w,) = json.loads(started.stdout)
    assert (w["ip"], w["state"], w["stage"]) == (ip, "warming", 1)
    table = run("ips", "warmup", "status", ip, columns=160)
    assert table.exit_code == 0, table.output
    assert ip in table.stdout
    assert "warming" in table.stdout
    listed = json.loads(run("ips", "warmup", "list", "-o", "json").stdout)
    assert {x["ip"]: x["state"] for x in listed}[ip] == "warming"
    stopped = json.loads(run("ips", "warmup", "stop", ip, "-o", "json").stdout)
    assert stopped[0]["state"] == "not_started"


def test_warmup_refuses_a_bad_ip_and_stage_before_asking(run) -> None:
    assert run("ips", "warmup", "start", "999.1.1.1").exit_code == 2
    result = run("ips", "warmup", "start", "198.51.100.1", "--stage", "0")
    assert result.exit_code == 2
    assert "stage" in result.output
