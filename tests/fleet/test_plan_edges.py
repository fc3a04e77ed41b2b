"""A plan's safety check, counts, summary and serialised form, on plans built change by
change: each share is tested on both sides of its threshold, per kind and per connection.

Written from mutation testing (scripts/mutation.py).
"""

from __future__ import annotations

import json

import pytest

from espkit.errors import TooMuchChange
from espkit.fleet import Plan, Safety
from espkit.fleet.planner import Action, Change, Kind, Unknown


def change(action: Action, kind: Kind = Kind.DOMAIN, n: int = 0, connection: str = "main",
           **kw: object) -> Change:
    return Change(action, kind, f"d{n}.example.com", connection, "why", **kw)  # type: ignore[arg-type]


def deletes(count: int, kind: Kind = Kind.DOMAIN, connection: str = "main") -> list[Change]:
    return [change(Action.DELETE, kind, n, connection) for n in range(count)]


def moves(count: int, kind: Kind = Kind.DOMAIN, connection: str = "main") -> list[Change]:
    return [change(Action.ASSIGN, kind, n, connection, before=frozenset({("pool", "a")}),
                   after=frozenset({("pool", "b")})) for n in range(count)]


def plan(changes: list[Change], existing: dict[str, dict[str, int]],
         safety: Safety | None = None) -> Plan:
    return Plan(tuple(changes), existing=existing, safety=safety or Safety())


SAFETY = Safety(max_delete=0.3, max_reassign=0.2, min_existing=10)


@pytest.mark.parametrize("kind", [Kind.DOMAIN, Kind.POOL])
def test_deleting_the_share_is_allowed_and_one_more_is_not(kind: Kind) -> None:
    existing = {"main": {kind.value: 10}}
    plan(deletes(3, kind), existing, SAFETY).check()
    with pytest.raises(TooMuchChange) as info:
        plan(deletes(4, kind), existing, SAFETY).check()
    err = info.value
    assert (err.what, err.noun, err.count, err.existing, err.threshold) == (
        "delete", f"{kind.value}s", 4, 10, 0.3)


@pytest.mark.parametrize("kind", [Kind.DOMAIN, Kind.POOL])
def test_moving_the_share_is_allowed_and_one_more_is_not(kind: Kind) -> None:
    existing = {"main": {kind.value: 10}}
    plan(moves(2, kind), existing, SAFETY).check()
    with pytest.raises(TooMuchChange) as info:
        plan(moves(3, kind), existing, SAFETY).check()
    err = info.value
    assert (err.what, err.noun, err.count, err.existing, err.threshold) == (
        "move to another pool or IP", f"{kind.value}s", 3, 10, 0.2)


def test_below_min_existing_nothing_is_checked_and_at_it_everything_is() -> None:
    plan(deletes(9), {"main": {"domain": 9}}, SAFETY).check()
    plan(moves(9), {"main": {"domain": 9}}, SAFETY).check()
    with pytest.raises(TooMuchChange):
        plan(deletes(10), {"main": {"domain": 10}}, SAFETY).check()
    with pytest.raises(TooMuchChange):
        plan(moves(10), {"main": {"domain": 10}}, SAFETY).check()


def test_a_missing_count_is_none_existing() -> None:
    plan(deletes(5), {"main": {}}, SAFETY).check()


def test_force_skips_the_check_and_safe_reports_it() -> None:
    risky = plan(deletes(10), {"main": {"domain": 10}}, SAFETY)
    risky.check(force=True)
    assert not risky.safe()
    assert plan(deletes(3), {"main": {"domain": 10}}, SAFETY).safe()


def test_an_assignment_of_a_new_domain_is_not_a_move() -> None:
    first = [change(Action.ASSIGN, n=n, after=frozenset({("pool", "b")})) for n in range(10)]
    plan(first, {"main": {"domain": 10}}, SAFETY).check()
    assert not first[0].moves
    assert moves(1)[0].moves
    assert not change(Action.UPDATE, before=frozenset({("pool", "a")})).moves


def test_each_kind_is_counted_against_its_own_existing() -> None:
    # 3 pool deletes of 10 pools is fine even with only domain changes elsewhere
    mixed = deletes(3, Kind.POOL) + deletes(3, Kind.DOMAIN)
    plan(mixed, {"main": {"domain": 10, "pool": 10}}, SAFETY).check()
    with pytest.raises(TooMuchChange) as info:
        plan(deletes(4, Kind.POOL) + deletes(3), {"main": {"domain": 10, "pool": 10}},
             SAFETY).check()
    assert info.value.noun == "pools"
    # subaccount deletes never count
    subs = [change(Action.DELETE, Kind.SUBACCOUNT, n) for n in range(10)]
    plan(subs, {"main": {"domain": 10, "pool": 10}}, SAFETY).check()


def test_each_connection_is_checked_against_its_own_existing() -> None:
    existing = {"a": {"domain": 10}, "b": {"domain": 10}}
    # 3 + 3 of 20 would be 30 %; 3 of 10 in each is allowed, 4 in one is not
    plan(deletes(3, connection="a") + deletes(3, connection="b"), existing, SAFETY).check()
    with pytest.raises(TooMuchChange) as info:
        plan(deletes(4, connection="a") + deletes(1, connection="b"), existing,
             SAFETY).check()
    assert (info.value.noun, info.value.count, info.value.existing) == ("domains in a", 4, 10)
    with pytest.raises(TooMuchChange) as moved:
        plan(moves(3, connection="b"), existing, SAFETY).check()
    assert moved.value.noun == "domains in b"


def test_the_default_safety() -> None:
    s = Safety()
    assert (s.max_delete, s.max_reassign, s.min_existing) == (0.3, 0.3, 10)


# -- counts, summary and the serialised plan ---------------------------------------------------


def test_counts_every_action_unknown_and_conflict() -> None:
    p = Plan((change(Action.CREATE), change(Action.CREATE, n=1), change(Action.DELETE)),
             unknown=(Unknown(Kind.DOMAIN, "x.example.com", "main"),), conflicts=("c",))
    assert p.counts() == {"create": 2, "update": 0, "delete": 1, "assign": 0, "start": 0, "stop": 0,
                          "unknown": 1,
                          "conflicts": 1}
    assert p.of(Action.CREATE) == p.changes[:2]
    assert p.of(Action.DELETE, Kind.POOL) == ()
    assert p.of(Action.DELETE, Kind.DOMAIN) == p.changes[2:]


def test_summary_of_an_empty_and_a_busy_plan() -> None:
    empty = Plan((), source="fleet.yaml")
    assert empty.empty
    assert empty.summary() == "Plan for fleet.yaml: no changes; the accounts match the fleet."
    busy = Plan((change(Action.CREATE), change(Action.ASSIGN, n=1), change(Action.UPDATE, n=2)),
                unknown=(Unknown(Kind.POOL, "p", "main"), Unknown(Kind.DOMAIN, "u", "main")),
                conflicts=("c1", "c2"), source="fleet.yaml")
    assert not busy.empty
    assert busy.summary() == (
        "Plan for fleet.yaml: 1 to create, 1 to update, 1 to assign, 0 to delete; "
        "2 unknown domain/pool(s) left alone (not declared, not owned); "
        f"2 conflict(s) applying cannot resolve. Checksum {busy.checksum}.")


def test_the_checksum_follows_the_changes_only() -> None:
    a = Plan((change(Action.CREATE),), source="one.yaml")
    b = Plan((change(Action.CREATE),), source="two.yaml", existing={"main": {"domain": 3}})
    c = Plan((change(Action.DELETE),))
    assert a.checksum == b.checksum
    assert a.checksum != c.checksum
    assert len(a.checksum) == 16
    int(a.checksum, 16)


def test_change_details_and_dicts() -> None:
    moved = change(Action.ASSIGN, before=frozenset({("pool", "a")}),
                   after=frozenset({("ip", "10.0.0.1"), ("pool", "b")}), subaccount="acme")
    assert moved.detail == "pool:a -> ip:10.0.0.1, pool:b"
    assert change(Action.ASSIGN, after=frozenset({("pool", "b")})).detail == "- -> pool:b"
    assert change(Action.CREATE, after=frozenset({("pool", "b")})).detail == "pool:b"
    assert change(Action.CREATE).detail == ""
    pool = change(Action.UPDATE, Kind.POOL, add_ips=("10.0.0.1",), remove_ips=("10.0.0.2",))
    assert pool.detail == "+10.0.0.1 -10.0.0.2"
    assert change(Action.DELETE, Kind.POOL, add_ips=("10.0.0.1",)).detail == ""
    assert moved.to_dict() == {
        "action": "assign", "kind": "domain", "name": "d0.example.com", "connection": "main",
        "reason": "why", "subaccount": "acme", "before": ["pool:a"],
        "after": ["ip:10.0.0.1", "pool:b"]}
    assert pool.to_dict() == {
        "action": "update", "kind": "pool", "name": "d0.example.com", "connection": "main",
        "reason": "why", "add_ips": ["10.0.0.1"], "remove_ips": ["10.0.0.2"]}
    assert change(Action.DELETE).to_dict() == {
        "action": "delete", "kind": "domain", "name": "d0.example.com", "connection": "main",
        "reason": "why"}
    # either side alone is enough to list both
    assert change(Action.CREATE, after=frozenset({("pool", "b")})).to_dict()["before"] == []
    assert change(Action.DELETE, before=frozenset({("pool", "a")})).to_dict()["after"] == []
    assert str(Action.ASSIGN) == "assign"
    assert str(Kind.POOL) == "pool"


def test_the_plan_as_json() -> None:
    p = Plan((change(Action.DELETE),), unknown=(Unknown(Kind.DOMAIN, "u", "main", "acme"),),
             conflicts=("c",), existing={"main": {"domain": 1}}, source="f.yaml")
    out = json.loads(p.to_json())
    assert out == {
        "source": "f.yaml", "checksum": p.checksum,
        "counts": {"create": 0, "update": 0, "delete": 1, "assign": 0, "start": 0, "stop": 0,
                   "unknown": 1,
                   "conflicts": 1},
        "existing": {"main": {"domain": 1}}, "safe": True,
        "changes": [change(Action.DELETE).to_dict()],
        "unknown": [{"kind": "domain", "name": "u", "connection": "main",
                     "subaccount": "acme"}],
        "conflicts": ["c"]}
    assert Unknown(Kind.POOL, "p", "main").to_dict() == {"kind": "pool", "name": "p",
                                                         "connection": "main"}
    assert json.loads(p.to_json(indent=2)) == out
    assert "\n" in p.to_json(indent=2)
