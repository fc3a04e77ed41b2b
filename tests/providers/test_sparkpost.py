"""The SparkPost provider through the public API: the network is mocked with ``responses``
(blueprint-shaped bodies) or served by the stateful fake in ``tests/support/fakes/sparkpost.py``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from support.fakes.sparkpost import KEY, SparkPostFake, public_key

import espkit
from espkit import (
    AlreadyExists,
    AssignmentKind,
    AuthError,
    Capability,
    DomainState,
    NotFound,
    RecordPurpose,
    RecordStatus,
    Rejected,
    ServerError,
    ValidationError,
)
from espkit.providers.sparkpost import SparkPostProvider

US = "https://api.sparkpost.com/api/v1"
EU = "https://api.eu.sparkpost.com/api/v1"
DOMAIN = "mail.example1.com"
PUBLIC = public_key(DOMAIN)
STATUS = {
    "ownership_verified": False, "spf_status": "unverified", "abuse_at_status": "unverified",
    "dkim_status": "unverified", "cname_status": "unverified", "mx_status": "pending",
    "compliance_status": "valid", "postmaster_at_status": "unverified",
    "verification_mailbox_status": "unverified",
}


def domain_results(**status: Any) -> dict[str, Any]:
    # "Retrieve a Sending Domain" example: no "domain" field
    return {"results": {
        "tracking_domain": f"click.{DOMAIN}",
        "status": {**STATUS, **status},
        "dkim": {"headers": "from:to:subject:date", "public": PUBLIC,
                 "selector": "hello_selector"},
        "shared_with_subaccounts": False, "is_default_bounce_domain": False,
    }}


def errors(message: str, description: str = "", code: str = "") -> dict[str, Any]:
    err = {"message": message}
    if description:
        err["description"] = description
    if code:
        err["code"] = code
    return {"errors": [err]}


@pytest.fixture
def http(sleeps: list[float]) -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def fake(sleeps: list[float]) -> Iterator[SparkPostFake]:
    with SparkPostFake() as f:
        yield f


def connect(region: str | None = "us", **options: Any) -> espkit.Account:
    return espkit.connect("sparkpost", api_key=KEY, region=region, **options)


def sent_json(call: Any) -> Any:
    return json.loads(call.request.body)


# -- set-up ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("region", "base"), [("us", US), ("eu", EU), ("EU", EU), (None, US)])
def test_region_selects_base_url_and_key_is_the_header(
    http: responses.RequestsMock, region: str | None, base: str
) -> None:
    http.add("GET", f"{base}/sending-domains/{DOMAIN}", json=domain_results())
    assert connect(region).domains.get(DOMAIN).name == DOMAIN
    call = http.calls[0]
    assert call.request.url == f"{base}/sending-domains/{DOMAIN}"
    assert call.request.headers["Authorization"] == KEY  # the bare key, no scheme


def test_unknown_region_is_a_config_error() -> None:
    with pytest.raises(espkit.ConfigError, match="'us', 'eu'"):
        connect("ap")


def test_key_from_sparkpost_env_var(
    http: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ESPKIT_SPARKPOST_API_KEY", raising=False)
    monkeypatch.setenv("SPARKPOST_API_KEY", KEY)
    http.add("GET", f"{US}/sending-domains/{DOMAIN}", json=domain_results())
    espkit.connect("sparkpost").domains.get(DOMAIN)
    assert http.calls[0].request.headers["Authorization"] == KEY


def test_declares_sparkpost_facts() -> None:
    lacking = {Capability.ASSIGN_DOMAIN_IP, Capability.ASSIGN_DOMAIN_POOL, Capability.STREAMS}
    assert frozenset(Capability) - lacking == SparkPostProvider.SUPPORTS
    assert SparkPostProvider.EXCLUSIVE_POOLS is True
    assert SparkPostProvider.RATE_LIMIT is None  # dynamic limits, learnt from 429s
    for cap in frozenset(Capability) - SparkPostProvider.SUPPORTS:
        assert SparkPostProvider.HINTS[cap]
    acct = connect()
    assert acct.provider.transport.retry.base_delay == 2.0  # type: ignore[attr-defined]


# -- domains --------------------------------------------------------------------------------


def test_create_asks_sparkpost_for_a_dkim_key_and_builds_the_records(
    http: responses.RequestsMock,
) -> None:
    dkim = {"public": PUBLIC, "selector": "scph0316", "signing_domain": DOMAIN,
            "headers": "from:to:subject:date"}
    http.add("POST", f"{US}/sending-domains", json={"results": {
        "message": "Successfully Created domain.", "domain": DOMAIN, "dkim": dkim}})
    d = connect().domains.create(DOMAIN, dkim_key_size=1024)
    assert sent_json(http.calls[0]) == {"domain": DOMAIN, "generate_dkim": True,
                                        "dkim_key_length": 1024}
    assert http.calls[0].request.headers["Content-Type"] == "application/json"
    assert (d.name, d.provider, d.state) == (DOMAIN, "sparkpost", DomainState.UNVERIFIED)
    (txt,) = d.records("dkim")
    assert (txt.type, txt.host, txt.value, txt.status) == (
        "TXT", f"scph0316._domainkey.{DOMAIN}", f"v=DKIM1; k=rsa; h=sha256; p={PUBLIC}",
        RecordStatus.UNKNOWN)
    (cname,) = d.records(RecordPurpose.RETURN_PATH)
    assert (cname.type, cname.host, cname.value) == ("CNAME", DOMAIN, "sparkpostmail.com")
    assert d.raw["message"] == "Successfully Created domain."


def test_create_with_only_a_name(http: responses.RequestsMock) -> None:
    http.add("POST", f"{US}/sending-domains", json={"results": {"domain": DOMAIN}})
    d = connect().domains.create(DOMAIN)
    assert sent_json(http.calls[0]) == {"domain": DOMAIN, "generate_dkim": True}
    assert [r.purpose for r in d.dns_records] == [RecordPurpose.RETURN_PATH]


@pytest.mark.parametrize("option", [{"spam_action": "tag"}, {"pool": "marketing"},
                                    {"dkim_selector": "s1"}, {"ips": ["1.2.3.4"]}])
def test_options_sparkpost_lacks_are_refused_before_sending(
    http: responses.RequestsMock, option: dict[str, Any]
) -> None:
    with pytest.raises(espkit.Unsupported, match="domain option"):
        connect().domains.create(DOMAIN, **option)
    assert len(http.calls) == 0


def test_get_maps_statuses_and_eu_bounce_target(http: responses.RequestsMock) -> None:
    http.add("GET", f"{EU}/sending-domains/{DOMAIN}", json=domain_results(
        ownership_verified=True, dkim_status="valid", cname_status="invalid"))
    d = connect("eu").domains.get(DOMAIN)
    assert d.verified
    assert d.records("dkim")[0].status is RecordStatus.VALID
    assert d.records("dkim")[0].host == f"hello_selector._domainkey.{DOMAIN}"
    cname = d.records("return_path")[0]
    assert (cname.value, cname.status) == ("eu.sparkpostmail.com", RecordStatus.INVALID)


@pytest.mark.parametrize(("status", "state"), [
    ({"dkim_status": "pending"}, DomainState.PENDING),
    ({"compliance_status": "blocked", "ownership_verified": True}, DomainState.DISABLED),
    ({"dkim_status": "invalid"}, DomainState.UNVERIFIED),
])
def test_domain_states(http: responses.RequestsMock, status: dict[str, Any],
                       state: DomainState) -> None:
    http.add("GET", f"{US}/sending-domains/{DOMAIN}", json=domain_results(**status))
    assert connect().domains.get(DOMAIN).state is state


def test_subaccount_domain_and_signing_domain(http: responses.RequestsMock) -> None:
    body = domain_results()
    body["results"]["subaccount_id"] = 123
    body["results"]["dkim"]["signing_domain"] = "Example1.com."
    http.add("GET", f"{US}/sending-domains/{DOMAIN}", json=body)
    d = connect().domains.get(DOMAIN)
    assert d.subaccount == "123"
    assert d.records("dkim")[0].host == "hello_selector._domainkey.example1.com"


def test_list_is_one_unpaginated_request(http: responses.RequestsMock) -> None:
    http.add("GET", f"{US}/sending-domains", json={"results": [
        {"domain": "example1.com", "status": {**STATUS, "ownership_verified": True}},
        {"domain": "example2.com", "status": STATUS, "creation_time": "2025-01-25T14:00:00Z"},
    ]})
    got = list(connect().domains.list(page_size=1))
    assert [d.name for d in got] == ["example1.com", "example2.com"]
    assert [d.verified for d in got] == [True, False]
    assert got[1].created_at is not None
    assert got[1].created_at.year == 2025
    assert all(d.dns_records == () for d in got)
    assert len(http.calls) == 1
    assert "cursor" not in (http.calls[0].request.url or "")


def test_verify_requests_dns_checks_then_reads_back(http: responses.RequestsMock) -> None:
    http.add("POST", f"{US}/sending-domains/{DOMAIN}/verify", json={"results": {
        **STATUS, "ownership_verified": True, "dkim_status": "valid",
        "cname_status": "invalid",
        "dns": {"dkim_record": f"k=rsa; h=sha256; p={PUBLIC}",
                "cname_error": "DNS CNAME query error"}}})
    http.add("GET", f"{US}/sending-domains/{DOMAIN}", json=domain_results())  # stale
    d = connect().domains.verify(DOMAIN)
    assert sent_json(http.calls[0]) == {"dkim_verify": True, "cname_verify": True}
    assert d.verified
    assert d.records("dkim")[0].valid
    cname = d.records("return_path")[0]
    assert cname.status is RecordStatus.INVALID
    assert cname.raw["error"] == "DNS CNAME query error"


def test_wait_until_verified_with_the_fake(fake: SparkPostFake) -> None:
    acct = fake.connect()
    acct.domains.create(DOMAIN)
    assert not acct.domains.verify(DOMAIN).verified
    fake.publish_dns(DOMAIN)
    d = acct.domains.wait_until_verified(DOMAIN, sleep=lambda s: None)
    assert all(r.valid for r in d.dns_records)


def test_delete_answers_204(http: responses.RequestsMock) -> None:
    http.add("DELETE", f"{US}/sending-domains/{DOMAIN}", status=204)
    connect().domains.delete(DOMAIN)
    assert http.calls[0].request.method == "DELETE"


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "body", "cls", "text"), [
    (409, errors("resource conflict", f"Sending Domain '{DOMAIN}' already exists", "1602"),
     AlreadyExists, "resource conflict: Sending Domain"),
    (400, errors("invalid params", "Key ID 'marketing' already exists", "1300"),
     AlreadyExists, "already exists"),
    (400, errors("Restricted domain", "Please contact SparkPost support", "7000"),
     Rejected, "Restricted domain: Please contact"),
    (400, errors("Domain in use by another account", "contact support", "7004"),
     Rejected, "another account"),
    (420, errors("Exceed Sending Limit"), Rejected, "Sending Limit"),
    (401, errors("Unauthorized."), AuthError, "Unauthorized"),
    (403, errors("Forbidden."), AuthError, "Forbidden"),
])
def test_error_bodies_map_to_the_error_tree(
    http: responses.RequestsMock, status: int, body: Any, cls: type, text: str
) -> None:
    http.add("POST", f"{US}/sending-domains", status=status, json=body)
    with pytest.raises(cls, match=text) as info:
        connect().domains.create(DOMAIN)
    assert info.value.status == status
    if "code" in body["errors"][0]:
        assert info.value.code == body["errors"][0]["code"]
    assert len(http.calls) == 1


def test_not_found_carries_description(http: responses.RequestsMock) -> None:
    http.add("GET", f"{US}/sending-domains/{DOMAIN}", status=404, json=errors(
        "resource not found", f"Domain '{DOMAIN}' does not exist", "1600"))
    with pytest.raises(NotFound, match="does not exist"):
        connect().domains.get(DOMAIN)


def test_bad_key_is_an_auth_error_without_the_key(http: responses.RequestsMock) -> None:
    http.add("GET", f"{US}/sending-domains", status=401, json=errors("Unauthorized."))
    with pytest.raises(AuthError) as info:
        list(connect().domains.list())
    assert KEY not in str(info.value) + repr(info.value) + repr(info.value.body)
    assert len(http.calls) == 1  # a 401 is not retried


def test_429_without_retry_after_backs_off_about_the_documented_1_to_5_s(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    url = f"{US}/sending-domains/{DOMAIN}"
    http.add("GET", url, status=429, json=errors("Too many requests"))
    http.add("GET", url, status=429, json=errors("Too many requests"))
    http.add("GET", url, json=domain_results())
    assert connect().domains.get(DOMAIN).name == DOMAIN
    assert len(http.calls) == 3
    assert len(sleeps) >= 2
    assert all(s <= 4.0 for s in sleeps)


def test_5xx_on_a_read_is_retried(http: responses.RequestsMock) -> None:
    url = f"{US}/sending-domains/{DOMAIN}"
    http.add("GET", url, status=503, json=errors("Service Unavailable"))
    http.add("GET", url, status=500, json=errors("Internal Server Error"))
    http.add("GET", url, json=domain_results())
    assert connect().domains.get(DOMAIN).name == DOMAIN
    assert len(http.calls) == 3


def test_5xx_on_create_reads_back_and_adopts(http: responses.RequestsMock) -> None:
    http.add("POST", f"{US}/sending-domains", status=503, json=errors("Service Unavailable"))
    http.add("GET", f"{US}/sending-domains/{DOMAIN}", json=domain_results())
    d = connect().domains.create(DOMAIN)
    assert d.name == DOMAIN
    assert d.records("dkim")
    assert [c.request.method for c in http.calls] == ["POST", "GET"]


def test_5xx_on_create_resends_when_absent(http: responses.RequestsMock) -> None:
    http.add("POST", f"{US}/sending-domains", status=500, json=errors("boom"))
    http.add("GET", f"{US}/sending-domains/{DOMAIN}", status=404,
             json=errors("resource not found", "", "1600"))
    http.add("POST", f"{US}/sending-domains", json={"results": {"domain": DOMAIN}})
    assert connect().domains.create(DOMAIN).name == DOMAIN
    assert [c.request.method for c in http.calls] == ["POST", "GET", "POST"]


def test_persistent_5xx_on_create_is_a_server_error(http: responses.RequestsMock) -> None:
    http.add("POST", f"{US}/sending-domains", status=500, json=errors("boom"))
    http.add("GET", f"{US}/sending-domains/{DOMAIN}", status=404, json=errors("nf"))
    with pytest.raises(ServerError):
        connect().domains.create(DOMAIN)


def test_timeout_after_commit_is_read_back_with_the_fake(fake: SparkPostFake) -> None:
    fake.fail_next("timeout_after_commit", "POST", "sending-domains")
    d = fake.connect().domains.create(DOMAIN)
    assert d.records("dkim")
    assert fake.domain_count() == 1
    assert fake.sent("POST", "sending-domains") == 1


@pytest.mark.parametrize("call", [
    lambda a: a.domains.create("bad/name.example"),
    lambda a: a.domains.get("../sending-ips"),
    lambda a: a.domains.verify("a..b"),
    lambda a: a.pools.create("has space"),
    lambda a: a.pools.add_ip("marketing", "999.1.1.1"),
    lambda a: a.ips.get("not-an-ip"),
    lambda a: a.subaccounts.get("../1"),
    lambda a: a.subaccounts.get("abc"),
    lambda a: a.on_behalf_of("abc"),
    lambda a: a.subaccounts.assign("12", pool="bad pool"),
    lambda a: a.ips.start_warmup("192.0.2.10", stage=30),
])
def test_bad_input_sends_nothing(http: responses.RequestsMock, call: Any) -> None:
    with pytest.raises(ValidationError):
        call(connect())
    assert len(http.calls) == 0


@pytest.mark.parametrize(("call", "cap", "hint"), [
    (lambda a: a.domains.assign(DOMAIN, pool="marketing"), "assign.domain_pool",
     "options.ip_pool"),
    (lambda a: a.domains.assign(DOMAIN, ip="192.0.2.10"), "assign.domain_ip", "pool"),
    (lambda a: a.domains.unassign(DOMAIN, pool="marketing"), "assign.domain_pool",
     "subaccounts.assign"),
    (lambda a: a.domains.assignments(DOMAIN), "assign.domain_pool", "options.ip_pool"),
    (lambda a: list(a.streams.list()), "streams", "subaccount per stream"),
    (lambda a: a.pools.create("marketing", description="x"), "pool description",
     "name only"),
])
def test_unsupported_before_any_request_with_a_hint(
    http: responses.RequestsMock, call: Any, cap: str, hint: str
) -> None:
    with pytest.raises(espkit.Unsupported) as info:
        call(connect())
    assert info.value.capability == cap
    assert hint in info.value.hint
    assert len(http.calls) == 0


def test_secret_absent_from_logs_reprs_and_errors(
    http: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http.add("GET", f"{US}/sending-domains/{DOMAIN}", status=503, json=errors("x"))
    http.add("GET", f"{US}/sending-domains/{DOMAIN}", status=401, json=errors("Unauthorized."))
    acct = connect()
    with pytest.raises(AuthError) as info:
        acct.domains.get(DOMAIN)
    seen = " ".join([caplog.text, repr(acct), repr(acct.provider),
                     repr(acct.provider.transport),  # type: ignore[attr-defined]
                     repr(acct.provider.transport._auth),  # type: ignore[attr-defined]
                     str(info.value), repr(info.value)])
    assert "sending-domains" in caplog.text
    assert KEY not in seen
    assert KEY[:12] not in seen


# -- sending IPs and pools (against the stateful fake) ---------------------------------------


def test_ips_list_and_get(fake: SparkPostFake) -> None:
    acct = fake.connect()
    acct.pools.create("marketing", ips=[fake.ips[0]])
    ips = {ip.address: ip for ip in acct.ips.list()}
    assert set(ips) == set(fake.ips)
    assert ips[fake.ips[0]].pool == "marketing"
    assert ips[fake.ips[1]].pool == "Default"
    assert ips[fake.ips[1]].rdns == "mta471a.sparkpostmail.com"
    assert ips[fake.ips[1]].warming_up is False
    one = acct.ips.get(fake.ips[0])
    assert (one.address, one.pool) == (fake.ips[0], "marketing")


def test_ip_warmup(fake: SparkPostFake) -> None:
    # the common warmup calls (tests/providers/test_sparkpost_warmup_stats.py has the rest)
    acct = fake.connect()
    started = acct.ips.start_warmup(fake.ips[0], stage=1)
    assert (started.warming, started.stage) == (True, 1)
    assert acct.ips.get(fake.ips[0]).warming_up is True
    puts = [body for m, _p, body, _h in fake.requests if m == "PUT"]
    assert puts == [{"auto_warmup_enabled": True, "auto_warmup_stage": 1}]


def test_pool_lifecycle(fake: SparkPostFake) -> None:
    acct = fake.connect()
    a, b, c = fake.ips[:3]
    pool = acct.pools.create("marketing", ips=[a, b])
    assert (pool.name, pool.id, set(pool.ips)) == ("marketing", "marketing", {a, b})
    puts = [(p, body) for m, p, body, _ in fake.requests if m == "PUT"]
    assert puts == [(f"/sending-ips/{a}", {"ip_pool": "marketing"}),
                    (f"/sending-ips/{b}", {"ip_pool": "marketing"})]
    with pytest.raises(AlreadyExists):
        acct.pools.create("marketing")
    assert {p.name for p in acct.pools.list()} == {"Default", "marketing"}
    assert acct.pools.get("marketing").ips == (a, b)
    acct.pools.create("transactional", ips=[c])
    moved = acct.pools.add_ip("marketing", c)  # moves it out of "transactional"
    assert set(moved.ips) == {a, b, c}
    assert acct.pools.get("transactional").ips == ()
    assert acct.pools.add_ip("marketing", c).ips == moved.ips  # idempotent
    left = acct.pools.remove_ip("marketing", a)
    assert a not in left.ips
    assert a in acct.pools.get("default").ips  # back in the default pool
    acct.pools.delete("marketing", replacement="transactional")
    assert set(acct.pools.get("transactional").ips) == {b, c}
    with pytest.raises(NotFound):
        acct.pools.get("marketing")
    acct.pools.delete("transactional")
    assert set(acct.pools.get("default").ips) == set(fake.ips)


def test_pool_found_by_id_when_name_differs(fake: SparkPostFake) -> None:
    fake.pools["mkt_pool"] = {"id": "mkt_pool", "name": "Marketing IP Pool"}
    pool = fake.connect().pools.get("mkt_pool")
    assert (pool.name, pool.id) == ("Marketing IP Pool", "mkt_pool")


def test_pool_edge_cases(fake: SparkPostFake) -> None:
    acct = fake.connect()
    with pytest.raises(ValidationError, match="exactly one pool"):
        acct.pools.remove_ip("default", fake.ips[0])
    acct.pools.create("spare")
    with pytest.raises(ValidationError, match="give a pool name"):
        acct.pools.delete("spare", replacement="shared")
    with pytest.raises(NotFound, match="no IP pool named"):
        acct.pools.add_ip("nope", fake.ips[0])


def test_update_pool_settings(fake: SparkPostFake) -> None:
    acct = fake.connect()
    acct.pools.create("overflow")
    acct.pools.create("marketing")
    provider: SparkPostProvider = acct.provider  # type: ignore[assignment]
    pool = provider.update_pool("marketing", fbl_signing_domain="sparkpostmail.com",
                                auto_warmup_overflow_pool="overflow")
    assert pool.raw["auto_warmup_overflow_pool"] == "overflow"
    assert fake.requests[-2][2] == {"name": "marketing", "fbl_signing_domain":
                                    "sparkpostmail.com", "auto_warmup_overflow_pool": "overflow"}


# -- subaccounts ----------------------------------------------------------------------------


def test_subaccount_lifecycle(fake: SparkPostFake) -> None:
    acct = fake.connect()
    sub = acct.subaccounts.create("customer-1")
    create = next(b for m, p, b, _ in fake.requests if m == "POST" and p == "/subaccounts")
    assert create == {"name": "customer-1", "setup_api_key": False}
    assert "key" not in sub.raw  # no API key was made
    assert (sub.name, sub.enabled) == ("customer-1", True)
    assert acct.subaccounts.get(sub).id == sub.id
    assert not acct.subaccounts.disable(sub).enabled
    assert fake.subaccounts[int(sub.id)]["status"] == "suspended"
    assert acct.subaccounts.enable(sub).enabled
    acct.pools.create("marketing", ips=[fake.ips[0]])
    a = acct.subaccounts.assign(sub, pool="marketing")
    assert (a.domain, a.kind, a.target) == ("", AssignmentKind.POOL, "marketing")
    assert a.raw == {"subaccount": sub.id, "ip_pool": "marketing"}
    assert fake.subaccounts[int(sub.id)]["ip_pool"] == "marketing"


def test_subaccounts_list_follows_the_cursor(fake: SparkPostFake) -> None:
    acct = fake.connect()
    for i in range(230):
        fake.subaccounts[i + 1] = {"id": i + 1, "name": f"c{i}", "status": "active"}
    listed = list(acct.subaccounts.list())
    assert [s.id for s in listed] == [str(i + 1) for i in range(230)]
    gets = [p for m, p, _, _ in fake.requests if m == "GET"]
    assert len(gets) == 3


def test_on_behalf_of_sends_the_subaccount_header(fake: SparkPostFake) -> None:
    acct = fake.connect()
    sub = acct.subaccounts.create("customer-1")
    scoped = acct.on_behalf_of(sub)
    d = scoped.domains.create(DOMAIN)
    assert d.subaccount == sub.id
    assert fake.requests[-1][3]["X-MSYS-SUBACCOUNT"] == sub.id
    assert fake.domains[DOMAIN]["subaccount_id"] == int(sub.id)
    assert scoped.domains.get(DOMAIN).subaccount == sub.id
    assert [x.name for x in acct.on_behalf_of("0").domains.list()] == []
    assert "X-MSYS-SUBACCOUNT" not in fake.requests[0][3]
