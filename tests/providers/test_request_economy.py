"""Request economy on Mailgun, counted at its wire-level fake: the rows of the "Requests per
operation" table in benchmarks/README.md that must not creep back.

A fleet apply of N domains costs N requests plus a constant; inside a run (``acct.batch``)
a pool's id is listed once, its details read once, domain ids come from one listing when the
run is large enough for that to pay (and from a read per domain when not), and the fleet
applier links 100 domains per request. Every request these paths send is checked against
Mailgun's OpenAPI description too.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from support.fakes.base import Call
from support.fakes.mailgun import MailgunFake

import espkit
from espkit.bulk import Bulk
from espkit.fleet import (
    Connection,
    CustomerSpec,
    DesiredDomain,
    Fleet,
    PoolSpec,
    apply,
    apply_fleet,
    plan,
)
from espkit.providers.mailgun_dipps import LINK_BATCH


class KeepingFake(MailgunFake):
    """The Mailgun fake, keeping every request whole (for the spec check)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[requests.PreparedRequest] = []

    def _keep(self, call: Call) -> None:
        self.requests.append(call.request)


@pytest.fixture
def fake(sleeps: list[float]) -> Iterator[KeepingFake]:
    with KeepingFake() as f:
        yield f


def shape(method: str, path: str) -> str:
    path = re.sub(r"/v3/ip_pools/[^/]+", "/v3/ip_pools/{id}", path)
    path = re.sub(r"/v4/domains/[^/]+", "/v4/domains/{name}", path)
    return f"{method} {path}"


def counted(fake: MailgunFake, since: int = 0) -> collections.Counter[str]:
    return collections.Counter(shape(m, p) for m, p in fake.log[since:])


def names(n: int, zone: str = "economy.example.com") -> list[str]:
    return [f"d{i:04d}.{zone}" for i in range(n)]


def fleet_of(fake: MailgunFake, customers: int, *, news_pool: str = "mkt") -> Fleet:
    specs = tuple(CustomerSpec(f"c{i}", (
        DesiredDomain(f"news.c{i}.economy.example.com", f"c{i}", "news", pool=news_pool),
        DesiredDomain(f"mail.c{i}.economy.example.com", f"c{i}", "mail", pool="txn"),
    )) for i in range(customers))
    pools = (PoolSpec("mkt", ips=(fake.ips[0],)), PoolSpec("txn", ips=(fake.ips[1],)))
    return Fleet({"default": Connection("default", "mailgun", {})}, pools=pools,
                 customers=specs)


# -- the fleet ----------------------------------------------------------------------------------


@pytest.mark.parametrize("customers", [5, 40])
def test_a_fleet_apply_of_n_domains_costs_n_requests_plus_a_constant(
        fake: KeepingFake, customers: int) -> None:
    acct = fake.connect()
    report = apply_fleet(fleet_of(fake, customers), accounts={"default": acct})
    assert report.ok, report.summary()
    n = 2 * customers
    assert counted(fake) == {
        "POST /v4/domains": n,        # each create carries its pool_id
        "POST /v3/ip_pools": 2,
        "GET /v3/ip_pools": 1,        # the plan's listing serves every create
        "GET /v3/ips": 1, "GET /v4/domains": 1,
    }
    assert all(len(p["linked"]) == customers for p in fake.pools.values())
    # and the plan of the fleet as it now stands reads a constant, not per domain
    before = len(fake.log)
    again = apply_fleet(fleet_of(fake, customers), accounts={"default": acct})
    assert again.plan.empty
    assert len(fake.log) - before == 5  # domains, pools, IPs, two pools' details


def test_applying_a_plan_made_earlier_lists_the_pools_once_for_every_create(
        fake: KeepingFake) -> None:
    acct = fake.connect()
    planned = plan(fleet_of(fake, 10), {"default": acct})
    before = len(fake.log)
    assert apply(planned, {"default": acct}).ok
    assert counted(fake, before) == {"POST /v4/domains": 20, "POST /v3/ip_pools": 2,
                                     "GET /v3/ip_pools": 1}


def test_moving_a_stream_to_another_pool_links_100_domains_per_request(
        fake: KeepingFake) -> None:
    acct = fake.connect()
    assert apply_fleet(fleet_of(fake, 120), accounts={"default": acct}).ok
    before = len(fake.log)
    moved = apply_fleet(fleet_of(fake, 120, news_pool="txn"), accounts={"default": acct},
                        force=True)
    assert moved.ok, moved.summary()
    assert moved.counts() == {"assigned": 120}  # one result per domain, as before
    sent = counted(fake, before)
    assert sent["PATCH /v3/ip_pools/{id}"] == -(-120 // LINK_BATCH) == 2
    assert sum(sent.values()) == 5 + 2  # the plan's reads, then the two PATCHes
    txn = next(p for p in fake.pools.values() if p["name"] == "txn")
    assert len(txn["linked"]) == 240


# -- bulk work in a run -------------------------------------------------------------------------


def _pool_and_domains(acct: espkit.Account, fake: MailgunFake, items: list[str]) -> None:
    acct.pools.create("bulk", ips=[fake.ips[0]])
    assert Bulk(acct).create_domains(items).ok


def test_creates_with_a_pool_list_the_pools_once_in_a_run_and_per_item_outside(
        fake: KeepingFake) -> None:
    acct = fake.connect()
    acct.pools.create("bulk", ips=[fake.ips[0]])
    outside, inside, job = (names(10, "out.example.com"), names(10, "in.example.com"),
                            names(10, "job.example.com"))
    before = len(fake.log)
    for n in outside:                          # single calls, no run: each reads afresh
        acct.domains.create(n, pool="bulk")
    assert counted(fake, before) == {"GET /v3/ip_pools": 10, "POST /v4/domains": 10}
    before = len(fake.log)
    with acct.batch(size=10):
        for n in inside:
            acct.domains.create(n, pool="bulk")
    assert counted(fake, before) == {"GET /v3/ip_pools": 1, "POST /v4/domains": 10}
    before = len(fake.log)                     # a bulk job opens its own run
    assert Bulk(acct).create_domains([{"name": n, "pool": "bulk"} for n in job]).ok
    assert counted(fake, before) == {"GET /v3/ip_pools": 1, "POST /v4/domains": 10}


def test_assigning_a_pool_in_a_run_costs_one_patch_per_domain(fake: KeepingFake) -> None:
    acct = fake.connect()
    items = names(30)
    _pool_and_domains(acct, fake, items)
    before = len(fake.log)
    with acct.batch(size=len(items)):
        assert Bulk(acct).assign(items, pool="bulk").ok
        # a second pass finds them linked: nothing to send
        assert Bulk(acct).assign(items, pool="bulk").ok
    assert counted(fake, before) == {
        "PATCH /v3/ip_pools/{id}": 30, "GET /v3/ip_pools": 1, "GET /v3/ip_pools/{id}": 1,
        "GET /v4/domains": 1,  # the ids, from one page of the listing
    }


@pytest.mark.parametrize(("size", "pages", "reads"), [(2, 1, 2), (3, 2, 0)])
def test_the_listing_is_read_whole_only_when_it_costs_less_than_a_read_per_item(
        fake: KeepingFake, size: int, pages: int, reads: int) -> None:
    """1,500 domains: after the first page (1,000) one page is left. A run of 2 items would
    spend as much on it as on reading the two domains, so it reads them; a run of 3 reads
    the page."""
    acct = fake.connect()
    acct.pools.create("bulk", ips=[fake.ips[0]])
    for i in range(1500):
        fake._create_domain({"name": [f"x{i:04d}.economy.example.com"]})
    tail = [f"x{i:04d}.economy.example.com" for i in range(1500 - size, 1500)]
    before = len(fake.log)
    with acct.batch(size=size):
        for name in tail:
            acct.domains.assign(name, pool="bulk")
    sent = counted(fake, before)
    assert sent["GET /v4/domains"] == pages
    assert sent["GET /v4/domains/{name}"] == reads
    assert sent["PATCH /v3/ip_pools/{id}"] == size


def test_without_a_size_hint_ids_are_read_per_domain(fake: KeepingFake) -> None:
    acct = fake.connect()
    items = names(3)
    _pool_and_domains(acct, fake, items)
    before = len(fake.log)
    with acct.batch():
        for name in items:
            acct.domains.assign(name, pool="bulk")
    assert counted(fake, before) == {"PATCH /v3/ip_pools/{id}": 3, "GET /v3/ip_pools": 1,
                                     "GET /v3/ip_pools/{id}": 1, "GET /v4/domains/{name}": 3}


def test_a_pool_made_again_behind_the_runs_back_is_listed_again_once(
        fake: KeepingFake) -> None:
    acct = fake.connect()
    acct.pools.create("bulk", ips=[fake.ips[0]])
    items = names(6)
    with acct.batch(size=6):
        acct.domains.create(items[0], pool="bulk")
        # another process deletes the pool and makes one of the same name (a new id)
        other = fake.connect()
        other.pools.delete("bulk", replacement="shared")
        other.pools.create("bulk", ips=[fake.ips[0]])
        before = len(fake.log)
        for name in items[1:]:
            acct.domains.create(name, pool="bulk")
    sent = counted(fake, before)
    assert sent["GET /v3/ip_pools"] == 1  # one re-read, not one per create
    assert sent["POST /v4/domains"] == 5 + 1  # the first try, refused, and the 5 creates
    (pool,) = fake.pools.values()
    assert sorted(pool["linked"]) == items[1:]
    assert len(fake.domains) == 6  # the refused try created nothing


def test_a_lost_pool_create_answer_in_a_run_is_read_back_afresh_not_sent_twice(
        fake: KeepingFake) -> None:
    acct = fake.connect()
    with acct.batch(size=3):
        assert list(acct.pools.list()) == []  # the run's listing
        with pytest.raises(espkit.NotFound):
            acct.pools.get("fresh")  # it lacks the name, which has had its one re-read
        fake.fail_next("timeout_after_commit", "POST", "/v3/ip_pools")
        made = acct.pools.create("fresh", ips=[fake.ips[0]])
    assert made.name == "fresh"
    assert [p["name"] for p in fake.pools.values()] == ["fresh"]  # adopted, not made twice


def test_a_domain_linked_behind_the_runs_back_is_read_again_not_failed(
        fake: KeepingFake) -> None:
    acct = fake.connect()
    items = names(2)
    _pool_and_domains(acct, fake, items)
    with acct.batch(size=2):
        acct.domains.assign(items[0], pool="bulk")  # the run reads the pool's details
        fake.connect().domains.assign(items[1], pool="bulk")  # another process links it
        before = len(fake.log)
        got = acct.domains.assign(items[1], pool="bulk")  # Mailgun: "nothing to change"
        again = len(fake.log)
        acct.domains.assign(items[1], pool="bulk")
    assert got.target == "bulk"
    assert counted(fake, before) == {"PATCH /v3/ip_pools/{id}": 1, "GET /v3/ip_pools/{id}": 1}
    assert len(fake.log) == again  # now the run knows


def test_a_pool_that_does_not_exist_is_listed_again_once_per_run(fake: KeepingFake) -> None:
    acct = fake.connect()
    items = names(8)
    before = len(fake.log)
    with acct.batch(size=8):
        report = Bulk(acct).create_domains([{"name": n, "pool": "nope"} for n in items])
    assert len(report.failed) == 8
    assert all(isinstance(r.error, espkit.NotFound) for r in report.failed)
    assert counted(fake, before) == {"GET /v3/ip_pools": 2}  # nothing was created
    assert fake.domains == {}


def test_a_failed_batch_leaves_each_domain_to_link_itself(fake: KeepingFake) -> None:
    acct = fake.connect()
    items = names(4)
    _pool_and_domains(acct, fake, items)
    with acct.batch(size=5):
        fake.fail_next("503", "PATCH", "/v3/ip_pools/")  # a PATCH is not re-sent on a 5xx
        results = acct.domains.assign_many(items, pool="bulk")
        assert set(results) == set(items)
        assert all(isinstance(e, espkit.ServerError) for e in results.values())
        for name in items:  # linked one by one afterwards
            acct.domains.assign(name, pool="bulk")
    (pool,) = fake.pools.values()
    assert sorted(pool["linked"]) == items


def test_assign_many_reports_a_missing_domain_and_links_the_rest(fake: KeepingFake) -> None:
    acct = fake.connect()
    items = names(3)
    _pool_and_domains(acct, fake, items)
    before = len(fake.log)
    results = acct.domains.assign_many([*items, "missing.example.com"], pool="bulk")
    assert [n for n, e in results.items() if e is None] == items
    assert isinstance(results["missing.example.com"], espkit.NotFound)
    assert counted(fake, before)["PATCH /v3/ip_pools/{id}"] == 1


def test_pool_ips_move_in_one_request_per_pool(fake: KeepingFake) -> None:
    acct = fake.connect()
    acct.pools.create("a", ips=[fake.ips[0], fake.ips[1]])
    acct.pools.create("b", ips=[fake.ips[2]])
    before = len(fake.log)
    got = acct.pools.update_ips("b", add=[fake.ips[0], fake.ips[1], fake.ips[3]],
                                remove=[fake.ips[2]])
    assert set(got.ips) == {fake.ips[0], fake.ips[1], fake.ips[3]}
    assert counted(fake, before) == {"GET /v3/ip_pools": 1, "PATCH /v3/ip_pools/{id}": 2}
    by_name = {p["name"]: set(p["ips"]) for p in fake.pools.values()}
    assert by_name == {"a": set(), "b": {fake.ips[0], fake.ips[1], fake.ips[3]}}
    before = len(fake.log)
    acct.pools.update_ips("b", add=[fake.ips[3]])  # nothing changes: nothing is sent
    assert counted(fake, before) == {"GET /v3/ip_pools": 1}


@pytest.mark.parametrize(("add", "remove", "field"), [
    (["203.0.113.10", "not-an-ip"], [], "add"),
    ([], ["999.1.1.1"], "remove"),
    (["203.0.113.10"], ["203.0.113.10"], "remove"),
])
def test_bad_pool_ip_changes_are_refused_before_anything_is_sent(
        fake: KeepingFake, add: list[str], remove: list[str], field: str) -> None:
    acct = fake.connect()
    with pytest.raises(espkit.ValidationError) as info:
        acct.pools.update_ips("bulk", add=add, remove=remove)
    assert info.value.field == field
    assert fake.log == []


def test_bad_names_for_assign_many_are_refused_before_anything_is_sent(
        fake: KeepingFake) -> None:
    acct = fake.connect()
    for bad in (["ok.example.com", "not a domain"], "one.example.com"):
        with pytest.raises(espkit.ValidationError):
            acct.domains.assign_many(bad, pool="bulk")
    with pytest.raises(espkit.ValidationError):
        acct.domains.assign_many(["ok.example.com"], pool="bad pool name")
    assert fake.log == []


# -- every request these paths send, against Mailgun's spec ----------------------------------


def test_every_request_of_the_economical_paths_matches_the_spec(
        fake: KeepingFake, spec_dir: Any) -> None:
    from test_mailgun_spec import check_request, load

    raw, api = load(spec_dir / "mailgun" / "openapi.yaml")
    acct = fake.connect()
    assert apply_fleet(fleet_of(fake, 3), accounts={"default": acct}).ok
    assert apply_fleet(fleet_of(fake, 3, news_pool="txn"), accounts={"default": acct},
                       force=True).ok
    acct.pools.update_ips("mkt", add=[fake.ips[1], fake.ips[2]], remove=[fake.ips[0]])
    with acct.batch(size=3):
        items = names(3)
        for name in items:
            acct.domains.create(name)
        acct.domains.assign_many(items, pool="mkt")
        acct.domains.assign(items[0], ip=fake.ips[3])
    sub = acct.subaccounts.create("economy")
    acct.subaccounts.disable(sub)
    acct.subaccounts.disable(sub)  # already: read back
    sent = {shape(r.method or "", r.path_url.split("?")[0]) for r in fake.requests}
    assert {"PATCH /v3/ip_pools/{id}", "GET /v4/domains",
            "POST /v5/accounts/subaccounts"} <= sent
    problems = [p for r in fake.requests for p in check_request(raw, api, r)]
    assert problems == []
