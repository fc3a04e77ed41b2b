"""One suite, every provider: the same scenarios against each ESP's fake (tests/support/fakes/),
so behaviour cannot drift between providers. A provider that lacks a capability must say so
with ``Unsupported`` (and a hint) before sending anything."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.fakes import all_fakes
from support.fakes.base import EspFake

import espkit
from espkit import Capability

FAKES = all_fakes()
MARKETING = "news.acme.example"


@pytest.fixture(params=list(FAKES))
def fake(request: pytest.FixtureRequest, sleeps: list[float]) -> Iterator[EspFake]:
    with FAKES[request.param]() as f:
        yield f


def test_every_registered_provider_has_a_fake() -> None:
    assert set(FAKES) >= {"sandbox", "mailgun"}
    assert set(FAKES) <= set(espkit.providers.names())


def test_create_returns_the_records_to_publish(fake: EspFake) -> None:
    d = fake.connect().domains.create(MARKETING)
    assert d.name == MARKETING
    assert d.provider == fake.provider
    assert not d.verified
    assert d.dns_records, "a new domain must come with the records to publish"
    for r in d.dns_records:
        assert r.type == r.type.upper()
        assert r.host == MARKETING or r.host.endswith("." + MARKETING), r
        assert not r.host.endswith(".")
        assert r.value
    assert d.records("dkim"), "every ESP signs with DKIM"


def test_get_reads_back_the_same_domain(fake: EspFake) -> None:
    acct = fake.connect()
    created = acct.domains.create(MARKETING)
    got = acct.domains.get(MARKETING)
    assert got.name == created.name
    assert {(r.type, r.host, r.value) for r in got.dns_records} == {
        (r.type, r.host, r.value) for r in created.dns_records}
    with pytest.raises(espkit.NotFound):
        acct.domains.get("missing.acme.example")


def test_list_walks_every_page(fake: EspFake) -> None:
    acct = fake.connect()
    names = {f"s{i:02d}.fleet.example" for i in range(23)}
    for name in sorted(names):
        acct.domains.create(name)
    listed = [d.name for d in acct.domains.list(page_size=5)]
    assert len(listed) == len(set(listed))
    assert names <= set(listed)


def test_verify_sees_published_records(fake: EspFake) -> None:
    acct = fake.connect()
    acct.domains.create(MARKETING)
    if Capability.DOMAIN_VERIFY not in acct.capabilities:
        pytest.skip(f"{fake.provider} verifies on its own")
    assert not acct.domains.verify(MARKETING).verified
    fake.publish_dns(MARKETING)
    d = acct.domains.verify(MARKETING)
    assert d.verified
    assert all(r.valid for r in d.dns_records if r.purpose is espkit.RecordPurpose.DKIM)


def test_assign_and_unassign_a_pool(fake: EspFake) -> None:
    acct = fake.connect()
    acct.domains.create(MARKETING)
    if Capability.ASSIGN_DOMAIN_POOL not in acct.capabilities:
        with pytest.raises(espkit.Unsupported) as info:
            acct.domains.assign(MARKETING, pool="marketing")
        assert info.value.hint, "say what the ESP offers instead"
        return
    pool = acct.pools.create("marketing", ips=list(fake.ips[:2]))
    assert set(pool.ips) == set(fake.ips[:2])
    assert "marketing" in {p.name for p in acct.pools.list()}
    a = acct.domains.assign(MARKETING, pool="marketing")
    assert (a.domain, a.kind, a.target) == (MARKETING, espkit.AssignmentKind.POOL, "marketing")
    assert [(x.kind, x.target) for x in acct.domains.assignments(MARKETING)
            if x.kind is espkit.AssignmentKind.POOL] == [(espkit.AssignmentKind.POOL, "marketing")]
    acct.domains.unassign(MARKETING, pool="marketing", replacement="shared")
    assert all(x.kind is not espkit.AssignmentKind.POOL
               for x in acct.domains.assignments(MARKETING))


def test_delete(fake: EspFake) -> None:
    acct = fake.connect()
    acct.domains.create(MARKETING)
    acct.domains.delete(MARKETING)
    with pytest.raises(espkit.NotFound):
        acct.domains.get(MARKETING)
    assert fake.domain_count() == 0


@pytest.mark.parametrize("fault", ["429", "429-date"])
def test_rate_limited_create_waits_and_succeeds_once(fake: EspFake, fault: str) -> None:
    acct = fake.connect()
    fake.fail_next(fault, "POST", fake.create_domain_path)  # type: ignore[arg-type]
    d = acct.domains.create(MARKETING)
    assert d.name == MARKETING
    assert fake.domain_count() == 1
    assert fake.sent("POST", fake.create_domain_path) == 2


def test_server_error_on_read_is_retried(fake: EspFake) -> None:
    acct = fake.connect()
    acct.domains.create(MARKETING)
    fake.fail_next("503", "GET", fake.get_domain_path)
    assert acct.domains.get(MARKETING).name == MARKETING


def test_create_that_timed_out_after_committing_is_read_back_not_resent(fake: EspFake) -> None:
    acct = fake.connect()
    fake.fail_next("timeout_after_commit", "POST", fake.create_domain_path)
    d = acct.domains.create(MARKETING)
    assert d.name == MARKETING
    assert fake.domain_count() == 1
    assert fake.sent("POST", fake.create_domain_path) == 1


def test_bad_name_is_refused_before_anything_is_sent(fake: EspFake) -> None:
    acct = fake.connect()
    with pytest.raises(espkit.ValidationError):
        acct.domains.create("bad/name.example")
    assert fake.domain_count() == 0


def test_the_example_provisioning_script_runs_unchanged(
    fake: EspFake, capsys: pytest.CaptureFixture[str]
) -> None:
    """examples/provision_streams.py against every ESP: domains everywhere; pools and their
    assignment where native, else one clear Unsupported note."""
    import runpy

    from test_examples import EXAMPLES

    script = runpy.run_path(str(EXAMPLES / "provision_streams.py"))
    acct = fake.connect()
    domains = script["provision"](acct, "acme.example")
    assert {d.name for d in domains.values()} == {"news.acme.example", "mail.acme.example"}
    out = capsys.readouterr().out
    if Capability.ASSIGN_DOMAIN_POOL in acct.capabilities:
        assert "note:" not in out
        kinds = {(a.kind, a.target) for a in acct.domains.assignments("news.acme.example")}
        assert (espkit.AssignmentKind.POOL, "marketing") in kinds
    else:
        assert out.count("note:") == 1
        assert "unsupported" in out
