"""Plan: the diff between a fleet and the live account, its ownership rules and its safety
thresholds. Fleets are built as values here (the file format is tested in test_fleet.py);
accounts are real sandbox accounts or the wire-level ESP fakes."""

from __future__ import annotations

import json

import attrs
import pytest
from support.fakes import all_fakes
from support.fleets import CONN, v4

import espkit
from espkit.errors import TooMuchChange, Unsupported
from espkit.fleet import (
    Action,
    Connection,
    CustomerSpec,
    DesiredDomain,
    Fleet,
    Kind,
    Ownership,
    PoolSpec,
    Safety,
    apply,
    plan,
)


def customer(n: int, *, sub: bool = False, mkt: str = "mkt", txn: str = "txn",
             zone: str = "example.com") -> CustomerSpec:
    name = f"cust{n}"
    subaccount = name if sub else None
    return CustomerSpec(name, (
        DesiredDomain(f"news.{name}.{zone}", name, "marketing", subaccount=subaccount, pool=mkt),
        DesiredDomain(f"mail.{name}.{zone}", name, "transactional", subaccount=subaccount,
                      pool=txn),
    ), subaccount=subaccount)


def fleet_of(acct: espkit.Account, customers: list[CustomerSpec], **kw: object) -> Fleet:
    ips = v4(acct)
    pools = (PoolSpec("mkt", ips=(ips[0], ips[1])), PoolSpec("txn", ips=(ips[2],)))
    return Fleet(CONN, pools=kw.pop("pools", pools), customers=tuple(customers),  # type: ignore[arg-type]
                 **kw)  # type: ignore[arg-type]


def writes(acct: espkit.Account) -> list[tuple[str, str, int | str]]:
    return [h for h in acct.provider.emulator.history if h[0] != "GET"]  # type: ignore[attr-defined]


def test_empty_account_plans_every_object_with_a_reason_and_sends_nothing(acct) -> None:
    f = fleet_of(acct, [customer(1), customer(2, sub=True)])
    p = plan(f, {"default": acct})
    assert writes(acct) == []
    got = {(c.action, c.kind, c.name) for c in p.changes}
    assert got == {
        (Action.CREATE, Kind.POOL, "mkt"), (Action.CREATE, Kind.POOL, "txn"),
        (Action.CREATE, Kind.SUBACCOUNT, "cust2"),
        (Action.CREATE, Kind.DOMAIN, "news.cust1.example.com"),
        (Action.CREATE, Kind.DOMAIN, "mail.cust1.example.com"),
        (Action.CREATE, Kind.DOMAIN, "news.cust2.example.com"),
        (Action.CREATE, Kind.DOMAIN, "mail.cust2.example.com"),
    }
    news2 = next(c for c in p.changes if c.name == "news.cust2.example.com")
    assert news2.subaccount == "cust2"
    assert news2.reason == "customer cust2, stream marketing"
    assert news2.after == {("pool", "mkt")}
    assert news2.spec is not None
    assert news2.spec.pool == "mkt"  # the sandbox takes the pool in the create call
    assert p.counts() == {"create": 7, "update": 0, "delete": 0, "assign": 0, "start": 0, "stop": 0,
                          "unknown": 0, "conflicts": 0}
    assert "7 to create" in p.summary()


def test_plan_json_lists_every_change_and_is_stable(acct) -> None:
    p = plan(fleet_of(acct, [customer(1)]), {"default": acct})
    data = json.loads(p.to_json())
    assert data["counts"]["create"] == 4
    assert data["safe"] is True
    rows = {(c["action"], c["kind"], c["name"]) for c in data["changes"]}
    assert ("create", "domain", "news.cust1.example.com") in rows
    pool = next(c for c in data["changes"] if c["name"] == "mkt")
    assert pool["add_ips"] == list(v4(acct)[:2])
    assert p.to_json() == plan(fleet_of(acct, [customer(1)]), {"default": acct}).to_json()


def test_applied_fleet_replans_to_nothing(acct) -> None:
    f = fleet_of(acct, [customer(n, sub=n % 3 == 0) for n in range(12)])
    report = apply(plan(f, {"default": acct}), {"default": acct})
    assert report.ok, report.summary()
    again = plan(f, {"default": acct})
    assert again.empty, again.to_json(indent=1)
    assert "no changes" in again.summary()


def test_owned_domains_the_file_dropped_are_deleted_and_unknown_ones_only_reported(acct) -> None:
    acct.domains.create("news.gone.example.com")
    acct.domains.create("promo.other.org")
    f = fleet_of(acct, [customer(1)], ownership=Ownership(domains=("*.example.com",)))
    p = plan(f, {"default": acct})
    deletes = p.of(Action.DELETE, Kind.DOMAIN)
    assert [c.name for c in deletes] == ["news.gone.example.com"]
    assert "owned" in deletes[0].reason
    assert [(u.kind, u.name) for u in p.unknown] == [(Kind.DOMAIN, "promo.other.org")]
    assert "1 unknown domain(s) left alone" in p.summary()

    p2 = plan(f, {"default": acct}, delete_unknown=True)
    assert {c.name for c in p2.of(Action.DELETE, Kind.DOMAIN)} == {
        "news.gone.example.com", "promo.other.org"}
    assert p2.unknown == ()


def test_pools_with_other_ips_are_updated_owned_pools_deleted_unknown_reported(acct) -> None:
    ips = v4(acct)
    acct.pools.create("mkt", ips=[ips[0], ips[5]])
    acct.pools.create("mkt-old", ips=[ips[6]])
    acct.pools.create("someone-elses", ips=[ips[7]])
    f = fleet_of(acct, [], ownership=Ownership(pools=("mkt*",)))
    p = plan(f, {"default": acct})
    update = p.of(Action.UPDATE, Kind.POOL)
    assert len(update) == 1
    assert update[0].add_ips == (ips[1],)
    assert update[0].remove_ips == (ips[5],)
    assert [c.name for c in p.of(Action.DELETE, Kind.POOL)] == ["mkt-old"]
    assert [u.name for u in p.unknown] == ["someone-elses"]

    report = apply(p, {"default": acct})
    assert report.ok, report.summary()
    assert set(acct.pools.get("mkt").ips) == {ips[0], ips[1]}
    assert {p.name for p in acct.pools.list()} == {"mkt", "txn", "someone-elses"}


def test_a_stream_moved_to_another_pool_is_an_assignment_change(acct) -> None:
    f = fleet_of(acct, [customer(1)])
    apply(plan(f, {"default": acct}), {"default": acct})
    moved = fleet_of(acct, [customer(1, mkt="txn")])
    p = plan(moved, {"default": acct})
    assert [(c.action, c.name) for c in p.changes] == [
        (Action.ASSIGN, "news.cust1.example.com")]
    change = p.changes[0]
    assert change.before == {("pool", "mkt")}
    assert change.after == {("pool", "txn")}
    assert change.moves
    assert change.detail == "pool:mkt -> pool:txn"

    assert apply(p, {"default": acct}).ok
    assert [(a.kind.value, a.target) for a in acct.domains.assignments(
        "news.cust1.example.com")] == [("pool", "txn")]
    assert plan(moved, {"default": acct}).empty


def test_a_plan_deleting_40_percent_is_refused_unless_forced(acct) -> None:
    everyone = [customer(n) for n in range(25)]  # 50 domains
    f = fleet_of(acct, everyone, ownership=Ownership(domains=("*.example.com",)))
    apply(plan(f, {"default": acct}), {"default": acct})
    shrunk = attrs.evolve(f, customers=tuple(everyone[:15]))  # drops 20 of 50 domains
    p = plan(shrunk, {"default": acct})
    assert len(p.of(Action.DELETE, Kind.DOMAIN)) == 20
    before = len(writes(acct))
    with pytest.raises(TooMuchChange) as err:
        apply(p, {"default": acct})
    assert len(writes(acct)) == before  # refused before anything was sent
    assert err.value.count == 20
    assert err.value.existing == 50
    assert "20 of the 50 existing domains (40%)" in str(err.value)
    assert "30%" in str(err.value)
    assert not p.safe()
    assert json.loads(p.to_json())["safe"] is False

    assert apply(p, {"default": acct}, force=True).ok
    assert len(list(acct.domains.list())) == 30


def test_threshold_is_a_share_not_a_count_and_small_accounts_are_exempt(acct) -> None:
    small = [customer(n) for n in range(4)]  # 8 domains: under min_existing
    f = fleet_of(acct, small, ownership=Ownership(domains=("*.example.com",)))
    apply(plan(f, {"default": acct}), {"default": acct})
    p = plan(attrs.evolve(f, customers=()), {"default": acct})
    assert len(p.of(Action.DELETE, Kind.DOMAIN)) == 8
    p.check()  # 100 % of 8 domains, but fewer than 10 exist: octoDNS's MIN_EXISTING rule

    strict = attrs.evolve(f, customers=(), safety=Safety(max_delete=0.5, min_existing=5))
    with pytest.raises(TooMuchChange):
        plan(strict, {"default": acct}).check()
    # exactly at the threshold is allowed (octoDNS refuses only above it)
    half = attrs.evolve(f, customers=tuple(small[:2]),
                        safety=Safety(max_delete=0.5, min_existing=5))
    plan(half, {"default": acct}).check()


def test_too_many_reassignments_are_refused(acct) -> None:
    everyone = [customer(n) for n in range(10)]
    f = fleet_of(acct, everyone)
    apply(plan(f, {"default": acct}), {"default": acct})
    swapped = fleet_of(acct, [customer(n, mkt="txn") for n in range(10)])
    p = plan(swapped, {"default": acct})
    assert sum(c.moves for c in p.changes) == 10
    with pytest.raises(TooMuchChange, match="move to another pool or IP 10 of the 20"):
        p.check()


def test_a_domain_in_the_wrong_scope_or_a_foreign_ip_is_a_conflict(acct) -> None:
    acct.domains.create("news.cust1.example.com")
    pools = (PoolSpec("mkt", ips=("192.0.2.250",)), PoolSpec("txn", ips=(v4(acct)[2],)))
    f = fleet_of(acct, [customer(1, sub=True)], pools=pools)
    p = plan(f, {"default": acct})
    assert any("news.cust1.example.com is declared in subaccount cust1 but lives in the "
               "main account" in c for c in p.conflicts)
    assert any("192.0.2.250 is not one of the account's dedicated IPs" in c
               for c in p.conflicts)
    assert not any(c.name == "news.cust1.example.com" for c in p.changes)


def test_options_the_esp_cannot_honour_fail_at_plan_time(acct) -> None:
    d = DesiredDomain("news.cust1.example.com", "cust1", "marketing",
                      options={"dkim_key_size": 999})
    f = Fleet(CONN, customers=(CustomerSpec("cust1", (d,)),))
    with pytest.raises(espkit.ValidationError, match="dkim_key_size"):
        plan(f, {"default": acct})
    assert writes(acct) == []


FAKES = all_fakes()


@pytest.mark.parametrize("esp", ["mailgun", "ses"])
def test_plan_apply_replan_against_real_provider_shapes(esp: str, sleeps: list[float]) -> None:
    """The same fleet against the wire-level fakes of ESPs that bind pools to domains."""
    with FAKES[esp]() as fake:
        acct = fake.connect()
        ips = fake.ips
        f = Fleet({"default": Connection("default", esp)},
                  pools=(PoolSpec("mkt", ips=(ips[0],)), PoolSpec("txn", ips=(ips[1],))),
                  customers=tuple(customer(n) for n in range(3)))
        p = plan(f, {"default": acct})
        assert p.counts()["create"] == 2 + 6
        report = apply(p, {"default": acct})
        assert report.ok, report.summary()
        assert plan(f, {"default": acct}).empty


@pytest.mark.parametrize("esp", ["sendgrid", "sparkpost"])
def test_esps_that_pick_pools_per_message_take_stream_pools_as_send_time_bindings(
        esp: str, sleeps: list[float]) -> None:
    # SendGrid and SparkPost name the pool in each message: the plan makes the pools and
    # the domains, assigns nothing, and a re-plan reads no assignment
    with FAKES[esp]() as fake:
        acct = fake.connect()
        ips = fake.ips
        f = Fleet({"default": Connection("default", esp)},
                  pools=(PoolSpec("mkt", ips=(ips[0],)), PoolSpec("txn", ips=(ips[1],))),
                  customers=(customer(1),))
        p = plan(f, {"default": acct})
        assert sorted((c.action.value, c.kind.value) for c in p.changes) == [
            ("create", "domain"), ("create", "domain"), ("create", "pool"), ("create", "pool")]
        assert all(not c.after for c in p.changes)
        assert apply(p, {"default": acct}).ok
        assert plan(f, {"default": acct}).empty


def test_a_stream_pool_is_refused_where_the_esp_binds_pools_neither_way(
        sleeps: list[float]) -> None:
    with espkit.connect("sandbox", path=":memory:", like="postmark") as acct:
        f = Fleet({"default": Connection("default", "sandbox")}, customers=(customer(1),))
        with pytest.raises(Unsupported, match="stream marketing"):
            plan(f, {"default": acct})


def test_mailgun_replan_reads_pool_links_once_not_every_domain(sleeps: list[float]) -> None:
    with FAKES["mailgun"]() as fake:
        acct = fake.connect()
        ips = fake.ips
        f = Fleet({"default": Connection("default", "mailgun")},
                  pools=(PoolSpec("mkt", ips=(ips[0],)), PoolSpec("txn", ips=(ips[1],))),
                  customers=tuple(customer(n) for n in range(10)))
        assert apply(plan(f, {"default": acct}), {"default": acct}).ok
        fake.log.clear()
        assert plan(f, {"default": acct}).empty
        per_domain = [p for m, p in fake.log if p.startswith("/v3/domains/")]
        assert per_domain == []  # no per-domain assignment read
        # a constant, whatever the number of domains: a domain page, the IPs, the pool list
        # (read by three calls) and one detail read per pool
        assert len(fake.log) <= 8

        # a domain moved off its pool behind the fleet's back is still seen
        acct.domains.unassign("news.cust3.example.com", pool="mkt", replacement=ips[2])
        p = plan(f, {"default": acct})
        assert [(c.action, c.name, c.after) for c in p.changes] == [
            (Action.ASSIGN, "news.cust3.example.com", {("pool", "mkt")})]


def test_two_connections_plan_apply_and_safety_per_connection(tmp_path) -> None:
    """A fleet split across two accounts (a migration in progress): each connection gets its
    own changes, and the safety share is per connection, so emptying a small account is not
    hidden by a large one."""
    dbs = {name: str(tmp_path / f"{name}.db") for name in ("old", "new")}
    conns = {name: Connection(name, "sandbox", {"path": db}) for name, db in dbs.items()}
    accounts = {name: espkit.connect("sandbox", path=db) for name, db in dbs.items()}
    try:
        def placed(n: int) -> CustomerSpec:
            c = customer(n)
            where = "new" if n < 40 else "old"
            return attrs.evolve(c, domains=tuple(attrs.evolve(d, connection=where, pool=None)
                                                 for d in c.domains))

        f = Fleet(conns, customers=tuple(placed(n) for n in range(50)),
                  ownership=Ownership(domains=("*.example.com",)))
        p = plan(f, accounts)
        assert {c.connection for c in p.changes} == {"old", "new"}
        assert apply(p, accounts).ok
        assert len(list(accounts["new"].domains.list())) == 80
        assert len(list(accounts["old"].domains.list())) == 20
        assert plan(f, accounts).empty
        assert plan(f, accounts).existing == {"old": {"domain": 20, "pool": 0},
                                              "new": {"domain": 80, "pool": 0}}

        # the old account's customers are dropped: 20 of 100 domains overall (20 %), but
        # every one of the old account's: refused, and the message names the connection
        moved = attrs.evolve(f, customers=tuple(placed(n) for n in range(40)))
        with pytest.raises(TooMuchChange, match="20 of the 20 existing domains in old"):
            plan(moved, accounts).check()
    finally:
        for a in accounts.values():
            a.close()
