"""What ``plan`` proposes for each kind of difference, with the reason ``espkit plan`` shows
and the ids apply needs: pools declared, changed, owned, unknown; subaccounts missing; a
domain in an existing subaccount.

Written from mutation testing (scripts/mutation.py).
"""

from __future__ import annotations

from support.fleets import CONN, v4

import espkit
from espkit.fleet import (
    CustomerSpec,
    DesiredDomain,
    Fleet,
    Ownership,
    PoolSpec,
    plan,
)
from espkit.fleet.planner import Action, Kind, Unknown


def test_a_declared_pool_missing_from_the_account_is_created_with_its_ips(
    acct: espkit.Account,
) -> None:
    ips = v4(acct)
    p = plan(Fleet(CONN, pools=(PoolSpec("mkt", ips=(ips[0],)),)), {"default": acct})
    [change] = p.changes
    assert (change.action, change.kind, change.name, change.connection, change.reason) == (
        Action.CREATE, Kind.POOL, "mkt", "default", "declared, not in the account")
    assert change.add_ips == (ips[0],)


def test_a_pool_whose_ips_differ_is_updated_by_the_difference(acct: espkit.Account) -> None:
    ips = v4(acct)
    acct.pools.create("mkt", ips=[ips[0], ips[1]])
    same = plan(Fleet(CONN, pools=(PoolSpec("mkt", ips=(ips[1], ips[0])),)), {"default": acct})
    assert same.empty
    grown = plan(Fleet(CONN, pools=(PoolSpec("mkt", ips=(ips[0], ips[1], ips[2])),)),
                 {"default": acct})
    [change] = grown.changes
    assert (change.action, change.reason, change.add_ips, change.remove_ips) == (
        Action.UPDATE, "IPs differ from the fleet file", (ips[2],), ())
    shrunk = plan(Fleet(CONN, pools=(PoolSpec("mkt", ips=(ips[0],)),)), {"default": acct})
    [change] = shrunk.changes
    assert (change.add_ips, change.remove_ips) == ((), (ips[1],))


def test_undeclared_pools_owned_unknown_or_deleted_on_request(acct: espkit.Account) -> None:
    acct.pools.create("fleet-old")
    acct.pools.create("theirs")
    f = Fleet(CONN, ownership=Ownership(pools=("fleet-*",)))
    p = plan(f, {"default": acct})
    assert [(c.action, c.kind, c.name, c.reason) for c in p.changes] == [
        (Action.DELETE, Kind.POOL, "fleet-old", "owned by the fleet, no longer declared")]
    assert p.unknown == (Unknown(Kind.POOL, "theirs", "default"),)
    asked = plan(f, {"default": acct}, delete_unknown=True)
    assert sorted((c.name, c.reason) for c in asked.changes) == [
        ("fleet-old", "owned by the fleet, no longer declared"),
        ("theirs", "not declared (deleting unknowns was asked for)")]
    assert asked.unknown == ()


def test_a_missing_subaccount_is_created_and_an_existing_one_is_used_by_id(
    acct: espkit.Account,
) -> None:
    domain = DesiredDomain("news.acme.example.com", "acme", "marketing", subaccount="acme")
    f = Fleet(CONN, customers=(CustomerSpec("acme", (domain,), subaccount="acme"),),
              ownership=Ownership(domains=("*.example.com",)))
    first = plan(f, {"default": acct})
    sub_change = next(c for c in first.changes if c.kind is Kind.SUBACCOUNT)
    assert (sub_change.action, sub_change.name, sub_change.reason) == (
        Action.CREATE, "acme", "declared by a customer, not in the account")
    create = next(c for c in first.changes if c.kind is Kind.DOMAIN)
    assert (create.subaccount, create.subaccount_id) == ("acme", None)

    sub = acct.subaccounts.create("acme")
    again = plan(f, {"default": acct})
    [create] = again.changes
    assert (create.action, create.kind, create.name) == (Action.CREATE, Kind.DOMAIN,
                                                         "news.acme.example.com")
    assert (create.subaccount, create.subaccount_id) == ("acme", sub.id)
