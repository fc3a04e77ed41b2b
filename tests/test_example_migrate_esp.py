"""examples/migrate_esp.py, the move of docs/cookbook-migration.md, runs on the sandbox and
tells the story the cookbook tells: 21 sending days, an advance refused on day 9 by the new
side's bounce rate, the hold, the rollback and the resume, and the ramp complete at 100 %.

It runs once for the module with 200 customers (the default 2,300 take about ten times as
long; every figure the tests read scales with the count, the decisions do not)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
import runpy
import sys
from pathlib import Path

import attrs
import pytest

from espkit import fleet
from espkit.ramp import Action, format_share, load_state, state_path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "migrate_esp.py"
FLEET = ROOT / "examples" / "migration-fleet.yaml"
COOKBOOK = ROOT / "docs" / "cookbook-migration.md"
CUSTOMERS = 200
#: messages a day: 20 sampled recipients x 2 streams per customer
DAILY = CUSTOMERS * 20 * 2
ROW = re.compile(r"^ *(\d+)  (\d{4}-\d\d-\d\d) +(\d+) +([\d.]+%) +([\d,]+) +([\d,]+) +"
                 r"([\d.]+)% +(-|[\d.]+%)  (.+)$")


@attrs.frozen
class Day:
    day: int
    on: dt.date
    step: int
    share: str
    old: int
    new: int
    bounce: float  # the new side's bounce rate of the day, in %
    guardrail: float | None  # the guardrails' reading of the morning, in %; None: not judged
    decision: str


@attrs.frozen
class Run:
    out: str
    days: tuple[Day, ...]
    workdir: Path

    def day(self, n: int) -> Day:
        return self.days[n - 1]


def run_example(workdir: Path, *args: str) -> str:
    """The example as ``python examples/migrate_esp.py ARGS`` runs it; its stdout."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setenv("ESPKIT_SANDBOX_DB", str(workdir / "sandbox.db"))
        mp.delenv("ESPKIT_PROVIDER", raising=False)
        mp.setattr(sys, "argv", [EXAMPLE.name, *args])
        runpy.run_path(str(EXAMPLE), run_name="__main__")
    return out.getvalue()


def parse(out: str) -> tuple[Day, ...]:
    days = []
    for line in out.splitlines():
        m = ROW.match(line)
        if m:
            guard = m.group(8)
            days.append(Day(int(m.group(1)), dt.date.fromisoformat(m.group(2)),
                            int(m.group(3)), m.group(4), int(m.group(5).replace(",", "")),
                            int(m.group(6).replace(",", "")), float(m.group(7)),
                            None if guard == "-" else float(guard.rstrip("%")), m.group(9)))
    return tuple(days)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    workdir = tmp_path_factory.mktemp("migration")
    out = run_example(workdir, str(CUSTOMERS), str(workdir))
    return Run(out, parse(out), workdir)


def test_the_move_takes_21_consecutive_sending_days(run: Run) -> None:
    assert [d.day for d in run.days] == list(range(1, 22))
    start = dt.date(2026, 3, 2)
    assert [d.on for d in run.days] == [start + dt.timedelta(days=n) for n in range(21)]


def test_steps_and_shares_follow_the_decisions(run: Run) -> None:
    assert [d.step for d in run.days] == [1, 2, 3, 4, 5, 6, 7, 8, 7, 7, *range(8, 19)]
    ramp = fleet.load(run.workdir / FLEET.name).ramp("to-sendgrid")
    assert [d.share for d in run.days] == [format_share(ramp.share(d.step))
                                           for d in run.days]
    assert run.day(21).share == "100%"
    assert "to-sendgrid on 2026-03-22: step 18 of 18, 100% on the new side (complete)" \
        in run.out


def test_day_9_refuses_the_advance_holds_rolls_back_and_resumes_on_recovery(run: Run) -> None:
    decisions = [d.decision for d in run.days]
    assert decisions == ["start", *["advance"] * 7,
                         "advance refused: hold, roll back to step 7",
                         "held: still breached", "resume, advance", *["advance"] * 10]
    lines = run.out.splitlines()
    refused = lines[lines.index(next(x for x in lines if x.startswith("  9  "))) + 1]
    assert re.fullmatch(r" +ramp to-sendgrid: advance to step 9 refused: bounce rate "
                        r"[\d.]+% \([\d,]+ of [\d,]+ sent\) above the max of 2%: BREACHED\. "
                        r"Hold or roll back, or advance with force", refused)
    # the state file beside the fleet file holds every decision, one a line
    state = load_state(state_path(run.workdir / FLEET.name))
    actions = [(d.on.day, d.action, d.step) for d in state.decisions]
    assert actions[6:11] == [(9, Action.ADVANCE, 8), (10, Action.HOLD, 8),
                             (10, Action.ROLLBACK, 7), (12, Action.RESUME, 7),
                             (12, Action.ADVANCE, 8)]
    assert [a for _, a, _ in actions].count(Action.ADVANCE) == 18
    assert all(d.by == "ramp-job" for d in state.decisions)


def test_both_sides_carry_the_traffic_until_the_last_day(run: Run) -> None:
    for d in run.days:
        assert d.old + d.new == DAILY, d
    assert all(d.old > 0 and d.new > 0 for d in run.days[:20])
    assert (run.day(21).old, run.day(21).new) == (0, DAILY)
    # the new side's volume follows the share: up on advances, down on the rollback
    news = [d.new for d in run.days]
    assert news[8] < news[7]
    assert news[8] == news[6] == news[9]
    assert news[10] == news[7]  # the same recipients again
    assert news[:8] == sorted(set(news[:8]))  # rising strictly
    assert news[10:] == sorted(set(news[10:]))
    for d in run.days:  # within a sampling margin of the share
        assert abs(d.new / DAILY - float(d.share.rstrip("%")) / 100) < 0.02, d
    assert f"old: {sum(d.old for d in run.days):,} messages over the 21 days" in run.out
    assert f"new: {sum(d.new for d in run.days):,} messages over the 21 days" in run.out


def test_the_new_side_bounces_more_while_warming_and_breaches_on_the_incident(
        run: Run) -> None:
    bounce = {d.day: d.bounce for d in run.days}
    assert bounce[8] > 9  # the incident's day, recorded on the new side
    assert all(b < 2 for day, b in bounce.items() if day not in (1, 8)), bounce
    # the warming IPs bounce about twice the old side's 0.7 % at first, and that fades
    assert all(1.2 < bounce[day] < 1.6 for day in range(3, 8)), bounce
    assert bounce[21] < bounce[12] < bounce[3]
    assert bounce[21] == pytest.approx(0.70, abs=0.01)
    guard = {d.day: d.guardrail for d in run.days}
    assert guard[1] is None  # nothing sent yet
    assert guard[2] is None  # too few sent to judge
    assert (guard[9] or 0) > 2  # the breach the advance is refused on
    assert (guard[10] or 0) > 2  # day 8 still in the window: held
    assert guard[11] is not None
    assert guard[11] < 2  # recovered: resumed
    assert all(g is None or g < 2 for day, g in guard.items() if day not in (9, 10))
    assert all(guard[day] is not None for day in range(7, 22))  # enough sent from day 7


def test_what_the_ramp_promises_holds_and_the_export_agrees(run: Run) -> None:
    out = run.out
    assert "new IPs over their warmup cap: never" in out
    moved = re.search(r"routing: 18 advances, none sent a recipient back to old; the "
                      r"rollback moved back ([\d,]+) recipients, exactly the ones that moved "
                      r"last, and the next advance moved them again", out)
    assert moved is not None
    assert int(moved.group(1).replace(",", "")) > 0
    assert "agrees with route: True" in out
    assert re.search(r"export: sha256:[0-9a-f]{12}\.\.\.", out)
    assert "on 2026-03-02: old, from news.customer0.example.com, {'o:sending-ip-pool': " \
        "'pool_" in out
    assert "on 2026-03-22: new, from news.customer0.example.com, {'ip_pool_name': " \
        "'sg-mkt'}" in out
    assert out.count(": warming, stage 22/42") == 4  # one stage per day of traffic


def test_the_new_side_is_provisioned_published_verified_and_warming(run: Run) -> None:
    out = run.out
    assert f"before the move: {2 * CUSTOMERS} domains send from old" in out
    assert f": {2 * CUSTOMERS + 2} to create, 0 to update, 0 to assign, 0 to delete, " \
        "4 warmup(s) to start" in out
    assert f"all {2 * CUSTOMERS} domain(s) verified" in out
    assert out.count(": warming, stage 1/42, 480 a day") == 4
    assert "capacity: 42 stream-days of 4,000 messages against sendgrid-hourly: 0 over" in out
    zone = (run.workdir / "new-side.zone").read_text()
    assert zone.count("\tIN\tMX\t") == 2 * 2 * CUSTOMERS  # two MX records a domain
    assert (run.workdir / "to-sendgrid.routing.json").is_file()


def test_too_few_customers_are_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="at least 150 customers"):
        run_example(tmp_path, "149", str(tmp_path / "work"))
    assert not (tmp_path / "work").exists()


def test_the_cookbook_declares_the_example_s_fleet_file() -> None:
    text = COOKBOOK.read_text(encoding="utf-8")
    block = re.search(r"<!-- snippet: file migration-fleet\.yaml -->\n```yaml\n(.*?)```",
                      text, re.DOTALL)
    assert block is not None
    assert block.group(1) == FLEET.read_text(encoding="utf-8")
