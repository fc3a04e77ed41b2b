"""Plan: the behaviours mutation testing found unpinned (scripts/mutation.py planner).

The reasons, scopes and connections each change and unknown carries; conflicts and unknowns
of every connection kept; a refused capability named; an ESP that takes no pool or IPs when
a domain is created (a sandbox told so) getting them assigned after; the accounts a plan
opens or is given; the safety check of a kind the plan counted none of.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from support import fleets
from support.fakes.mailgun import MailgunFake
from support.fleets import CONN, v4

import espkit
from espkit.errors import ConfigError, TooMuchChange, Unsupported
from espkit.fleet import (
    Action,
    Change,
    Connection,
    CustomerSpec,
    DesiredDomain,
    Fleet,
    Kind,
    Ownership,
    Plan,
    PoolSpec,
    Safety,
    apply,
    plan,
)
from espkit.fleet.planner import diff, read_live
from espkit.models import Capability
from espkit.testing import emulator

OWN = Ownership(domains=("*.acme.example.com",))
NEWS = "news.acme.example.com"


# this file's fleets own acme's names only (a customer beta's are outside them)
fleet_of = functools.partial(fleets.fleet_of, own=OWN)


def reads(acct: espkit.Account, since: int = 0) -> list[str]:
    return [path for method, path, *_ in list(emulator(acct).history)[since:]
            if method == "GET"]


# -- what each change and unknown carries ----------------------------------------------------


def test_a_move_carries_its_reason_and_its_subaccount(acct: espkit.Account) -> None:
    ips = v4(acct)
    pools = (PoolSpec("old", ips=(ips[0],)), PoolSpec("new", ips=(ips[1],)))
    declared = DesiredDomain(NEWS, "acme", "marketing", subaccount="acme", pool="old")
    assert apply(plan(fleet_of(declared, pools=pools, sub="acme"), {"default": acct}),
                 {"default": acct}).ok
    sub_id = acct.subaccounts.ids_by_name()["acme"]
    moved = DesiredDomain(NEWS, "acme", "marketing", subaccount="acme", pool="new")
    p = plan(fleet_of(moved, pools=pools, sub="acme"), {"default": acct})
    [change] = p.changes
    assert (change.action, change.reason) == (Action.ASSIGN, "stream marketing sends from "
                                                             "pool:new")
    assert (change.subaccount, change.subaccount_id) == ("acme", sub_id)
    assert apply(p, {"default": acct}, force=True).ok
    [got] = acct.on_behalf_of(sub_id).domains.assignments(NEWS)
    assert got.target == "new"


def test_delete_reasons_say_why(acct: espkit.Account) -> None:
    acct.domains.create("old.acme.example.com")  # owned, no longer declared
    acct.domains.create("stray.other.test")      # neither declared nor owned
    f = fleet_of(DesiredDomain(NEWS, "acme", "marketing"))
    p = plan(f, {"default": acct}, delete_unknown=True)
    reasons = {c.name: c.reason for c in p.changes if c.action is Action.DELETE}
    assert reasons == {"old.acme.example.com": "owned by the fleet, no longer declared",
                       "stray.other.test": "not declared (deleting unknowns was asked for)"}


def test_unknowns_of_every_connection_carry_connection_and_subaccount(sleeps: list[float]
                                                                      ) -> None:
    conn = {n: Connection(n, "sandbox", {"path": ":memory:"}) for n in ("one", "two")}
    with espkit.connect("sandbox", path=":memory:") as one, \
            espkit.connect("sandbox", path=":memory:") as two:
        one.domains.create("stray.one.test")
        sub = two.subaccounts.create("other")
        two.on_behalf_of(sub.id).domains.create("stray.two.test")
        f = Fleet(conn, customers=(
            CustomerSpec("acme", (DesiredDomain(NEWS, "acme", "x", connection="one"),)),
            CustomerSpec("beta", (DesiredDomain("news.beta.example.com", "beta", "x",
                                                connection="two", subaccount="other"),),
                         subaccount="other")), ownership=OWN)
        p = plan(f, {"one": one, "two": two})
        assert [(u.kind, u.name, u.connection, u.subaccount) for u in p.unknown] == [
            (Kind.DOMAIN, "stray.one.test", "one", None),
            (Kind.DOMAIN, "stray.two.test", "two", "other")]


def test_conflicts_of_every_connection_are_kept(sleeps: list[float]) -> None:
    conn = {n: Connection(n, "sandbox", {"path": ":memory:"}) for n in ("one", "two")}
    with espkit.connect("sandbox", path=":memory:") as one, \
            espkit.connect("sandbox", path=":memory:") as two:
        f = Fleet(conn, pools=(PoolSpec("a", connection="one", ips=("203.0.113.250",)),
                               PoolSpec("b", connection="two", ips=("203.0.113.251",))))
        p = plan(f, {"one": one, "two": two})
        assert p.conflicts == (
            "pool a: 203.0.113.250 is not one of the account's dedicated IPs (one)",
            "pool b: 203.0.113.251 is not one of the account's dedicated IPs (two)")


def test_a_domain_in_another_scope_is_a_conflict_and_the_rest_is_planned(
        acct: espkit.Account) -> None:
    sub = acct.subaccounts.create("acme")
    acct.subaccounts.create("beta")
    acct.on_behalf_of(sub.id).domains.create(NEWS)
    f = Fleet(CONN, customers=(
        CustomerSpec("acme", (DesiredDomain("mail.acme.example.com", "acme", "x",
                                            subaccount="acme"),), subaccount="acme"),
        CustomerSpec("beta", (DesiredDomain(NEWS, "beta", "x", subaccount="beta"),
                              DesiredDomain("news.beta.example.com", "beta", "x",
                                            subaccount="beta")), subaccount="beta")),
        ownership=OWN)
    p = plan(f, {"default": acct})
    assert p.conflicts == (f"domain {NEWS} is declared in subaccount beta but lives in "
                           "subaccount acme; move it by hand",)
    assert [(c.action, c.name) for c in p.changes] == [
        (Action.CREATE, "mail.acme.example.com"), (Action.CREATE, "news.beta.example.com")]


def test_diff_leaves_unknowns_alone_by_default(acct: espkit.Account) -> None:
    acct.domains.create("stray.other.test")
    f = fleet_of(DesiredDomain(NEWS, "acme", "marketing"))
    changes, unknown, _ = diff(f, "default", acct, read_live(f, "default", acct))
    assert [(c.action, c.name) for c in changes] == [(Action.CREATE, NEWS)]
    assert [u.name for u in unknown] == ["stray.other.test"]


# -- capabilities ----------------------------------------------------------------------------


def test_subaccounts_where_the_esp_has_none_are_refused_by_name(sleeps: list[float]) -> None:
    with espkit.connect("sandbox", path=":memory:", like="ses") as acct:
        f = fleet_of(DesiredDomain(NEWS, "acme", "x", subaccount="acme"), sub="acme")
        with pytest.raises(Unsupported) as info:
            plan(f, {"default": acct})
        assert info.value.capability == Capability.SUBACCOUNTS.value


def test_pools_where_the_esp_has_none_are_refused_by_name(sleeps: list[float]) -> None:
    with espkit.connect("sandbox", path=":memory:", like="postmark") as acct:
        f = Fleet(CONN, pools=(PoolSpec("mkt"),))
        with pytest.raises(Unsupported) as info:
            plan(f, {"default": acct})
        assert info.value.capability == Capability.IP_POOLS.value


@pytest.mark.parametrize(("taken", "hint"), [
    ({Capability.ASSIGN_DOMAIN_POOL},
     "it binds pools to subaccounts (acct.subaccounts.assign)"),
    ({Capability.ASSIGN_DOMAIN_POOL, Capability.ASSIGN_SUBACCOUNT_POOL}, ""),
])
def test_a_pool_for_a_domain_is_refused_with_the_hint_there_is(
        acct: espkit.Account, monkeypatch: pytest.MonkeyPatch, taken: set[Capability],
        hint: str) -> None:
    """An ESP that binds pools only to subaccounts (and picks no pool per message)."""
    monkeypatch.setattr(acct.provider, "SUPPORTS", acct.provider.SUPPORTS - taken)
    monkeypatch.setattr(acct.provider, "SEND_TIME_POOLS", False)
    ips = v4(acct)
    f = fleet_of(DesiredDomain(NEWS, "acme", "marketing", pool="mkt"),
                 pools=(PoolSpec("mkt", ips=(ips[0],)),))
    with pytest.raises(Unsupported) as info:
        plan(f, {"default": acct})
    assert info.value.provider == acct.name
    assert info.value.capability == (f"stream marketing: sending {NEWS} from a pool "
                                     "(assign.domain_pool)")
    assert info.value.hint == hint


def test_auto_warmup_on_an_esp_with_pools_but_no_warmups_is_refused(
        acct: espkit.Account, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(acct.provider, "SUPPORTS",
                        acct.provider.SUPPORTS - {Capability.IP_WARMUP})
    ips = v4(acct)
    f = espkit.fleet.loads("version: 1\nconnections:\n  default: {provider: sandbox}\n"
                           f"pools:\n  mkt: {{ips: [{ips[0]}], warmup: auto}}\n")
    with pytest.raises(Unsupported) as info:
        plan(f, {"default": acct})
    assert info.value.capability == Capability.IP_WARMUP.value


def test_an_esp_that_takes_no_pool_or_ips_at_create_gets_them_assigned_after(
        acct: espkit.Account, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(acct.provider, "DOMAIN_OPTIONS",
                        acct.provider.DOMAIN_OPTIONS - {"pool", "ips"})
    ips = v4(acct)
    pools = (PoolSpec("mkt", ips=(ips[0],)),)
    f = fleet_of(DesiredDomain(NEWS, "acme", "marketing", pool="mkt"),
                 DesiredDomain("mail.acme.example.com", "acme", "marketing", ips=(ips[1],)),
                 pools=pools)
    p = plan(f, {"default": acct})
    specs = {c.name: c.spec for c in p.changes if c.kind is Kind.DOMAIN}
    assert {n: (s.name, s.pool, s.ips) for n, s in specs.items() if s is not None} == {
        NEWS: (NEWS, None, ()), "mail.acme.example.com": ("mail.acme.example.com", None, ())}
    assert apply(p, {"default": acct}).ok
    assert [(a.kind.value, a.target) for a in acct.domains.assignments(NEWS)] == [
        ("pool", "mkt")]
    assert [(a.kind.value, a.target) for a in acct.domains.assignments(
        "mail.acme.example.com")] == [("ip", ips[1])]


def test_an_esp_that_takes_them_at_create_keeps_them_in_the_spec(acct: espkit.Account) -> None:
    ips = v4(acct)
    f = fleet_of(DesiredDomain(NEWS, "acme", "marketing", pool="mkt"),
                 DesiredDomain("mail.acme.example.com", "acme", "marketing", ips=(ips[1],)),
                 pools=(PoolSpec("mkt", ips=(ips[0],)),))
    specs = {c.name: c.spec for c in plan(f, {"default": acct}).changes
             if c.kind is Kind.DOMAIN}
    news, mail = specs[NEWS], specs["mail.acme.example.com"]
    assert news is not None
    assert news.pool == "mkt"
    assert mail is not None
    assert mail.ips == (ips[1],)


# -- the accounts, the reads and the run -----------------------------------------------------


def test_a_plan_without_accounts_opens_its_connections(sleeps: list[float]) -> None:
    seen: list[str] = []
    p = plan(fleet_of(DesiredDomain(NEWS, "acme", "marketing")), on_read=seen.append)
    assert [(c.action, c.name) for c in p.changes] == [(Action.CREATE, NEWS)]
    assert seen == ["default"]


def test_a_connection_without_its_account_is_refused(acct: espkit.Account) -> None:
    with pytest.raises(ConfigError) as info:
        plan(fleet_of(DesiredDomain(NEWS, "acme", "marketing")), {"other": acct})
    assert str(info.value) == "no account given for connection 'default'"


def test_the_plan_names_its_source(acct: espkit.Account) -> None:
    f = Fleet(CONN, source="fleet.yaml")
    p = plan(f, {"default": acct})
    assert p.source == "fleet.yaml"
    assert p.summary().startswith("Plan for fleet.yaml: ")


def test_one_connection_reads_only_what_its_own_domains_need(sleeps: list[float]) -> None:
    conn = {n: Connection(n, "sandbox", {"path": ":memory:"}) for n in ("one", "two")}
    with espkit.connect("sandbox", path=":memory:") as one, \
            espkit.connect("sandbox", path=":memory:") as two:
        f = Fleet(conn, customers=(
            CustomerSpec("acme", (DesiredDomain(NEWS, "acme", "x", connection="one"),)),
            CustomerSpec("beta", (DesiredDomain("news.beta.example.com", "beta", "x",
                                                connection="two", subaccount="beta"),),
                         subaccount="beta")))
        plan(f, {"one": one, "two": two})
        assert not [p for p in reads(one) if "subaccounts" in p]
        assert [p for p in reads(two) if p.startswith("/v1/subaccounts")]


def test_runs_are_sized_by_the_connections_domains(
        sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[tuple[str, int | None]] = []
    real = espkit.Account.batch

    def batch(self: espkit.Account, *args: Any, **kwargs: Any) -> Any:
        sizes.append((self.name, kwargs.get("size")))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(espkit.Account, "batch", batch)
    conn = {n: Connection(n, "sandbox", {"path": ":memory:"}) for n in ("one", "two")}
    with espkit.connect("sandbox", path=":memory:") as one, \
            espkit.connect("sandbox", path=":memory:") as two:
        f = Fleet(conn, customers=(CustomerSpec("acme", (
            DesiredDomain(NEWS, "acme", "x", connection="one"),
            DesiredDomain("a.acme.example.com", "acme", "x", connection="two"),
            DesiredDomain("b.acme.example.com", "acme", "x", connection="two"))),))
        plan(f, {"one": one, "two": two})
        assert [size for _, size in sizes] == [1, 2]


def test_pool_links_are_read_only_for_domains_with_a_pool(sleeps: list[float]) -> None:
    with MailgunFake() as fake:
        acct = fake.connect()
        acct.pools.create("mkt", ips=[fake.ips[0]])
        acct.domains.create("linked.acme.example.com", pool="mkt")  # a pool with a link
        f = Fleet({"default": Connection("default", "mailgun", {})},
                  pools=(PoolSpec("mkt", ips=(fake.ips[0],)),),
                  customers=(CustomerSpec("acme", (
                      DesiredDomain(NEWS, "acme", "x"),
                      DesiredDomain("linked.acme.example.com", "acme", "x"))),))
        start = len(fake.log)
        plan(f, {"default": acct})
        assert [p for m, p in fake.log[start:] if p.startswith("/v3/ip_pools/")] == []


# -- the plan as a value ---------------------------------------------------------------------


def test_a_kind_the_plan_counted_none_of_is_not_checked() -> None:
    gone = Change(Action.DELETE, Kind.POOL, "mkt", "default", "owned")
    p = Plan((gone,), existing={"default": {"domain": 10}},
             safety=Safety(max_delete=0.3, max_reassign=0.3, min_existing=1))
    p.check()  # no count of pools: nothing to measure the delete against
    counted = Plan((gone,), existing={"default": {"domain": 10, "pool": 1}},
                   safety=Safety(max_delete=0.3, max_reassign=0.3, min_existing=1))
    with pytest.raises(TooMuchChange):
        counted.check()


def test_the_summary_of_a_plan_with_warmups_keeps_its_counts() -> None:
    p = Plan((Change(Action.START, Kind.WARMUP, "192.0.2.10", "default", "auto"),),
             source="f.yaml")
    assert p.summary() == (f"Plan for f.yaml: 0 to create, 0 to update, 0 to assign, "
                           f"0 to delete, 1 warmup(s) to start, 0 to stop. "
                           f"Checksum {p.checksum}.")


def test_an_esp_that_both_assigns_pools_and_names_them_per_message_reads_assignments(
        acct: espkit.Account, monkeypatch: pytest.MonkeyPatch) -> None:
    """A domain already in its pool on an ESP that can also name the pool per message is
    read like any other: it is in place, nothing to plan."""
    monkeypatch.setattr(acct.provider, "SEND_TIME_POOLS", True)
    ips = v4(acct)
    acct.pools.create("mkt", ips=[ips[0]])
    acct.domains.create(NEWS, pool="mkt")
    f = fleet_of(DesiredDomain(NEWS, "acme", "marketing", pool="mkt"),
                 pools=(PoolSpec("mkt", ips=(ips[0],)),))
    assert plan(f, {"default": acct}).changes == ()
