"""The sandbox ESP through espkit's public API: what a user of ``connect("sandbox")`` sees."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import espkit
from espkit import (
    AlreadyExists,
    Assignment,
    AssignmentKind,
    AuthError,
    ConfigError,
    ConflictingState,
    DomainState,
    NotFound,
    RecordStatus,
    ValidationError,
)
from espkit.providers.sandbox import SandboxProvider
from espkit.sandbox import Emulator, FakeClock
from espkit.sandbox.database import APPLICATION_ID

NAME = "news.acme.example"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def acct(clock: FakeClock) -> Iterator[espkit.Account]:
    with espkit.connect("sandbox", path=":memory:", clock=clock) as account:
        yield account


def emulator_of(acct: espkit.Account) -> Emulator:
    assert isinstance(acct.provider, SandboxProvider)
    return acct.provider.emulator


def sent(acct: espkit.Account, method: str | None = None) -> list[tuple[str, str, int | str]]:
    return [h for h in emulator_of(acct).history if method is None or h[0] == method]


# -- domains and their records -------------------------------------------------------------

def test_create_returns_realistic_records(acct: espkit.Account) -> None:
    d = acct.domains.create(NAME, dkim_key_size=1024, dkim_selector="k1", web_prefix="click")
    assert d.name == NAME
    assert d.provider == "sandbox"
    assert d.id
    assert d.state is DomainState.UNVERIFIED
    assert not d.verified
    assert d.created_at is not None
    assert d.created_at.tzinfo is not None
    assert {r.status for r in d.dns_records} == {RecordStatus.PENDING}

    (spf,) = d.records("spf")
    assert (spf.type, spf.host) == ("TXT", NAME)
    assert spf.value.startswith("v=spf1 include:")
    assert spf.value.endswith("~all")

    (dkim,) = d.records("dkim")
    assert (dkim.type, dkim.host) == ("TXT", f"k1._domainkey.{NAME}")
    assert dkim.value.startswith("k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ")
    der = base64.b64decode(dkim.value.split("p=", 1)[1], validate=True)
    assert len(der) == 162  # the size of a real 1024-bit RSA SubjectPublicKeyInfo

    mx = d.records("mx")
    assert len(mx) == 2
    assert {r.priority for r in mx} == {10}
    assert {r.host for r in mx} == {NAME}

    (tracking,) = d.records("tracking")
    assert (tracking.type, tracking.host) == ("CNAME", f"click.{NAME}")


def test_defaults_and_determinism(acct: espkit.Account) -> None:
    d = acct.domains.create(NAME)
    (dkim,) = d.records("dkim")
    assert dkim.host.endswith(f"._domainkey.{NAME}")
    assert len(base64.b64decode(dkim.value.split("p=", 1)[1])) == 294  # 2048-bit default
    assert d.records("tracking")[0].host == f"email.{NAME}"
    # the same domain gets the same key in any other sandbox, so tests can pin it
    with espkit.connect("sandbox", path=":memory:") as other:
        assert other.domains.create(NAME).records("dkim") == d.records("dkim")
    assert acct.domains.get(NAME) == d


def test_verification_waits_for_propagation(clock: FakeClock) -> None:
    acct = espkit.connect("sandbox", path=":memory:", verify_delay=60, clock=clock)
    acct.domains.create(NAME)
    early = acct.domains.verify(NAME)
    assert early.state is DomainState.PENDING
    assert {r.status for r in early.dns_records} == {RecordStatus.PENDING}

    clock.advance(60)
    done = acct.domains.verify(NAME)
    assert done.verified
    assert all(r.valid for r in done.dns_records)
    assert acct.domains.get(NAME).verified  # it stays verified
    clock.advance(3600)
    assert acct.domains.verify(NAME) == done


def test_wait_until_verified_on_the_sandbox_clock(clock: FakeClock) -> None:
    acct = espkit.connect("sandbox", path=":memory:", verify_delay=100, clock=clock)
    acct.domains.create(NAME)
    start = clock.monotonic()
    d = acct.domains.wait_until_verified(NAME, timeout=600, interval=15,
                                         sleep=clock.sleep, clock=clock.monotonic)
    assert d.verified
    assert 100 <= clock.monotonic() - start <= 115

    acct.domains.create("late.acme.example")
    with pytest.raises(espkit.VerificationTimeout) as info:
        acct.domains.wait_until_verified("late.acme.example", timeout=30, interval=10,
                                         sleep=clock.sleep, clock=clock.monotonic)
    assert "dkim TXT" in str(info.value)


def test_list_pages_lazily(acct: espkit.Account) -> None:
    names = [f"d{i:02d}.acme.example" for i in range(45)]
    for name in names:
        acct.domains.create(name)
    before = len(sent(acct, "GET"))
    listed = acct.domains.list(page_size=10)
    assert len(sent(acct, "GET")) == before  # nothing fetched until iterated
    assert [d.name for d in listed] == names
    assert len(sent(acct, "GET")) == before + 5
    # a page size above the API's maximum is capped, not an error
    assert len(list(acct.domains.list(page_size=1000))) == 45


def test_delete(acct: espkit.Account) -> None:
    acct.domains.create(NAME)
    acct.domains.delete(NAME)
    with pytest.raises(NotFound):
        acct.domains.get(NAME)
    with pytest.raises(NotFound):
        acct.domains.delete(NAME)
    acct.domains.create(NAME)  # the name is free again


# -- assignments -----------------------------------------------------------------------------

def test_assign_pool_and_ips(acct: espkit.Account) -> None:
    acct.domains.create(NAME)
    acct.pools.create("marketing", ips=["198.51.100.7"])
    acct.pools.create("transactional", ips=["198.51.100.8"])

    assigned = acct.domains.assign(NAME, pool="marketing")
    assert assigned == Assignment(NAME, AssignmentKind.POOL, "marketing", "sandbox")
    assert acct.domains.assign(NAME, pool="marketing") == assigned  # idempotent
    assert acct.domains.assignments(NAME) == [assigned]

    # a domain has one pool: assigning another replaces it
    acct.domains.assign(NAME, pool="transactional")
    assert [a.target for a in acct.domains.assignments(NAME)] == ["transactional"]

    # pool or IPs, never both
    with pytest.raises(ConflictingState):
        acct.domains.assign(NAME, ip="198.51.100.9")
    acct.domains.unassign(NAME, pool="transactional")
    assert acct.domains.assignments(NAME) == []

    acct.domains.assign(NAME, ip="198.51.100.9")
    acct.domains.assign(NAME, ip="198.51.100.10")
    assert [(a.kind, a.target) for a in acct.domains.assignments(NAME)] == [
        (AssignmentKind.IP, "198.51.100.9"), (AssignmentKind.IP, "198.51.100.10")]
    # unassigning with a replacement moves the domain in one call
    acct.domains.unassign(NAME, ip="198.51.100.9", replacement="198.51.100.11")
    assert {a.target for a in acct.domains.assignments(NAME)} == {"198.51.100.10",
                                                                  "198.51.100.11"}

    with pytest.raises(NotFound):
        acct.domains.unassign(NAME, pool="marketing")
    with pytest.raises(NotFound):
        acct.domains.assign(NAME, ip="192.0.2.1")  # not one of the account's IPs
    with pytest.raises(NotFound):
        acct.domains.assign(NAME, pool="nosuchpool")

    acct.domains.delete(NAME)
    with pytest.raises(NotFound):
        acct.domains.assignments(NAME)


def test_create_with_ips_or_pool(acct: espkit.Account) -> None:
    acct.pools.create("marketing", ips=["198.51.100.7"])
    acct.domains.create(NAME, pool="marketing")
    assert [a.target for a in acct.domains.assignments(NAME)] == ["marketing"]
    acct.domains.create("mail.acme.example", ips=["198.51.100.1", "2001:db8::10"])
    assert [a.target for a in acct.domains.assignments("mail.acme.example")] == [
        "198.51.100.1", "2001:db8::10"]
    # an unknown pool fails the whole create: no domain is left behind
    with pytest.raises(NotFound):
        acct.domains.create("x.acme.example", pool="nosuchpool")
    with pytest.raises(NotFound):
        acct.domains.get("x.acme.example")


# -- dedicated IPs and pools ---------------------------------------------------------------

def test_seeded_ips(acct: espkit.Account) -> None:
    ips = list(acct.ips.list())
    addresses = [ip.address for ip in ips]
    assert addresses[:16] == [f"198.51.100.{n}" for n in range(1, 17)]
    assert {"2001:db8::10", "2001:db8::11"} <= set(addresses)
    ip = acct.ips.get("198.51.100.7")
    assert ip.pool is None
    assert ip.enabled
    assert ip.rdns
    assert acct.ips.get("2001:0db8:0000::0010").address == "2001:db8::10"
    with pytest.raises(NotFound):
        acct.ips.get("192.0.2.1")


def test_pools(acct: espkit.Account) -> None:
    pool = acct.pools.create("marketing", ips=["198.51.100.7", "198.51.100.8"],
                             description="newsletters")
    assert (pool.name, pool.ips, pool.description) == (
        "marketing", ("198.51.100.7", "198.51.100.8"), "newsletters")
    assert acct.pools.get("marketing") == pool
    assert acct.ips.get("198.51.100.7").pool == "marketing"
    with pytest.raises(AlreadyExists):
        acct.pools.create("marketing")

    # an IP is in at most one pool: adding it elsewhere moves it
    acct.pools.create("transactional")
    moved = acct.pools.add_ip("transactional", "198.51.100.7")
    assert moved.ips == ("198.51.100.7",)
    assert acct.pools.get("marketing").ips == ("198.51.100.8",)
    assert acct.ips.get("198.51.100.7").pool == "transactional"

    assert acct.pools.remove_ip("transactional", "198.51.100.7").ips == ()
    assert acct.ips.get("198.51.100.7").pool is None
    with pytest.raises(NotFound):
        acct.pools.remove_ip("transactional", "198.51.100.7")

    assert [p.name for p in acct.pools.list()] == ["marketing", "transactional"]
    acct.pools.delete("transactional")
    assert [p.name for p in acct.pools.list()] == ["marketing"]
    with pytest.raises(NotFound):
        acct.pools.get("transactional")


def test_deleting_a_pool_in_use_needs_a_replacement(acct: espkit.Account) -> None:
    acct.pools.create("old", ips=["198.51.100.1"])
    acct.pools.create("new", ips=["198.51.100.2"])
    acct.domains.create(NAME, pool="old")
    acct.domains.create("mail.acme.example", pool="old")
    with pytest.raises(ConflictingState, match="replacement"):
        acct.pools.delete("old")
    acct.pools.delete("old", replacement="new")
    for name in (NAME, "mail.acme.example"):
        assert [a.target for a in acct.domains.assignments(name)] == ["new"]
    assert acct.ips.get("198.51.100.1").pool is None

    acct.pools.delete("new", replacement="shared")
    assert acct.domains.assignments(NAME) == []


# -- subaccounts -----------------------------------------------------------------------------

def test_subaccounts(acct: espkit.Account) -> None:
    sub = acct.subaccounts.create("customer-42")
    assert sub.name == "customer-42"
    assert sub.enabled
    assert sub.id
    assert acct.subaccounts.get(sub.id) == sub
    assert acct.subaccounts.get(sub) == sub
    assert [s.name for s in acct.subaccounts.list()] == ["customer-42"]
    with pytest.raises(AlreadyExists):
        acct.subaccounts.create("customer-42")
    with pytest.raises(NotFound):
        acct.subaccounts.get("sub_nonexistent")

    assert not acct.subaccounts.disable(sub).enabled
    with pytest.raises(AuthError, match="disabled"):
        list(acct.on_behalf_of(sub).domains.list())
    assert acct.subaccounts.enable(sub).enabled
    assert list(acct.on_behalf_of(sub).domains.list()) == []


def test_on_behalf_of_isolates_domains(acct: espkit.Account) -> None:
    a = acct.on_behalf_of(acct.subaccounts.create("customer-a"))
    b = acct.on_behalf_of(acct.subaccounts.create("customer-b"))
    acct.domains.create("parent.acme.example")
    d = a.domains.create("mail.a.example")
    assert d.subaccount == a.subaccount
    b.domains.create("mail.b.example")

    assert [x.name for x in acct.domains.list()] == ["parent.acme.example"]
    assert [x.name for x in a.domains.list()] == ["mail.a.example"]
    assert [x.name for x in b.domains.list()] == ["mail.b.example"]
    for other in (acct, b):
        with pytest.raises(NotFound):
            other.domains.get("mail.a.example")
    # names are unique across the ESP, as at real ESPs
    with pytest.raises(AlreadyExists):
        b.domains.create("mail.a.example")

    # pools and IPs are the main account's, usable from a subaccount
    acct.pools.create("shared-pool", ips=["198.51.100.3"])
    assert a.domains.assign("mail.a.example", pool="shared-pool").target == "shared-pool"
    assert len(list(a.ips.list())) == 18
    # but a subaccount cannot manage subaccounts
    with pytest.raises(AuthError):
        list(a.subaccounts.list())
    with pytest.raises(NotFound):
        list(acct.on_behalf_of("sub_nonexistent").domains.list())

    a.close()  # closing a scoped handle leaves the parent working
    assert acct.domains.get("parent.acme.example")


# -- persistence and options -----------------------------------------------------------------

def test_state_persists_across_connects(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.db")
    with espkit.connect("sandbox", path=db) as acct:
        acct.pools.create("marketing", ips=["198.51.100.7"])
        sub = acct.subaccounts.create("customer-42")
        acct.domains.create(NAME, pool="marketing")
        acct.on_behalf_of(sub).domains.create("mail.customer42.example")
        acct.domains.verify(NAME)
    with espkit.connect("sandbox", path=db) as again:
        d = again.domains.get(NAME)
        assert d.verified
        assert again.pools.get("marketing").ips == ("198.51.100.7",)
        assert again.domains.assignments(NAME)[0].target == "marketing"
        assert [s.id for s in again.subaccounts.list()] == [sub.id]
        assert again.on_behalf_of(sub).domains.get("mail.customer42.example")


def test_default_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "from-env.db"
    monkeypatch.setenv("ESPKIT_SANDBOX_DB", str(db))
    with espkit.connect("sandbox") as acct:
        acct.domains.create(NAME)
    assert db.exists()


def test_default_path_in_user_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from espkit.providers import sandbox

    monkeypatch.delenv("ESPKIT_SANDBOX_DB", raising=False)
    monkeypatch.setattr(sandbox.platformdirs, "user_data_dir",
                        lambda *a, **k: str(tmp_path / "data"))
    assert sandbox.default_path() == str(tmp_path / "data" / "sandbox.db")
    assert (tmp_path / "data").is_dir()


@pytest.mark.parametrize("options", [
    {"faults": 1.5}, {"latency": -1}, {"rate_limit": 0}, {"verify_delay": "soon"},
])
def test_bad_knobs_are_config_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        espkit.connect("sandbox", path=":memory:", **options)


def test_state_from_a_newer_espkit_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    conn = sqlite3.connect(db)
    # what a newer espkit writes: the sandbox's application id, a later schema version
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = db.read_bytes()
    with pytest.raises(ConfigError, match="schema version 99"):
        espkit.connect("sandbox", path=str(db))
    assert db.read_bytes() == before


def test_knobs_can_change_at_runtime(clock: FakeClock) -> None:
    acct = espkit.connect("sandbox", path=":memory:", verify_delay=10, clock=clock)
    em = emulator_of(acct)
    assert em.verify_delay == 10
    em.verify_delay = 0
    acct.domains.create(NAME)
    assert acct.domains.verify(NAME).verified
    with pytest.raises(ConfigError):
        em.verify_delay = -1
    assert em.rate_limit is None
    em.rate_limit = 5
    assert em.rate_limit == 5
    assert "memory" in repr(acct.provider)
    assert "subaccount" in repr(acct.on_behalf_of(acct.subaccounts.create("c1")).provider)


def test_unopenable_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot open"):
        espkit.connect("sandbox", path=str(tmp_path / "missing" / "dir" / "x.db"))


def test_capabilities_and_options() -> None:
    assert frozenset(espkit.Capability) == SandboxProvider.SUPPORTS
    assert {
        "dkim_key_size", "dkim_selector", "spam_action", "wildcard", "web_scheme",
        "web_prefix", "ips", "pool"} == SandboxProvider.DOMAIN_OPTIONS


# -- errors ----------------------------------------------------------------------------------

def test_errors_are_typed(acct: espkit.Account) -> None:
    with pytest.raises(NotFound) as missing:
        acct.domains.get("nope.acme.example")
    assert missing.value.status == 404
    assert missing.value.request_id
    assert missing.value.code == "not_found"
    acct.domains.create(NAME)
    with pytest.raises(AlreadyExists):
        acct.domains.create(NAME)


@pytest.mark.parametrize("call", [
    lambda a: a.domains.create("bad/name.example"),
    lambda a: a.domains.create(NAME, dkim_key_size=4096),
    lambda a: a.domains.create(NAME, spam_action="drop"),
    lambda a: a.domains.assign(NAME),
    lambda a: a.pools.create("no spaces"),
    lambda a: a.ips.get("198.51.100.300"),
    lambda a: a.subaccounts.get("../admin"),
])
def test_invalid_input_sends_nothing(acct: espkit.Account, call) -> None:
    with pytest.raises(ValidationError):
        call(acct)
    assert sent(acct) == []


def test_empty_key_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        espkit.connect("sandbox", path=":memory:", api_key=" ")


def test_revoked_key_is_an_auth_error() -> None:
    acct = espkit.connect("sandbox", path=":memory:", api_key="key-1")
    emulator_of(acct).revoke_key("key-1")
    with pytest.raises(AuthError) as info:
        list(acct.domains.list())
    assert info.value.status == 401
    assert "key-1" not in str(info.value)


def test_fake_clock() -> None:
    clock = FakeClock(start=1000.0)
    clock.sleep(2.5)
    assert (clock.time(), clock.monotonic()) == (1002.5, 2.5)
    clock.sleep(-1)  # a negative sleep is no sleep, as with time.sleep(0)
    with pytest.raises(ValueError, match="back"):
        clock.advance(-1)
    assert "1002.5" in repr(clock)
