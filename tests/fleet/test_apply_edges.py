"""Apply, step by step on the sandbox: each pool and subaccount step is reported under its
own key with its outcome (and its typed error when it fails), and a domain moved to another
pool ends up sending from that pool only.

Written from mutation testing (scripts/mutation.py).
"""

from __future__ import annotations

import pytest
from support.fleets import CONN, v4

import espkit
from espkit.bulk import Outcome
from espkit.errors import ConfigError, EspError
from espkit.fleet import (
    Connection,
    CustomerSpec,
    DesiredDomain,
    Fleet,
    Ownership,
    PoolSpec,
    apply,
    apply_fleet,
    plan,
)

OWN = Ownership(domains=("*.example.com",))



def test_each_step_is_reported_under_its_key(acct: espkit.Account) -> None:
    ips = v4(acct)
    f = Fleet(CONN, pools=(PoolSpec("mkt", ips=(ips[0],)),),
              customers=(CustomerSpec("acme", (
                  DesiredDomain("news.acme.example.com", "acme", "marketing",
                                subaccount="acme", pool="mkt"),), subaccount="acme"),),
              ownership=OWN)
    report = apply(plan(f, {"default": acct}), {"default": acct})
    assert report.ok, report.summary()
    assert [(s.key, s.outcome) for s in report.steps] == [
        ("create pool mkt", Outcome.CREATED), ("create subaccount acme", Outcome.CREATED)]
    assert all(s.error is None for s in report.steps)
    assert report.domains["default"].counts == {"created": 1}
    sub = next(acct.subaccounts.list())
    assert [d.name for d in acct.on_behalf_of(sub).domains.list()] == ["news.acme.example.com"]


def test_a_failed_step_carries_its_typed_error(acct: espkit.Account) -> None:
    # an address the account does not have: the ESP refuses the pool
    f = Fleet(CONN, pools=(PoolSpec("mkt", ips=("203.0.113.250",)),), ownership=OWN)
    report = apply(plan(f, {"default": acct}), {"default": acct})
    assert not report.ok
    [step] = report.steps
    assert (step.key, step.outcome) == ("create pool mkt", Outcome.FAILED)
    assert isinstance(step.error, EspError)
    assert report.failed == [step]
    assert "create pool mkt: " in report.summary()


def test_a_domain_moved_to_another_pool_sends_from_that_pool_only(acct: espkit.Account) -> None:
    ips = v4(acct)
    acct.pools.create("old", ips=[ips[0]])
    acct.pools.create("new", ips=[ips[1]])
    acct.domains.create("news.acme.example.com", pool="old")
    f = Fleet(CONN, pools=(PoolSpec("old", ips=(ips[0],)), PoolSpec("new", ips=(ips[1],))),
              customers=(CustomerSpec("acme", (
                  DesiredDomain("news.acme.example.com", "acme", "marketing", pool="new"),)),),
              ownership=OWN)
    p = plan(f, {"default": acct})
    [move] = p.changes
    assert move.moves
    report = apply(p, {"default": acct})
    assert report.ok, report.summary()
    assert [(a.kind.value, a.target) for a in acct.domains.assignments(
        "news.acme.example.com")] == [("pool", "new")]
    assert plan(f, {"default": acct}).empty


def test_a_domain_already_in_its_pool_is_left_alone(acct: espkit.Account) -> None:
    ips = v4(acct)
    f = Fleet(CONN, pools=(PoolSpec("mkt", ips=(ips[0],)),),
              customers=(CustomerSpec("acme", (
                  DesiredDomain("news.acme.example.com", "acme", "marketing", pool="mkt"),)),),
              ownership=OWN)
    first = apply_fleet(f, accounts={"default": acct})
    assert first.ok, first.summary()
    assert [(a.kind.value, a.target) for a in acct.domains.assignments(
        "news.acme.example.com")] == [("pool", "mkt")]
    again = apply_fleet(f, accounts={"default": acct})
    assert again.plan.empty
    assert again.summary() == "Nothing to apply: the accounts already match the fleet."


def test_an_owned_domain_the_fleet_drops_is_deleted_once(acct: espkit.Account) -> None:
    acct.domains.create("old.acme.example.com")
    f = Fleet(CONN, ownership=OWN)
    p = plan(f, {"default": acct})
    assert [(c.action.value, c.name) for c in p.changes] == [("delete", "old.acme.example.com")]
    report = apply(p, {"default": acct})
    assert report.ok, report.summary()
    assert report.domains["default"].counts == {"deleted": 1}
    assert [d.name for d in acct.domains.list()] == []
    # the same (now stale) plan again: nothing left to delete, which is no failure
    again = apply(p, {"default": acct})
    assert again.ok, again.summary()
    assert again.domains["default"].counts == {"absent": 1}


def test_a_failed_pool_step_skips_that_connections_domains_and_says_so(
    acct: espkit.Account,
) -> None:
    f = Fleet(CONN, pools=(PoolSpec("mkt", ips=("203.0.113.250",)),),
              customers=(CustomerSpec("acme", (
                  DesiredDomain("news.acme.example.com", "acme", "marketing", pool="mkt"),)),),
              ownership=OWN)
    report = apply(plan(f, {"default": acct}), {"default": acct})
    assert report.skipped == ("default: domain changes not attempted because a pool or "
                              "subaccount change failed; fix it and apply again.",)
    assert report.domains == {}
    assert [s.key for s in report.steps] == ["create pool mkt"]
    assert list(acct.domains.list()) == []
    assert "; fix it and apply again." in report.summary()


def test_every_connection_is_applied_and_its_steps_kept(acct: espkit.Account) -> None:
    with espkit.connect("sandbox", path=":memory:") as other:
        conns = {"a": Connection("a", "sandbox", {"path": ":memory:"}),
                 "b": Connection("b", "sandbox", {"path": ":memory:"})}
        f = Fleet(conns, pools=(PoolSpec("pa", connection="a"), PoolSpec("pb", connection="b")),
                  ownership=OWN)
        report = apply(plan(f, {"a": acct, "b": other}), {"a": acct, "b": other})
    assert [(s.key, s.outcome) for s in report.steps] == [
        ("create pool pa", Outcome.CREATED), ("create pool pb", Outcome.CREATED)]


def test_a_connection_without_an_account_is_refused_before_anything_is_sent(
    acct: espkit.Account,
) -> None:
    f = Fleet(CONN, pools=(PoolSpec("mkt"),), ownership=OWN)
    p = plan(f, {"default": acct})
    before = len(acct.provider.emulator.history)  # type: ignore[attr-defined]
    with pytest.raises(ConfigError) as info:
        apply(p, {"elsewhere": acct})
    assert str(info.value) == "no account given for connection(s) default"
    assert len(acct.provider.emulator.history) == before  # type: ignore[attr-defined]


def test_progress_is_reported_per_connection(acct: espkit.Account) -> None:
    f = Fleet(CONN, customers=(CustomerSpec("acme", (
        DesiredDomain("news.acme.example.com", "acme", "marketing"),)),), ownership=OWN)
    seen: list[tuple[str, object]] = []
    report = apply(plan(f, {"default": acct}), {"default": acct},
                   on_progress=lambda name, p: seen.append((name, p)))
    assert report.ok
    assert seen
    assert {name for name, _ in seen} == {"default"}
    assert all(p is not None for _, p in seen)
