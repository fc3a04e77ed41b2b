"""The Postmark provider through the public API.

Request-level tests mock the wire with ``responses``; stateful flows run against the fake in
``tests/support/fakes/postmark.py``. Bodies follow Postmark's docs and
``ActiveCampaign/postmark.js`` (``models/domains/DomainDetails.ts``, ``models/server/Server.ts``,
``models/streams/MessageStream.ts``); error codes come from
https://postmarkapp.com/developer/api/overview#error-codes.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from support.fakes.postmark import ACCOUNT_TOKEN, PostmarkFake

import espkit
from espkit import (
    AlreadyExists,
    AuthError,
    Capability,
    ConfigError,
    DomainState,
    NotFound,
    RateLimited,
    RecordPurpose,
    RecordStatus,
    Rejected,
    StreamKind,
    Unsupported,
    ValidationError,
)
from espkit.providers.postmark import PostmarkProvider

API = "https://api.postmarkapp.com"
TOKEN = "b7c1a2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"
SERVER_TOKEN = "f0e1d2c3-b4a5-4968-8776-554433221100"
DOMAIN = "mail.example.com"
DOMAIN_ID = 36735


def details(name: str = DOMAIN, ident: int = DOMAIN_ID, *, dkim: bool = False,
            rp: bool = False) -> dict[str, Any]:
    """DomainDetails (postmark.js models/domains/DomainDetails.ts; docs' example values)."""
    pending = f"20131031155228pm._domainkey.{name}"
    key = "k=rsa;p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCFn"
    return {
        "ID": ident, "Name": name,
        "SPFVerified": False, "SPFHost": name,
        "SPFTextValue": "v=spf1 a mx include:spf.mtasv.net ~all",
        "DKIMVerified": dkim, "WeakDKIM": False,
        "DKIMHost": pending if dkim else "", "DKIMTextValue": key if dkim else "",
        "DKIMPendingHost": "" if dkim else pending, "DKIMPendingTextValue": "" if dkim else key,
        "DKIMRevokedHost": "", "DKIMRevokedTextValue": "",
        "SafeToRemoveRevokedKeyFromDNS": False,
        "DKIMUpdateStatus": "Verified" if dkim else "Pending",
        "ReturnPathDomain": f"pm-bounces.{name}", "ReturnPathDomainCNAMEValue": "pm.mtasv.net",
        "ReturnPathDomainVerified": rp,
    }


def summary(name: str, ident: int) -> dict[str, Any]:
    # list item (postmark.js models/domains/Domain.ts)
    return {"ID": ident, "Name": name, "SPFVerified": False, "DKIMVerified": False,
            "WeakDKIM": False, "ReturnPathDomainVerified": False}


def server(ident: int = 1, name: str = "customer-1") -> dict[str, Any]:
    # Server (postmark.js models/server/Server.ts), abridged
    return {"ID": ident, "Name": name, "ApiTokens": [SERVER_TOKEN], "Color": "Purple",
            "ServerLink": f"https://postmarkapp.com/servers/{ident}/overview",
            "SmtpApiActivated": True, "TrackLinks": "None"}


def stream(sid: str = "outbound", stype: str = "Transactional") -> dict[str, Any]:
    # MessageStream (postmark.js models/streams/MessageStream.ts)
    return {"ID": sid, "ServerID": 1, "Name": f"{sid} stream", "Description": "",
            "MessageStreamType": stype, "CreatedAt": "2020-07-01T00:00:00-04:00",
            "ArchivedAt": None, "SubscriptionManagementConfiguration":
            {"UnsubscribeHandlingType": "None"}}


def err(code: int, message: str) -> dict[str, Any]:
    return {"ErrorCode": code, "Message": message}


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def acct(http: responses.RequestsMock, sleeps: list[float]) -> espkit.Account:
    return espkit.connect("postmark", api_key=TOKEN)


@pytest.fixture
def fake(sleeps: list[float]) -> Iterator[PostmarkFake]:
    with PostmarkFake() as f:
        yield f


def query(call: Any) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(call.request.url).query)


def sent_json(call: Any) -> Any:
    return json.loads(call.request.body)


def known(http: responses.RequestsMock, acct: espkit.Account) -> None:
    """Teach ``acct`` DOMAIN's ID through one list page, then forget the calls."""
    http.add("GET", f"{API}/domains", json={"TotalCount": 1,
                                            "Domains": [summary(DOMAIN, DOMAIN_ID)]})
    list(acct.domains.list())
    http.calls.reset()  # type: ignore[no-untyped-call]
    http.remove("GET", f"{API}/domains")


# -- set-up -----------------------------------------------------------------------------------


def test_declares_postmark_facts() -> None:
    native = {Capability.DOMAINS, Capability.DOMAIN_VERIFY, Capability.DOMAIN_DNS_RECORDS,
              Capability.SUBACCOUNTS, Capability.SUBACCOUNT_SCOPE, Capability.STREAMS,
              Capability.DELIVERY_STATS}
    assert native == PostmarkProvider.SUPPORTS
    assert not PostmarkProvider.DOMAIN_OPTIONS
    acct = espkit.connect("postmark", api_key=TOKEN)
    assert acct.provider.transport.base_url == API  # type: ignore[attr-defined]
    assert acct.provider.transport.limiter.ceiling is None  # type: ignore[attr-defined]


def test_account_token_header_and_accept(acct: espkit.Account,
                                         http: responses.RequestsMock) -> None:
    http.add("POST", f"{API}/domains", json=details())
    acct.domains.create(DOMAIN)
    headers = http.calls[0].request.headers
    assert headers["X-Postmark-Account-Token"] == TOKEN
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json"
    assert "Authorization" not in headers


def test_token_from_postmark_env_var(monkeypatch: pytest.MonkeyPatch,
                                     http: responses.RequestsMock) -> None:
    monkeypatch.delenv("ESPKIT_POSTMARK_API_KEY", raising=False)
    monkeypatch.setenv("POSTMARK_ACCOUNT_TOKEN", TOKEN)
    http.add("GET", f"{API}/servers/1", json=server())
    espkit.connect("postmark").subaccounts.get("1")
    assert http.calls[0].request.headers["X-Postmark-Account-Token"] == TOKEN


# -- domains ------------------------------------------------------------------------------------


def test_create_sends_name_and_return_path_and_normalises_records(
    acct: espkit.Account, http: responses.RequestsMock
) -> None:
    http.add("POST", f"{API}/domains", json=details())
    d = acct.domains.create(DOMAIN)
    assert sent_json(http.calls[0]) == {"Name": DOMAIN, "ReturnPathDomain": f"pm-bounces.{DOMAIN}"}
    assert (d.name, d.id, d.provider, d.state) == (DOMAIN, str(DOMAIN_ID), "postmark",
                                                   DomainState.UNVERIFIED)
    dkim, = d.records(RecordPurpose.DKIM)
    assert (dkim.type, dkim.host, dkim.status) == (
        "TXT", f"20131031155228pm._domainkey.{DOMAIN}", RecordStatus.PENDING)
    assert dkim.value.startswith("k=rsa;p=")
    rp, = d.records("return_path")
    assert (rp.type, rp.host, rp.value, rp.status) == (
        "CNAME", f"pm-bounces.{DOMAIN}", "pm.mtasv.net", RecordStatus.PENDING)
    assert d.raw["SPFTextValue"].startswith("v=spf1")


def test_created_id_is_reused_without_listing(acct: espkit.Account,
                                              http: responses.RequestsMock) -> None:
    http.add("POST", f"{API}/domains", json=details())
    http.add("GET", f"{API}/domains/{DOMAIN_ID}", json=details(dkim=True, rp=True))
    acct.domains.create(DOMAIN)
    d = acct.domains.get(DOMAIN)
    assert [c.request.url for c in http.calls][1:] == [f"{API}/domains/{DOMAIN_ID}"]
    assert d.verified
    dkim, = d.records("dkim")  # the verified key is now DKIMHost, nothing pending
    assert dkim.status is RecordStatus.VALID
    assert d.records("return_path")[0].valid


def test_get_resolves_the_name_by_paging_and_caches(acct: espkit.Account,
                                                    http: responses.RequestsMock) -> None:
    page1 = [summary(f"d{i}.example.com", i) for i in range(500)]
    http.add("GET", f"{API}/domains", json={"TotalCount": 501, "Domains": page1})
    http.add("GET", f"{API}/domains", json={"TotalCount": 501,
                                            "Domains": [summary("MAIL.example.com", DOMAIN_ID)]})
    http.add("GET", f"{API}/domains/{DOMAIN_ID}", json=details())
    acct.domains.get(DOMAIN)
    acct.domains.get(DOMAIN)
    urls = [c.request.url for c in http.calls]
    assert [query(http.calls[i]) for i in (0, 1)] == [
        {"count": ["500"], "offset": ["0"]}, {"count": ["500"], "offset": ["500"]}]
    assert urls[2:] == [f"{API}/domains/{DOMAIN_ID}"] * 2  # the second get did not list


def test_get_missing_domain_is_not_found(acct: espkit.Account,
                                         http: responses.RequestsMock) -> None:
    http.add("GET", f"{API}/domains", json={"TotalCount": 1,
                                            "Domains": [summary("other.example.com", 1)]})
    with pytest.raises(NotFound, match=r"no domain named 'mail\.example\.com'"):
        acct.domains.get(DOMAIN)
    assert len(http.calls) == 1


def test_stale_cached_id_is_resolved_again(acct: espkit.Account,
                                           http: responses.RequestsMock) -> None:
    known(http, acct)
    http.add("GET", f"{API}/domains/{DOMAIN_ID}", status=422,
             json=err(510, "This domain was not found."))
    http.add("GET", f"{API}/domains", json={"TotalCount": 1, "Domains": [summary(DOMAIN, 99)]})
    http.add("GET", f"{API}/domains/99", json=details(ident=99))
    assert acct.domains.get(DOMAIN).id == "99"
    assert len(http.calls) == 3


def test_list_is_lazy_and_honours_page_size(acct: espkit.Account,
                                            http: responses.RequestsMock) -> None:
    http.add("GET", f"{API}/domains", json={"TotalCount": 3, "Domains": [
        summary("a.example.com", 1), summary("b.example.com", 2)]})
    http.add("GET", f"{API}/domains", json={"TotalCount": 3, "Domains": [
        summary("c.example.com", 3)]})
    it = acct.domains.list(page_size=2)
    assert len(http.calls) == 0
    assert next(it).name == "a.example.com"
    assert len(http.calls) == 1
    assert [d.name for d in it] == ["b.example.com", "c.example.com"]
    assert query(http.calls[1]) == {"count": ["2"], "offset": ["2"]}
    list(acct.domains.list(page_size=5000))
    assert query(http.calls[-1])["count"] == ["500"]


def test_verify_checks_dkim_and_return_path_then_reads(acct: espkit.Account,
                                                       http: responses.RequestsMock) -> None:
    known(http, acct)
    http.add("PUT", f"{API}/domains/{DOMAIN_ID}/verifyDkim", json=details(dkim=True))
    http.add("PUT", f"{API}/domains/{DOMAIN_ID}/verifyReturnPath", json=details(dkim=True,
                                                                                rp=True))
    http.add("GET", f"{API}/domains/{DOMAIN_ID}", json=details(dkim=True, rp=True))
    d = acct.domains.verify(DOMAIN)
    assert [(c.request.method, urllib.parse.urlsplit(c.request.url).path)
            for c in http.calls] == [
        ("PUT", f"/domains/{DOMAIN_ID}/verifyDkim"),
        ("PUT", f"/domains/{DOMAIN_ID}/verifyReturnPath"),
        ("GET", f"/domains/{DOMAIN_ID}")]
    assert d.verified


def test_dkim_alone_is_not_verified(acct: espkit.Account, http: responses.RequestsMock) -> None:
    known(http, acct)
    http.add("GET", f"{API}/domains/{DOMAIN_ID}", json=details(dkim=True, rp=False))
    assert acct.domains.get(DOMAIN).state is DomainState.UNVERIFIED


def test_rotate_dkim_and_a_pending_rotation(acct: espkit.Account,
                                            http: responses.RequestsMock) -> None:
    known(http, acct)
    rotated = details(dkim=True) | {"DKIMPendingHost": f"2024pm._domainkey.{DOMAIN}",
                                    "DKIMPendingTextValue": "k=rsa;p=NEW"}
    http.add("POST", f"{API}/domains/{DOMAIN_ID}/rotatedkim", json=rotated)
    provider: PostmarkProvider = acct.provider  # type: ignore[assignment]
    d = provider.rotate_dkim(DOMAIN)
    assert {(r.value, r.status) for r in d.records("dkim")} == {
        ("k=rsa;p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCFn", RecordStatus.VALID),
        ("k=rsa;p=NEW", RecordStatus.PENDING)}
    http.replace("POST", f"{API}/domains/{DOMAIN_ID}/rotatedkim", status=422,
                 json=err(505, "DKIM already scheduled for renewal."))
    http.add("GET", f"{API}/domains/{DOMAIN_ID}", json=rotated)
    assert provider.rotate_dkim(DOMAIN) == d
    with pytest.raises(ValidationError):
        provider.rotate_dkim("bad/name")


def test_delete_forgets_the_id(acct: espkit.Account, http: responses.RequestsMock) -> None:
    known(http, acct)
    http.add("DELETE", f"{API}/domains/{DOMAIN_ID}",
             json={"ErrorCode": 0, "Message": f"Domain {DOMAIN} removed."})
    http.add("GET", f"{API}/domains", json={"TotalCount": 0, "Domains": []})
    acct.domains.delete(DOMAIN)
    with pytest.raises(NotFound):
        acct.domains.get(DOMAIN)
    assert [c.request.method for c in http.calls] == ["DELETE", "GET"]


# -- errors, retries, safe creates -----------------------------------------------------------------


@pytest.mark.parametrize(("status", "body", "cls", "code"), [
    (422, err(512, "Domain already exists."), AlreadyExists, "512"),
    (401, err(10, "Request does not contain a valid Account token."), AuthError, "10"),
    (422, err(10, "Bad or missing API token"), AuthError, "10"),
    (422, err(516, "Name format is invalid."), Rejected, "516"),
    (404, {"Message": "gone"}, NotFound, None),
])
def test_error_codes_map_to_typed_errors(acct: espkit.Account, http: responses.RequestsMock,
                                         status: int, body: Any, cls: type[Exception],
                                         code: str | None) -> None:
    http.add("POST", f"{API}/domains", status=status, json=body)
    with pytest.raises(cls) as info:
        acct.domains.create(DOMAIN)
    assert type(info.value) is cls
    assert info.value.code == code  # type: ignore[attr-defined]
    assert info.value.message == body["Message"]  # type: ignore[attr-defined]
    assert len(http.calls) == 1


def test_429_is_retried_even_for_a_create(acct: espkit.Account, http: responses.RequestsMock,
                                          sleeps: list[float]) -> None:
    http.add("POST", f"{API}/domains", status=429, headers={"Retry-After": "3"},
             json=err(0, "Slow down"))
    http.add("POST", f"{API}/domains", json=details())
    assert acct.domains.create(DOMAIN).id == str(DOMAIN_ID)
    assert len(http.calls) == 2
    assert 3.0 in sleeps


def test_429_that_persists_is_rate_limited(http: responses.RequestsMock,
                                           sleeps: list[float]) -> None:
    acct = espkit.connect("postmark", api_key=TOKEN, retry=espkit.RetryPolicy(max_attempts=2))
    http.add("GET", f"{API}/servers/1", status=429, json=err(0, "Slow down"))
    with pytest.raises(RateLimited):
        acct.subaccounts.get("1")
    assert len(http.calls) == 2


@pytest.mark.parametrize("body", [err(100, "Maintenance"), {"Message": "Service Unavailable"}])
def test_5xx_on_a_read_is_retried(acct: espkit.Account, http: responses.RequestsMock,
                                  body: Any) -> None:
    http.add("GET", f"{API}/servers/1", status=503, json=body)
    http.add("GET", f"{API}/servers/1", status=500, json=err(0, "boom"))
    http.add("GET", f"{API}/servers/1", json=server())
    assert acct.subaccounts.get("1").name == "customer-1"
    assert len(http.calls) == 3


def test_maintenance_code_is_a_server_error(acct: espkit.Account,
                                            http: responses.RequestsMock) -> None:
    http.add("POST", f"{API}/servers", status=422, json=err(100, "Maintenance"))
    with pytest.raises(espkit.ServerError):
        acct.subaccounts.create("customer-1")
    assert len(http.calls) == 1  # not retried blind: a POST; read back decides


def test_create_that_timed_out_but_landed_is_read_back(acct: espkit.Account,
                                                       http: responses.RequestsMock) -> None:
    def timeout(request: requests.PreparedRequest) -> Any:
        raise requests.ReadTimeout("read timed out")

    http.add_callback("POST", f"{API}/domains", callback=timeout)
    http.add("GET", f"{API}/domains", json={"TotalCount": 1,
                                            "Domains": [summary(DOMAIN, DOMAIN_ID)]})
    http.add("GET", f"{API}/domains/{DOMAIN_ID}", json=details())
    d = acct.domains.create(DOMAIN)
    assert d.id == str(DOMAIN_ID)
    assert [c.request.method for c in http.calls] == ["POST", "GET", "GET"]


def test_create_503_then_resend_finding_it_exists_adopts_it(
    acct: espkit.Account, http: responses.RequestsMock
) -> None:
    http.add("POST", f"{API}/domains", status=503, json=err(0, "Service Unavailable"))
    http.add("POST", f"{API}/domains", status=422, json=err(512, "Domain already exists."))
    http.add("GET", f"{API}/domains", json={"TotalCount": 0, "Domains": []})
    http.add("GET", f"{API}/domains", json={"TotalCount": 1,
                                            "Domains": [summary(DOMAIN, DOMAIN_ID)]})
    http.add("GET", f"{API}/domains/{DOMAIN_ID}", json=details())
    assert acct.domains.create(DOMAIN).id == str(DOMAIN_ID)
    assert [c.request.method for c in http.calls].count("POST") == 2


# -- validation, unsupported, secrecy ----------------------------------------------------------


@pytest.mark.parametrize("bad", ["a/b.com", "x..com", "ex ample.com", "a.com\r\n", "%2e.com", ""])
def test_bad_names_are_refused_before_sending(acct: espkit.Account,
                                              http: responses.RequestsMock, bad: str) -> None:
    for call in (lambda: acct.domains.create(bad), lambda: acct.domains.get(bad),
                 lambda: acct.domains.verify(bad), lambda: acct.domains.delete(bad)):
        with pytest.raises(ValidationError):
            call()
    assert len(http.calls) == 0


@pytest.mark.parametrize("bad", [
    lambda a: a.subaccounts.get("../1"),
    lambda a: a.on_behalf_of("1/2"),
    lambda a: a.on_behalf_of("1").streams.create("bad/id"),
    lambda a: a.on_behalf_of("1").streams.create("news", kind="marketing"),
    lambda a: a.on_behalf_of("1").streams.get("a b"),
])
def test_other_bad_input_is_refused_before_sending(acct: espkit.Account,
                                                   http: responses.RequestsMock, bad: Any) -> None:
    with pytest.raises(ValidationError):
        bad(acct)
    assert len(http.calls) == 0


def test_domain_options_postmark_lacks_are_unsupported(acct: espkit.Account,
                                                       http: responses.RequestsMock) -> None:
    with pytest.raises(Unsupported, match="dkim_key_size"):
        acct.domains.create(DOMAIN, dkim_key_size=2048)
    assert len(http.calls) == 0


@pytest.mark.parametrize(("call", "capability"), [
    (lambda a: list(a.ips.list()), "ips"),
    (lambda a: a.ips.get("1.2.3.4"), "ips"),
    (lambda a: a.pools.create("marketing"), "pools"),
    (lambda a: list(a.pools.list()), "pools"),
    (lambda a: a.domains.assign(DOMAIN, pool="marketing"), "assign.domain_pool"),
    (lambda a: a.domains.assign(DOMAIN, ip="1.2.3.4"), "assign.domain_ip"),
    (lambda a: a.domains.assignments(DOMAIN), "assign.domain_pool"),
    (lambda a: a.subaccounts.assign("1", pool="marketing"), "assign.subaccount_pool"),
    (lambda a: a.subaccounts.disable("1"), "subaccounts.disable"),
])
def test_no_ip_api_is_unsupported_with_a_hint(acct: espkit.Account,
                                              http: responses.RequestsMock,
                                              call: Any, capability: str) -> None:
    with pytest.raises(Unsupported) as info:
        call(acct)
    assert info.value.capability == capability
    assert info.value.hint
    assert len(http.calls) == 0
    if capability != "subaccounts.disable":
        assert "message streams" in info.value.hint
        assert "shared IP pools" in info.value.hint


def test_tokens_never_leak(http: responses.RequestsMock, sleeps: list[float],
                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("espkit", "espkit.http", "urllib3", "requests"):
        caplog.set_level(logging.DEBUG, logger=name)
    acct = espkit.connect("postmark", api_key=TOKEN)
    http.add("GET", f"{API}/servers/1", json=server())
    http.add("GET", f"{API}/message-streams", status=401,
             json=err(10, "Request does not contain a valid Server token."))
    http.add("POST", f"{API}/domains", status=422, json=err(512, "Domain already exists."))
    sub = acct.subaccounts.get("1")
    scoped = acct.on_behalf_of(sub)
    errors: list[Exception] = []
    for failing in (lambda: list(scoped.streams.list()), lambda: acct.domains.create(DOMAIN)):
        with pytest.raises(espkit.EspError) as info:
            failing()
        errors.append(info.value)
    assert isinstance(errors[0], AuthError)
    texts = [caplog.text, repr(acct), repr(scoped), repr(acct.provider), repr(scoped.provider),
             repr(scoped.provider._server_transport),  # type: ignore[attr-defined]
             repr(sub), str(sub.raw), *(str(e) for e in errors), *(repr(e) for e in errors)]
    assert "espkit.http" in {r.name for r in caplog.records}
    for text in texts:
        assert TOKEN not in text
        assert SERVER_TOKEN not in text


# -- servers (subaccounts) ------------------------------------------------------------------------


def test_servers_create_list_get(acct: espkit.Account, http: responses.RequestsMock) -> None:
    http.add("POST", f"{API}/servers", json=server(7, "customer-7"))
    http.add("GET", f"{API}/servers", json={"TotalCount": 2, "Servers": [server(1), server(7)]})
    http.add("GET", f"{API}/servers/7", json=server(7, "customer-7"))
    created = acct.subaccounts.create("customer-7")
    assert sent_json(http.calls[0]) == {"Name": "customer-7"}
    assert (created.id, created.name, created.enabled) == ("7", "customer-7", True)
    assert created.raw["ApiTokens"] == "<redacted>"
    assert [s.id for s in acct.subaccounts.list()] == ["1", "7"]
    assert query(http.calls[1]) == {"count": ["500"], "offset": ["0"]}
    assert acct.subaccounts.get(created) == created


def test_server_errors(acct: espkit.Account, http: responses.RequestsMock) -> None:
    http.add("GET", f"{API}/servers/9", status=422, json=err(601, "Server does not exist."))
    http.add("POST", f"{API}/servers", status=422, json=err(603, "Server name already exists."))
    with pytest.raises(NotFound):
        acct.subaccounts.get("9")
    with pytest.raises(AlreadyExists):
        acct.subaccounts.create("customer-1")


# -- server scope and message streams --------------------------------------------------------------


def test_streams_use_the_server_token(acct: espkit.Account,
                                      http: responses.RequestsMock) -> None:
    http.add("GET", f"{API}/servers/1", json=server())
    http.add("GET", f"{API}/message-streams", json={"TotalCount": 3, "MessageStreams": [
        stream("outbound"), stream("inbound", "Inbound"), stream("news", "Broadcasts")]})
    scoped = acct.on_behalf_of("1")
    assert len(http.calls) == 0  # the token is fetched on first use
    streams = list(scoped.streams.list())
    assert [(s.id, s.kind, s.subaccount) for s in streams] == [
        ("outbound", StreamKind.TRANSACTIONAL, "1"), ("inbound", StreamKind.INBOUND, "1"),
        ("news", StreamKind.BROADCAST, "1")]
    read, listed = http.calls
    assert read.request.headers["X-Postmark-Account-Token"] == TOKEN
    assert listed.request.headers["X-Postmark-Server-Token"] == SERVER_TOKEN
    assert "X-Postmark-Account-Token" not in listed.request.headers
    assert listed.request.headers["Accept"] == "application/json"
    assert query(listed) == {"MessageStreamType": ["All"], "IncludeArchivedStreams": ["false"]}
    list(scoped.streams.list())
    assert len(http.calls) == 3  # the server was read once


def test_scoped_account_calls_keep_the_account_token(acct: espkit.Account,
                                                     http: responses.RequestsMock) -> None:
    known(http, acct)
    http.add("GET", f"{API}/domains/{DOMAIN_ID}", json=details())
    scoped = acct.on_behalf_of("1")
    assert scoped.domains.get(DOMAIN).id == str(DOMAIN_ID)  # domains are account-wide
    assert http.calls[0].request.headers["X-Postmark-Account-Token"] == TOKEN
    assert "X-Postmark-Server-Token" not in http.calls[0].request.headers
    assert scoped.subaccount == "1"


def test_streams_without_a_server_say_how(acct: espkit.Account,
                                          http: responses.RequestsMock) -> None:
    with pytest.raises(ConfigError, match="on_behalf_of"):
        list(acct.streams.list())
    assert len(http.calls) == 0


def test_server_without_tokens_is_an_auth_error(acct: espkit.Account,
                                                http: responses.RequestsMock) -> None:
    http.add("GET", f"{API}/servers/1", json=server() | {"ApiTokens": []})
    with pytest.raises(AuthError, match="no API token for server 1"):
        acct.on_behalf_of("1").streams.get("outbound")


def test_create_and_get_stream(acct: espkit.Account, http: responses.RequestsMock) -> None:
    http.add("GET", f"{API}/servers/1", json=server())
    http.add("POST", f"{API}/message-streams", json=stream("news", "Broadcasts"))
    http.add("GET", f"{API}/message-streams/news", json=stream("news", "Broadcasts"))
    scoped = acct.on_behalf_of("1")
    s = scoped.streams.create("news", name="News", kind="broadcast")
    assert sent_json(http.calls[1]) == {"ID": "news", "Name": "News",
                                        "MessageStreamType": "Broadcasts"}
    assert (s.id, s.kind, s.provider) == ("news", StreamKind.BROADCAST, "postmark")
    assert scoped.streams.get("news") == s


def test_stream_errors(acct: espkit.Account, http: responses.RequestsMock) -> None:
    http.add("GET", f"{API}/servers/1", json=server())
    http.add("GET", f"{API}/message-streams/nope", status=422,
             json=err(1226, "Message Stream not found."))
    http.add("POST", f"{API}/message-streams", status=422,
             json=err(1228, "Only one inbound stream allowed per server."))
    scoped = acct.on_behalf_of("1")
    with pytest.raises(NotFound):
        scoped.streams.get("nope")
    with pytest.raises(Rejected, match="one inbound stream") as info:
        scoped.streams.create("in2", kind="inbound")
    assert info.value.code == "1228"


# -- against the stateful fake -----------------------------------------------------------------


def test_tour_against_the_fake(fake: PostmarkFake) -> None:
    acct = fake.connect()
    d = acct.domains.create("news.acme.example")
    assert not d.verified
    assert not acct.domains.verify("news.acme.example").verified
    fake.publish_dns("news.acme.example")
    assert acct.domains.verify("news.acme.example").verified
    rotated = acct.provider.rotate_dkim("news.acme.example")  # type: ignore[attr-defined]
    assert [r.status for r in rotated.records("dkim")] == [RecordStatus.VALID,
                                                           RecordStatus.PENDING]
    sub = acct.subaccounts.create("customer-1")
    with pytest.raises(AlreadyExists):  # ErrorCode 603
        acct.subaccounts.create("customer-1")
    scoped = acct.on_behalf_of(sub)
    assert {(s.id, s.kind) for s in scoped.streams.list()} == {
        ("outbound", StreamKind.TRANSACTIONAL), ("inbound", StreamKind.INBOUND)}
    news = scoped.streams.create("news", kind=StreamKind.BROADCAST)
    assert scoped.streams.get("news") == news
    with pytest.raises(AlreadyExists):
        scoped.streams.create("news", kind=StreamKind.TRANSACTIONAL)
    acct.domains.delete("news.acme.example")
    assert fake.domain_count() == 0


def test_fake_server_create_that_timed_out_is_adopted(fake: PostmarkFake) -> None:
    acct = fake.connect()
    fake.fail_next("timeout_after_commit", "POST", "/servers")
    sub = acct.subaccounts.create("customer-1")
    assert sub.name == "customer-1"
    assert len(fake.servers) == 1
    assert fake.sent("POST", "/servers") == 1


def test_fake_stream_create_that_timed_out_is_adopted(fake: PostmarkFake) -> None:
    acct = fake.connect()
    scoped = acct.on_behalf_of(str(fake.add_server("customer-1")["ID"]))
    fake.fail_next("timeout_after_commit", "POST", "/message-streams")
    s = scoped.streams.create("news", kind="broadcast")
    assert s.kind is StreamKind.BROADCAST
    assert fake.sent("POST", "/message-streams") == 1


def test_fake_refuses_a_wrong_token(fake: PostmarkFake) -> None:
    acct = espkit.connect("postmark", api_key="not-" + ACCOUNT_TOKEN)
    with pytest.raises(AuthError) as info:
        list(acct.domains.list())
    assert info.value.code == "10"
    assert info.value.status == 401


def test_list_items_are_verified_only_with_both_checks(acct: espkit.Account,
                                                       http: responses.RequestsMock) -> None:
    both = summary("a.example.com", 1) | {"DKIMVerified": True, "ReturnPathDomainVerified": True}
    dkim_only = summary("b.example.com", 2) | {"DKIMVerified": True}
    http.add("GET", f"{API}/domains", json={"TotalCount": 2, "Domains": [both, dkim_only]})
    assert [d.state for d in acct.domains.list()] == [DomainState.VERIFIED,
                                                      DomainState.UNVERIFIED]
