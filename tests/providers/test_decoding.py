"""Reading ESP answers (``espkit.providers.payload``) and the regressions the response fuzzing
(``test_response_fuzz.py``) and its review found: each was an untyped exception, a made-up
model, a silently short listing or a request sent somewhere else, before answers were decoded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
import responses
from support.mailgun_mocks import (
    MARKETING,
    POOLS,
    domain_body,
    domain_info,
    pool,
    pools_body,
)

import espkit
from espkit.errors import NotFound, ProtocolError
from espkit.providers import payload as pl
from espkit.sandbox import BASE_URL as SANDBOX_URL

MG = "https://api.mailgun.net"
MG_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
SG = "https://api.sendgrid.com"
SG_KEY = "SG.decoding.0123456789abcdefghijklmnopqrstuvwxyz"
SP = "https://api.sparkpost.com/api/v1"
PM = "https://api.postmarkapp.com"
PM_KEY = "b7c1a2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"
DOMAIN = "mg.example.com"


pytestmark = pytest.mark.usefixtures("wire")


def mailgun(sleeps: list[float]) -> espkit.Account:
    return espkit.connect("mailgun", api_key=MG_KEY, region="us")


def sent(method: str, fragment: str = "") -> int:
    return sum(c.request.method == method and fragment in (c.request.url or "")
               for c in responses.calls)


# -- the readers ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "ok"), [
    (0, True), (2**63 - 1, True), (2**63, False), (-1, False), (42.0, True), (42.5, False),
    (True, False), (math.inf, False), (math.nan, False), ("42", False), (None, False),
])
def test_whole_numbers_are_bounded(value: Any, ok: bool) -> None:
    if ok:
        assert pl.whole(value, "n") == int(value)
    else:
        with pytest.raises(pl.Malformed, match="not a whole number"):
            pl.whole(value, "n")


@pytest.mark.parametrize(("value", "ok"), [
    ("abc", True), ("..x", True), ("a/b", True), (7, True), (".", False), ("..", False),
    (" .. ", False), ("", False), ("  ", False), ("a\nb", False), ([], False),
])
def test_ids_are_never_a_dot_segment_or_blank(value: Any, ok: bool) -> None:
    if ok:
        assert pl.ident(value, "id") == str(value)
    else:
        with pytest.raises(pl.Malformed):
            pl.ident(value, "id")


@pytest.mark.parametrize(("value", "expected"), [
    ("MG.Example.COM.", "mg.example.com"), ("_dmarc.example.com", "_dmarc.example.com"),
    ("x" * 63 + ".com", "x" * 63 + ".com"), ("../etc", None), ("a..b.com", None),
    ("a b.com", None), ("a/b.com", None),
    ("x" * 64 + ".com", None), ((("a" * 62 + ".") * 4) + "ab", None), ("", None), (5, None),
    ("ex\u200bample.com", None), ("fa\u00df.de", None),
])
def test_domain_names_read_back_are_plain_labels(value: Any, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(pl.Malformed):
            pl.domain(value, "name")
    else:
        assert pl.domain(value, "name") == expected


def test_a_253_character_name_is_read_and_254_is_not() -> None:
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name) == 253
    assert pl.domain(name, "name") == name
    with pytest.raises(pl.Malformed):
        pl.domain(name + "d", "name")


def test_objects_skip_nulls_and_refuse_anything_else() -> None:
    assert pl.objects([{"a": 1}, None], "items") == [{"a": 1}]
    assert pl.objects(None, "items") == []
    with pytest.raises(pl.Malformed, match="items is null"):
        pl.objects(None, "items", required=True)
    with pytest.raises(pl.Malformed, match=r"items\[1\] is a string"):
        pl.objects([{}, "x"], "items")
    with pytest.raises(pl.Malformed, match="not a list"):
        pl.objects("abc", "items")


def test_decoded_turns_a_decoder_slip_into_a_protocol_error_keeping_the_cause() -> None:
    source = pl.Source("esp", "GET", "https://esp.example/x", 200, "rid-1")
    with pytest.raises(ProtocolError) as caught:
        pl.decoded(lambda body: body["missing"], {}, source)
    assert isinstance(caught.value.__cause__, KeyError)
    with pytest.raises(ProtocolError) as refused:
        pl.decoded(lambda body: pl.need_obj(body, "the answer"), [1], source)
    assert refused.value.__cause__ is None  # a reader's refusal, not a slip
    assert (refused.value.status, refused.value.request_id) == (200, "rid-1")
    assert "the answer is a list" in str(refused.value)


def test_decoded_lets_espkit_errors_through() -> None:
    def decode(body: Any) -> None:
        raise NotFound("gone", provider="esp")

    with pytest.raises(NotFound):
        pl.decoded(decode, {}, pl.Source("esp"))


def test_a_write_answered_with_garbage_may_have_been_applied() -> None:
    assert pl.Source("esp", "POST", write=True).error("x").maybe_applied
    assert not pl.Source("esp", "GET").error("x").maybe_applied


def test_excerpts_are_bounded_printable_and_free_of_credentials() -> None:
    session = requests.Session()
    pl.remember_credentials(session, {"Authorization": "Bearer sekrit-token-123456"})
    body = {"name": "\x1b[2J\u202e" + "sekrit-token-123456", "password": "hunter2-hunter2",
            "ApiTokens": ["f0e1d2c3-b4a5"], "smtp_password": "pw", "deep": 1}
    huge = 10**5000
    for _ in range(2000):
        body = {"a": body, "b": "x" * 10_000, "n": huge}
    shown = pl.excerpt(body, pl.credentials_of(session))
    assert len(shown) <= pl.EXCERPT_CHARS
    assert shown.isprintable()
    assert "x" * 300 not in shown
    inner = pl.excerpt({"name": "\x1b[2J sekrit-token-123456", "password": "hunter2-hunter2",
                        "ApiTokens": ["f0e1d2c3-b4a5"], "n": 10**5000},
                       pl.credentials_of(session))
    assert "sekrit-token-123456" not in inner
    assert "hunter2" not in inner
    assert "f0e1d2c3" not in inner
    assert "\x1b" not in inner
    assert "very large number" in inner


def test_protocol_error_keeps_an_excerpt_never_the_body() -> None:
    exc = pl.Source("esp", "GET", "https://esp.example/x", 200, "rid").error(
        "unreadable", {"items": "x" * 10_000})
    assert exc.body is None
    assert exc.excerpt.startswith('{"items":"xxx')
    assert "[request id rid]" in str(exc)
    assert str(exc).endswith(exc.excerpt)


# -- creates: never a made-up Domain -------------------------------------------------------------


@pytest.mark.parametrize("answer", [b"", b"{}", b"not json", b'{"message": "ok"}',
                                    b'{"domain": null}', b"[]"])
def test_mailgun_create_answered_with_an_empty_or_garbage_200_is_an_error(
        answer: bytes, sleeps: list[float]) -> None:
    """It used to return ``Domain(name=<the name asked>)``, a domain no ESP described."""
    responses.add("POST", f"{MG}/v4/domains", body=answer)
    responses.add("GET", f"{MG}/v4/domains/{DOMAIN}", status=404,
                  json={"message": "Domain not found"})
    responses.add("GET", f"{MG}/v4/domains", status=401)  # the region probe: key is fine here
    with pytest.raises(ProtocolError) as caught:
        mailgun(sleeps).domains.create(DOMAIN)
    assert caught.value.maybe_applied  # a 200 to a POST: read back before re-sending
    assert sent("POST") == 1  # read back (nothing there), not re-sent blind
    assert sent("GET", f"/v4/domains/{DOMAIN}") == 1


def test_mailgun_create_answered_with_garbage_adopts_what_the_read_back_finds(
        sleeps: list[float]) -> None:
    responses.add("POST", f"{MG}/v4/domains", body=b"<html>200 OK</html>")
    responses.add("GET", f"{MG}/v4/domains/{DOMAIN}", json=domain_body())
    created = mailgun(sleeps).domains.create(DOMAIN)
    assert created.name == DOMAIN
    assert created.id == domain_info()["id"]  # the ESP's, read back
    assert sent("POST") == 1


def other_domain(provider: str) -> tuple[str, str, Any]:
    other = "other.example.com"
    return {
        "mailgun": ("POST", f"{MG}/v4/domains", domain_body(other)),
        "sendgrid": ("POST", f"{SG}/v3/whitelabel/domains", {"domain": other, "id": 7}),
        "sparkpost": ("POST", f"{SP}/sending-domains", {"results": {"domain": other}}),
        "postmark": ("POST", f"{PM}/domains", {"ID": 7, "Name": other}),
    }[provider]


@pytest.mark.parametrize("provider", ["mailgun", "sendgrid", "sparkpost", "postmark"])
def test_a_create_answered_about_another_domain_is_refused(provider: str,
                                                           sleeps: list[float]) -> None:
    method, url, body = other_domain(provider)
    responses.add(method, url, json=body)
    # the read-back (and SendGrid's look-up before creating) find nothing
    responses.add("GET", f"{MG}/v4/domains/{DOMAIN}", status=404, json={"message": "no"})
    responses.add("GET", f"{MG}/v4/domains", status=401)
    responses.add("GET", f"{SG}/v3/whitelabel/domains", json=[])
    responses.add("GET", f"{SP}/sending-domains/{DOMAIN}", status=404,
                  json={"errors": [{"message": "resource not found"}]})
    responses.add("GET", f"{PM}/domains", json={"TotalCount": 0, "Domains": []})
    keys = {"mailgun": MG_KEY, "sendgrid": SG_KEY,
            "sparkpost": "14ac5499cfdd2bb2859e4476d2e5b1d2bad079bf", "postmark": PM_KEY}
    acct = espkit.connect(provider, api_key=keys[provider])
    with pytest.raises(ProtocolError, match="another domain"):
        acct.domains.create(DOMAIN)
    assert sent("POST") == 1


def test_sparkpost_read_about_another_domain_is_refused(sleeps: list[float]) -> None:
    """A read answers without a name (the blueprint's example); one naming another domain
    used to be returned as that domain, from ``get(<this one>)``."""
    responses.add("GET", f"{SP}/sending-domains/{DOMAIN}",
                  json={"results": {"domain": "other.example.com", "status": {}}})
    acct = espkit.connect("sparkpost", api_key="14ac5499cfdd2bb2859e4476d2e5b1d2bad079bf")
    with pytest.raises(ProtocolError, match="another domain"):
        acct.domains.get(DOMAIN)


def test_get_ip_answer_about_another_ip_is_refused(sleeps: list[float]) -> None:
    responses.add("GET", f"{SG}/v3/ips/1.2.3.4", json={"ip": "5.6.7.8", "pools": []})
    with pytest.raises(ProtocolError, match="another IP"):
        espkit.connect("sendgrid", api_key=SG_KEY).ips.get("1.2.3.4")


# -- untyped exceptions that escaped ------------------------------------------------------------


@pytest.mark.parametrize(("priority", "expected"), [
    ("10", 10), ("0", 0), ("65535", 65535), ("65536", None), ("\u00b2", None),
    ("\u0661\u0660", None), ("9" * 5000, None), (10, 10), (None, None), ("-1", None),
])
def test_mailgun_mx_priority_is_read_or_dropped_never_raised(
        priority: Any, expected: int | None, sleeps: list[float]) -> None:
    """``"²".isdigit()`` is true and ``int("²")`` raises: a ValueError from ``get``."""
    body = domain_body()
    body["receiving_dns_records"][0]["priority"] = priority
    responses.add("GET", f"{MG}/v4/domains/{DOMAIN}", json=body)
    domain = mailgun(sleeps).domains.get(DOMAIN)
    assert domain.records("mx")[0].priority == expected


@pytest.mark.parametrize("items", [5, "abc", {"name": DOMAIN}, [5], [None, "x"]])
def test_mailgun_listing_of_the_wrong_shape_is_a_protocol_error(
        items: Any, sleeps: list[float]) -> None:
    """``5`` used to raise TypeError; a string was iterated character by character."""
    responses.add("GET", f"{MG}/v4/domains", json={"items": items, "total_count": 1})
    with pytest.raises(ProtocolError, match="items"):
        list(mailgun(sleeps).domains.list())


def test_mailgun_pool_without_a_pool_id_is_a_protocol_error(sleeps: list[float]) -> None:
    """``_find_pool(...)["pool_id"]`` raised KeyError."""
    broken = {k: v for k, v in MARKETING.items() if k != "pool_id"}
    responses.add("GET", f"{MG}/v3/ip_pools", json=pools_body(broken))
    with pytest.raises(ProtocolError, match="pool_id"):
        mailgun(sleeps).pools.get("marketing")


@pytest.mark.parametrize("pool_id", ["..", "."])
def test_mailgun_pool_id_that_is_a_dot_segment_never_reaches_a_path(
        pool_id: str, sleeps: list[float]) -> None:
    """``DELETE /v3/ip_pools/..`` is sent as ``DELETE /v3/``: another endpoint."""
    responses.add("GET", f"{MG}/v3/ip_pools",
                  json=pools_body(pool("marketing", pool_id, ["1.2.3.4"])))
    with pytest.raises(ProtocolError, match="not an id"):
        mailgun(sleeps).pools.delete("marketing", replacement="shared")
    assert sent("DELETE") == 0


def test_mailgun_pool_ips_that_are_not_ips_are_a_protocol_error(sleeps: list[float]) -> None:
    responses.add("GET", f"{MG}/v3/ip_pools", json=pools_body(
        pool("marketing", "p1", ["1.2.3.4", {"ip": "5.6.7.8"}])))
    with pytest.raises(ProtocolError, match=r"pool ips\[1\]"):
        list(mailgun(sleeps).pools.list())
    responses.replace("GET", f"{MG}/v3/ip_pools", json=POOLS)
    assert [p.name for p in mailgun(sleeps).pools.list()] == ["marketing", "transactional"]


@pytest.mark.parametrize(("start", "expected"), [
    (1409616000, 1409616000), (0, 0), (253402300799, 253402300799), (253402300800, None),
    (1e20, None), (-1, None), ("1409616000", None),
])
def test_sendgrid_warmup_start_out_of_range_is_dropped_not_raised(
        start: Any, expected: int | None, sleeps: list[float]) -> None:
    """``datetime.fromtimestamp(1e20)`` raised OverflowError/ValueError from a read; a start
    that is not a time leaves the warmup's day and cap unknown, the IP still warming."""
    responses.add("GET", f"{SG}/v3/ips", json=[{"ip": "1.2.3.4", "pools": [], "warmup": True,
                                                "start_date": start}])
    acct = espkit.connect("sendgrid", api_key=SG_KEY)
    (w,) = acct.ips.warmups()
    assert w.warming
    assert (None if w.started is None else int(w.started.timestamp())) == expected
    assert (w.stage is None) == (expected is None)


def test_postmark_list_item_without_an_id_is_an_error_not_a_silent_skip(
        sleeps: list[float]) -> None:
    """Items without an integer ID were dropped: the listing came back short, silently."""
    responses.add("GET", f"{PM}/domains", json={"TotalCount": 2, "Domains": [
        {"ID": 1, "Name": "a.example.com"}, {"ID": "2", "Name": "b.example.com"}]})
    with pytest.raises(ProtocolError, match="ID is a string"):
        list(espkit.connect("postmark", api_key=PM_KEY).domains.list())


def test_postmark_error_excerpt_hides_server_tokens(sleeps: list[float]) -> None:
    responses.add("GET", f"{PM}/servers/1", json={"ID": "one", "ApiTokens": ["tok-12345678"]})
    with pytest.raises(ProtocolError) as caught:
        espkit.connect("postmark", api_key=PM_KEY).subaccounts.get("1")
    assert "tok-12345678" not in str(caught.value)


def test_the_key_echoed_in_an_unreadable_answer_is_masked(sleeps: list[float]) -> None:
    responses.add("GET", f"{MG}/v4/domains/{DOMAIN}",
                  json={"domain": {"name": MG_KEY, "note": f"api:{MG_KEY}"}})
    with pytest.raises(ProtocolError) as caught:
        mailgun(sleeps).domains.get(DOMAIN)
    assert MG_KEY not in f"{caught.value}{caught.value!r}{caught.value.excerpt}"


# -- SES: botocore's parser fails untyped on answers of the wrong shape ------------------------


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def ses_answering(body: bytes, status: int = 200) -> espkit.Account:
    import botocore.awsrequest

    session = boto3.Session(aws_access_key_id="AKIADECODING00000000",
                            aws_secret_access_key="decoding-secret", region_name="eu-west-1")
    acct = espkit.connect("ses", session=session)
    acct.provider.client.meta.events.register_first(  # type: ignore[attr-defined]
        "before-send.sesv2.*", lambda request, **_: botocore.awsrequest.AWSResponse(
            request.url, status, {}, _Raw(body)))
    return acct


@pytest.mark.parametrize("body", [
    b'{"DedicatedIps": "abc"}', b'{"DedicatedIps": [1, 2]}', b"[1]",
    b'{"DedicatedIps": [{"Ip": "198.51.100.1", "WarmupPercentage": "x"}]}',
    b'{"DedicatedIps": [{"Ip": "198.51.100.1", "WarmupPercentage": 1e400}]}',
    b"[" * 100_000 + b"]" * 100_000,
])
def test_ses_answer_botocore_cannot_parse_is_a_protocol_error(body: bytes) -> None:
    """AttributeError, ValueError, OverflowError and RecursionError escaped from botocore."""
    with pytest.raises(ProtocolError, match="could not parse"):
        list(ses_answering(body).ips.list())


@pytest.mark.parametrize("body", [b"", b"not json", b"{}", b'{"IdentityType": "EMAIL_ADDRESS"}'])
def test_ses_create_answered_without_a_domain_identity_is_refused(body: bytes) -> None:
    acct = ses_answering(body)
    with pytest.raises(ProtocolError, match="domain identity") as caught:
        acct.provider.create_domain(espkit.DomainSpec(DOMAIN))
    assert caught.value.maybe_applied


# -- the sandbox reads its emulator's answers like any ESP's ------------------------------------


class _Answer(requests.adapters.BaseAdapter):
    def __init__(self, body: Any) -> None:
        super().__init__()
        self.body = body

    def send(self, request: requests.PreparedRequest, *_: Any, **__: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(self.body).encode()
        response.request = request
        return response

    def close(self) -> None:
        pass


@pytest.mark.parametrize("body", [{}, {"name": DOMAIN}, {"name": DOMAIN, "state": "weird"},
                                  {"name": DOMAIN, "state": "verified", "records": [{}]}])
def test_sandbox_answer_missing_fields_is_a_protocol_error(body: Any) -> None:
    """``d["name"]``, ``DomainState(d["state"])``: KeyError and ValueError from a read."""
    acct = espkit.connect("sandbox", path=":memory:")
    acct.provider.transport.session.mount(SANDBOX_URL, _Answer(body))  # type: ignore[attr-defined]
    with pytest.raises(ProtocolError):
        acct.domains.get(DOMAIN)


@pytest.mark.parametrize(("priority", "ok"), [(65535, True), (0, True), (None, True),
                                              (65536, False), (-1, False), (10.5, False)])
def test_sandbox_mx_priority_must_fit_dns(priority: Any, ok: bool) -> None:
    """Found by the fuzzing: 65536 was read as a priority no zone file can hold."""
    record = {"purpose": "mx", "type": "MX", "host": DOMAIN, "value": "mx.example.net",
              "priority": priority, "status": "pending"}
    acct = espkit.connect("sandbox", path=":memory:")
    acct.provider.transport.session.mount(SANDBOX_URL, _Answer(  # type: ignore[attr-defined]
        {"name": DOMAIN, "state": "pending", "records": [record]}))
    if ok:
        assert acct.domains.get(DOMAIN).records("mx")[0].priority == priority
    else:
        with pytest.raises(ProtocolError, match="priority"):
            acct.domains.get(DOMAIN)
