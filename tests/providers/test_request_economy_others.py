"""Request economy on SendGrid, Postmark, SparkPost and SES, counted at their wire-level
fakes (the Mailgun and fleet rows are in test_request_economy.py).

Inside a run (``acct.batch``): SendGrid finds ids in one listing read once (when it pays,
decided by the run's size hint) and verifies with the validate call alone; Postmark's
verify uses its checks' answers; SparkPost reads a domain's DKIM key once per wait; SES
makes sure of a pool's configuration set once and reads an identity's set once. Outside a
run every call reads afresh, as it always has: both sides are counted.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterator
from typing import Any

import pytest
from support.fakes.postmark import PostmarkFake
from support.fakes.sendgrid import PARENT, SendGridFake
from support.fakes.ses import SesFake
from support.fakes.sparkpost import SparkPostFake

import espkit
from espkit.bulk import Bulk
from espkit.providers.domain_index import ITEMS_PER_PAGE


def shape(method: str, path: str) -> str:
    path = re.sub(r"/\d+", "/{id}", path)
    path = re.sub(r"[a-z0-9.-]+\.example\.com", "{domain}", path)
    return f"{method} {path}"


def counted(fake: Any, since: int = 0) -> collections.Counter[str]:
    return collections.Counter(shape(m, p) for m, p in fake.log[since:])


def names(n: int) -> list[str]:
    return [f"d{i:04d}.economy.example.com" for i in range(n)]


@pytest.fixture
def sendgrid(sleeps: list[float]) -> Iterator[SendGridFake]:
    with SendGridFake() as f:
        yield f


# -- SendGrid ---------------------------------------------------------------------------------


def test_sendgrid_bulk_delete_costs_one_request_per_domain_and_the_listing(
        sendgrid: SendGridFake) -> None:
    acct = sendgrid.connect()
    items = names(150)
    assert Bulk(acct).create_domains(items).ok
    before = len(sendgrid.log)
    with acct.batch(size=len(items)):
        report = Bulk(acct).delete_domains(items)
    assert report.counts == {"deleted": 150}
    assert counted(sendgrid, before) == {"DELETE /v3/whitelabel/domains/{id}": 150,
                                         "GET /v3/whitelabel/domains": 2}  # pages of 100
    assert sendgrid.domains == {}


def test_sendgrid_verify_in_a_run_is_the_validate_call_alone(sendgrid: SendGridFake) -> None:
    acct = sendgrid.connect()
    items = names(20)
    assert Bulk(acct).create_domains(items).ok
    for name in items[:10]:
        sendgrid.publish_dns(name)
    before = len(sendgrid.log)
    with acct.batch(size=20):
        report = Bulk(acct).verify_domains(items)
    assert report.counts == {"verified": 10, "pending": 10}
    assert counted(sendgrid, before) == {"POST /v3/whitelabel/domains/{id}/validate": 20,
                                         "GET /v3/whitelabel/domains": 1}
    # what the run answered is what a read says
    with acct.batch(size=20):
        checked = acct.domains.verify(items[0])
    read = acct.domains.get(items[0])
    assert checked.state is read.state
    assert [(r.host, r.status) for r in checked.dns_records] == \
        [(r.host, r.status) for r in read.dns_records]
    # outside a run: a lookup, the validate call and a read, as before
    before = len(sendgrid.log)
    assert not acct.domains.verify(items[-1]).verified
    assert counted(sendgrid, before) == {"GET /v3/whitelabel/domains": 1,
                                         "POST /v3/whitelabel/domains/{id}/validate": 1,
                                         "GET /v3/whitelabel/domains/{id}": 1}


@pytest.mark.parametrize(("size", "whole"), [(2 * ITEMS_PER_PAGE, False),
                                             (3 * ITEMS_PER_PAGE, True)])
def test_sendgrid_reads_the_listing_only_within_its_page_budget(
        sendgrid: SendGridFake, size: int, whole: bool) -> None:
    """250 domains are 3 pages of 100. A run of 20 items may spend 2 pages: not enough, so
    it keeps what they brought and looks the rest up one by one; a run of 30 reads all 3."""
    for i in range(250):
        sendgrid._create_domain({"domain": f"x{i:03d}.economy.example.com"}, PARENT)
    acct = sendgrid.connect()
    tail = [f"x{i:03d}.economy.example.com" for i in range(250 - size, 250)]
    before = len(sendgrid.log)
    with acct.batch(size=size):
        assert Bulk(acct).delete_domains(tail).counts == {"deleted": size}
    sent = counted(sendgrid, before)
    assert sent["DELETE /v3/whitelabel/domains/{id}"] == size
    if whole:
        assert sent["GET /v3/whitelabel/domains"] == 3
    else:  # 2 pages, then one lookup per domain (none of them was on those pages)
        assert sent["GET /v3/whitelabel/domains"] == 2 + size


def test_sendgrid_create_in_a_run_refuses_a_duplicate_from_the_runs_listing(
        sendgrid: SendGridFake) -> None:
    acct = sendgrid.connect()
    items = names(10)
    assert Bulk(acct).create_domains(items[:4]).ok
    before = len(sendgrid.log)
    with acct.batch(size=10):
        report = Bulk(acct).create_domains(items)
    assert report.counts == {"created": 6, "existed": 4}
    assert counted(sendgrid, before) == {"POST /v3/whitelabel/domains": 6,
                                         "GET /v3/whitelabel/domains": 1}
    assert sorted(d["domain"] for d in sendgrid.domains.values()) == items


def test_sendgrid_a_lost_create_answer_in_a_run_is_read_back_afresh_not_duplicated(
        sendgrid: SendGridFake) -> None:
    acct = sendgrid.connect()
    with acct.batch(size=5):
        acct.domains.list()  # nothing: the run's listing is read on first need
        acct.domains.create(names(1)[0])  # the listing is read (empty) for the check
        sendgrid.fail_next("timeout_after_commit", "POST", "/v3/whitelabel/domains")
        made = acct.domains.create(names(2)[1])
    assert made.name == names(2)[1]
    assert sorted(d["domain"] for d in sendgrid.domains.values()) == names(2)


def test_sendgrid_a_stale_id_in_a_run_is_looked_up_again_once(sendgrid: SendGridFake) -> None:
    acct = sendgrid.connect()
    items = names(3)
    assert Bulk(acct).create_domains(items).ok
    with acct.batch(size=3):
        acct.domains.verify(items[0])  # the run lists the domains
        # another process deletes and re-authenticates the name: a new id
        victim = next(d for d in sendgrid.domains.values() if d["domain"] == items[1])
        del sendgrid.domains[victim["id"]]
        sendgrid._create_domain({"domain": items[1]}, PARENT)
        before = len(sendgrid.log)
        acct.domains.delete(items[1])
    assert counted(sendgrid, before) == {"DELETE /v3/whitelabel/domains/{id}": 2,
                                         "GET /v3/whitelabel/domains": 1}
    assert sorted(d["domain"] for d in sendgrid.domains.values()) == [items[0], items[2]]


def test_sendgrid_subuser_copies_keep_their_own_names(sendgrid: SendGridFake) -> None:
    acct = sendgrid.connect()
    sub = acct.subaccounts.create("cust-1")
    scoped = acct.on_behalf_of(sub)
    name = names(1)[0]
    with acct.batch(size=4):
        acct.domains.create(name)
        scoped.domains.create(name)  # the subuser's own: not refused by the parent's
    owners = sorted(d["username"] for d in sendgrid.domains.values())
    assert owners == sorted([PARENT, sub.id])


# -- Postmark ---------------------------------------------------------------------------------


def test_postmark_verify_uses_the_checks_answers_in_a_run(sleeps: list[float]) -> None:
    with PostmarkFake() as fake:
        acct = fake.connect()
        items = names(6)
        assert Bulk(acct).create_domains(items).ok
        for name in items[:3]:
            fake.publish_dns(name)
        before = len(fake.log)
        with acct.batch(size=6):
            report = Bulk(acct).verify_domains(items)
        assert report.counts == {"verified": 3, "pending": 3}
        assert counted(fake, before) == {"PUT /domains/{id}/verifyDkim": 6,
                                         "PUT /domains/{id}/verifyReturnPath": 6}
        before = len(fake.log)
        assert acct.domains.verify(items[0]).verified  # outside a run: and a read
        assert counted(fake, before)["GET /domains/{id}"] == 1


# -- SparkPost --------------------------------------------------------------------------------


def test_sparkpost_reads_a_domain_once_per_wait(sleeps: list[float]) -> None:
    with SparkPostFake() as fake:
        acct = fake.connect()
        items = names(5)
        assert Bulk(acct).create_domains(items).ok
        ticks = iter([0.0, 0.0, 1.0, 2.0, 2.0])

        def publish(seconds: float) -> None:
            for name in items:
                fake.publish_dns(name)

        before = len(fake.log)
        report = espkit.wait_until_verified(acct, items, timeout=10, poll=1, sleep=publish,
                                            clock=lambda: next(ticks, 9.0))
        assert report.rounds == 2
        assert report.ok
        sent = counted(fake, before)
        assert sent == {"POST /sending-domains/{domain}/verify": 10,
                        "GET /sending-domains/{domain}": 5}
        records = [r for r in report.results if r.failing]
        assert records == []


# -- SES --------------------------------------------------------------------------------------


def test_ses_assign_in_a_run_makes_sure_of_the_set_once(sleeps: list[float]) -> None:
    with SesFake() as fake:
        acct = fake.connect()
        acct.pools.create("mkt", ips=[fake.ips[0]])
        items = names(8)
        assert Bulk(acct).create_domains(items).ok
        before = len(fake.log)
        with acct.batch(size=8):
            assert Bulk(acct).assign(items, pool="mkt").ok
            assert Bulk(acct).assign(items, pool="mkt").ok  # known now: nothing sent
        sent = collections.Counter(op for _, op in fake.log[before:])
        assert sent == {"GetEmailIdentity": 8, "PutEmailIdentityConfigurationSetAttributes": 8,
                        "GetDedicatedIpPool": 1, "GetConfigurationSet": 1,
                        "CreateConfigurationSet": 1}
        assert {d["config_set"] for d in fake.domains.values()} == {"espkit-mkt"}


def test_ses_an_identity_left_to_another_set_is_still_refused_in_a_run(
        sleeps: list[float]) -> None:
    with SesFake() as fake:
        acct = fake.connect()
        acct.pools.create("mkt", ips=[fake.ips[0]])
        name = names(1)[0]
        acct.domains.create(name)
        fake.domains[name]["config_set"] = "someone-elses"
        with acct.batch(size=2), pytest.raises(espkit.ConflictingState):
            acct.domains.assign(name, pool="mkt")
        assert fake.domains[name]["config_set"] == "someone-elses"


def test_ses_assign_many_falls_back_to_one_call_per_domain(sleeps: list[float]) -> None:
    with SesFake() as fake:
        acct = fake.connect()
        acct.pools.create("mkt", ips=[fake.ips[0]])
        items = names(3)
        for name in items:
            acct.domains.create(name)
        results = acct.domains.assign_many([*items, "missing.example.com"], pool="mkt")
        assert [n for n, e in results.items() if e is None] == items
        assert isinstance(results["missing.example.com"], espkit.NotFound)
        got = acct.pools.update_ips("mkt", add=[fake.ips[1]])
        assert set(got.ips) == {fake.ips[0], fake.ips[1]}


def test_results_per_item_survive_the_economy(sendgrid: SendGridFake) -> None:
    """One item failing in a run does not hide the others' results."""
    acct = sendgrid.connect()
    items = names(4)
    assert Bulk(acct).create_domains(items[:3]).ok
    with acct.batch(size=4):
        report = Bulk(acct).delete_domains(items)
    assert report.counts == {"deleted": 3, "absent": 1}
    assert report.failed == []
    assert sendgrid.domains == {}
