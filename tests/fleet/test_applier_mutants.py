"""Apply: the behaviours mutation testing found unpinned (scripts/mutation.py applier).

On the sandbox: IP assignments are added before old ones are dropped, one by one, each
change of a domain's IPs landing whatever its place in the list; a domain created with IPs
gets them; a create that finds the domain made meanwhile is ``existed``; a failed connection
does not stop the next; steps and results carry their keys; ``apply_fleet`` passes its
arguments on. On the Mailgun fake (the one ESP that links many domains to a pool in one
request): the domains moved to a pool are linked many per request before the per-domain
run, per pool, from two domains up, whatever else the plan holds.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from support.fakes.mailgun import MailgunFake
from support.fleets import CONN, OWN, fleet_of, v4

import espkit
from espkit.bulk import Bulk, Outcome
from espkit.errors import ConfigError, TooMuchChange
from espkit.fleet import (
    Connection,
    CustomerSpec,
    DesiredDomain,
    Fleet,
    Kind,
    Ownership,
    PoolSpec,
    apply,
    apply_fleet,
    plan,
)
from espkit.testing import emulator

NEWS = "news.acme.example.com"


def ip_targets(acct: espkit.Account, name: str) -> list[str]:
    return sorted(a.target for a in acct.domains.assignments(name) if a.kind.value == "ip")


# -- IP assignments (sandbox) ---------------------------------------------------------------


@pytest.mark.parametrize(("had", "wanted"), [
    ((0,), (1,)),      # moved: the new one assigned, the old one dropped
    ((0,), (0, 1)),    # one added after one kept (the kept one sorts first)
    ((1,), (0, 1)),    # one added before one kept
    ((0, 1), (0,)),    # one dropped after one kept
    ((0, 1), (1,)),    # one dropped before one kept
])
def test_a_domains_ips_end_as_the_fleet_says(acct: espkit.Account, had: tuple[int, ...],
                                             wanted: tuple[int, ...]) -> None:
    ips = v4(acct)
    acct.domains.create(NEWS)
    for i in had:
        acct.domains.assign(NEWS, ip=ips[i])
    f = fleet_of(DesiredDomain(NEWS, "acme", "marketing", ips=tuple(ips[i] for i in wanted)))
    p = plan(f, {"default": acct})
    assert [c.kind for c in p.changes] == [Kind.DOMAIN]
    report = apply(p, {"default": acct})
    assert report.ok, report.summary()
    assert report.domains["default"].counts == {"assigned": 1}
    assert ip_targets(acct, NEWS) == sorted(ips[i] for i in wanted)


def writes(acct: espkit.Account) -> list[tuple[str, str]]:
    return [(h[0], h[1]) for h in emulator(acct).history if h[0] != "GET"]


def test_a_domain_created_with_ips_sends_from_them_in_one_request(acct: espkit.Account) -> None:
    ips = v4(acct)
    f = fleet_of(DesiredDomain(NEWS, "acme", "marketing", ips=(ips[0], ips[1])))
    p = plan(f, {"default": acct})
    start = len(writes(acct))
    report = apply(p, {"default": acct})
    assert report.ok, report.summary()
    assert report.domains["default"].counts == {"created": 1}
    assert ip_targets(acct, NEWS) == sorted(ips[:2])
    # the create carries the IPs: no assignment of its own afterwards
    assert writes(acct)[start:] == [("POST", "/v1/domains")]


def test_without_a_batch_link_each_moved_domain_is_assigned_once(acct: espkit.Account) -> None:
    ips = v4(acct)
    two = [NEWS, "mail.acme.example.com"]
    pools = (PoolSpec("a", ips=(ips[0],)), PoolSpec("b", ips=(ips[1],)))
    assert apply_fleet(fleet_of(*(DesiredDomain(n, "acme", "x", pool="a") for n in two),
                                pools=pools), accounts={"default": acct}).ok
    start = len(writes(acct))
    report = apply_fleet(fleet_of(*(DesiredDomain(n, "acme", "x", pool="b") for n in two),
                                  pools=pools), accounts={"default": acct}, force=True)
    assert report.ok, report.summary()
    assert sorted(w for w in writes(acct)[start:] if w[0] == "PUT") == [
        ("PUT", f"/v1/domains/{n}/assignments/pool/b") for n in sorted(two)]


def test_a_create_that_finds_the_domain_made_meanwhile_is_existed(acct: espkit.Account) -> None:
    f = fleet_of(DesiredDomain(NEWS, "acme", "marketing"))
    p = plan(f, {"default": acct})
    acct.domains.create(NEWS)  # someone else, between the plan and the apply
    report = apply(p, {"default": acct})
    assert report.ok, report.summary()
    assert report.domains["default"].counts == {"existed": 1}
    assert report.domains["default"].operation == "apply"


# -- steps, keys and connections (sandbox) --------------------------------------------------


def test_two_failures_are_listed_apart_in_the_summary(acct: espkit.Account) -> None:
    f = Fleet(CONN, pools=(PoolSpec("a", ips=("203.0.113.250",)),
                           PoolSpec("b", ips=("203.0.113.251",))), ownership=OWN)
    report = apply(plan(f, {"default": acct}), {"default": acct})
    first, second = report.failed
    assert (first.key, second.key) == ("create pool a", "create pool b")
    assert f"create pool a: {first.error}; create pool b: {second.error}." in report.summary()


def test_every_missing_account_is_named(acct: espkit.Account) -> None:
    conn = {n: Connection(n, "sandbox", {"path": ":memory:"}) for n in ("one", "two")}
    f = fleet_of(DesiredDomain(NEWS, "acme", "marketing", connection="one"),
                 DesiredDomain("mail.acme.example.com", "acme", "marketing", connection="two"),
                 conn=conn)
    p = plan(f, {"one": acct, "two": acct})
    with pytest.raises(ConfigError) as info:
        apply(p, {})
    assert str(info.value) == "no account given for connection(s) one, two"


def test_a_failed_connection_does_not_stop_the_next(sleeps: list[float]) -> None:
    conn = {n: Connection(n, "sandbox", {"path": ":memory:"}) for n in ("one", "two")}
    with espkit.connect("sandbox", path=":memory:") as one, \
            espkit.connect("sandbox", path=":memory:") as two:
        f = Fleet(conn, pools=(PoolSpec("bad", ips=("203.0.113.250",), connection="one"),),
                  customers=(CustomerSpec("acme", (
                      DesiredDomain(NEWS, "acme", "marketing", connection="one"),
                      DesiredDomain("mail.acme.example.com", "acme", "marketing",
                                    connection="two"))),),
                  ownership=OWN)
        report = apply(plan(f, {"one": one, "two": two}), {"one": one, "two": two})
        assert [s.key for s in report.failed] == ["create pool bad"]
        assert report.skipped == (
            "one: domain changes not attempted because a pool or subaccount change failed; "
            "fix it and apply again.",)
        assert report.domains["two"].counts == {"created": 1}
        assert [d.name for d in two.domains.list()] == ["mail.acme.example.com"]
        assert list(one.domains.list()) == []


def test_pool_deletes_and_warmups_are_reported_under_their_keys(acct: espkit.Account) -> None:
    ips = v4(acct)
    acct.pools.create("gone", ips=[ips[1]])
    f = fleet_of(pools=(PoolSpec("mkt", ips=(ips[0],)),),)
    f = Fleet(CONN, pools=f.pools, ownership=Ownership(domains=("*.example.com",),
                                                       pools=("gone",)))
    p = plan(f, {"default": acct})
    report = apply(p, {"default": acct}, force=True)
    assert report.ok, report.summary()
    assert [(s.key, s.outcome) for s in report.steps] == [
        ("create pool mkt", Outcome.CREATED), ("delete pool gone", Outcome.DELETED)]
    warm = espkit.fleet.loads(
        "version: 1\nconnections:\n  default: {provider: sandbox, path: ':memory:'}\n"
        f"pools:\n  mkt: {{ips: [{ips[0]}], warmup: auto}}\n")
    p = plan(warm, {"default": acct})
    assert [c.kind for c in p.changes] == [Kind.WARMUP]
    report = apply(p, {"default": acct})
    assert [(s.key, s.outcome) for s in report.steps] == [
        (f"start warmup {ips[0]}", Outcome.UPDATED)]


# -- apply_fleet passes its arguments on ----------------------------------------------------


class BulkSpy:
    """Records the concurrency each bulk run is given, then runs the real engine."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.given: list[int] = []
        def make(acct: espkit.Account, **kwargs: Any) -> Any:
            self.given.append(kwargs.get("max_concurrency", -1))
            return Bulk(acct, **kwargs)

        monkeypatch.setattr("espkit.fleet.applier.Bulk", make)


def test_the_concurrency_reaches_the_bulk_engine(acct: espkit.Account,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    spy = BulkSpy(monkeypatch)
    f = fleet_of(DesiredDomain(NEWS, "acme", "marketing"))
    apply(plan(f, {"default": acct}), {"default": acct})
    f2 = fleet_of(DesiredDomain(NEWS, "acme", "marketing"),
                  DesiredDomain("mail.acme.example.com", "acme", "marketing"))
    apply(plan(f2, {"default": acct}), {"default": acct}, max_concurrency=3)
    f3 = fleet_of(*f2.customers[0].domains, DesiredDomain("a.acme.example.com", "acme", "x"))
    apply_fleet(f3, accounts={"default": acct})
    f4 = fleet_of(*f3.customers[0].domains, DesiredDomain("b.acme.example.com", "acme", "x"))
    apply_fleet(f4, accounts={"default": acct}, max_concurrency=5)
    assert spy.given == [256, 3, 256, 5]


def test_a_run_is_sized_by_its_domain_changes(acct: espkit.Account,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int | None] = []
    real = type(acct).batch

    def batch(self: espkit.Account, *args: Any, **kwargs: Any) -> Any:
        sizes.append(kwargs.get("size"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(acct), "batch", batch)
    ips = v4(acct)
    f = fleet_of(DesiredDomain(NEWS, "acme", "marketing"),
                 DesiredDomain("mail.acme.example.com", "acme", "marketing"),
                 pools=(PoolSpec("mkt", ips=(ips[0],)),))
    p = plan(f, {"default": acct})
    sizes.clear()
    apply(p, {"default": acct})
    # two domain changes (the pool change is none); then the bulk run's own, of its items
    assert sizes == [2, 2]


def test_apply_fleet_is_safe_unless_forced(acct: espkit.Account) -> None:
    for i in range(10):
        acct.domains.create(f"d{i}.acme.example.com")
    keep = fleet_of(DesiredDomain("d0.acme.example.com", "acme", "marketing"))
    with pytest.raises(TooMuchChange):
        apply_fleet(keep, accounts={"default": acct})  # would delete 9 of 10
    assert len(list(acct.domains.list())) == 10
    assert apply_fleet(keep, accounts={"default": acct}, force=True).ok
    assert [d.name for d in acct.domains.list()] == ["d0.acme.example.com"]


def test_apply_fleet_deletes_unknown_domains_only_when_asked(acct: espkit.Account) -> None:
    acct.domains.create("stray.other.test")  # not the fleet's: unknown
    f = fleet_of(DesiredDomain(NEWS, "acme", "marketing"))
    assert apply_fleet(f, accounts={"default": acct}).ok
    assert sorted(d.name for d in acct.domains.list()) == [NEWS, "stray.other.test"]
    assert apply_fleet(f, accounts={"default": acct}, delete_unknown=True, force=True).ok
    assert [d.name for d in acct.domains.list()] == [NEWS]


# -- linking many domains per request (the Mailgun fake) -----------------------------------


@pytest.fixture
def mailgun(sleeps: list[float]) -> Iterator[MailgunFake]:
    with MailgunFake() as fake:
        yield fake


MG = {"default": Connection("default", "mailgun", {})}


def mg_fleet(fake: MailgunFake, placed: Mapping[str, str | None]) -> Fleet:
    """One domain per name, in the pool given (None: no pool), pools a and b."""
    return Fleet(MG, pools=(PoolSpec("a", ips=(fake.ips[0],)), PoolSpec("b", ips=(fake.ips[1],))),
                 customers=(CustomerSpec("acme", tuple(
                     DesiredDomain(n, "acme", "marketing", pool=p) for n, p in placed.items())),),
                 ownership=OWN)


def patches(fake: MailgunFake, since: int) -> int:
    return sum(1 for m, p in fake.log[since:] if m == "PATCH")


def sent(fake: MailgunFake, since: int) -> Counter[str]:
    return Counter(f"{m} {re.sub(r'pool[0-9]+', '{id}', p)}" for m, p in fake.log[since:])


def names(n: int, prefix: str = "d") -> list[str]:
    return [f"{prefix}{i}.acme.example.com" for i in range(n)]


def moved(fake: MailgunFake, acct: espkit.Account, before: Mapping[str, str | None],
          after: Mapping[str, str | None]) -> tuple[int, Any]:
    assert apply_fleet(mg_fleet(fake, before), accounts={"default": acct}).ok
    start = len(fake.log)
    report = apply_fleet(mg_fleet(fake, after), accounts={"default": acct}, force=True)
    assert report.ok, report.summary()
    by_pool = {p["name"]: sorted(p["linked"]) for p in fake.pools.values()}
    assert by_pool == {pool: sorted(n for n, q in after.items() if q == pool)
                       for pool in ("a", "b")}
    return patches(fake, start), report


def test_two_domains_moved_to_a_pool_are_linked_in_one_request(mailgun: MailgunFake) -> None:
    acct = mailgun.connect()
    two = names(2)
    count, report = moved(mailgun, acct, dict.fromkeys(two, "a"), dict.fromkeys(two, "b"))
    assert count == 1
    assert report.counts() == {"assigned": 2}


def test_one_domain_alone_is_linked_by_its_own_item(mailgun: MailgunFake) -> None:
    acct = mailgun.connect()
    [one] = names(1)
    count, _ = moved(mailgun, acct, {one: "a"}, {one: "b"})
    assert count == 1


def test_each_pool_is_linked_apart_after_a_lone_one(mailgun: MailgunFake) -> None:
    acct = mailgun.connect()
    lone, three = names(1, "x"), names(3, "y")
    before = {lone[0]: "b", **dict.fromkeys(three, "a")}
    after = {lone[0]: "a", **dict.fromkeys(three, "b")}
    # x0 sorts before y*: its group of one (pool a) comes first and is left to its item;
    # the three moved to b still go in one request
    count, _ = moved(mailgun, acct, before, after)
    assert count == 1 + 1


def test_creates_in_the_plan_do_not_stop_the_links(mailgun: MailgunFake) -> None:
    acct = mailgun.connect()
    three = names(3)
    assert apply_fleet(mg_fleet(mailgun, dict.fromkeys(three, "a")),
                       accounts={"default": acct}).ok
    start = len(mailgun.log)
    after = {"a-new.acme.example.com": "b", **dict.fromkeys(three, "b")}
    report = apply_fleet(mg_fleet(mailgun, after), accounts={"default": acct}, force=True)
    assert report.ok, report.summary()
    assert patches(mailgun, start) == 1  # the three moved domains; the create carries its pool
    assert report.counts() == {"assigned": 3, "created": 1}


def test_a_batch_that_cannot_start_does_not_stop_the_next_pools(mailgun: MailgunFake) -> None:
    acct = mailgun.connect()
    to_a, to_b = names(2, "p"), names(2, "q")
    assert apply_fleet(mg_fleet(mailgun, {**dict.fromkeys(to_a, "b"),
                                          **dict.fromkeys(to_b, "a")}),
                       accounts={"default": acct}).ok
    p = plan(mg_fleet(mailgun, {**dict.fromkeys(to_a, "a"), **dict.fromkeys(to_b, "b")}),
             {"default": acct})
    gone = next(i for i, q in mailgun.pools.items() if q["name"] == "a")
    del mailgun.pools[gone]  # pool a is deleted behind the plan's back
    start = len(mailgun.log)
    report = apply(p, {"default": acct}, force=True)
    assert sorted(r.key for r in report.failed) == [f"assign {n}" for n in to_a]
    assert patches(mailgun, start) == 1  # pool b's two domains, in one request
    # the p domains stay in b: their move failed before anything was dropped
    assert {q["name"]: sorted(q["linked"]) for q in mailgun.pools.values()} == {
        "b": sorted(to_a + to_b)}


def test_a_failed_batch_does_not_stop_the_next_pools(mailgun: MailgunFake) -> None:
    acct = mailgun.connect()
    to_a, to_b = names(2, "p"), names(2, "q")
    assert apply_fleet(mg_fleet(mailgun, {**dict.fromkeys(to_a, "b"),
                                          **dict.fromkeys(to_b, "a")}),
                       accounts={"default": acct}).ok
    start = len(mailgun.log)
    mailgun.fail_next("503", "PATCH", "/v3/ip_pools/")  # the first batch fails
    report = apply_fleet(mg_fleet(mailgun, {**dict.fromkeys(to_a, "a"),
                                            **dict.fromkeys(to_b, "b")}),
                         accounts={"default": acct}, force=True)
    assert report.ok, report.summary()
    # the failed batch (1), its two domains one by one (2), the next pool's batch (1)
    assert patches(mailgun, start) == 4
    assert {p["name"]: sorted(p["linked"]) for p in mailgun.pools.values()} == {
        "a": to_a, "b": to_b}


def test_ips_given_to_domains_are_no_pool_to_link(mailgun: MailgunFake) -> None:
    acct = mailgun.connect()
    two = names(2, "i")
    assert apply_fleet(Fleet(MG, customers=(CustomerSpec("acme", tuple(
        DesiredDomain(n, "acme", "x") for n in two)),), ownership=OWN),
        accounts={"default": acct}).ok
    start = len(mailgun.log)
    report = apply_fleet(Fleet(MG, customers=(CustomerSpec("acme", tuple(
        DesiredDomain(n, "acme", "x", ips=(mailgun.ips[0],)) for n in two)),), ownership=OWN),
        accounts={"default": acct}, force=True)
    assert report.ok, report.summary()
    assert report.counts() == {"assigned": 2}
    # the plan's one listing of the pools, and no pool looked for under an IP's name
    assert {k: v for k, v in sent(mailgun, start).items() if "ip_pools" in k} == {
        "GET /v3/ip_pools": 1}
    assert sent(mailgun, start)[f"POST /v3/domains/{two[0]}/ips"] == 1


def test_only_new_pool_targets_are_linked_in_batches(mailgun: MailgunFake) -> None:
    """Domains that keep their pool send nothing for it: no batch of the pool they are in."""
    acct = mailgun.connect()
    keep = names(2, "k")
    move = names(2, "m")
    count, _ = moved(mailgun, acct, {**dict.fromkeys(keep, "a"), **dict.fromkeys(move, "a")},
                     {**dict.fromkeys(keep, "a"), **dict.fromkeys(move, "b")})
    assert count == 1
    start = len(mailgun.log)
    assert apply_fleet(mg_fleet(mailgun, {**dict.fromkeys(keep, "a"),
                                          **dict.fromkeys(move, "b")}),
                       accounts={"default": acct}).plan.empty
    assert sent(mailgun, start)["PATCH /v3/ip_pools/{id}"] == 0
