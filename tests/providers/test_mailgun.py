"""The Mailgun provider through the public API, with the network mocked by ``responses``."""

from __future__ import annotations

import base64
import email.utils
import logging
import time
from typing import Any

import pytest
import requests
import responses
from support.mailgun_mocks import (
    DOMAIN,
    DOMAIN_ID,
    EU,
    IP,
    IPS,
    KEY,
    MARKETING,
    MARKETING_ID,
    POOLS,
    SUB_ID,
    SUCCESS,
    TRANSACTIONAL,
    TRANSACTIONAL_ID,
    US,
    VirtualTime,
    connect,
    domain_body,
    domain_page,
    form,
    pool,
    pool_details,
    pools_body,
    query,
    subaccount,
)

import espkit
from espkit import (
    AlreadyExists,
    AssignmentKind,
    AuthError,
    Capability,
    ConflictingState,
    DomainState,
    NotFound,
    RecordPurpose,
    RecordStatus,
    RegionMismatch,
    Rejected,
    ServerError,
    ValidationError,
)
from espkit.providers.mailgun import MailgunProvider

NOT_FOUND = {"message": "Domain not found"}
BAD_KEY = {"message": "Invalid private key"}


pytestmark = pytest.mark.usefixtures("wire")


@pytest.fixture
def vtime(sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    vt = VirtualTime(sleeps)
    monkeypatch.setattr(time, "sleep", vt.sleep)
    return vt


@pytest.fixture
def acct(vtime: VirtualTime) -> espkit.Account:
    return connect(vtime)


def calls(method: str | None = None) -> list[Any]:
    return [c for c in responses.calls if method is None or c.request.method == method]


# -- set-up ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("region", "base"), [("us", US), ("eu", EU), ("EU", EU), (None, US)])
def test_region_selects_base_url(vtime: VirtualTime, region: str | None, base: str) -> None:
    responses.add("GET", f"{base}/v4/domains/{DOMAIN}", json=domain_body())
    acct = connect(vtime, region)
    assert acct.domains.get(DOMAIN).name == DOMAIN
    assert calls()[0].request.url == f"{base}/v4/domains/{DOMAIN}"


def test_unknown_region_is_a_config_error() -> None:
    with pytest.raises(espkit.ConfigError, match="'us', 'eu'"):
        espkit.connect("mailgun", api_key=KEY, region="ap")


def test_basic_auth_as_api_user(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v4/domains/{DOMAIN}", json=domain_body())
    acct.domains.get(DOMAIN)
    token = base64.b64encode(f"api:{KEY}".encode()).decode()
    assert calls()[0].request.headers["Authorization"] == f"Basic {token}"


def test_declares_mailgun_facts() -> None:
    not_native = {Capability.STREAMS, Capability.ASSIGN_SUBACCOUNT_POOL}
    assert frozenset(Capability) - not_native == MailgunProvider.SUPPORTS
    with pytest.raises(espkit.Unsupported, match="one sending domain per stream"):
        espkit.connect("mailgun", api_key=KEY).streams.list()
    assert MailgunProvider.EXCLUSIVE_POOLS is True
    # the documented budgets (300 a minute for the domains API ...) are pinned, and spent,
    # in tests/providers/test_documented_budgets.py
    assert MailgunProvider.RATE_LIMIT


def test_key_from_mailgun_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ESPKIT_MAILGUN_API_KEY", raising=False)
    monkeypatch.setenv("MAILGUN_API_KEY", KEY)
    responses.add("GET", f"{US}/v4/domains/{DOMAIN}", json=domain_body())
    espkit.connect("mailgun", rate_limit=1000).domains.get(DOMAIN)
    assert calls()[0].request.headers["Authorization"].startswith("Basic ")


# -- domains --------------------------------------------------------------------------------


def test_create_sends_mailgun_form_fields(acct: espkit.Account) -> None:
    responses.add("POST", f"{US}/v4/domains", json=domain_body(message="created"))
    d = acct.domains.create(DOMAIN, dkim_key_size=2048, dkim_selector="s1", spam_action="block",
                            wildcard=False, web_scheme="https", web_prefix="track",
                            ips=["1.2.3.4", "5.6.7.8"])
    (call,) = calls()
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(call) == {
        "name": [DOMAIN], "dkim_key_size": ["2048"], "dkim_selector": ["s1"],
        "spam_action": ["block"], "wildcard": ["false"], "web_scheme": ["https"],
        "web_prefix": ["track"], "ips": ["1.2.3.4,5.6.7.8"],
    }
    assert d.name == DOMAIN
    assert d.id == DOMAIN_ID
    assert d.provider == "mailgun"
    assert len(d.dns_records) == 5


def test_create_with_only_a_name_sends_only_the_name(acct: espkit.Account) -> None:
    responses.add("POST", f"{US}/v4/domains", json=domain_body(message="created"))
    acct.domains.create(DOMAIN, wildcard=True)
    assert form(calls()[0]) == {"name": [DOMAIN], "wildcard": ["true"]}


def test_create_with_pool_sends_its_pool_id(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    responses.add("POST", f"{US}/v4/domains", json=domain_body(message="created"))
    acct.domains.create(DOMAIN, pool="transactional")
    assert form(calls("POST")[0]) == {"name": [DOMAIN], "pool_id": [TRANSACTIONAL_ID]}


def test_create_with_unknown_pool_sends_no_create(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    with pytest.raises(NotFound, match="no IP pool named 'nope'"):
        acct.domains.create(DOMAIN, pool="nope")
    assert calls("POST") == []


def test_get_normalises_dns_records(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v4/domains/{DOMAIN}", json=domain_body(state="active"))
    d = acct.domains.get(DOMAIN)
    assert d.state is DomainState.VERIFIED
    assert d.verified
    assert d.created_at is not None
    assert d.created_at.year == 2011
    spf, = d.records("spf")
    assert (spf.type, spf.host, spf.value, spf.status) == (
        "TXT", DOMAIN, "v=spf1 include:mailgun.org ~all", RecordStatus.VALID)
    dkim, = d.records(RecordPurpose.DKIM)
    assert dkim.host == f"mx._domainkey.{DOMAIN}"
    assert dkim.value.startswith("k=rsa")
    tracking, = d.records("tracking")
    assert (tracking.type, tracking.host, tracking.value) == ("CNAME", f"email.{DOMAIN}",
                                                              "mailgun.org")
    mxa, mxb = d.records("mx")
    # MX records arrive without a name: they are for the domain itself
    assert (mxa.host, mxa.priority, mxa.value) == (DOMAIN, 10, "mxa.mailgun.org")
    assert mxb.value == "mxb.mailgun.org"
    assert all(r.raw for r in d.dns_records)
    assert d.raw["domain"]["smtp_login"] == f"postmaster@{DOMAIN}"


def test_record_shapes_are_normalised(acct: espkit.Account) -> None:
    body = domain_body()
    body["sending_dns_records"] = [
        {"record_type": "cname", "name": "PDK1._domainkey.MG.example.com.", "valid": "valid",
         "value": "pdk1._domainkey.abc.service.mailgun.com", "is_active": True, "cached": []},
        {"record_type": "txt", "name": "_dmarc.mg.example.com", "valid": "invalid",
         "value": "v=DMARC1; p=none", "is_active": True, "cached": []},
        {"record_type": "A", "name": DOMAIN, "valid": "weird", "value": "1.2.3.4",
         "is_active": True, "cached": []},
        None,
    ]
    body["receiving_dns_records"] = [
        {"record_type": "MX", "priority": "", "valid": "unknown", "value": "mxa.mailgun.org",
         "is_active": True, "cached": []},
    ]
    responses.add("GET", f"{US}/v4/domains/{DOMAIN}", json=body)
    records = acct.domains.get(DOMAIN).dns_records
    assert [(r.purpose, r.type, r.host, r.status, r.priority) for r in records] == [
        (RecordPurpose.DKIM, "CNAME", f"pdk1._domainkey.{DOMAIN}", RecordStatus.VALID, None),
        (RecordPurpose.DMARC, "TXT", f"_dmarc.{DOMAIN}", RecordStatus.INVALID, None),
        (RecordPurpose.OTHER, "A", DOMAIN, RecordStatus.UNKNOWN, None),
        (RecordPurpose.MX, "MX", DOMAIN, RecordStatus.UNKNOWN, None),
    ]


@pytest.mark.parametrize(("state", "extra", "expected"), [
    ("active", {}, DomainState.VERIFIED),
    ("unverified", {}, DomainState.UNVERIFIED),
    ("disabled", {}, DomainState.DISABLED),
    ("active", {"is_disabled": True}, DomainState.DISABLED),
    ("something-new", {}, DomainState.UNVERIFIED),
])
def test_state_mapping(
    acct: espkit.Account, state: str, extra: dict[str, Any], expected: DomainState
) -> None:
    responses.add("GET", f"{US}/v4/domains/{DOMAIN}", json=domain_body(state=state, **extra))
    assert acct.domains.get(DOMAIN).state is expected


def test_list_pages_lazily_through_thousands(acct: espkit.Account, sleeps: list[float]) -> None:
    names = [f"d{i:04d}.example.com" for i in range(2500)]
    for skip in (0, 1000, 2000):
        responses.add("GET", f"{US}/v4/domains",
                      json=domain_page(names[skip:skip + 1000], total=2500),
                      match=[responses.matchers.query_param_matcher(
                          {"limit": "1000", "skip": str(skip)})])
    it = acct.domains.list()
    assert calls() == []  # nothing fetched until iterated
    first = next(it)
    assert first.name == "d0000.example.com"
    assert first.dns_records == ()
    assert len(calls()) == 1
    rest = list(it)
    assert [d.name for d in [first, *rest]] == names
    assert len(calls()) == 3
    assert rest[-1].raw["id"] == "id-d2499.example.com"
    # three requests at Mailgun's 5 requests/second: the limiter spaced them 0.2 s apart
    assert sleeps == pytest.approx([0.2, 0.2])


def test_list_stops_on_short_page_and_honours_page_size(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v4/domains", json=domain_page(["a.example.com"] * 2, total=99))
    assert [d.name for d in acct.domains.list(page_size=50)] == ["a.example.com"]  # deduped
    assert query(calls()[0]) == {"limit": ["50"], "skip": ["0"]}


def test_list_page_size_is_capped_at_1000(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v4/domains", json=domain_page([], total=0))
    assert list(acct.domains.list(page_size=5000)) == []
    assert query(calls()[0])["limit"] == ["1000"]


def test_verify_and_delete(acct: espkit.Account) -> None:
    responses.add("PUT", f"{US}/v4/domains/{DOMAIN}/verify",
                  json=domain_body(state="active", message="Domain DNS records have been updated"))
    responses.add("DELETE", f"{US}/v3/domains/{DOMAIN}",
                  json={"message": "Domain will be deleted in the background"})
    assert acct.domains.verify(DOMAIN).verified
    acct.domains.delete(DOMAIN)
    assert [(c.request.method, c.request.url) for c in calls()] == [
        ("PUT", f"{US}/v4/domains/{DOMAIN}/verify"), ("DELETE", f"{US}/v3/domains/{DOMAIN}")]


def test_wait_until_verified_polls_verify(acct: espkit.Account) -> None:
    url = f"{US}/v4/domains/{DOMAIN}/verify"
    responses.add("PUT", url, json=domain_body(message="m"))
    responses.add("PUT", url, json=domain_body(state="active", message="m"))
    naps: list[float] = []
    d = acct.domains.wait_until_verified(DOMAIN, interval=10, sleep=naps.append)
    assert d.verified
    assert naps == [10]


# -- retries, throttling and safe creates ---------------------------------------------------


def test_429_retry_after_seconds_then_success(acct: espkit.Account, sleeps: list[float]) -> None:
    url = f"{US}/v4/domains/{DOMAIN}"
    responses.add("GET", url, status=429, headers={"Retry-After": "2"},
                  json={"message": "Too many requests"})
    responses.add("GET", url, json=domain_body())
    assert acct.domains.get(DOMAIN).name == DOMAIN
    assert sleeps == [2.0]
    assert len(calls()) == 2


def test_429_retry_after_http_date_then_success(
    acct: espkit.Account, sleeps: list[float], vtime: VirtualTime,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # the wall clock moves with the virtual one: the date written here and the instant the
    # transport reads it against are the same, however long the machine takes in between
    epoch = 1_767_225_600.0
    monkeypatch.setattr(time, "time", lambda: epoch + vtime.now)
    url = f"{US}/v3/ips"
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    responses.add("GET", url, status=429, headers={"Retry-After": when}, json={"message": "slow"})
    responses.add("GET", url, json=IPS)
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    assert len(list(acct.ips.list())) == 2
    # the wait the date asked for, then the limiter's usual 0.2 s before the next call
    # (GET /v3/ip_pools)
    assert sleeps == [5.0, pytest.approx(0.2)]


def test_429_on_create_is_retried(acct: espkit.Account, sleeps: list[float]) -> None:
    # a 429 means Mailgun did not act, so even a POST may be re-sent
    responses.add("POST", f"{US}/v4/domains", status=429, headers={"Retry-After": "1"},
                  json={"message": "slow"})
    responses.add("POST", f"{US}/v4/domains", json=domain_body(message="created"))
    acct.domains.create(DOMAIN)
    assert len(calls("POST")) == 2
    assert sleeps == [1.0]


def test_5xx_retried_on_get(acct: espkit.Account, sleeps: list[float]) -> None:
    url = f"{US}/v4/domains/{DOMAIN}"
    responses.add("GET", url, status=502, body="Bad Gateway")
    responses.add("GET", url, status=503, json={"message": "try later"})
    responses.add("GET", url, json=domain_body())
    assert acct.domains.get(DOMAIN).name == DOMAIN
    assert len(calls()) == 3
    assert len(sleeps) >= 2  # backoff between attempts, none of it real


def test_5xx_gives_up_after_max_attempts(vtime: VirtualTime) -> None:
    acct = connect(vtime, retry=espkit.RetryPolicy(max_attempts=2))
    responses.add("GET", f"{US}/v4/domains/{DOMAIN}", status=500, json={"message": "boom"})
    with pytest.raises(ServerError, match="boom"):
        acct.domains.get(DOMAIN)
    assert len(calls()) == 2


def test_create_that_timed_out_but_committed_is_read_back(acct: espkit.Account) -> None:
    def timeout(request: requests.PreparedRequest) -> Any:
        raise requests.ReadTimeout("read timed out")

    responses.add_callback("POST", f"{US}/v4/domains", callback=timeout)
    responses.add("GET", f"{US}/v4/domains/{DOMAIN}", json=domain_body())
    d = acct.domains.create(DOMAIN)
    assert d.name == DOMAIN
    assert d.id == DOMAIN_ID
    assert len(calls("POST")) == 1


def test_create_503_then_absent_is_resent_once(acct: espkit.Account) -> None:
    responses.add("POST", f"{US}/v4/domains", status=503, json={"message": "unavailable"})
    responses.add("POST", f"{US}/v4/domains", json=domain_body(message="created"))
    responses.add("GET", f"{US}/v4/domains/{DOMAIN}", status=404, json=NOT_FOUND)
    # the 404 makes espkit check the key is not from the other region: it is not
    responses.add("GET", f"{EU}/v4/domains", status=401, json=BAD_KEY)
    assert acct.domains.create(DOMAIN).name == DOMAIN
    assert len(calls("POST")) == 2
    assert [c.request.url for c in calls("GET")] == [
        f"{US}/v4/domains/{DOMAIN}", f"{EU}/v4/domains?limit=1"]


def test_create_resend_that_finds_it_exists_adopts_it(acct: espkit.Account) -> None:
    responses.add("POST", f"{US}/v4/domains", status=503, json={"message": "unavailable"})
    responses.add("POST", f"{US}/v4/domains", status=400,
                  json={"message": f"Domain {DOMAIN} already exists"})
    responses.add("GET", f"{US}/v4/domains/{DOMAIN}", status=404, json=NOT_FOUND)
    responses.add("GET", f"{US}/v4/domains/{DOMAIN}", json=domain_body())
    responses.add("GET", f"{EU}/v4/domains", status=401, json=BAD_KEY)
    d = acct.domains.create(DOMAIN)
    assert d.id == DOMAIN_ID
    assert len(calls("POST")) == 2


def test_create_of_existing_domain_raises_already_exists(acct: espkit.Account) -> None:
    responses.add("POST", f"{US}/v4/domains", status=400,
                  json={"message": "This domain name is already taken"})
    with pytest.raises(AlreadyExists, match="already taken") as err:
        acct.domains.create(DOMAIN)
    assert err.value.status == 400
    assert len(calls()) == 1


def test_reason_body_and_request_id(acct: espkit.Account) -> None:
    responses.add("POST", f"{US}/v4/domains", status=400, json={"Reason": "ips: bad IP"},
                  headers={"X-Mailgun-Request-Id": "req-42"})
    with pytest.raises(Rejected) as err:
        acct.domains.create(DOMAIN, ips=["10.0.0.1"])
    assert err.value.message == "ips: bad IP"
    assert err.value.request_id == "req-42"
    assert "[request id req-42]" in str(err.value)


# -- regions and keys -----------------------------------------------------------------------


def test_key_from_the_other_region_is_a_region_mismatch(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v4/domains", status=401, json=BAD_KEY)
    responses.add("GET", f"{EU}/v4/domains", json=domain_page([DOMAIN], 1))
    with pytest.raises(RegionMismatch) as err:
        list(acct.domains.list())
    assert "wrong region?" in str(err.value)
    assert "this key belongs to region 'eu'; connect with region='eu'" in str(err.value)
    assert isinstance(err.value, AuthError)
    assert err.value.status == 401
    probe = calls()[-1]
    assert probe.request.url == f"{EU}/v4/domains?limit=1"
    assert probe.request.headers["Authorization"] == calls()[0].request.headers["Authorization"]


def test_domain_not_found_from_the_wrong_region_is_a_region_mismatch(
    vtime: VirtualTime,
) -> None:
    acct = connect(vtime, "eu")
    responses.add("GET", f"{EU}/v4/domains/{DOMAIN}", status=404, json=NOT_FOUND)
    responses.add("GET", f"{US}/v4/domains", json=domain_page([DOMAIN], 1))
    with pytest.raises(RegionMismatch, match="region 'us'; connect with region='us'"):
        acct.domains.get(DOMAIN)


def test_bad_key_is_an_auth_error_after_one_probe(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", status=401, json=BAD_KEY)
    responses.add("GET", f"{EU}/v4/domains", status=401, json=BAD_KEY)
    with pytest.raises(AuthError) as err:
        list(acct.pools.list())
    assert type(err.value) is AuthError
    assert "Invalid private key" in str(err.value)
    assert [c.request.url for c in calls()] == [f"{US}/v3/ip_pools", f"{EU}/v4/domains?limit=1"]


def test_probe_answer_is_remembered(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v4/domains/{DOMAIN}", status=404, json=NOT_FOUND)
    responses.add("GET", f"{EU}/v4/domains", status=401, json=BAD_KEY)
    for _ in range(3):
        with pytest.raises(NotFound):
            acct.domains.get(DOMAIN)
    assert len(calls()) == 4  # three lookups, one probe


def test_unclear_probe_keeps_the_original_error(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v4/domains", status=401, json=BAD_KEY)
    responses.add("GET", f"{EU}/v4/domains", status=500, json={"message": "boom"})
    with pytest.raises(AuthError) as err:
        list(acct.domains.list())
    assert type(err.value) is AuthError
    assert len(calls(None)) == 2  # the probe is not retried


def test_custom_base_url_is_never_probed(vtime: VirtualTime) -> None:
    acct = connect(vtime, None, base_url="http://127.0.0.1:8025")
    responses.add("GET", "http://127.0.0.1:8025/v4/domains", status=401, json=BAD_KEY)
    with pytest.raises(AuthError) as err:
        list(acct.domains.list())
    assert type(err.value) is AuthError
    assert len(calls()) == 1


# -- validation and secrecy -----------------------------------------------------------------


@pytest.mark.parametrize("bad", ["a/b.com", "x..com", "ex ample.com", "a.com\r\n", "%2e.com", ""])
def test_bad_names_are_refused_before_sending(acct: espkit.Account, bad: str) -> None:
    for call in (
        lambda: acct.domains.create(bad),
        lambda: acct.domains.get(bad),
        lambda: acct.domains.verify(bad),
        lambda: acct.domains.delete(bad),
        lambda: acct.domains.assign(bad, ip="1.2.3.4"),
    ):
        with pytest.raises(ValidationError):
            call()
    assert len(responses.calls) == 0


@pytest.mark.parametrize("bad", [
    lambda a: a.pools.create("bad/pool"),
    lambda a: a.pools.add_ip("marketing", "1.2.3.999"),
    lambda a: a.ips.get("not-an-ip"),
    lambda a: a.subaccounts.get("../x"),
    lambda a: a.domains.create(DOMAIN, spam_action="drop"),
    lambda a: a.domains.create(DOMAIN, ips=["1.2.3.4"], pool="marketing"),
    lambda a: a.domains.unassign(DOMAIN, pool="marketing"),  # Mailgun needs a replacement
    lambda a: a.domains.unassign(DOMAIN, ip="1.2.3.4", replacement="shared"),
])
def test_other_bad_input_is_refused_before_sending(acct: espkit.Account, bad: Any) -> None:
    with pytest.raises(ValidationError):
        bad(acct)
    assert len(responses.calls) == 0


def test_idn_is_sent_as_punycode(acct: espkit.Account) -> None:
    puny = "xn--bcher-kva.example.com"
    responses.add("POST", f"{US}/v4/domains", json=domain_body(puny, message="created"))
    responses.add("GET", f"{US}/v4/domains/{puny}", json=domain_body(puny))
    assert acct.domains.create("Bücher.example.com").name == puny
    assert acct.domains.get("bücher.example.com.").name == puny
    assert form(calls()[0])["name"] == [puny]


def test_api_key_never_leaks(
    acct: espkit.Account, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # root: every logger, urllib3 included
    for name in ("espkit", "espkit.http", "urllib3", "requests"):
        caplog.set_level(logging.DEBUG, logger=name)
    responses.add("GET", f"{US}/v4/domains/{DOMAIN}", json=domain_body())
    responses.add("POST", f"{US}/v4/domains", status=400, json={"message": "bad spam_action"})
    responses.add("GET", f"{US}/v3/ip_pools", status=401, json=BAD_KEY)
    responses.add("GET", f"{EU}/v4/domains", json=domain_page([], 0))
    acct.domains.get(DOMAIN)
    errors: list[Exception] = []
    for failing in (lambda: acct.domains.create(DOMAIN), lambda: list(acct.pools.list())):
        with pytest.raises(espkit.EspError) as err:
            failing()
        errors.append(err.value)
    assert isinstance(errors[1], RegionMismatch)
    token = base64.b64encode(f"api:{KEY}".encode()).decode()
    texts = [caplog.text, repr(acct), repr(acct.provider), str(acct.provider),
             *(str(e) for e in errors), *(repr(e) for e in errors)]
    assert "espkit.http" in {r.name for r in caplog.records}
    for text in texts:
        assert KEY not in text
        assert token not in text


# -- subaccount scope -----------------------------------------------------------------------


def test_on_behalf_of_sends_the_header(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v4/domains/{DOMAIN}",
                  json=domain_body())
    scoped = acct.on_behalf_of(SUB_ID)
    d = scoped.domains.get(DOMAIN)
    acct.domains.get(DOMAIN)
    scoped_call, parent_call = calls()
    assert scoped_call.request.headers["X-Mailgun-On-Behalf-Of"] == SUB_ID
    assert "X-Mailgun-On-Behalf-Of" not in parent_call.request.headers
    assert d.subaccount == SUB_ID
    assert scoped.subaccount == SUB_ID
    assert "subaccount='6fr783930fhhriu673'" in repr(scoped)
    # the scoped copy shares the account's limiter
    assert scoped.provider.transport.limiter is acct.provider.transport.limiter  # type: ignore[attr-defined]


def test_on_behalf_of_accepts_a_subaccount_object(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v5/accounts/subaccounts/{SUB_ID}",
                  json={"subaccount": subaccount()})
    responses.add("GET", f"{US}/v3/ips", json=IPS)
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    sub = acct.subaccounts.get(SUB_ID)
    list(acct.on_behalf_of(sub).ips.list())
    assert calls()[1].request.headers["X-Mailgun-On-Behalf-Of"] == SUB_ID


# -- dedicated IPs --------------------------------------------------------------------------


def test_list_ips_with_warmup_and_pool(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ips", json=IPS)
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    a, b = acct.ips.list()
    assert (a.address, a.warming_up, a.pool) == ("1.2.3.4", True, "marketing")
    assert (b.address, b.warming_up, b.pool) == ("5.6.7.8", False, "transactional")
    assert query(calls()[0]) == {"dedicated": ["true"]}


def test_list_ips_without_details_or_dipps(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ips", json={"items": ["1.2.3.4"], "total_count": 1})
    responses.add("GET", f"{US}/v3/ip_pools", status=403,
                  json={"message": "DIPPs feature is not enabled"})
    (ip,) = acct.ips.list()
    assert (ip.address, ip.warming_up, ip.pool) == ("1.2.3.4", None, None)


def test_get_ip(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ips/1.2.3.4", json=IP)
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    ip = acct.ips.get("1.2.3.4")
    assert (ip.address, ip.rdns, ip.pool, ip.raw["dedicated"]) == (
        "1.2.3.4", "ip1-2-3-4.mailgun.net", "marketing", True)


def test_ipv6_is_percent_encoded_in_the_path(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ips/2001%3Adb8%3A%3A1", json={"ip": "2001:db8::1"})
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    assert acct.ips.get("2001:DB8::1").address == "2001:db8::1"


# -- pools ----------------------------------------------------------------------------------


def test_create_pool_sends_repeated_ip_fields(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    responses.add("POST", f"{US}/v3/ip_pools",
                  json={"message": "success", "pool_id": "658041ae44842b99ee2eaa1d"})
    p = acct.pools.create("fresh", ips=["1.2.3.4", "5.6.7.8"], description="new stream")
    assert form(calls("POST")[0]) == {
        "name": ["fresh"], "description": ["new stream"], "ip": ["1.2.3.4", "5.6.7.8"]}
    assert (p.name, p.id, p.ips, p.description) == (
        "fresh", "658041ae44842b99ee2eaa1d", ("1.2.3.4", "5.6.7.8"), "new stream")


def test_create_pool_without_description_sends_an_empty_one(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    responses.add("POST", f"{US}/v3/ip_pools", json={"message": "success", "pool_id": "x1"})
    acct.pools.create("empty")
    assert form(calls("POST")[0]) == {"name": ["empty"], "description": [""]}


def test_create_pool_with_a_taken_name_is_refused(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    with pytest.raises(AlreadyExists, match="'marketing' already exists"):
        acct.pools.create("marketing")
    assert calls("POST") == []


def test_list_pools(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    pools = list(acct.pools.list())
    assert [(p.name, p.id, p.ips) for p in pools] == [
        ("marketing", MARKETING_ID, ("1.2.3.4",)),
        ("transactional", TRANSACTIONAL_ID, ("5.6.7.8",)),
    ]


def test_get_pool_resolves_the_name_to_its_id(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    responses.add("GET", f"{US}/v3/ip_pools/{MARKETING_ID}",
                  json=pool_details(MARKETING, [DOMAIN]))
    p = acct.pools.get("marketing")
    assert (p.name, p.id, p.ips) == ("marketing", MARKETING_ID, ("1.2.3.4",))
    assert p.raw["linked_domains"] == [DOMAIN]
    assert calls()[1].request.url == f"{US}/v3/ip_pools/{MARKETING_ID}"


def test_get_pool_by_id_when_its_name_is_not_addressable(acct: espkit.Account) -> None:
    odd = pool("short name of the pool", "odd id", ["1.2.3.4"])
    responses.add("GET", f"{US}/v3/ip_pools", json=pools_body(odd))
    responses.add("GET", f"{US}/v3/ip_pools/odd%20id", json=pool_details(odd, []))
    with pytest.raises(ValidationError):
        acct.pools.get("short name of the pool")
    responses.replace("GET", f"{US}/v3/ip_pools",
                      json=pools_body(pool("x", "658041ae44842b99ee2eaa1f", [])))
    responses.add("GET", f"{US}/v3/ip_pools/658041ae44842b99ee2eaa1f",
                  json=pool_details(pool("x", "658041ae44842b99ee2eaa1f", []), []))
    assert acct.pools.get("658041ae44842b99ee2eaa1f").name == "x"


def test_percent_encodes_pool_ids(acct: espkit.Account) -> None:
    odd = pool("odd", "a/b c", [])
    responses.add("GET", f"{US}/v3/ip_pools", json=pools_body(odd))
    responses.add("GET", f"{US}/v3/ip_pools/a%2Fb%20c", json=pool_details(odd, []))
    assert acct.pools.get("odd").id == "a/b c"


def test_missing_or_ambiguous_pool_is_a_typed_error(acct: espkit.Account) -> None:
    twins = pools_body(pool("twin", "id1", []), pool("twin", "id2", []))
    responses.add("GET", f"{US}/v3/ip_pools", json=twins)
    with pytest.raises(NotFound, match="no IP pool named 'solo'"):
        acct.pools.get("solo")
    with pytest.raises(ConflictingState, match=r"named 'twin' \(pool ids id1, id2\)"):
        acct.pools.get("twin")


def test_add_ip_moves_it_out_of_its_current_pool(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    responses.add("PATCH", f"{US}/v3/ip_pools/{TRANSACTIONAL_ID}", json=SUCCESS)
    responses.add("PATCH", f"{US}/v3/ip_pools/{MARKETING_ID}", json=SUCCESS)
    p = acct.pools.add_ip("marketing", "5.6.7.8")
    assert p.ips == ("1.2.3.4", "5.6.7.8")
    remove, add = calls("PATCH")
    assert remove.request.url.endswith(TRANSACTIONAL_ID)
    assert form(remove) == {"remove_ip": ["5.6.7.8"]}
    assert add.request.url.endswith(MARKETING_ID)
    assert form(add) == {"add_ip": ["5.6.7.8"]}


def test_add_ip_already_there_changes_nothing(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    assert acct.pools.add_ip("marketing", "1.2.3.4").ips == ("1.2.3.4",)
    assert calls("PATCH") == []


def test_pool_members_compare_in_canonical_form(acct: espkit.Account) -> None:
    v6 = pool("v6", "658041ae44842b99ee2eaa2a", ["2001:DB8:0::1"])
    responses.add("GET", f"{US}/v3/ip_pools", json=pools_body(v6))
    assert acct.pools.add_ip("v6", "2001:db8::1").ips == ("2001:db8::1",)
    assert calls("PATCH") == []


def test_remove_ip(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    responses.add("PATCH", f"{US}/v3/ip_pools/{MARKETING_ID}", json=SUCCESS)
    assert acct.pools.remove_ip("marketing", "1.2.3.4").ips == ()
    assert acct.pools.remove_ip("marketing", "9.9.9.9").ips == ("1.2.3.4",)  # not a member
    assert [form(c) for c in calls("PATCH")] == [{"remove_ip": ["1.2.3.4"]}]


@pytest.mark.parametrize(("replacement", "sent"), [
    ("shared", {"ip": ["shared"]}),
    ("9.9.9.9", {"ip": ["9.9.9.9"]}),
    ("marketing", {"pool_id": [MARKETING_ID]}),
])
def test_delete_pool_with_replacement(
    acct: espkit.Account, replacement: str, sent: dict[str, list[str]]
) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    responses.add("DELETE", f"{US}/v3/ip_pools/{TRANSACTIONAL_ID}", json={"message": "started"})
    acct.pools.delete("transactional", replacement=replacement)
    assert query(calls("DELETE")[0]) == sent


def test_delete_pool_needs_a_replacement_unless_empty(acct: espkit.Account) -> None:
    empty = pool("empty", "658041ae44842b99ee2eaa1e", [])
    responses.add("GET", f"{US}/v3/ip_pools", json=pools_body(MARKETING, empty))
    responses.add("DELETE", f"{US}/v3/ip_pools/658041ae44842b99ee2eaa1e", json=SUCCESS)
    with pytest.raises(ValidationError, match="replacement"):
        acct.pools.delete("marketing")
    acct.pools.delete("empty")
    (deleted,) = calls("DELETE")
    assert query(deleted) == {}


# -- assignment -----------------------------------------------------------------------------


def test_assign_ip_uses_the_legacy_domain_ips_call(acct: espkit.Account) -> None:
    responses.add("POST", f"{US}/v3/domains/{DOMAIN}/ips", json=SUCCESS)
    a = acct.domains.assign(DOMAIN, ip="1.2.3.4")
    assert (a.domain, a.kind, a.target) == (DOMAIN, AssignmentKind.IP, "1.2.3.4")
    assert form(calls()[0]) == {"ip": ["1.2.3.4"]}


def test_assign_pool_links_the_domain_id(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    responses.add("GET", f"{US}/v3/ip_pools/{TRANSACTIONAL_ID}",
                  json=pool_details(TRANSACTIONAL, ["other.example.com"]))
    responses.add("GET", f"{US}/v4/domains/{DOMAIN}", json=domain_body())
    responses.add("PATCH", f"{US}/v3/ip_pools/{TRANSACTIONAL_ID}", json=SUCCESS)
    a = acct.domains.assign(DOMAIN, pool="transactional")
    assert (a.kind, a.target) == (AssignmentKind.POOL, "transactional")
    assert form(calls("PATCH")[0]) == {"link_domain": [DOMAIN_ID]}


def test_assign_pool_already_linked_is_a_no_op(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    responses.add("GET", f"{US}/v3/ip_pools/{MARKETING_ID}",
                  json=pool_details(MARKETING, [DOMAIN]))
    acct.domains.assign(DOMAIN, pool="marketing")
    assert calls("PATCH") == []


def test_assignments_report_a_linked_pool(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/domains/{DOMAIN}/ips",
                  json={"items": ["1.2.3.4"], "total_count": 1})
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    responses.add("GET", f"{US}/v3/ip_pools/{MARKETING_ID}",
                  json=pool_details(MARKETING, [DOMAIN]))
    (a,) = acct.domains.assignments(DOMAIN)
    assert (a.domain, a.kind, a.target) == (DOMAIN, AssignmentKind.POOL, "marketing")
    # only linked pools are looked into
    assert f"{US}/v3/ip_pools/{TRANSACTIONAL_ID}" not in [c.request.url for c in calls()]


def test_assignments_report_ips_when_no_pool_is_linked(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/domains/{DOMAIN}/ips",
                  json={"items": ["1.2.3.4", "5.6.7.8"], "total_count": 2})
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    responses.add("GET", f"{US}/v3/ip_pools/{MARKETING_ID}",
                  json=pool_details(MARKETING, ["other.example.com"]))
    got = acct.domains.assignments(DOMAIN)
    assert [(a.kind, a.target) for a in got] == [
        (AssignmentKind.IP, "1.2.3.4"), (AssignmentKind.IP, "5.6.7.8")]


def test_unassign_ip(acct: espkit.Account) -> None:
    responses.add("DELETE", f"{US}/v3/domains/{DOMAIN}/ips/1.2.3.4", json=SUCCESS)
    acct.domains.unassign(DOMAIN, ip="1.2.3.4")
    assert len(calls()) == 1


@pytest.mark.parametrize(("replacement", "sent"), [
    ("shared", {"ip": ["shared"]}),
    ("9.9.9.9", {"ip": ["9.9.9.9"]}),
    ("transactional", {"pool_id": [TRANSACTIONAL_ID]}),
])
def test_unassign_pool_with_replacement(
    acct: espkit.Account, replacement: str, sent: dict[str, list[str]]
) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    responses.add("GET", f"{US}/v3/ip_pools/{MARKETING_ID}",
                  json=pool_details(MARKETING, [DOMAIN]))
    responses.add("DELETE", f"{US}/v3/domains/{DOMAIN}/ips/ip_pool", json=SUCCESS)
    acct.domains.unassign(DOMAIN, pool="marketing", replacement=replacement)
    assert query(calls("DELETE")[0]) == sent


def test_unassign_pool_that_is_not_linked_sends_nothing(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v3/ip_pools", json=POOLS)
    responses.add("GET", f"{US}/v3/ip_pools/{TRANSACTIONAL_ID}",
                  json=pool_details(TRANSACTIONAL, []))
    with pytest.raises(NotFound, match="not linked to IP pool 'transactional'"):
        acct.domains.unassign(DOMAIN, pool="transactional", replacement="shared")
    assert calls("DELETE") == []


# -- subaccounts ----------------------------------------------------------------------------


def test_create_subaccount(acct: espkit.Account) -> None:
    responses.add("POST", f"{US}/v5/accounts/subaccounts", json={"subaccount": subaccount()})
    s = acct.subaccounts.create("customer-1")
    assert (s.id, s.name, s.enabled) == (SUB_ID, "customer-1", True)
    assert s.created_at is not None
    assert s.created_at.year == 2024
    assert query(calls()[0]) == {"name": ["customer-1"]}


def test_list_subaccounts_pages(acct: espkit.Account) -> None:
    subs = [subaccount(f"id{i}", f"c{i}") for i in range(1500)]
    for skip in (0, 1000):
        responses.add("GET", f"{US}/v5/accounts/subaccounts",
                      json={"subaccounts": subs[skip:skip + 1000], "total": 1500},
                      match=[responses.matchers.query_param_matcher(
                          {"limit": "1000", "skip": str(skip)})])
    assert [s.id for s in acct.subaccounts.list()] == [f"id{i}" for i in range(1500)]
    assert len(calls()) == 2


def test_get_enable_disable_subaccount(acct: espkit.Account) -> None:
    base = f"{US}/v5/accounts/subaccounts/{SUB_ID}"
    responses.add("GET", base, json={"subaccount": subaccount()})
    responses.add("POST", f"{base}/disable", json={"subaccount": subaccount(status="disabled")})
    responses.add("POST", f"{base}/enable", json={"subaccount": subaccount()})
    assert acct.subaccounts.get(SUB_ID).enabled
    assert not acct.subaccounts.disable(SUB_ID).enabled
    assert acct.subaccounts.enable(SUB_ID).enabled
    assert [c.request.url for c in calls()] == [base, f"{base}/disable", f"{base}/enable"]


def test_disable_twice_reports_the_current_state(acct: espkit.Account) -> None:
    base = f"{US}/v5/accounts/subaccounts/{SUB_ID}"
    responses.add("POST", f"{base}/disable", status=400,
                  json={"message": "subaccount is already disabled"})
    responses.add("GET", base, json={"subaccount": subaccount(status="disabled")})
    assert not acct.subaccounts.disable(SUB_ID).enabled


def test_enable_refused_for_another_reason_raises(acct: espkit.Account) -> None:
    responses.add("POST", f"{US}/v5/accounts/subaccounts/{SUB_ID}/enable", status=400,
                  json={"message": "Parent account has reached its allotted child limit"})
    with pytest.raises(Rejected, match="allotted child limit"):
        acct.subaccounts.enable(SUB_ID)


def test_missing_subaccount(acct: espkit.Account) -> None:
    responses.add("GET", f"{US}/v5/accounts/subaccounts/nope", status=404,
                  json={"message": "Not Found"})
    with pytest.raises(NotFound):
        acct.subaccounts.get("nope")
    assert len(calls()) == 1  # not "Domain not found": no region probe
