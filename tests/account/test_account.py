"""The account layer: connect(), capability checks, validation before sending, safe creates,
verification waits. Providers here are tiny test ESPs over a host mocked with ``responses``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
import requests
import responses
from support.stepclock import StepClock

import espkit
from espkit.account import Account, VerificationTimeout, create_safely
from espkit.credentials import HeaderAuth, Secret
from espkit.errors import (
    AlreadyExists,
    ConfigError,
    ConflictingState,
    NotFound,
    Rejected,
    ServerError,
    TransportError,
    Unsupported,
    ValidationError,
)
from espkit.models import (
    Assignment,
    AssignmentKind,
    Capability,
    DnsRecord,
    Domain,
    DomainSpec,
    DomainState,
    IpPool,
    RecordPurpose,
    RecordStatus,
    Subaccount,
)
from espkit.providers import register
from espkit.providers.base import HttpProvider, Provider
from espkit.transport.ratelimit import RetryBudget

BASE = "https://api.acct-esp.test/v1"
KEY = "acct-key-0123456789-SECRET"


def _domain(body: dict[str, Any], provider: str) -> Domain:
    records = tuple(
        DnsRecord(RecordPurpose(r["purpose"]), r["type"], r["host"], r["value"],
                  status=RecordStatus(r["status"]))
        for r in body.get("records", ())
    )
    return Domain(name=body["name"], provider=provider, state=DomainState(body.get("state",
                  "unverified")), dns_records=records, raw=body)


def _pool(body: dict[str, Any], provider: str) -> IpPool:
    return IpPool(name=body["name"], provider=provider, ips=tuple(body.get("ips", ())), raw=body)


def _sub(body: dict[str, Any], provider: str) -> Subaccount:
    return Subaccount(id=str(body["id"]), name=body["name"], provider=provider,
                      enabled=body.get("enabled", True), raw=body)


class AcctEsp(HttpProvider):
    """Domains (+verify, a few options), pools, pool assignment, subaccounts. No dedicated
    IPs, no per-IP assignment, no acting on behalf of a subaccount."""

    name = "acctesp"
    REGIONS: ClassVar = {"us": BASE, "eu": "https://api.eu.acct-esp.test/v1"}
    SUPPORTS = frozenset({
        Capability.DOMAINS, Capability.DOMAIN_VERIFY, Capability.IP_POOLS,
        Capability.ASSIGN_DOMAIN_POOL, Capability.SUBACCOUNTS, Capability.SUBACCOUNT_DISABLE,
    })
    HINTS: ClassVar = {Capability.DEDICATED_IPS: "ask support to enable dedicated IPs"}
    DOMAIN_OPTIONS = frozenset({"dkim_key_size", "spam_action", "pool"})

    @classmethod
    def make_auth(cls, secret: Secret) -> requests.auth.AuthBase:
        return HeaderAuth("X-Api-Key", secret)

    def _get(self, path: str, **kw: Any) -> Any:
        return self.transport.request("GET", path, **kw).body

    # domains
    def create_domain(self, spec: DomainSpec) -> Domain:
        payload = {"name": spec.name}
        for option in ("dkim_key_size", "spam_action", "pool"):
            if getattr(spec, option) is not None:
                payload[option] = getattr(spec, option)
        return _domain(self.transport.request("POST", "/domains", json=payload).body, self.name)

    def get_domain(self, name: str) -> Domain:
        return _domain(self._get(f"/domains/{self.seg(name)}"), self.name)

    def list_domains(self, page_size: int | None = None) -> Iterator[Domain]:
        page = 1
        while True:
            body = self._get("/domains", params={"page": page, "limit": page_size or 100})
            yield from (_domain(d, self.name) for d in body["items"])
            if not body.get("next"):
                return
            page += 1

    def verify_domain(self, name: str) -> Domain:
        body = self.transport.request("PUT", f"/domains/{self.seg(name)}/verify").body
        return _domain(body, self.name)

    def delete_domain(self, name: str) -> None:
        self.transport.request("DELETE", f"/domains/{self.seg(name)}")

    # pools
    def create_pool(self, name: str, ips: tuple[str, ...], description: str | None = None
                    ) -> IpPool:
        body = self.transport.request(
            "POST", "/pools", json={"name": name, "ips": list(ips), "description": description}
        ).body
        return _pool(body, self.name)

    def list_pools(self) -> Iterator[IpPool]:
        return iter([_pool(p, self.name) for p in self._get("/pools")["items"]])

    def get_pool(self, name: str) -> IpPool:
        return _pool(self._get(f"/pools/{self.seg(name)}"), self.name)

    def add_ip_to_pool(self, pool: str, ip: str) -> IpPool:
        body = self.transport.request("POST", f"/pools/{self.seg(pool)}/ips",
                                      json={"ip": ip}).body
        return _pool(body, self.name)

    def remove_ip_from_pool(self, pool: str, ip: str) -> IpPool:
        body = self.transport.request("DELETE", f"/pools/{self.seg(pool)}/ips/{self.seg(ip)}").body
        return _pool(body, self.name)

    def delete_pool(self, name: str, replacement: str | None = None) -> None:
        params = {"replacement": replacement} if replacement else None
        self.transport.request("DELETE", f"/pools/{self.seg(name)}", params=params)

    # assignments
    def assign(self, domain: str, kind: AssignmentKind, target: str) -> Assignment:
        self.transport.request("PUT", f"/domains/{self.seg(domain)}/pool", json={"pool": target})
        return Assignment(domain, kind, target, self.name)

    def unassign(self, domain: str, kind: AssignmentKind, target: str,
                 replacement: str | None = None) -> None:
        self.transport.request("DELETE", f"/domains/{self.seg(domain)}/pool",
                               params={"pool": target, "replacement": replacement or ""})

    def list_assignments(self, domain: str) -> list[Assignment]:
        body = self._get(f"/domains/{self.seg(domain)}/pool")
        return [Assignment(domain, AssignmentKind.POOL, body["pool"], self.name)]

    # subaccounts
    def create_subaccount(self, name: str) -> Subaccount:
        return _sub(self.transport.request("POST", "/subaccounts", json={"name": name}).body,
                    self.name)

    def list_subaccounts(self) -> Iterator[Subaccount]:
        return iter([_sub(s, self.name) for s in self._get("/subaccounts")["items"]])

    def get_subaccount(self, subaccount_id: str) -> Subaccount:
        return _sub(self._get(f"/subaccounts/{self.seg(subaccount_id)}"), self.name)

    def set_subaccount_enabled(self, subaccount_id: str, enabled: bool) -> Subaccount:
        body = self.transport.request("PATCH", f"/subaccounts/{self.seg(subaccount_id)}",
                                      json={"enabled": enabled}).body
        return _sub(body, self.name)


class ScopedEsp(AcctEsp):
    """Adds dedicated IPs, per-IP assignment and acting on behalf of a subaccount."""

    name = "scopedesp"
    REGIONS: ClassVar = {"us": "https://api.scoped-esp.test"}
    SUPPORTS = AcctEsp.SUPPORTS | {
        Capability.DEDICATED_IPS, Capability.ASSIGN_DOMAIN_IP, Capability.SUBACCOUNT_SCOPE,
    }

    def on_behalf_of(self, subaccount_id: str) -> ScopedEsp:
        return ScopedEsp(self.transport.scoped({"X-On-Behalf-Of": subaccount_id}), self.region)

    def get_ip(self, address: str) -> Any:
        return self._get(f"/ips/{self.seg(address)}")

    def list_ips(self) -> Any:
        return iter(self._get("/ips")["items"])


class BareEsp(Provider):
    """Not HTTP at all, domains only, and ``from_options`` takes a single option."""

    name = "bareesp"
    SUPPORTS = frozenset({Capability.DOMAINS})
    closed = 0

    def __init__(self, colour: str) -> None:
        self.colour = colour

    @classmethod
    def from_options(cls, *, colour: str = "blue") -> BareEsp:  # type: ignore[override]
        return cls(colour)

    def close(self) -> None:
        BareEsp.closed += 1


@pytest.fixture(autouse=True)
def _test_providers() -> None:
    # per test: conftest restores the registry afterwards, so the CLI never sees these
    for cls in (AcctEsp, ScopedEsp, BareEsp):
        register(cls)


@pytest.fixture
def acct(sleeps: list[float]) -> Iterator[Account]:
    with espkit.connect("acctesp", api_key=KEY) as a:
        yield a


@pytest.fixture
def scoped(sleeps: list[float]) -> Iterator[Account]:
    with espkit.connect("scopedesp", api_key=KEY) as a:
        yield a


def calls() -> list[tuple[str, str]]:
    return [(c.request.method or "", c.request.url or "") for c in responses.calls]


DOMAIN = {"name": "news.example.com", "state": "unverified", "records": [
    {"purpose": "dkim", "type": "TXT", "host": "k1._domainkey.news.example.com",
     "value": "k=rsa; p=MII", "status": "pending"},
    {"purpose": "spf", "type": "TXT", "host": "news.example.com",
     "value": "v=spf1 include:acct-esp.test ~all", "status": "valid"},
]}


# -- connect ---------------------------------------------------------------------------------


def test_connect_unknown_provider_names_it() -> None:
    with pytest.raises(ConfigError) as info:
        espkit.connect("nosuchesp", api_key=KEY)
    text = str(info.value)
    assert "'nosuchesp'" in text
    assert "acctesp" in text  # and lists what is available


def test_connect_unknown_option_names_it_and_the_accepted_ones() -> None:
    with pytest.raises(ConfigError) as info:
        espkit.connect("acctesp", api_key=KEY, colour="red", regoin="eu")
    text = str(info.value)
    assert "'colour'" in text
    assert "'regoin'" in text
    assert "acctesp" in text
    for accepted in ("api_key", "region", "base_url", "timeout", "retry"):
        assert accepted in text
    assert KEY not in text


def test_connect_passes_options_and_is_case_insensitive() -> None:
    a = espkit.connect("BareESP", colour="green")
    assert isinstance(a.provider, BareEsp)
    assert a.provider.colour == "green"
    with pytest.raises(ConfigError, match="'api_key'"):
        espkit.connect("bareesp", api_key=KEY)


def test_a_provider_registered_under_a_mixed_case_name_can_be_connected() -> None:
    class MixedCaseEsp(BareEsp):
        name = "MixedCaseEsp"

    register(MixedCaseEsp)
    assert isinstance(espkit.connect("MixedCaseEsp").provider, MixedCaseEsp)
    assert isinstance(espkit.connect("mixedcaseesp").provider, MixedCaseEsp)


@responses.activate
def test_connect_region_and_base_url(sleeps: list[float]) -> None:
    responses.get("https://api.eu.acct-esp.test/v1/domains/a.example.com", json={"name":
                                                                                  "a.example.com"})
    responses.get("http://127.0.0.1:9/v1/domains/a.example.com", json={"name": "a.example.com"})
    espkit.connect("acctesp", api_key=KEY, region="EU").domains.get("a.example.com")
    espkit.connect("acctesp", api_key=KEY, base_url="http://127.0.0.1:9/v1").domains.get(
        "a.example.com")
    assert [u for _, u in calls()] == [
        "https://api.eu.acct-esp.test/v1/domains/a.example.com",
        "http://127.0.0.1:9/v1/domains/a.example.com",
    ]
    assert responses.calls[0].request.headers["X-Api-Key"] == KEY


def test_connect_bad_region_or_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'mars'"):
        espkit.connect("acctesp", api_key=KEY, region="mars")
    with pytest.raises(ConfigError, match="https://"):
        espkit.connect("acctesp", api_key=KEY, base_url="ftp://api.acct-esp.test")


def test_account_basics() -> None:
    a = espkit.connect("acctesp", api_key=KEY)
    assert a.name == "acctesp"
    assert a.capabilities == AcctEsp.SUPPORTS
    assert a.supports("pools")
    assert a.supports(Capability.SUBACCOUNTS)
    assert not a.supports(Capability.DEDICATED_IPS)
    assert KEY not in repr(a)
    assert repr(a).startswith("Account(AcctEsp(region='us'")
    before = BareEsp.closed
    with espkit.connect("bareesp") as b:
        assert b.name == "bareesp"
    assert BareEsp.closed == before + 1


# -- capabilities ------------------------------------------------------------------------------


@responses.activate
def test_unsupported_capabilities_raise_before_any_request(acct: Account) -> None:
    with pytest.raises(Unsupported) as info:
        acct.ips.list()
    err = info.value
    assert err.capability == "ips"
    assert err.provider == "acctesp"
    assert str(err) == ("acctesp unsupported: ips is not supported by acctesp; "
                        "ask support to enable dedicated IPs")
    with pytest.raises(Unsupported):
        acct.ips.get("192.0.2.1")
    with pytest.raises(Unsupported) as info2:
        acct.domains.assign("news.example.com", ip="192.0.2.1")
    assert info2.value.capability == "assign.domain_ip"
    with pytest.raises(Unsupported):
        acct.domains.unassign("news.example.com", ip="192.0.2.1")
    with pytest.raises(Unsupported) as info3:
        acct.on_behalf_of("sub-1")
    assert info3.value.capability == "subaccounts.on_behalf_of"
    assert len(responses.calls) == 0


@responses.activate
def test_bare_provider_lacks_everything_but_domains() -> None:
    a = espkit.connect("bareesp")
    checks: list[Callable[[], object]] = [
        lambda: a.domains.verify("news.example.com"),
        lambda: a.domains.assignments("news.example.com"),
        lambda: a.domains.assign("news.example.com", pool="p1"),
        lambda: a.pools.create("p1"),
        lambda: a.pools.list(),
        lambda: a.pools.get("p1"),
        lambda: a.pools.add_ip("p1", "192.0.2.1"),
        lambda: a.pools.remove_ip("p1", "192.0.2.1"),
        lambda: a.pools.delete("p1"),
        lambda: a.subaccounts.create("s1"),
        lambda: a.subaccounts.list(),
        lambda: a.subaccounts.get("s1"),
        lambda: a.subaccounts.enable("s1"),
        lambda: a.subaccounts.disable("s1"),
        lambda: a.domains.wait_until_verified("news.example.com", sleep=lambda s: None),
    ]
    for check in checks:
        with pytest.raises(Unsupported):
            check()
    assert len(responses.calls) == 0


@pytest.mark.parametrize(
    ("option", "value"),
    [("web_scheme", "https"), ("web_prefix", "track"), ("dkim_selector", "s1"),
     ("wildcard", False), ("ips", ["192.0.2.1"])],
)
@responses.activate
def test_domain_options_the_provider_lacks_are_unsupported(
    acct: Account, option: str, value: object
) -> None:
    with pytest.raises(Unsupported) as info:
        acct.domains.create("news.example.com", **{option: value})
    assert f"domain option {option!r}" in str(info.value)
    assert "create the domain without it" in str(info.value)
    assert len(responses.calls) == 0


# -- validation before any request ---------------------------------------------------------


INVALID: list[tuple[str, Callable[[Account], object], str]] = [
    ("create bad name", lambda a: a.domains.create("bad/name.com"), "domain"),
    ("create spec bad name", lambda a: a.domains.create(DomainSpec("a..b")), "domain"),
    ("dkim size", lambda a: a.domains.create("ok.example.com", dkim_key_size=512),
     "dkim_key_size"),
    ("spam action", lambda a: a.domains.create("ok.example.com", spam_action="drop"),
     "spam_action"),
    ("web scheme", lambda a: a.domains.create("ok.example.com", web_scheme="ftp"), "web_scheme"),
    ("wildcard", lambda a: a.domains.create("ok.example.com", wildcard="yes"), "wildcard"),  # type: ignore[arg-type]
    ("selector", lambda a: a.domains.create("ok.example.com", dkim_selector="a b"),
     "dkim_selector"),
    ("prefix", lambda a: a.domains.create("ok.example.com", web_prefix="x/y"), "web_prefix"),
    ("ips", lambda a: a.domains.create("ok.example.com", ips=["999.0.0.1"]), "ips"),
    ("ips str", lambda a: a.domains.create("ok.example.com", ips="192.0.2.1"), "ips"),
    ("pool", lambda a: a.domains.create("ok.example.com", pool="bad pool"), "pool"),
    ("ips and pool", lambda a: a.domains.create("ok.example.com", ips=["192.0.2.1"], pool="p"),
     "pool"),
    ("get", lambda a: a.domains.get("localhost"), "domain"),
    ("delete", lambda a: a.domains.delete("x.com/../admin"), "domain"),
    ("verify", lambda a: a.domains.verify("x .com"), "domain"),
    ("wait", lambda a: a.domains.wait_until_verified("x.com\n"), "domain"),
    ("page size 0", lambda a: a.domains.list(page_size=0), "page_size"),
    ("page size str", lambda a: a.domains.list(page_size="10"), "page_size"),  # type: ignore[arg-type]
    ("assign neither", lambda a: a.domains.assign("ok.example.com"), "pool/ip"),
    ("assign both", lambda a: a.domains.assign("ok.example.com", pool="p", ip="192.0.2.1"),
     "pool/ip"),
    ("assign bad pool", lambda a: a.domains.assign("ok.example.com", pool="p/q"), "pool"),
    ("assign bad domain", lambda a: a.domains.assign("-x.com", pool="p"), "domain"),
    ("unassign replacement",
     lambda a: a.domains.unassign("ok.example.com", pool="p", replacement="x/y"), "replacement"),
    ("assignments", lambda a: a.domains.assignments("a_b.com"), "domain"),
    ("pool name", lambda a: a.pools.create("../p"), "pool"),
    ("pool name newline", lambda a: a.pools.create("p\n"), "pool"),
    ("pool ips", lambda a: a.pools.create("p", ips=["192.0.2.300"]), "ips"),
    ("pool description", lambda a: a.pools.create("p", description="a\r\nb"), "description"),
    ("pool description type", lambda a: a.pools.create("p", description=5), "description"),  # type: ignore[arg-type]
    ("pool get", lambda a: a.pools.get("p?x=1"), "pool"),
    ("pool add ip", lambda a: a.pools.add_ip("p", "not-an-ip"), "ip"),
    ("pool remove ip", lambda a: a.pools.remove_ip("p", "192.0.2"), "ip"),
    ("pool delete", lambda a: a.pools.delete("p#q"), "pool"),
    ("pool delete replacement", lambda a: a.pools.delete("p", replacement="a b"), "replacement"),
    ("subaccount create", lambda a: a.subaccounts.create("acme corp"), "subaccount"),
    ("subaccount get", lambda a: a.subaccounts.get("../admin"), "subaccount"),
    ("subaccount enable", lambda a: a.subaccounts.enable(".."), "subaccount"),
    ("subaccount disable", lambda a: a.subaccounts.disable("a%2Fb"), "subaccount"),
    ("on behalf of", lambda a: a.on_behalf_of("a/b"), "subaccount"),
]


@pytest.mark.parametrize(("case", "call", "field"), INVALID, ids=[c[0] for c in INVALID])
@responses.activate
def test_managers_validate_before_any_request(
    acct: Account, case: str, call: Callable[[Account], object], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        call(acct)
    assert info.value.field == field
    assert len(responses.calls) == 0


# -- creates and create_safely ---------------------------------------------------------------


@responses.activate
def test_create_domain_sends_canonical_name_and_options(acct: Account) -> None:
    responses.post(f"{BASE}/domains", json=DOMAIN | {"name": "xn--bcher-kva.example.com"})
    d = acct.domains.create("Bücher.Example.com.", dkim_key_size=2048, spam_action="tag",
                            pool="marketing")
    assert d.name == "xn--bcher-kva.example.com"
    assert responses.calls[0].request.body == (
        b'{"name": "xn--bcher-kva.example.com", "dkim_key_size": 2048, "spam_action": "tag", '
        b'"pool": "marketing"}'
    )


@responses.activate
def test_create_domain_from_a_spec(acct: Account) -> None:
    responses.post(f"{BASE}/domains", json=DOMAIN)
    d = acct.domains.create(DomainSpec("NEWS.example.com", dkim_key_size=1024))
    assert d.records("dkim")[0].host == "k1._domainkey.news.example.com"
    assert b'"dkim_key_size": 1024' in responses.calls[0].request.body


@responses.activate
def test_ambiguous_failure_then_read_back_finds_it_adopts(acct: Account) -> None:
    responses.post(f"{BASE}/domains", status=503, json={"message": "gateway hiccup"})
    responses.get(f"{BASE}/domains/news.example.com", json=DOMAIN)
    d = acct.domains.create("news.example.com")
    assert d.name == "news.example.com"
    assert calls() == [("POST", f"{BASE}/domains"),
                       ("GET", f"{BASE}/domains/news.example.com")]


@responses.activate
def test_ambiguous_timeout_then_absent_resends_once(acct: Account) -> None:
    responses.post(f"{BASE}/domains", body=requests.ReadTimeout("read timed out"))
    responses.get(f"{BASE}/domains/news.example.com", status=404, json={"message": "no"})
    responses.post(f"{BASE}/domains", json=DOMAIN, status=201)
    d = acct.domains.create("news.example.com")
    assert d.name == "news.example.com"
    assert calls() == [("POST", f"{BASE}/domains"),
                       ("GET", f"{BASE}/domains/news.example.com"),
                       ("POST", f"{BASE}/domains")]


@responses.activate
def test_already_exists_on_the_resend_adopts_the_late_first_attempt(acct: Account) -> None:
    responses.post(f"{BASE}/domains", status=502)
    responses.get(f"{BASE}/domains/news.example.com", status=404)
    responses.post(f"{BASE}/domains", status=409, json={"message": "domain exists"})
    responses.get(f"{BASE}/domains/news.example.com", json=DOMAIN)
    d = acct.domains.create("news.example.com")
    assert d.name == "news.example.com"
    assert [m for m, _ in calls()] == ["POST", "GET", "POST", "GET"]


@responses.activate
def test_already_exists_on_the_resend_without_a_copy_is_raised(acct: Account) -> None:
    responses.post(f"{BASE}/domains", status=502)
    responses.get(f"{BASE}/domains/news.example.com", status=404)
    responses.post(f"{BASE}/domains", status=409, json={"message": "domain exists"})
    responses.get(f"{BASE}/domains/news.example.com", status=404)
    with pytest.raises(AlreadyExists):
        acct.domains.create("news.example.com")
    assert len(responses.calls) == 4


@responses.activate
def test_already_exists_on_the_first_try_is_raised_without_read_back(acct: Account) -> None:
    responses.post(f"{BASE}/domains", status=409, json={"message": "domain exists"},
                   headers={"X-Request-Id": "rid-409"})
    with pytest.raises(AlreadyExists) as info:
        acct.domains.create("news.example.com")
    assert info.value.request_id == "rid-409"
    assert len(responses.calls) == 1


@responses.activate
def test_definite_rejection_is_raised_without_read_back(acct: Account) -> None:
    responses.post(f"{BASE}/domains", status=400, json={"message": "plan limit reached"})
    with pytest.raises(Rejected, match="plan limit reached"):
        acct.domains.create("news.example.com")
    assert len(responses.calls) == 1


@responses.activate
def test_read_back_finding_a_different_object_is_a_conflict(acct: Account) -> None:
    responses.post(f"{BASE}/pools", status=500, json={"message": "oops"})
    responses.get(f"{BASE}/pools/marketing", json={"name": "marketing", "ips": ["192.0.2.9"]})
    with pytest.raises(ConflictingState) as info:
        acct.pools.create("marketing", ips=["192.0.2.1"])
    err = info.value
    assert err.provider == "acctesp"
    assert "create pool marketing exists but differs" in str(err)
    assert isinstance(err.__cause__, ServerError)
    assert len(responses.calls) == 2


@responses.activate
def test_pool_read_back_with_the_requested_ips_is_adopted(acct: Account) -> None:
    responses.post(f"{BASE}/pools", body=requests.ReadTimeout())
    responses.get(f"{BASE}/pools/marketing",
                  json={"name": "marketing", "ips": ["192.0.2.1", "192.0.2.2"]})
    p = acct.pools.create("marketing", ips=["192.0.2.1"], description="bulk")
    assert p.ips == ("192.0.2.1", "192.0.2.2")


@responses.activate
def test_repeated_ambiguous_failures_give_up_with_the_last_error(acct: Account) -> None:
    responses.post(f"{BASE}/domains", status=503, json={"message": "still down"})
    responses.get(f"{BASE}/domains/news.example.com", status=404)
    with pytest.raises(ServerError, match="still down") as info:
        acct.domains.create("news.example.com")
    assert info.value.maybe_applied is True
    # as many re-sends as the retry policy allows, each after a read-back found nothing
    attempts = acct.provider.transport.retry.max_attempts  # type: ignore[attr-defined]
    assert [m for m, _ in calls()] == ["POST", "GET"] * attempts


@responses.activate
def test_ambiguous_re_sends_stop_when_the_retry_budget_is_spent(acct: Account) -> None:
    responses.post(f"{BASE}/domains", status=503, json={"message": "still down"})
    responses.get(f"{BASE}/domains/news.example.com", status=404)
    acct.provider.transport.budget = RetryBudget(capacity=5)  # type: ignore[attr-defined]
    with pytest.raises(ServerError, match="still down"):
        acct.domains.create("news.example.com")
    # one re-send paid for, then the budget is empty: surface the error, stop re-sending
    assert [m for m, _ in calls()] == ["POST", "GET", "POST", "GET"]


@responses.activate
def test_subaccount_create_reads_back_through_the_list(acct: Account) -> None:
    responses.post(f"{BASE}/subaccounts", status=500)
    responses.get(f"{BASE}/subaccounts", json={"items": [
        {"id": 1, "name": "other"}, {"id": 7, "name": "acme"}]})
    s = acct.subaccounts.create("acme")
    assert (s.id, s.name) == ("7", "acme")


def test_create_safely_unit_paths() -> None:
    def boom(maybe_applied: bool) -> Callable[[], str]:
        def create() -> str:
            raise TransportError("timed out", maybe_applied=maybe_applied)
        return create

    with pytest.raises(TransportError):
        create_safely("x", boom(False), lambda: "never read", lambda v: True)
    reads: list[int] = []

    def read_back() -> str | None:
        reads.append(1)
        return None

    with pytest.raises(TransportError):
        create_safely("x", boom(True), read_back, lambda v: True, attempts=2)
    assert len(reads) == 2
    # errors outside the EspError tree are never swallowed
    with pytest.raises(KeyError):
        create_safely("x", lambda: {}["k"], lambda: None, lambda v: True)


def test_create_safely_late_landing_that_differs_is_a_conflict_not_already_exists() -> None:
    from espkit.errors import AlreadyExists, ConflictingState

    calls: list[int] = []

    def create() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise TransportError("timed out", maybe_applied=True)
        raise AlreadyExists("exists")

    reads = iter([None, "someone else's"])
    with pytest.raises(ConflictingState, match="differs"):
        create_safely("x", create, lambda: next(reads), lambda v: v == "mine")
    assert len(calls) == 2


# -- the rest of the managers, end to end ------------------------------------------------------


@responses.activate
def test_domains_list_is_lazy_and_pages(acct: Account) -> None:
    responses.get(f"{BASE}/domains", json={"items": [DOMAIN], "next": True},
                  match=[responses.matchers.query_param_matcher({"page": "1", "limit": "1"})])
    responses.get(f"{BASE}/domains", json={"items": [DOMAIN | {"name": "b.example.com"}]},
                  match=[responses.matchers.query_param_matcher({"page": "2", "limit": "1"})])
    it = acct.domains.list(page_size=1)
    assert len(responses.calls) == 0
    assert [d.name for d in it] == ["news.example.com", "b.example.com"]
    assert len(responses.calls) == 2


@responses.activate
def test_domain_get_verify_delete(acct: Account) -> None:
    responses.get(f"{BASE}/domains/news.example.com", json=DOMAIN)
    responses.put(f"{BASE}/domains/news.example.com/verify", json=DOMAIN | {"state": "verified"})
    responses.delete(f"{BASE}/domains/news.example.com", status=204)
    assert acct.domains.get("NEWS.example.com.").name == "news.example.com"
    assert acct.domains.verify("news.example.com").verified
    acct.domains.delete("news.example.com")
    assert [m for m, _ in calls()] == ["GET", "PUT", "DELETE"]


@responses.activate
def test_get_missing_domain_is_not_found(acct: Account) -> None:
    responses.get(f"{BASE}/domains/news.example.com", status=404, json={"message": "no such"})
    with pytest.raises(NotFound, match="no such"):
        acct.domains.get("news.example.com")


@responses.activate
def test_assignments(acct: Account) -> None:
    responses.put(f"{BASE}/domains/news.example.com/pool", json={})
    responses.get(f"{BASE}/domains/news.example.com/pool", json={"pool": "bulk"})
    responses.delete(f"{BASE}/domains/news.example.com/pool", status=204)
    a = acct.domains.assign("news.example.com", pool="bulk")
    assert (a.kind, a.target) == (AssignmentKind.POOL, "bulk")
    assert acct.domains.assignments("news.example.com")[0].target == "bulk"
    acct.domains.unassign("news.example.com", pool="bulk", replacement="2001:DB8::1")
    acct.domains.unassign("news.example.com", pool="bulk", replacement="other-pool")
    acct.domains.unassign("news.example.com", pool="bulk", replacement="shared")
    urls = [u for m, u in calls() if m == "DELETE"]
    assert urls[0].endswith("replacement=2001%3Adb8%3A%3A1")  # canonicalised
    assert urls[1].endswith("replacement=other-pool")
    assert urls[2].endswith("replacement=shared")


@responses.activate
def test_pools(acct: Account) -> None:
    body = {"name": "bulk", "ips": ["192.0.2.1"]}
    responses.get(f"{BASE}/pools", json={"items": [body]})
    responses.get(f"{BASE}/pools/bulk", json=body)
    responses.post(f"{BASE}/pools/bulk/ips", json=body)
    responses.delete(f"{BASE}/pools/bulk/ips/2001%3Adb8%3A%3A1", json={"name": "bulk"})
    responses.delete(f"{BASE}/pools/bulk", status=204)
    assert [p.name for p in acct.pools.list()] == ["bulk"]
    assert acct.pools.get("bulk").ips == ("192.0.2.1",)
    assert acct.pools.add_ip("bulk", "192.0.2.1").name == "bulk"
    assert acct.pools.remove_ip("bulk", "2001:DB8:0::1").ips == ()
    acct.pools.delete("bulk", replacement="192.0.2.5")
    acct.pools.delete("bulk", replacement="shared")
    acct.pools.delete("bulk", replacement="spare")
    acct.pools.delete("bulk")
    deletes = [u for m, u in calls() if m == "DELETE"][1:]
    assert deletes == [f"{BASE}/pools/bulk?replacement=192.0.2.5",
                       f"{BASE}/pools/bulk?replacement=shared",
                       f"{BASE}/pools/bulk?replacement=spare",
                       f"{BASE}/pools/bulk"]


@responses.activate
def test_subaccounts(acct: Account) -> None:
    responses.get(f"{BASE}/subaccounts", json={"items": [{"id": "s1", "name": "acme"}]})
    responses.get(f"{BASE}/subaccounts/s1", json={"id": "s1", "name": "acme"})
    responses.patch(f"{BASE}/subaccounts/s1", json={"id": "s1", "name": "acme",
                                                    "enabled": False})
    subs = list(acct.subaccounts.list())
    assert acct.subaccounts.get("s1") == subs[0]
    assert acct.subaccounts.disable(subs[0]).enabled is False
    acct.subaccounts.enable("s1")
    assert [c.request.body for c in responses.calls if c.request.method == "PATCH"] == [
        b'{"enabled": false}', b'{"enabled": true}']


@responses.activate
def test_subaccount_ids_by_name_from_one_listing(acct: Account) -> None:
    responses.get(f"{BASE}/subaccounts", json={"items": [
        {"id": "s1", "name": "acme"}, {"id": "s2", "name": "globex"}]})
    assert acct.subaccounts.ids_by_name() == {"acme": "s1", "globex": "s2"}
    assert len(responses.calls) == 1


# -- on_behalf_of ----------------------------------------------------------------------------


@responses.activate
def test_on_behalf_of_scopes_every_request(scoped: Account) -> None:
    url = "https://api.scoped-esp.test/domains/news.example.com"
    responses.get(url, json=DOMAIN)
    responses.get("https://api.scoped-esp.test/ips", json={"items": []})
    responses.get("https://api.scoped-esp.test/ips/2001%3Adb8%3A%3A1", json={"ip": "x"})
    sub = scoped.on_behalf_of(Subaccount(id="sub-42", name="acme", provider="scopedesp"))
    assert sub.subaccount == "sub-42"
    assert "subaccount='sub-42'" in repr(sub)
    sub.domains.get("news.example.com")
    scoped.domains.get("news.example.com")
    assert list(scoped.ips.list()) == []
    assert scoped.ips.get("2001:DB8:0::1") == {"ip": "x"}  # canonical address in the path
    headers = [c.request.headers for c in responses.calls]
    assert headers[0]["X-On-Behalf-Of"] == "sub-42"
    assert "X-On-Behalf-Of" not in headers[1]
    assert headers[0]["X-Api-Key"] == KEY


# -- wait_until_verified -----------------------------------------------------------------------


@responses.activate
def test_wait_until_verified_polls_until_verified(acct: Account) -> None:
    url = f"{BASE}/domains/news.example.com/verify"
    responses.put(url, json=DOMAIN)
    responses.put(url, json=DOMAIN)
    responses.put(url, json=DOMAIN | {"state": "verified"})
    clock = StepClock()
    d = acct.domains.wait_until_verified("News.Example.com", timeout=600, interval=15,
                                         sleep=clock.sleep, clock=clock)
    assert d.verified
    assert clock.slept == [15, 15]
    assert len(responses.calls) == 3


@responses.activate
def test_wait_until_verified_times_out(acct: Account) -> None:
    responses.put(f"{BASE}/domains/news.example.com/verify", json=DOMAIN)
    clock = StepClock()
    with pytest.raises(VerificationTimeout) as info:
        acct.domains.wait_until_verified("news.example.com", timeout=40, interval=15,
                                         sleep=clock.sleep, clock=clock)
    err = info.value
    assert isinstance(err, TimeoutError)
    assert err.waited == 30
    assert err.domain.state is DomainState.UNVERIFIED
    assert clock.slept == [15, 15]  # never sleeps past the deadline
    assert len(responses.calls) == 3
    text = str(err)
    assert re.search(r"news\.example\.com not verified after 30 s \(state unverified\)", text)
    assert "dkim TXT k1._domainkey.news.example.com" in text
    assert "spf" not in text  # the valid record is not listed


@responses.activate
def test_wait_until_verified_timeout_with_no_records(acct: Account) -> None:
    responses.put(f"{BASE}/domains/news.example.com/verify",
                  json={"name": "news.example.com", "state": "pending"})
    clock = StepClock()
    with pytest.raises(VerificationTimeout, match="none reported"):
        acct.domains.wait_until_verified("news.example.com", timeout=0, interval=15,
                                         sleep=clock.sleep, clock=clock)
    assert clock.slept == []
