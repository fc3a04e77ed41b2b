"""The safety shares of a plan at their boundaries, on Plan values built by hand: a plan that
deletes or moves exactly the allowed share passes, one more is refused; the shares apply once a
connection has ``min_existing`` objects, and each connection is judged on its own."""

from __future__ import annotations

import pytest

from espkit.errors import TooMuchChange
from espkit.fleet import Action, Change, Kind, Plan, Safety

SAFETY = Safety(max_delete=0.3, max_reassign=0.3, min_existing=10)


def deletes(n: int, connection: str = "main", kind: Kind = Kind.DOMAIN) -> list[Change]:
    return [Change(Action.DELETE, kind, f"d{i}.{connection}.example", connection, "not declared")
            for i in range(n)]


def moves(n: int, connection: str = "main") -> list[Change]:
    return [Change(Action.ASSIGN, Kind.DOMAIN, f"m{i}.{connection}.example", connection,
                   "pool changed", before=frozenset({("pool", "old")}),
                   after=frozenset({("pool", "new")}))
            for i in range(n)]


def first_assignments(n: int, connection: str = "main") -> list[Change]:
    # a domain with no pool yet that gets one is not a move
    return [Change(Action.ASSIGN, Kind.DOMAIN, f"a{i}.{connection}.example", connection,
                   "no pool yet", after=frozenset({("pool", "new")}))
            for i in range(n)]


def plan(changes: list[Change], existing: dict[str, dict[str, int]]) -> Plan:
    return Plan(changes=tuple(changes), existing=existing, safety=SAFETY)


@pytest.mark.parametrize(("kind", "key"), [(Kind.DOMAIN, "domain"), (Kind.POOL, "pool")])
def test_deleting_exactly_the_share_passes_and_one_more_is_refused(kind: Kind, key: str) -> None:
    plan(deletes(3, kind=kind), {"main": {key: 10}}).check()  # 30 % of 10
    with pytest.raises(TooMuchChange) as err:
        plan(deletes(4, kind=kind), {"main": {key: 10}}).check()
    assert (err.value.count, err.value.existing) == (4, 10)
    assert err.value.what == "delete"


def test_moving_exactly_the_share_passes_and_one_more_is_refused() -> None:
    plan(moves(6), {"main": {"domain": 20}}).check()  # 30 % of 20
    with pytest.raises(TooMuchChange, match="move to another pool or IP 7 of the 20"):
        plan(moves(7), {"main": {"domain": 20}}).check()


def test_first_assignments_are_not_moves() -> None:
    plan(first_assignments(20), {"main": {"domain": 20}}).check()


def test_the_shares_apply_from_min_existing_on() -> None:
    # 9 existing: under min_existing, deleting them all is allowed (a small account)
    plan(deletes(9), {"main": {"domain": 9}}).check()
    plan(moves(9), {"main": {"domain": 9}}).check()
    # 10 existing: the share applies
    with pytest.raises(TooMuchChange):
        plan(deletes(10), {"main": {"domain": 10}}).check()
    with pytest.raises(TooMuchChange):
        plan(moves(10), {"main": {"domain": 10}}).check()


def test_each_connection_is_judged_on_its_own_existing_objects() -> None:
    existing = {"old": {"domain": 10}, "new": {"domain": 10}}
    # 3 of 10 in each: 30 % each, although 6 changes against either connection's 10 is 60 %
    plan([*deletes(3, "old"), *deletes(3, "new")], existing).check()
    plan([*moves(3, "old"), *moves(3, "new")], existing).check()
    with pytest.raises(TooMuchChange, match="in new"):
        plan([*deletes(3, "old"), *deletes(4, "new")], existing).check()


def test_force_applies_any_share_and_safe_says_so() -> None:
    risky = plan(deletes(10), {"main": {"domain": 10}})
    assert not risky.safe()
    risky.check(force=True)
    assert plan(deletes(3), {"main": {"domain": 10}}).safe()
