"""What an apply reports: its counts, whether it is ok, its summary line (the first five
failures and conflicts, then a count) and its serialised form.

Written from mutation testing (scripts/mutation.py).
"""

from __future__ import annotations

import json

from espkit.bulk import ItemResult, Outcome
from espkit.errors import Rejected
from espkit.fleet import ApplyReport, Plan
from espkit.fleet.planner import Action, Change, Kind


def plan(n: int = 1, conflicts: tuple[str, ...] = ()) -> Plan:
    changes = tuple(Change(Action.CREATE, Kind.POOL, f"p{i}", "main", "declared")
                    for i in range(n))
    return Plan(changes, conflicts=conflicts)


def failed(n: int) -> ItemResult:
    return ItemResult(f"pool p{n}", Outcome.FAILED, Rejected(f"no #{n}", provider="esp",
                                                             status=400))


def test_an_empty_plan_has_nothing_to_apply() -> None:
    report = ApplyReport(plan(0))
    assert report.summary() == "Nothing to apply: the accounts already match the fleet."
    assert report.ok
    assert report.counts() == {}


def test_a_clean_apply_is_ok_and_counted() -> None:
    steps = (ItemResult("pool p0", Outcome.CREATED), ItemResult("pool p1", Outcome.CREATED),
             ItemResult("pool p2", Outcome.UPDATED))
    report = ApplyReport(plan(3), steps)
    assert report.ok
    assert report.failed == []
    assert report.counts() == {"created": 2, "updated": 1}
    assert report.summary() == "Applied 3 change(s): 2 created, 1 updated."


def test_one_failure_is_not_ok_and_is_shown() -> None:
    report = ApplyReport(plan(2), (ItemResult("pool p0", Outcome.CREATED), failed(1)))
    assert not report.ok
    assert [(f.key, f.outcome) for f in report.failed] == [("pool p1", Outcome.FAILED)]
    assert report.summary() == (
        "Applied 2 change(s): 1 created, 1 failed. 1 failed: pool p1: "
        f"{failed(1).error}. Run apply again to retry them.")


def test_five_failures_are_shown_and_the_rest_counted() -> None:
    five = tuple(failed(n) for n in range(5))
    text = ApplyReport(plan(5), five).summary()
    assert "5 failed: " in text
    assert "pool p4" in text
    assert "more" not in text
    six = tuple(failed(n) for n in range(6))
    text = ApplyReport(plan(6), six).summary()
    assert "6 failed: " in text
    assert "pool p4" in text
    assert "pool p5" not in text
    assert "(and 1 more). Run apply again to retry them." in text


def test_a_skipped_connection_and_conflicts_are_not_ok_and_are_said() -> None:
    skipped = ApplyReport(plan(1), (ItemResult("pool p0", Outcome.CREATED),),
                          skipped=("b: not reachable.",))
    assert not skipped.ok
    assert skipped.summary() == "Applied 1 change(s): 1 created. b: not reachable."
    conflicts = tuple(f"c{n}" for n in range(6))
    clashing = ApplyReport(plan(1, conflicts), (ItemResult("pool p0", Outcome.CREATED),))
    assert not clashing.ok
    assert clashing.summary() == ("Applied 1 change(s): 1 created. 6 conflict(s) need a hand: "
                                  "c0; c1; c2; c3; c4")


def test_nothing_done_is_said_as_nothing() -> None:
    assert ApplyReport(plan(1)).summary() == "Applied 1 change(s): nothing."


def test_the_report_as_json() -> None:
    report = ApplyReport(plan(2, ("c",)), (ItemResult("pool p0", Outcome.CREATED), failed(1)),
                         skipped=("s",))
    out = json.loads(report.to_json())
    assert out == {
        "ok": False,
        "counts": {"created": 1, "failed": 1},
        "steps": [{"key": "pool p0", "outcome": "created"},
                  {"key": "pool p1", "outcome": "failed",
                   "error": {"type": "Rejected", "message": str(failed(1).error),
                             "status": 400}}],
        "domains": {},
        "skipped": ["s"],
        "conflicts": ["c"],
    }
    assert "\n" in report.to_json(indent=2)
