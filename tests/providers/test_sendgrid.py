"""The SendGrid provider through the public API, with the network mocked by ``responses``.

Bodies follow the examples of Twilio's official OpenAPI files
(``../shared/specs/sendgrid/tsg_*_v3.yaml``); ``test_sendgrid_spec.py`` checks the requests
and the spec's own examples against them.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
import responses
from support.fakes.sendgrid import SendGridFake

import espkit
from espkit import (
    AlreadyExists,
    AssignmentKind,
    AuthError,
    Capability,
    ConflictingState,
    DomainState,
    NotFound,
    RateLimited,
    RecordPurpose,
    RecordStatus,
    Rejected,
    ServerError,
    StatsScope,
    Unsupported,
    ValidationError,
    WarmupState,
)
from espkit.providers.sendgrid import SendGridProvider

G = "https://api.sendgrid.com"
EU = "https://api.eu.sendgrid.com"
KEY = "SG.aBcDeFgHiJkLmNoPqRsTuV.wXyZ0123456789abcdefghijklmnopqrstuvwxyzAB"
DOMAIN = "mail.example.com"
DOMAINS = f"{G}/v3/whitelabel/domains"


def domain_body(name: str = DOMAIN, domain_id: int = 302183, valid: bool = False,
                **extra: Any) -> dict[str, Any]:
    # AuthenticateDomain 201 example, made consistent with ``name``
    return {
        "automatic_security": True, "custom_spf": False, "default": False,
        "dns": {
            "dkim1": {"data": "s1.domainkey.u1446226.wl.sendgrid.net",
                      "host": f"s1._domainkey.{name}", "type": "cname", "valid": valid},
            "dkim2": {"data": "s2.domainkey.u1446226.wl.sendgrid.net",
                      "host": f"s2._domainkey.{name}", "type": "cname", "valid": valid},
            "mail_cname": {"data": "u1446226.wl.sendgrid.net", "host": f"em123.{name}",
                           "type": "cname", "valid": valid},
        },
        "domain": name, "id": domain_id, "ips": [], "legacy": False, "subdomain": "em123",
        "user_id": 1446226, "username": "mbernier", "valid": valid, **extra,
    }


def errors(*messages: str, field: str | None = None) -> dict[str, Any]:
    return {"errors": [{"field": field, "message": m} for m in messages]}


pytestmark = pytest.mark.usefixtures("wire")


@pytest.fixture
def acct(sleeps: list[float]) -> espkit.Account:
    return espkit.connect("sendgrid", api_key=KEY, region="global")


def calls(method: str | None = None) -> list[Any]:
    return [c for c in responses.calls if method is None or c.request.method == method]


def sent_json(call: Any) -> Any:
    return json.loads(call.request.body)


def lookup(name: str = DOMAIN, *found: dict[str, Any]) -> None:
    """The name->id read: GET /v3/whitelabel/domains?domain=<name>."""
    responses.add("GET", DOMAINS, json=list(found),
                  match=[responses.matchers.query_param_matcher(
                      {"domain": name, "exclude_subusers": "true", "limit": "100",
                       "offset": "0"})])


# -- set-up -------------------------------------------------------------------------------


@pytest.mark.parametrize(("region", "base"), [("global", G), ("eu", EU), ("EU", EU),
                                              (None, G)])
def test_region_selects_base_url(region: str | None, base: str) -> None:
    responses.add("GET", f"{base}/v3/ips/pools", json=[])
    list(espkit.connect("sendgrid", api_key=KEY, region=region).pools.list())
    assert calls()[0].request.url == f"{base}/v3/ips/pools"


def test_unknown_region_is_a_config_error() -> None:
    with pytest.raises(espkit.ConfigError, match="'global', 'eu'"):
        espkit.connect("sendgrid", api_key=KEY, region="us")


def test_bearer_auth_and_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ESPKIT_SENDGRID_API_KEY", raising=False)
    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    responses.add("GET", f"{G}/v3/ips/pools", json=[])
    list(espkit.connect("sendgrid").pools.list())
    assert calls()[0].request.headers["Authorization"] == f"Bearer {KEY}"


def test_declares_sendgrid_facts() -> None:
    missing = {Capability.ASSIGN_DOMAIN_IP, Capability.ASSIGN_DOMAIN_POOL, Capability.STREAMS}
    assert frozenset(Capability) - missing == SendGridProvider.SUPPORTS
    assert all(SendGridProvider.HINTS.get(c) for c in missing)
    assert SendGridProvider.EXCLUSIVE_POOLS is False
    # no counts declared: SendGrid announces its budget on every answer
    # (tests/providers/test_documented_budgets.py)
    assert {"dkim_selector", "ips"} == SendGridProvider.DOMAIN_OPTIONS
    assert {StatsScope.ACCOUNT, StatsScope.SUBACCOUNT} == SendGridProvider.STATS_SCOPES


@pytest.mark.parametrize(("call", "hint"), [
    (lambda a: a.domains.assign(DOMAIN, pool="marketing"), "ip_pool_name"),
    (lambda a: a.domains.assign(DOMAIN, ip="1.2.3.4"), "SPF"),
    (lambda a: a.domains.assignments(DOMAIN), "per subuser"),
    (lambda a: a.domains.unassign(DOMAIN, pool="marketing"), "subaccounts.assign"),
    (lambda a: a.streams.list(), "one IP pool per stream"),
    (lambda a: a.domains.create(DOMAIN, pool="marketing"), "without it"),
    (lambda a: a.domains.create(DOMAIN, dkim_key_size=2048), "without it"),
    (lambda a: a.domains.create(DOMAIN, web_prefix="track"), "without it"),
    (lambda a: a.pools.create("p1", description="x"), "only a name"),
])
def test_unsupported_before_any_request(acct: espkit.Account, call: Any, hint: str) -> None:
    with pytest.raises(Unsupported, match=hint) as err:
        call(acct)
    assert err.value.provider == "sendgrid"
    assert calls() == []


# -- domains --------------------------------------------------------------------------------


def test_create_sends_json_and_normalises_records(acct: espkit.Account) -> None:
    lookup()
    responses.add("POST", DOMAINS, status=201, json=domain_body())
    d = acct.domains.create(DOMAIN, dkim_selector="abc", ips=["1.2.3.4"])
    post = calls("POST")[0]
    assert post.request.headers["Content-Type"] == "application/json"
    assert sent_json(post) == {"domain": DOMAIN, "automatic_security": True,
                               "custom_dkim_selector": "abc", "ips": ["1.2.3.4"]}
    assert (d.name, d.id, d.provider, d.state) == (DOMAIN, "302183", "sendgrid",
                                                   DomainState.UNVERIFIED)
    assert [(r.purpose, r.type, r.host) for r in d.dns_records] == [
        (RecordPurpose.DKIM, "CNAME", f"s1._domainkey.{DOMAIN}"),
        (RecordPurpose.DKIM, "CNAME", f"s2._domainkey.{DOMAIN}"),
        (RecordPurpose.RETURN_PATH, "CNAME", f"em123.{DOMAIN}"),
    ]
    assert all(r.status is RecordStatus.INVALID for r in d.dns_records)
    assert d.records("dkim")[0].raw["name"] == "dkim1"


def test_create_in_eu_sends_the_region(sleeps: list[float]) -> None:
    responses.add("GET", f"{EU}/v3/whitelabel/domains", json=[])
    responses.add("POST", f"{EU}/v3/whitelabel/domains", status=201, json=domain_body())
    espkit.connect("sendgrid", api_key=KEY, region="eu").domains.create(DOMAIN)
    assert sent_json(calls("POST")[0])["region"] == "eu"


@pytest.mark.parametrize("selector", ["ab", "abcd", "a-c"])
def test_bad_dkim_selector_sends_nothing_but_the_lookup(acct: espkit.Account,
                                                        selector: str) -> None:
    with pytest.raises(ValidationError, match="three letters or digits"):
        acct.domains.create(DOMAIN, dkim_selector=selector)
    assert calls("POST") == []


def test_create_of_existing_domain_raises_already_exists(acct: espkit.Account) -> None:
    lookup(DOMAIN, domain_body())
    with pytest.raises(AlreadyExists):
        acct.domains.create(DOMAIN)
    assert calls("POST") == []


def test_duplicate_reported_by_sendgrid_is_already_exists(acct: espkit.Account) -> None:
    lookup()
    responses.add("POST", DOMAINS, status=400,
                  json=errors("A domain with this subdomain already exists", field="domain"))
    with pytest.raises(AlreadyExists) as err:
        acct.domains.create(DOMAIN)
    assert err.value.code == "domain"


def test_manual_security_and_list_example_shapes(acct: espkit.Account) -> None:
    manual = domain_body(automatic_security=False, dns={
        "mail_server": {"valid": True, "type": "mx", "host": f"em1.{DOMAIN}",
                        "data": "mx.sendgrid.net"},
        "subdomain_spf": {"valid": True, "type": "txt", "host": f"em1.{DOMAIN}",
                          "data": "v=spf1 include:sendgrid.net ~all"},
        "dkim": {"valid": False, "type": "txt", "host": f"m1._domainkey.{DOMAIN}",
                 "data": "k=rsa; t=s; p=MIGf"},
        "dmarc_hint": {"valid": False, "type": "txt", "host": f"_dmarc.{DOMAIN}",
                       "data": "v=DMARC1; p=none"},
    })
    lookup(DOMAIN, manual)
    d = acct.domains.get(DOMAIN)
    assert [(r.purpose, r.type, r.priority, r.status) for r in d.dns_records] == [
        (RecordPurpose.RETURN_PATH, "MX", 10, RecordStatus.VALID),
        (RecordPurpose.SPF, "TXT", None, RecordStatus.VALID),
        (RecordPurpose.DKIM, "TXT", None, RecordStatus.INVALID),
        (RecordPurpose.DMARC, "TXT", None, RecordStatus.INVALID),
    ]


def test_get_resolves_the_exact_name(acct: espkit.Account) -> None:
    # domain= is a search: sub.mail.example.com matches too and must be ignored
    lookup(DOMAIN, domain_body(f"x.{DOMAIN}", 1), domain_body(DOMAIN.upper() + ".", 2))
    d = acct.domains.get(DOMAIN)
    assert (d.name, d.id) == (DOMAIN, "2")


def test_get_missing_and_ambiguous(acct: espkit.Account) -> None:
    lookup()
    with pytest.raises(NotFound):
        acct.domains.get(DOMAIN)
    responses.replace("GET", DOMAINS, json=[domain_body(domain_id=1), domain_body(domain_id=2)])
    with pytest.raises(ConflictingState, match="ids 1, 2"):
        acct.domains.get(DOMAIN)


def test_list_pages_lazily_over_many_domains(acct: espkit.Account) -> None:
    names = [f"d{i}.example.com" for i in range(250)]
    for offset in (0, 100, 200):
        page = [domain_body(n, i + 1) for i, n in enumerate(names)][offset:offset + 100]
        responses.add("GET", DOMAINS, json=page, match=[responses.matchers.query_param_matcher(
            {"exclude_subusers": "true", "limit": "100", "offset": str(offset)})])
    it = acct.domains.list()
    assert calls() == []
    first = next(it)
    assert first.name == "d0.example.com"
    assert len(calls()) == 1
    rest = list(it)
    assert [d.name for d in [first, *rest]] == names
    assert len(calls()) == 3  # the third page is short: no fourth request


def test_an_unprintable_dns_key_is_not_quoted(acct: espkit.Account) -> None:
    """The fuzz found a dns key SendGrid could send (U+D7FC, unassigned) quoted into a
    ProtocolError's text, which then did not print."""
    responses.add("GET", DOMAINS, json=[domain_body(dns={"\ud7fc": True})])
    with pytest.raises(espkit.ProtocolError, match=r"dns\.\* is a boolean") as err:
        list(acct.domains.list())
    assert str(err.value).isprintable()


def test_list_honours_page_size_and_drops_repeats(acct: espkit.Account) -> None:
    responses.add("GET", DOMAINS, json=[domain_body("a.example.com", 1),
                                        domain_body("b.example.com", 2)])
    responses.add("GET", DOMAINS, json=[domain_body("b.example.com", 2)])
    assert [d.name for d in acct.domains.list(page_size=2)] == ["a.example.com",
                                                                "b.example.com"]
    assert "limit=2" in calls()[0].request.url
    assert "offset=2" in calls()[1].request.url


def test_verify_validates_then_rereads(acct: espkit.Account) -> None:
    lookup(DOMAIN, domain_body())
    responses.add("POST", f"{DOMAINS}/302183/validate", json={
        "id": 302183, "valid": False, "validation_results": {
            "mail_cname": {"valid": False, "reason": "Expected CNAME to match"},
            "dkim1": {"valid": True, "reason": None},
            "dkim2": {"valid": True, "reason": None}}})
    body = domain_body()
    body["dns"]["dkim1"]["valid"] = body["dns"]["dkim2"]["valid"] = True
    responses.add("GET", f"{DOMAINS}/302183", json=body)
    d = acct.domains.verify(DOMAIN)
    assert not d.verified
    (rp,) = d.records("return_path")
    assert rp.status is RecordStatus.INVALID
    assert rp.raw["reason"] == "Expected CNAME to match"
    assert all(r.valid for r in d.records("dkim"))
    assert [c.request.method for c in calls()] == ["GET", "POST", "GET"]


def test_wait_until_verified(acct: espkit.Account) -> None:
    lookup(DOMAIN, domain_body())
    responses.add("POST", f"{DOMAINS}/302183/validate", json={"id": 302183, "valid": True})
    responses.add("GET", f"{DOMAINS}/302183", json=domain_body(valid=True))
    d = acct.domains.wait_until_verified(DOMAIN, sleep=lambda s: None)
    assert d.state is DomainState.VERIFIED
    assert all(r.valid for r in d.dns_records)


def test_delete_resolves_the_id(acct: espkit.Account) -> None:
    lookup(DOMAIN, domain_body())
    responses.add("DELETE", f"{DOMAINS}/302183", status=204)
    acct.domains.delete(DOMAIN)
    assert calls()[-1].request.method == "DELETE"


# -- resilience -----------------------------------------------------------------------------


@pytest.fixture
def wall(sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> float:
    """The wall clock (``time.time``, which the transport reads to turn an epoch reset into
    seconds from now) moved only by the recorded sleeps: a reset the test writes and the
    instant the transport reads it against are the same, however long the machine takes."""
    epoch = 1_767_225_600.0
    monkeypatch.setattr(time, "time", lambda: epoch + sum(sleeps))
    return epoch


def test_429_with_ratelimit_reset_is_waited_out(acct: espkit.Account, sleeps: list[float],
                                                wall: float) -> None:
    reset = str(int(wall) + 7)
    responses.add("GET", f"{G}/v3/ips/pools", status=429,
                  json=errors("too many requests"),
                  headers={"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0",
                           "X-RateLimit-Reset": reset})
    responses.add("GET", f"{G}/v3/ips/pools", json=[{"name": "marketing"}],
                  headers={"X-RateLimit-Remaining": "599"})
    responses.add("GET", f"{G}/v3/ips", json=[])
    assert [p.name for p in acct.pools.list()] == ["marketing"]
    assert sleeps[0] == 7.0  # the wait until the reset (then the limiter's own pacing)


def test_429_beyond_the_patience_is_raised(acct: espkit.Account, wall: float) -> None:
    responses.add("GET", f"{G}/v3/ips/pools", status=429, json=errors("too many requests"),
                  headers={"X-RateLimit-Reset": str(int(wall) + 3600)})
    with pytest.raises(RateLimited) as err:
        list(acct.pools.list())
    assert err.value.retry_after == 3600
    assert err.value.message == "too many requests"


def test_5xx_is_retried_on_reads(acct: espkit.Account, sleeps: list[float]) -> None:
    responses.add("GET", f"{G}/v3/ips/1.2.3.4", status=503, json=errors("unavailable"))
    responses.add("GET", f"{G}/v3/ips/1.2.3.4", json={"ip": "1.2.3.4", "pools": [],
                                                      "warmup": False})
    assert acct.ips.get("1.2.3.4").address == "1.2.3.4"
    assert len(calls()) == 2


def test_5xx_gives_up_after_max_attempts(acct: espkit.Account, sleeps: list[float]) -> None:
    responses.add("GET", f"{G}/v3/ips/pools", status=500, json=errors("internal error"))
    with pytest.raises(ServerError, match="internal error"):
        list(acct.pools.list())
    assert len(calls()) == 5


def test_ambiguous_create_is_read_back_and_adopted(sleeps: list[float]) -> None:
    with SendGridFake(KEY) as fake:
        acct = fake.connect()
        fake.fail_next("timeout_after_commit", "POST", "/v3/whitelabel/domains")
        d = acct.domains.create(DOMAIN)
        assert d.name == DOMAIN
        assert fake.domain_count() == 1
        assert fake.sent("POST", "/v3/whitelabel/domains") == 1


def test_create_503_then_absent_is_resent_once(sleeps: list[float]) -> None:
    with SendGridFake(KEY) as fake:
        acct = fake.connect()
        fake.fail_next("503", "POST", "/v3/whitelabel/domains")
        assert acct.domains.create(DOMAIN).name == DOMAIN
        assert fake.domain_count() == 1
        assert fake.sent("POST", "/v3/whitelabel/domains") == 2


def test_429_on_create_is_retried(sleeps: list[float]) -> None:
    with SendGridFake(KEY) as fake:
        fake.fail_next("429", "POST", "/v3/subusers")
        assert fake.connect().subaccounts.create("cust-1").id == "cust-1"
        assert fake.sent("POST", "/v3/subusers") == 2


def test_bad_key_is_an_auth_error_with_a_region_hint(acct: espkit.Account) -> None:
    responses.add("GET", f"{G}/v3/ips/pools", status=401, json=errors("authorization required"))
    with pytest.raises(AuthError, match="region='eu'") as err:
        list(acct.pools.list())
    assert err.value.status == 401
    assert err.value.message.startswith("authorization required")


def test_eu_host_401_suggests_global(sleeps: list[float]) -> None:
    responses.add("GET", f"{EU}/v3/ips/pools", status=401, json=errors("authorization required"))
    with pytest.raises(AuthError, match="region='global'"):
        list(espkit.connect("sendgrid", api_key=KEY, region="eu").pools.list())


def test_403_names_the_missing_scope(acct: espkit.Account) -> None:
    responses.add("GET", f"{G}/v3/subusers", status=403,
                  json=errors("you dont have permission to access this resource"))
    with pytest.raises(AuthError, match="permission"):
        list(acct.subaccounts.list())


def test_several_errors_are_joined(acct: espkit.Account) -> None:
    responses.add("POST", f"{G}/v3/subusers", status=400,
                  json=errors("email is invalid", "password too weak"))
    with pytest.raises(Rejected, match="email is invalid; password too weak"):
        acct.subaccounts.create("cust-1")


@pytest.mark.parametrize("bad", ["exa mple.com", "a/b.com", "", "com", "x..com",
                                 "ex%2fa.com", "a.com\n"])
def test_bad_domain_names_send_nothing(acct: espkit.Account, bad: str) -> None:
    for call in (acct.domains.create, acct.domains.get, acct.domains.verify,
                 acct.domains.delete):
        with pytest.raises(ValidationError):
            call(bad)
    assert calls() == []


@pytest.mark.parametrize("call", [
    lambda a: a.pools.create("bad pool"),
    lambda a: a.pools.get("../ips"),
    lambda a: a.pools.add_ip("marketing", "1.2.3.999"),
    lambda a: a.ips.get("not-an-ip"),
    lambda a: a.subaccounts.create("a/b"),
    lambda a: a.subaccounts.get("x/../y"),
    lambda a: a.subaccounts.assign("cust-1", pool="a b"),
    lambda a: a.ips.start_warmup("999.1.1.1"),
    lambda a: a.ips.warmup_status("../ips"),
    lambda a: a.ips.stop_warmup("1.2.3"),
    lambda a: a.ips.start_warmup("1.2.3.4", stage=2),  # SendGrid's warmup starts at day 1
    lambda a: a.pools.delete("marketing", replacement="shared"),
])
def test_other_bad_input_sends_nothing(acct: espkit.Account, call: Any) -> None:
    with pytest.raises(ValidationError):
        call(acct)
    assert calls() == []


def test_idn_is_sent_as_punycode(acct: espkit.Account) -> None:
    lookup("xn--bcher-kva.example")
    responses.add("POST", DOMAINS, status=201, json=domain_body("xn--bcher-kva.example"))
    assert acct.domains.create("bücher.example").name == "xn--bcher-kva.example"
    assert sent_json(calls("POST")[0])["domain"] == "xn--bcher-kva.example"


def test_api_key_never_leaks(acct: espkit.Account, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.add("GET", f"{G}/v3/ips/pools", status=401, json=errors("authorization required"))
    with pytest.raises(AuthError) as err:
        list(acct.pools.list())
    responses.add("POST", f"{G}/v3/subusers", status=500, json=errors("internal"))
    responses.add("GET", f"{G}/v3/subusers", json=[])  # the read-back after each 500
    with pytest.raises(ServerError) as err2:
        acct.subaccounts.create("cust-1")
    password = sent_json(calls("POST")[0])["password"]
    texts = [caplog.text, repr(acct), repr(acct.provider), str(err.value), repr(err.value),
             str(err.value.body), str(err2.value), repr(err2.value)]
    for text in texts:
        assert KEY not in text
        assert KEY[3:20] not in text
        assert password not in text


# -- IPs, warmup, pools ---------------------------------------------------------------------


IPS = [  # ListIp example
    {"assigned_at": 1482883200, "ip": "192.168.1.1", "pools": ["pool1", "pool2"],
     "start_date": 1409616000, "subusers": ["tim@sendgrid.net"], "warmup": False,
     "whitelabeled": False},
    {"assigned_at": 1482883200, "ip": "208.115.214.22", "pools": [],
     "rdns": "o1.email.example.com", "start_date": 1409616000, "subusers": [],
     "warmup": True, "whitelabeled": True},
]


def test_list_and_get_ips(acct: espkit.Account) -> None:
    responses.add("GET", f"{G}/v3/ips", json=IPS)
    ips = list(acct.ips.list())
    assert [(i.address, i.pool, i.warming_up, i.rdns) for i in ips] == [
        ("192.168.1.1", "pool1", False, None),
        ("208.115.214.22", None, True, "o1.email.example.com"),
    ]
    assert ips[0].raw["pools"] == ["pool1", "pool2"]
    responses.add("GET", f"{G}/v3/ips/2001%3Adb8%3A%3A1", json={"ip": "2001:db8::1", "pools": []})
    assert acct.ips.get("2001:DB8::1").address == "2001:db8::1"
    assert calls()[-1].request.url.endswith("/v3/ips/2001%3Adb8%3A%3A1")


#: Tue, 02 Sep 2014 00:00:00 GMT is start_date 1409616000 (the spec's example)
START = 1409616000
DAY3 = "Thu, 04 Sep 2014 12:00:00 GMT"  # warmup age 2: day 3


def test_warmup_start_status_stop(acct: espkit.Account) -> None:
    responses.add("POST", f"{G}/v3/ips/warmup", json=[{"ip": "1.2.3.4", "start_date": START}],
                  headers={"Date": DAY3})
    started = acct.ips.start_warmup("1.2.3.4")
    assert (started.ip, started.state, started.stage, started.hourly_cap) == (
        "1.2.3.4", WarmupState.WARMING, 3, 39)
    assert started.started is not None
    assert started.started.year == 2014
    assert sent_json(calls()[0]) == {"ip": "1.2.3.4"}
    responses.add("GET", f"{G}/v3/ips/warmup/1.2.3.4",
                  json=[{"ip": "1.2.3.4", "start_date": START}], headers={"Date": DAY3})
    assert acct.ips.warmup_status("1.2.3.4").warming
    responses.add("DELETE", f"{G}/v3/ips/warmup/1.2.3.4", status=204)
    assert acct.ips.stop_warmup("1.2.3.4").state is WarmupState.NOT_STARTED
    assert len(calls()) == 3  # one request each: the answers tell
    # not warming: SendGrid's 404, then the IP itself says it is the account's
    responses.add("GET", f"{G}/v3/ips/warmup/5.6.7.8", status=404,
                  json=errors("resource not found"))
    responses.add("GET", f"{G}/v3/ips/5.6.7.8", json={"ip": "5.6.7.8", "pools": ["a"],
                                                      "warmup": False})
    assert acct.ips.warmup_status("5.6.7.8").state is WarmupState.NOT_STARTED
    # not the account's: both 404
    responses.add("GET", f"{G}/v3/ips/warmup/9.9.9.9", status=404,
                  json=errors("resource not found"))
    responses.add("GET", f"{G}/v3/ips/9.9.9.9", status=404, json=errors("resource not found"))
    with pytest.raises(NotFound):
        acct.ips.warmup_status("9.9.9.9")
    assert len(calls()) == 7


def test_create_pool_then_adds_its_ips(acct: espkit.Account) -> None:
    responses.add("GET", f"{G}/v3/ips/pools/marketing", status=404,
                  json=errors("Unable to locate specified IPs Pool", field="error"))
    responses.add("POST", f"{G}/v3/ips/pools", json={"name": "marketing"})
    responses.add("POST", f"{G}/v3/ips/pools/marketing/ips", status=201,
                  json={"ip": "1.2.3.4", "pools": ["marketing"], "start_date": 0,
                        "warmup": False})
    p = acct.pools.create("marketing", ips=["1.2.3.4", "5.6.7.8"])
    assert (p.name, p.id, p.ips) == ("marketing", "marketing", ("1.2.3.4", "5.6.7.8"))
    posts = calls("POST")
    assert [sent_json(c) for c in posts] == [{"name": "marketing"}, {"ip": "1.2.3.4"},
                                             {"ip": "5.6.7.8"}]


def test_create_pool_with_a_taken_name(acct: espkit.Account) -> None:
    responses.add("GET", f"{G}/v3/ips/pools/marketing", json={"pool_name": "marketing",
                                                               "ips": []})
    with pytest.raises(AlreadyExists):
        acct.pools.create("marketing")
    assert calls("POST") == []


def test_list_pools_takes_members_from_the_ip_list(acct: espkit.Account) -> None:
    responses.add("GET", f"{G}/v3/ips/pools", json=[{"name": "pool1"}, {"name": "pool2"},
                                                    {"name": "empty"}])
    responses.add("GET", f"{G}/v3/ips", json=IPS)
    pools = {p.name: p.ips for p in acct.pools.list()}
    assert pools == {"pool1": ("192.168.1.1",), "pool2": ("192.168.1.1",), "empty": ()}


def test_get_pool_accepts_string_and_object_members(acct: espkit.Account) -> None:
    responses.add("GET", f"{G}/v3/ips/pools/marketing", json={
        "pool_name": "marketing",
        "ips": ["1.2.3.4", {"ip": "5.6.7.8", "start_date": None, "warmup": False}]})
    assert acct.pools.get("marketing").ips == ("1.2.3.4", "5.6.7.8")


def test_add_ip_never_moves_it(acct: espkit.Account) -> None:
    responses.add("GET", f"{G}/v3/ips/pools/marketing", json={"pool_name": "marketing",
                                                               "ips": ["1.2.3.4"]})
    responses.add("POST", f"{G}/v3/ips/pools/marketing/ips", status=201,
                  json={"ip": "5.6.7.8", "pools": ["transactional", "marketing"],
                        "start_date": 0, "warmup": False})
    assert acct.pools.add_ip("marketing", "5.6.7.8").ips == ("1.2.3.4", "5.6.7.8")
    assert acct.pools.add_ip("marketing", "1.2.3.4").ips == ("1.2.3.4",)  # already in
    assert len(calls("POST")) == 1
    assert calls("DELETE") == []


def test_remove_ip_and_delete_pool(acct: espkit.Account) -> None:
    responses.add("GET", f"{G}/v3/ips/pools/marketing", json={"pool_name": "marketing",
                                                               "ips": ["1.2.3.4", "5.6.7.8"]})
    responses.add("DELETE", f"{G}/v3/ips/pools/marketing/ips/1.2.3.4", status=204)
    assert acct.pools.remove_ip("marketing", "1.2.3.4").ips == ("5.6.7.8",)
    assert acct.pools.remove_ip("marketing", "9.9.9.9").ips == ("1.2.3.4", "5.6.7.8")
    assert len(calls("DELETE")) == 1
    responses.add("DELETE", f"{G}/v3/ips/pools/marketing", status=204)
    acct.pools.delete("marketing")
    responses.add("DELETE", f"{G}/v3/ips/pools/gone", status=404,
                  json={"error": "Unable to locate specified IPs Pool"})
    with pytest.raises(NotFound, match="Unable to locate"):
        acct.pools.delete("gone")


# -- subusers -------------------------------------------------------------------------------


def test_create_subuser_with_placeholder_credentials(acct: espkit.Account) -> None:
    responses.add("POST", f"{G}/v3/subusers", json={
        "username": "cust-1", "user_id": 1234, "email": "x",
        "credit_allocation": {"type": "unlimited"}})
    s = acct.subaccounts.create("cust-1")
    assert (s.id, s.name, s.enabled, s.raw["user_id"]) == ("cust-1", "cust-1", True, 1234)
    body = sent_json(calls()[0])
    assert body["username"] == "cust-1"
    assert body["email"] == "cust-1@subusers.espkit.invalid"
    assert body["ips"] == []
    pw = body["password"]
    assert len(pw) >= 16
    assert any(c.isupper() for c in pw)
    assert any(c.isdigit() for c in pw)


def test_create_subuser_with_chosen_credentials(acct: espkit.Account) -> None:
    responses.add("POST", f"{G}/v3/subusers", json={"username": "cust-2", "user_id": 5})
    p = acct.provider
    assert isinstance(p, SendGridProvider)
    p.create_subaccount("cust-2", email="ops@acme.example", password="S3cret-pass!",
                        ips=("1.2.3.4",))
    assert sent_json(calls()[0]) == {"username": "cust-2", "email": "ops@acme.example",
                                     "password": "S3cret-pass!", "ips": ["1.2.3.4"]}


def test_existing_subuser_is_already_exists(acct: espkit.Account) -> None:
    responses.add("POST", f"{G}/v3/subusers", status=400, json=errors("username exists"))
    with pytest.raises(AlreadyExists):
        acct.subaccounts.create("cust-1")


def test_list_get_enable_disable_subusers(acct: espkit.Account) -> None:
    many = [{"disabled": i % 2 == 1, "email": f"u{i}@example.com", "id": i,
             "username": f"u{i}"} for i in range(130)]
    responses.add("GET", f"{G}/v3/subusers", json=many[:100],
                  match=[responses.matchers.query_param_matcher({"limit": "100",
                                                                 "offset": "0"})])
    responses.add("GET", f"{G}/v3/subusers", json=many[100:],
                  match=[responses.matchers.query_param_matcher({"limit": "100",
                                                                 "offset": "100"})])
    subs = list(acct.subaccounts.list())
    assert len(subs) == 130
    assert [s.enabled for s in subs[:2]] == [True, False]
    responses.add("GET", f"{G}/v3/subusers", json=[many[1]],
                  match=[responses.matchers.query_param_matcher({"username": "u1"})])
    assert acct.subaccounts.get("u1").enabled is False
    responses.add("PATCH", f"{G}/v3/subusers/u1", status=204)
    responses.add("GET", f"{G}/v3/subusers", json=[{**many[1], "disabled": False}],
                  match=[responses.matchers.query_param_matcher({"username": "u1"})])
    assert acct.subaccounts.enable("u1").enabled is True
    assert sent_json(calls("PATCH")[0]) == {"disabled": False}
    responses.add("GET", f"{G}/v3/subusers", json=[],
                  match=[responses.matchers.query_param_matcher({"username": "nobody"})])
    with pytest.raises(NotFound):
        acct.subaccounts.get("nobody")


def test_disable_sends_disabled_true(sleeps: list[float]) -> None:
    with SendGridFake(KEY) as fake:
        acct = fake.connect()
        sub = acct.subaccounts.create("cust-1")
        assert acct.subaccounts.disable(sub).enabled is False
        assert fake.subusers["cust-1"]["disabled"] is True


def test_assign_subuser_pool_puts_the_pools_ips(acct: espkit.Account) -> None:
    responses.add("GET", f"{G}/v3/ips/pools/marketing",
                  json={"pool_name": "marketing", "ips": ["1.2.3.4", "5.6.7.8"]})
    responses.add("PUT", f"{G}/v3/subusers/cust-1/ips", json={"ips": ["1.2.3.4", "5.6.7.8"]})
    a = acct.subaccounts.assign("cust-1", pool="marketing")
    assert (a.domain, a.kind, a.target) == ("", AssignmentKind.POOL, "marketing")
    assert a.raw["subaccount"] == "cust-1"
    assert sent_json(calls("PUT")[0]) == ["1.2.3.4", "5.6.7.8"]


def test_assign_an_empty_pool_is_refused(acct: espkit.Account) -> None:
    responses.add("GET", f"{G}/v3/ips/pools/empty", json={"pool_name": "empty", "ips": []})
    with pytest.raises(ValidationError, match="no IPs"):
        acct.subaccounts.assign("cust-1", pool="empty")
    assert calls("PUT") == []


def test_on_behalf_of_sends_the_username(acct: espkit.Account) -> None:
    lookup(DOMAIN, domain_body())
    scoped = acct.on_behalf_of("cust-1")
    d = scoped.domains.get(DOMAIN)
    assert calls()[0].request.headers["on-behalf-of"] == "cust-1"
    assert d.subaccount == "cust-1"
    responses.add("GET", f"{G}/v3/ips/pools", json=[])
    list(acct.pools.list())
    assert "on-behalf-of" not in calls()[-1].request.headers


def test_on_behalf_of_rejects_unsafe_names(acct: espkit.Account) -> None:
    with pytest.raises(ValidationError):
        acct.on_behalf_of("a\r\nX-Evil: 1")


def test_full_tour_against_the_fake(sleeps: list[float]) -> None:
    with SendGridFake(KEY) as fake:
        acct = fake.connect()
        acct.domains.create(DOMAIN)
        fake.publish_dns(DOMAIN)
        assert acct.domains.verify(DOMAIN).verified
        acct.pools.create("marketing", ips=fake.ips[:2])
        acct.pools.create("transactional", ips=fake.ips[1:3])
        pools = {p.name: p.ips for p in acct.pools.list()}
        assert pools["marketing"] == fake.ips[:2]
        assert pools["transactional"] == fake.ips[1:3]  # 203.0.113.21 is in both
        sub = acct.subaccounts.create("cust-1")
        acct.subaccounts.assign(sub, pool="transactional")
        assert fake.subuser_ips["cust-1"] == list(fake.ips[1:3])
        acct.on_behalf_of(sub).domains.create(f"t.{DOMAIN}")
        assert [d.name for d in acct.domains.list()] == [DOMAIN]
        assert [d.name for d in acct.on_behalf_of(sub).domains.list()] == [f"t.{DOMAIN}"]
        acct.domains.delete(DOMAIN)
        assert fake.domain_count() == 1
