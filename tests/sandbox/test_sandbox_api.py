"""The sandbox ESP's HTTP API itself, below espkit's client: statuses, error bodies, scoping,
pagination and rate-limit headers, as a client written from scratch would see them."""

from __future__ import annotations

import base64
import email.utils
import json
import socket
from typing import Any

import pytest

import espkit
from espkit.sandbox import MAX_PAGE, SCOPE_HEADER, Emulator, FakeClock
from espkit.sandbox.records import dkim_public_key

Answer = tuple[int, Any, dict[str, str]]


@pytest.fixture
def em() -> Emulator:
    return Emulator(":memory:", clock=FakeClock())


def call(em: Emulator, method: str, path: str, body: Any = None, *, query: str = "",
         key: str | None = "k", raw: bytes | None = None, **headers: str) -> Answer:
    sent = {"Authorization": f"Bearer {key}"} if key is not None else {}
    sent.update({k.replace("_", "-"): v for k, v in headers.items()})
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    reply = em.exchange(method, path, query, sent, data)
    return reply.status, json.loads(reply.body) if reply.body else None, reply.headers


def error_code(answer: Answer) -> tuple[int, str]:
    status, body, _ = answer
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    return status, body["error"]["code"]


def test_create_and_read(em: Emulator) -> None:
    status, body, headers = call(em, "POST", "/v1/domains", {"name": "News.Acme.Example"})
    assert status == 201
    assert body["name"] == "news.acme.example"  # canonicalised
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Request-Id"].startswith("req-")
    status, again, _ = call(em, "GET", "/v1/domains/news.acme.example")
    assert (status, again) == (200, body)


def test_auth(em: Emulator) -> None:
    assert error_code(call(em, "GET", "/v1/domains", key=None)) == (401, "unauthorized")
    assert error_code(call(em, "GET", "/v1/domains", key="")) == (401, "unauthorized")
    em.revoke_key("old")
    assert error_code(call(em, "GET", "/v1/domains", key="old")) == (401, "unauthorized")
    assert call(em, "GET", "/v1/domains", key="new")[0] == 200


@pytest.mark.parametrize(("method", "path", "body", "expected"), [
    ("GET", "/v2/domains", None, (404, "not_found")),
    ("PATCH", "/v1/domains", None, (405, "method_not_allowed")),
    ("GET", "/v1/domains/nope.example", None, (404, "not_found")),
    ("POST", "/v1/domains", {"name": "a.example", "colour": "red"}, (400, "invalid_request")),
    ("POST", "/v1/domains", ["a.example"], (400, "invalid_request")),
    ("POST", "/v1/domains", {"name": "bad/name"}, (400, "invalid_request")),
    ("POST", "/v1/domains", {"name": "a.example", "dkim_key_size": 512},
     (400, "invalid_request")),
    ("POST", "/v1/domains", {"name": "a.example", "wildcard": 1}, (400, "invalid_request")),
    ("POST", "/v1/domains", {"name": "a.example", "pool": "p", "ips": ["198.51.100.1"]},
     (400, "invalid_request")),
    ("POST", "/v1/pools", {"name": "p", "description": 5}, (400, "invalid_request")),
    ("POST", "/v1/pools", {"name": "p", "ips": ["192.0.2.1"]}, (404, "not_found")),
    ("GET", "/v1/ips/not-an-ip", None, (400, "invalid_request")),
    ("PUT", "/v1/domains/a.example/assignments/cluster/x", None, (404, "not_found")),
    ("PUT", "/v1/subaccounts/sub_x/status", {"enabled": "yes"}, (400, "invalid_request")),
])
def test_errors(em: Emulator, method: str, path: str, body: Any,
                expected: tuple[int, str]) -> None:
    call(em, "POST", "/v1/domains", {"name": "a.example"})
    assert error_code(call(em, method, path, body)) == expected


def test_invalid_json(em: Emulator) -> None:
    answer = call(em, "POST", "/v1/domains", raw=b"{not json")
    assert error_code(answer) == (400, "invalid_request")


def test_conflicts(em: Emulator) -> None:
    call(em, "POST", "/v1/domains", {"name": "a.example"})
    assert error_code(call(em, "POST", "/v1/domains", {"name": "a.example"})) == (
        409, "already_exists")
    call(em, "POST", "/v1/pools", {"name": "p", "ips": ["198.51.100.1"]})
    call(em, "PUT", "/v1/domains/a.example/assignments/pool/p")
    assert error_code(call(em, "DELETE", "/v1/pools/p")) == (409, "conflict")
    assert error_code(call(em, "DELETE", "/v1/pools/p", query="replacement=p")) == (
        400, "invalid_request")
    assert error_code(call(em, "PUT", "/v1/domains/a.example/assignments/ip/198.51.100.2")) \
        == (409, "conflict")


def test_percent_encoded_segments(em: Emulator) -> None:
    status, body, _ = call(em, "GET", "/v1/ips/2001%3Adb8%3A%3A10")
    assert (status, body["address"]) == (200, "2001:db8::10")


def test_pagination(em: Emulator) -> None:
    for i in range(7):
        call(em, "POST", "/v1/domains", {"name": f"d{i}.example"})
    seen: list[str] = []
    query = "limit=3"
    while True:
        status, body, _ = call(em, "GET", "/v1/domains", query=query)
        assert status == 200
        assert len(body["items"]) <= 3
        seen += [d["name"] for d in body["items"]]
        if body["next_cursor"] is None:
            break
        query = f"limit=3&cursor={body['next_cursor']}"
    assert seen == [f"d{i}.example" for i in range(7)]
    for bad in ("limit=0", f"limit={MAX_PAGE + 1}", "limit=x", "cursor=%%%"):
        assert error_code(call(em, "GET", "/v1/domains", query=bad)) == (400, "invalid_request")
    assert call(em, "GET", "/v1/domains", query=f"limit={MAX_PAGE}")[0] == 200


def test_scoping(em: Emulator) -> None:
    _, sub, _ = call(em, "POST", "/v1/subaccounts", {"name": "customer-1"})
    scope = {SCOPE_HEADER.replace("-", "_"): sub["id"]}
    assert call(em, "POST", "/v1/domains", {"name": "a.example"}, **scope)[0] == 201
    assert call(em, "GET", "/v1/domains/a.example")[0] == 404
    assert call(em, "GET", "/v1/domains/a.example", **scope)[1]["subaccount"] == sub["id"]
    assert error_code(call(em, "GET", "/v1/subaccounts", **scope)) == (403, "forbidden")
    assert error_code(call(em, "GET", "/v1/domains", X_On_Behalf_Of="sub_nope")) == (
        404, "not_found")
    call(em, "PUT", f"/v1/subaccounts/{sub['id']}/status", {"enabled": False})
    assert error_code(call(em, "GET", "/v1/domains", **scope)) == (403, "forbidden")


def test_rate_limit_headers_and_retry_after_forms() -> None:
    clock = FakeClock()
    em = Emulator(":memory:", rate_limit=3, clock=clock)
    remaining = []
    for _ in range(3):
        status, _, headers = call(em, "GET", "/v1/ips")
        assert status == 200
        assert headers["X-RateLimit-Limit"] == "3"
        remaining.append(headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    assert headers["X-RateLimit-Reset"] == "1"

    first = call(em, "GET", "/v1/ips")
    assert error_code(first) == (429, "rate_limited")
    assert first[2]["Retry-After"] == "1"  # delta-seconds
    second = call(em, "GET", "/v1/ips")
    date = email.utils.parsedate_to_datetime(second[2]["Retry-After"])  # an HTTP-date
    assert date.tzinfo is not None
    assert second[2]["X-RateLimit-Remaining"] == "0"

    clock.advance(1 / 3)
    assert call(em, "GET", "/v1/ips")[0] == 200


def test_injected_faults_match_method_and_path_glob(em: Emulator) -> None:
    em.inject("503", method="get", path="/v1/pools/*", times=2)
    assert call(em, "GET", "/v1/pools")[0] == 200  # the glob needs a segment
    assert call(em, "POST", "/v1/pools", {"name": "p"})[0] == 201
    assert error_code(call(em, "GET", "/v1/pools/p")) == (503, "unavailable")
    assert call(em, "GET", "/v1/pools/p")[0] == 503
    assert call(em, "GET", "/v1/pools/p")[0] == 200
    assert [o for _, _, o in em.history] == [200, 201, 503, 503, 200]


def _der_total_length(der: bytes) -> int:
    if der[1] < 0x80:
        return 2 + der[1]
    n = der[1] & 0x7F
    return 2 + n + int.from_bytes(der[2:2 + n], "big")


def test_dkim_keys_are_well_formed_and_deterministic() -> None:
    for bits, size in ((1024, 162), (2048, 294)):
        der = base64.b64decode(dkim_public_key("a.example", "s1", bits))
        assert len(der) == size
        assert der[0] == 0x30  # a DER SEQUENCE spanning the whole key
        assert _der_total_length(der) == size
        assert der.endswith(bytes.fromhex("0203010001"))  # exponent 65537
    assert dkim_public_key("a.example", "s1", 2048) == dkim_public_key("a.example", "s1", 2048)
    assert dkim_public_key("a.example", "s1", 2048) != dkim_public_key("a.example", "s2", 2048)
    assert dkim_public_key("a.example", "s1", 2048) != dkim_public_key("b.example", "s1", 2048)


def test_no_socket_is_ever_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the sandbox opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    with espkit.connect("sandbox", path=":memory:") as acct:
        acct.domains.create("a.example.com")
        assert acct.domains.verify("a.example.com").verified


@pytest.mark.parametrize("bits", [1024, 2048])
def test_dkim_keys_load_as_rsa_keys(bits: int) -> None:
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    key = serialization.load_der_public_key(
        base64.b64decode(dkim_public_key("a.example", "s1", bits)))
    assert key.key_size == bits
    assert key.public_numbers().e == 65537
