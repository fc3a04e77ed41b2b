"""The request pipeline: timeouts, retries, rate-limit headers, error mapping, safe logging.

The network is mocked with ``responses`` (plus one real local socket for connection refused
and one real local server for urllib3's own logging); espkit itself is never mocked.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
import urllib3.exceptions
from support.backoff import scaled
from support.loopback import Quiet, serving
from support.stepclock import StepClock

import espkit
from espkit import transport as tp
from espkit.credentials import HeaderAuth, Secret
from espkit.errors import (
    AlreadyExists,
    AuthError,
    EspError,
    NotFound,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
)
from espkit.models import Capability, Domain, DomainSpec
from espkit.providers import register
from espkit.providers.base import HttpProvider
from espkit.transport import (
    NO_RETRY,
    ErrorDetail,
    RetryPolicy,
    Transport,
)
from espkit.transport.ratelimit import RateLimiter, RetryBudget

BASE = "https://api.transport-esp.test/v1"
KEY = "tk-live-0123456789abcdef-SECRET"
ENV_KEY = "TRANSPORTESP_API_KEY"


class TransportEsp(HttpProvider):
    """A tiny ESP: bearer key, JSON domains API."""

    name = "transportesp"
    REGIONS = {"us": BASE, "eu": "https://api.eu.transport-esp.test/v1"}  # noqa: RUF012
    ENV_KEYS = (ENV_KEY,)
    SUPPORTS = frozenset({Capability.DOMAINS})
    REQUEST_ID_HEADERS = ("X-Request-Id", "X-Trace-Id")

    @classmethod
    def make_auth(cls, secret: Secret) -> requests.auth.AuthBase:
        return HeaderAuth("Authorization", secret, "Bearer")

    def get_domain(self, name: str) -> Domain:
        r = self.transport.request("GET", f"/domains/{self.seg(name)}")
        return Domain(name=r.body["name"], provider=self.name, raw=r.body)

    def create_domain(self, spec: DomainSpec) -> Domain:
        r = self.transport.request("POST", "/domains", json={"name": spec.name})
        return Domain(name=r.body["name"], provider=self.name, raw=r.body)


@pytest.fixture(autouse=True)
def _test_provider() -> None:
    # per test: conftest restores the registry afterwards, so the CLI never sees it
    register(TransportEsp)


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


#: the wall clock's reading at the step clock's zero in the tests that freeze it
EPOCH = 1_767_225_600.0


@pytest.fixture
def wall(clock: StepClock, monkeypatch: pytest.MonkeyPatch) -> StepClock:
    """The step clock, with the wall clock (``time.time``, which the transport reads per
    call to turn an HTTP date or an epoch reset into seconds from now) moving with it: a
    date the test writes and the one the transport reads it against are the same instant,
    however long the machine takes in between."""
    monkeypatch.setattr(time, "time", lambda: EPOCH + clock.now)
    return clock


def make_transport(
    clock: StepClock,
    *,
    rate: float | None = None,
    retry: RetryPolicy | None = None,
    budget: RetryBudget | None = None,
    base_url: str = BASE,
    **kw: Any,
) -> Transport:
    return Transport(
        "transportesp",
        base_url,
        auth=HeaderAuth("Authorization", Secret(KEY), "Bearer"),
        retry=retry or RetryPolicy(),
        limiter=RateLimiter(rate, clock=clock, sleep=clock.sleep),
        budget=budget,
        sleep=clock.sleep,
        request_id_headers=("X-Request-Id", "X-Trace-Id"),
        **kw,
    )


def http_date(offset: float) -> str:
    return email.utils.formatdate(time.time() + offset, usegmt=True)


@pytest.fixture
def key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ESPKIT_TRANSPORTESP_API_KEY", raising=False)
    monkeypatch.setenv(ENV_KEY, KEY)


# -- timeouts and what is sent -----------------------------------------------------------------


@responses.activate
def test_default_connect_and_read_timeouts_are_passed(key_in_env: None) -> None:
    responses.get(f"{BASE}/domains/example.com", json={"name": "example.com"})
    acct = espkit.connect("transportesp")
    assert acct.domains.get("example.com").name == "example.com"
    assert responses.calls[0].request.req_kwargs["timeout"] == (5.0, 30.0)
    assert tp.DEFAULT_TIMEOUT == (5.0, 30.0)


@responses.activate
def test_custom_timeouts_are_passed(key_in_env: None) -> None:
    responses.get(f"{BASE}/domains/example.com", json={"name": "example.com"})
    acct = espkit.connect("transportesp", timeout=(1.5, 9.0))
    acct.domains.get("example.com")
    assert responses.calls[0].request.req_kwargs["timeout"] == (1.5, 9.0)


@responses.activate
def test_request_is_signed(key_in_env: None) -> None:
    responses.get(f"{BASE}/domains/example.com", json={"name": "example.com"})
    espkit.connect("transportesp").domains.get("example.com")
    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["User-Agent"] == "espkit/0.1"


@responses.activate
def test_redirects_are_not_followed(clock: StepClock) -> None:
    # following a redirect could send the key to another host
    responses.get(f"{BASE}/x", status=302, headers={"Location": "https://elsewhere.test/x"})
    responses.get("https://elsewhere.test/x", json={})
    with pytest.raises(EspError) as info:
        make_transport(clock).request("GET", "/x")
    assert info.value.status == 302
    assert [c.request.url for c in responses.calls] == [f"{BASE}/x"]


@responses.activate
def test_success_response_fields(clock: StepClock) -> None:
    responses.get(f"{BASE}/ok", json={"a": 1}, headers={"X-Trace-Id": "trace-9"})
    responses.get(f"{BASE}/text", body="not json")
    responses.delete(f"{BASE}/empty", status=204)
    t = make_transport(clock)
    r = t.request("get", "/ok", params={"page": 2})
    assert (r.status, r.body, r.request_id) == (200, {"a": 1}, "trace-9")
    assert responses.calls[0].request.url == f"{BASE}/ok?page=2"
    assert t.request("GET", "/text").body is None
    assert t.request("DELETE", "/empty").body is None
    assert t.stats == {"requests": 3, "retries": 0, "throttled": 0}


# -- 429 and server-asked waits ----------------------------------------------------------------


@responses.activate
def test_429_retry_after_delta_seconds(clock: StepClock) -> None:
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "7"})
    responses.get(f"{BASE}/x", json={"ok": True})
    t = make_transport(clock)
    assert t.request("GET", "/x").body == {"ok": True}
    assert clock.slept == [7.0]
    assert len(responses.calls) == 2
    assert t.stats == {"requests": 2, "retries": 1, "throttled": 1}
    assert t.limiter.throttles == 1


@responses.activate
def test_429_retry_after_http_date(wall: StepClock) -> None:
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": http_date(30)})
    responses.get(f"{BASE}/x", json={})
    make_transport(wall).request("GET", "/x")
    assert wall.slept == [30.0]


@pytest.mark.parametrize(
    "reset",
    [
        lambda: str(int(time.time()) + 20),  # epoch seconds
        lambda: str(int((time.time() + 20) * 1000)),  # epoch milliseconds
        lambda: "20",  # delta seconds
    ],
    ids=["epoch-s", "epoch-ms", "delta"],
)
@responses.activate
def test_429_x_ratelimit_reset_forms(wall: StepClock, reset: Any) -> None:
    responses.get(f"{BASE}/x", status=429,
                  headers={"X-RateLimit-Reset": reset(), "X-RateLimit-Remaining": "0"})
    responses.get(f"{BASE}/x", json={})
    make_transport(wall).request("GET", "/x")
    assert wall.slept == [pytest.approx(20.0)]


@responses.activate
def test_429_retry_after_beats_reset_header(clock: StepClock) -> None:
    responses.get(f"{BASE}/x", status=429,
                  headers={"Retry-After": "3", "X-RateLimit-Reset": "50"})
    responses.get(f"{BASE}/x", json={})
    make_transport(clock).request("GET", "/x")
    assert clock.slept == [3.0]


@responses.activate
def test_429_retry_seconds_in_body(clock: StepClock) -> None:
    responses.get(f"{BASE}/x", status=429, json={"message": "slow down", "retry-seconds": 4})
    responses.get(f"{BASE}/x", json={})
    make_transport(clock).request("GET", "/x")
    assert clock.slept == [4.0]


@responses.activate
def test_429_with_an_unreadable_body_hint_backs_off(
    clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "uniform", lambda a, b: b)
    responses.get(f"{BASE}/x", status=429, json={"retry-seconds": "soon"})
    responses.get(f"{BASE}/x", json={})
    make_transport(clock).request("GET", "/x")
    assert clock.slept == scaled([0.5])


@responses.activate
def test_429_without_a_hint_backs_off(clock: StepClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda a, b: b)
    responses.get(f"{BASE}/x", status=429)
    responses.get(f"{BASE}/x", json={})
    make_transport(clock, rate=100.0).request("GET", "/x")
    assert clock.slept[:1] == scaled([0.5])


@responses.activate
def test_429_is_retried_on_post_because_it_was_not_applied(clock: StepClock) -> None:
    responses.post(f"{BASE}/domains", status=429, headers={"Retry-After": "1"})
    responses.post(f"{BASE}/domains", json={"name": "example.com"}, status=201)
    r = make_transport(clock).request("POST", "/domains", json={"name": "example.com"})
    assert r.status == 201
    assert len(responses.calls) == 2


@responses.activate
def test_wait_above_max_retry_after_surfaces_at_once(clock: StepClock) -> None:
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "3600", "X-Request-Id": "r1"},
                  json={"message": "quota exhausted"})
    responses.get(f"{BASE}/y", json={})
    t = make_transport(clock, retry=RetryPolicy(max_retry_after=120))
    with pytest.raises(RateLimited) as info:
        t.request("GET", "/x")
    err = info.value
    assert err.retry_after == 3600.0
    assert err.status == 429
    assert err.request_id == "r1"
    assert "quota exhausted" in str(err)
    assert len(responses.calls) == 1
    assert clock.slept == []
    # "not slept on" holds for the next call too: the limiter is not paused for an hour
    t.request("GET", "/y")
    assert clock.slept == []


@responses.activate
def test_http_date_far_in_the_future_surfaces_at_once(wall: StepClock) -> None:
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": http_date(7200)})
    t = make_transport(wall)
    with pytest.raises(RateLimited) as info:
        t.request("GET", "/x")
    assert info.value.retry_after == 7200
    assert wall.slept == []


@responses.activate
def test_persistent_429_gives_up_after_max_attempts(clock: StepClock) -> None:
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "2"})
    t = make_transport(clock, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(RateLimited) as info:
        t.request("GET", "/x")
    assert info.value.retry_after == 2.0
    assert len(responses.calls) == 3
    assert clock.slept == [2.0, 2.0]
    assert t.stats["throttled"] == 3


# -- 5xx -----------------------------------------------------------------------------------------


@responses.activate
def test_5xx_on_get_retried_with_exponential_backoff_and_full_jitter(
    clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranges: list[tuple[float, float]] = []

    def upper(a: float, b: float) -> float:
        ranges.append((a, b))
        return b

    monkeypatch.setattr(random, "uniform", upper)
    for status in (500, 502, 503, 504):
        responses.get(f"{BASE}/x", status=status)
    responses.get(f"{BASE}/x", json={"ok": 1})
    t = make_transport(clock, retry=RetryPolicy(max_attempts=5, base_delay=0.5))
    assert t.request("GET", "/x").body == {"ok": 1}
    # full jitter: uniform(0, cap) with cap doubling per attempt
    assert [a for a, _ in ranges] == [0, 0, 0, 0]
    assert [b for _, b in ranges] == scaled([0.5, 1.0, 2.0, 4.0])
    assert clock.slept == scaled([0.5, 1.0, 2.0, 4.0])
    assert t.stats["retries"] == 4


@responses.activate
def test_backoff_is_capped_at_max_backoff(
    clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "uniform", lambda a, b: b)
    responses.get(f"{BASE}/x", status=503)
    t = make_transport(clock, retry=RetryPolicy(max_attempts=6, base_delay=1.0, max_backoff=3.0))
    with pytest.raises(ServerError):
        t.request("GET", "/x")
    assert clock.slept == scaled([1.0, 2.0, 3.0, 3.0, 3.0])
    assert len(responses.calls) == 6


@responses.activate
def test_jittered_delays_stay_within_the_caps(clock: StepClock) -> None:
    random.seed(12345)
    responses.get(f"{BASE}/x", status=500)
    t = make_transport(clock, retry=RetryPolicy(max_attempts=8, base_delay=0.5, max_backoff=5.0))
    with pytest.raises(ServerError):
        t.request("GET", "/x")
    caps = [min(5.0, 0.5 * 2**i) for i in range(7)]
    assert len(clock.slept) == 7
    for delay, cap in zip(clock.slept, caps, strict=True):
        assert 0.0 <= delay <= cap
    assert len(set(clock.slept)) > 1  # jittered, not a fixed schedule


@responses.activate
def test_5xx_on_post_is_not_retried_and_maybe_applied(clock: StepClock) -> None:
    responses.post(f"{BASE}/domains", status=503, json={"message": "backend down"})
    t = make_transport(clock)
    with pytest.raises(ServerError) as info:
        t.request("POST", "/domains", json={"name": "example.com"})
    assert info.value.maybe_applied is True
    assert len(responses.calls) == 1
    assert clock.slept == []


@responses.activate
def test_5xx_on_patch_is_not_retried(clock: StepClock) -> None:
    responses.patch(f"{BASE}/x", status=500)
    with pytest.raises(ServerError) as info:
        make_transport(clock).request("PATCH", "/x", json={})
    assert info.value.maybe_applied is True
    assert len(responses.calls) == 1


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@responses.activate
def test_5xx_on_idempotent_writes_is_retried(clock: StepClock, method: str) -> None:
    responses.add(method, f"{BASE}/x", status=502)
    responses.add(method, f"{BASE}/x", json={})
    make_transport(clock).request(method, "/x")
    assert len(responses.calls) == 2


@responses.activate
def test_post_declared_idempotent_is_retried(clock: StepClock) -> None:
    responses.post(f"{BASE}/search", status=500)
    responses.post(f"{BASE}/search", json={"hits": []})
    r = make_transport(clock).request("POST", "/search", json={}, idempotent=True)
    assert r.body == {"hits": []}
    assert len(responses.calls) == 2


@responses.activate
def test_get_declared_non_idempotent_is_not_retried(clock: StepClock) -> None:
    responses.get(f"{BASE}/x", status=500)
    with pytest.raises(ServerError) as info:
        make_transport(clock).request("GET", "/x", idempotent=False)
    assert info.value.maybe_applied is True
    assert len(responses.calls) == 1


# -- network failures ------------------------------------------------------------------------


def _refused(url: str) -> requests.ConnectionError:
    """What requests raises when the TCP connection is refused."""
    reason = urllib3.exceptions.NewConnectionError(
        None,  # type: ignore[arg-type]
        "Failed to establish a new connection: [Errno 111] Connection refused",
    )
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, url, reason))  # type: ignore[arg-type]


def _reset_after_send() -> requests.ConnectionError:
    return requests.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    )


@responses.activate
def test_connect_timeout_on_post_is_retried(clock: StepClock) -> None:
    responses.post(f"{BASE}/domains", body=requests.ConnectTimeout("connect timed out"))
    responses.post(f"{BASE}/domains", json={"name": "example.com"}, status=201)
    t = make_transport(clock)
    assert t.request("POST", "/domains", json={}).status == 201
    assert len(responses.calls) == 2
    assert len(clock.slept) == 1


@responses.activate
def test_connection_refused_on_post_is_retried(clock: StepClock) -> None:
    responses.post(f"{BASE}/domains", body=_refused(f"{BASE}/domains"))
    responses.post(f"{BASE}/domains", body=_refused(f"{BASE}/domains"))
    responses.post(f"{BASE}/domains", json={}, status=201)
    assert make_transport(clock).request("POST", "/domains", json={}).status == 201
    assert len(responses.calls) == 3


@responses.activate
def test_bare_new_connection_error_counts_as_never_sent(clock: StepClock) -> None:
    reason = urllib3.exceptions.NameResolutionError("api.transport-esp.test", None, OSError())  # type: ignore[arg-type]
    responses.post(f"{BASE}/domains", body=requests.ConnectionError(reason))
    responses.post(f"{BASE}/domains", json={}, status=201)
    assert make_transport(clock).request("POST", "/domains", json={}).status == 201
    assert len(responses.calls) == 2


@responses.activate
def test_connection_refused_gives_up_as_never_applied(clock: StepClock) -> None:
    responses.post(f"{BASE}/domains", body=_refused(f"{BASE}/domains"))
    t = make_transport(clock, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(TransportError) as info:
        t.request("POST", "/domains", json={})
    err = info.value
    assert err.maybe_applied is False
    assert "connection failed" in str(err)
    assert "may have been applied" not in str(err)
    assert len(responses.calls) == 3


def test_real_connection_refused_is_recognised_as_never_sent(clock: StepClock) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # nothing listens on ``port`` now: the kernel refuses the connection
    t = make_transport(clock, base_url=f"http://127.0.0.1:{port}", retry=RetryPolicy(3))
    with pytest.raises(TransportError) as info:
        t.request("POST", "/domains", json={})
    assert info.value.maybe_applied is False
    assert t.stats["requests"] == 3  # retried although a POST: it never reached the ESP


@responses.activate
def test_read_timeout_on_post_is_not_retried_and_maybe_applied(clock: StepClock) -> None:
    responses.post(f"{BASE}/domains", body=requests.ReadTimeout("read timed out"))
    t = make_transport(clock)
    with pytest.raises(TransportError) as info:
        t.request("POST", "/domains", json={})
    err = info.value
    assert err.maybe_applied is True
    assert "timed out" in str(err)
    assert "may have been applied" in str(err)
    assert (err.method, err.url) == ("POST", f"{BASE}/domains")
    assert len(responses.calls) == 1
    assert clock.slept == []


@responses.activate
def test_reset_after_send_on_post_is_not_retried(clock: StepClock) -> None:
    responses.post(f"{BASE}/domains", body=_reset_after_send())
    with pytest.raises(TransportError) as info:
        make_transport(clock).request("POST", "/domains", json={})
    assert info.value.maybe_applied is True
    assert len(responses.calls) == 1


@responses.activate
def test_read_timeout_on_get_is_retried_and_costs_the_timeout_price(clock: StepClock) -> None:
    responses.get(f"{BASE}/x", body=requests.ReadTimeout("read timed out"))
    responses.get(f"{BASE}/x", json={})
    budget = RetryBudget(capacity=100, retry_cost=5, timeout_cost=10)
    make_transport(clock, budget=budget).request("GET", "/x")
    assert len(responses.calls) == 2
    assert budget.available == 100 - 10 + 1  # spent on the retry, one back for the success


# -- retry budget ------------------------------------------------------------------------------


@responses.activate
def test_exhausted_retry_budget_stops_retrying(
    clock: StepClock, caplog: pytest.LogCaptureFixture
) -> None:
    responses.get(f"{BASE}/x", status=500)
    budget = RetryBudget(capacity=10, retry_cost=5)
    t = make_transport(clock, budget=budget, retry=RetryPolicy(max_attempts=10))
    with caplog.at_level(logging.WARNING, logger="espkit.http"), pytest.raises(ServerError):
        t.request("GET", "/x")
    assert len(responses.calls) == 3  # two affordable retries, then the error surfaces
    assert budget.available == 0
    assert "retry budget exhausted" in caplog.text
    # the next failing request is not retried at all
    with pytest.raises(ServerError):
        t.request("GET", "/x")
    assert len(responses.calls) == 4


@responses.activate
def test_budget_pays_only_for_retries_that_happen(
    clock: StepClock, caplog: pytest.LogCaptureFixture
) -> None:
    responses.get(f"{BASE}/x", status=500)
    budget = RetryBudget(capacity=100, retry_cost=5)
    t = make_transport(clock, budget=budget, retry=RetryPolicy(max_attempts=3))
    with caplog.at_level(logging.WARNING, logger="espkit.http"), pytest.raises(ServerError):
        t.request("GET", "/x")
    assert len(responses.calls) == 3
    assert t.stats["retries"] == 2
    assert budget.available == 100 - 2 * 5  # the last attempt is not charged a retry
    assert "budget" not in caplog.text


@responses.activate
def test_single_attempt_policy_never_touches_the_budget(clock: StepClock) -> None:
    responses.get(f"{BASE}/x", status=503)
    budget = RetryBudget(capacity=5, retry_cost=5)
    with pytest.raises(ServerError):
        make_transport(clock, budget=budget, retry=NO_RETRY).request("GET", "/x")
    assert budget.available == 5


@responses.activate
def test_retry_budget_is_shared_by_scoped_copies(clock: StepClock) -> None:
    responses.get(f"{BASE}/x", status=500)
    budget = RetryBudget(capacity=5, retry_cost=5)
    t = make_transport(clock, budget=budget)
    with pytest.raises(ServerError):
        t.scoped({"X-Sub": "a"}).request("GET", "/x")
    assert len(responses.calls) == 2
    with pytest.raises(ServerError):
        t.request("GET", "/x")
    assert len(responses.calls) == 3  # nothing left for the parent either


# -- error mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls", "kind"),
    [
        (400, Rejected, "rejected"),
        (401, AuthError, "authentication failed"),
        (403, AuthError, "authentication failed"),
        (404, NotFound, "not found"),
        (409, AlreadyExists, "already exists"),
        (422, Rejected, "rejected"),
        (500, ServerError, "server error"),
        (503, ServerError, "server error"),
    ],
)
@responses.activate
def test_error_mapping_per_status(
    clock: StepClock, status: int, cls: type[EspError], kind: str
) -> None:
    responses.get(
        f"{BASE}/domains/example.com", status=status,
        json={"message": f"ESP says {status}"}, headers={"X-Request-Id": f"req-{status}"},
    )
    t = make_transport(clock, retry=NO_RETRY)
    with pytest.raises(EspError) as info:
        t.request("GET", "/domains/example.com")
    err = info.value
    assert type(err) is cls
    assert err.provider == "transportesp"
    assert err.status == status
    assert err.method == "GET"
    assert err.url == f"{BASE}/domains/example.com"
    assert err.request_id == f"req-{status}"
    assert err.message == f"ESP says {status}"
    assert err.maybe_applied is False
    assert err.body == {"message": f"ESP says {status}"}
    text = str(err)
    for part in ("transportesp", str(status), kind, f"ESP says {status}", "GET",
                 f"{BASE}/domains/example.com", f"req-{status}"):
        assert part in text
    assert KEY not in text
    assert KEY not in repr(err)


@pytest.mark.parametrize(
    ("kwargs", "message", "code"),
    [
        ({"json": {"error": {"message": "bad name", "code": "E_NAME"}}}, "bad name", "E_NAME"),
        ({"json": {"errors": [{"description": "too long", "code": 7}]}}, "too long", "7"),
        ({"json": {"errors": [{"message": "m1"}, {"message": "m2"}]}}, "m1", None),
        ({"json": {"Message": "AWS style"}}, "AWS style", None),
        ({"json": {"detail": "problem+json"}}, "problem+json", None),
        ({"json": {"error": {"no": "message"}, "other": 1}},
         '{"error": {"no": "message"}, "other": 1}', None),
        ({"body": "  plain text failure  "}, "plain text failure", None),
        ({"body": ""}, "Unprocessable Entity", None),
    ],
)
@responses.activate
def test_default_error_parser_finds_the_esp_message(
    clock: StepClock, kwargs: dict[str, Any], message: str, code: str | None
) -> None:
    responses.post(f"{BASE}/x", status=422, **kwargs)
    with pytest.raises(Rejected) as info:
        make_transport(clock).request("POST", "/x")
    assert info.value.message == message
    assert info.value.code == code


@responses.activate
def test_provider_error_parser_can_override_the_class(clock: StepClock) -> None:
    def parse(response: requests.Response, body: Any) -> ErrorDetail:
        if "exists" in body.get("message", ""):
            return ErrorDetail(body["message"], error_class=AlreadyExists)
        return tp.default_error_parser(response, body)

    responses.post(f"{BASE}/domains", status=400, json={"message": "domain already exists"})
    with pytest.raises(AlreadyExists) as info:
        make_transport(clock, parse_error=parse).request("POST", "/domains", json={})
    assert info.value.status == 400


@responses.activate
def test_request_id_from_the_second_header_name(clock: StepClock) -> None:
    responses.get(f"{BASE}/x", status=404, headers={"X-Trace-Id": "trace-1"})
    with pytest.raises(NotFound) as info:
        make_transport(clock).request("GET", "/x")
    assert info.value.request_id == "trace-1"
    assert "[request id trace-1]" in str(info.value)


@responses.activate
def test_errors_and_urls_never_carry_secret_query_values(clock: StepClock) -> None:
    responses.get(f"{BASE}/x", status=400, json={"message": "nope"})
    with pytest.raises(Rejected) as info:
        make_transport(clock).request("GET", "/x", params={"api_key": "qs-secret-1", "page": "2"})
    assert "qs-secret-1" not in str(info.value)
    assert "qs-secret-1" not in repr(info.value)


@responses.activate
def test_a_given_session_is_used_as_is(clock: StepClock) -> None:
    responses.get(f"{BASE}/x", json={})
    session = requests.Session()
    session.headers["User-Agent"] = "my-app/2"
    t = make_transport(clock, session=session)
    assert t.session is session
    t.request("GET", "/x")
    assert responses.calls[0].request.headers["User-Agent"] == "my-app/2"


def test_transport_repr_hides_userinfo(clock: StepClock) -> None:
    t = make_transport(clock, base_url="https://api:hunter2@api.transport-esp.test/v1/")
    assert "hunter2" not in repr(t)
    assert repr(t) == "Transport('transportesp', 'https://api.transport-esp.test/v1')"


# -- X-RateLimit-Remaining ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "reset", [lambda: "7", lambda: str(time.time() + 7)], ids=["delta", "epoch"]
)
@responses.activate
def test_remaining_zero_pauses_the_limiter_until_reset(wall: StepClock, reset: Any) -> None:
    responses.get(f"{BASE}/a", json={},
                  headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset()})
    responses.get(f"{BASE}/b", json={})
    t = make_transport(wall)
    t.request("GET", "/a")
    assert wall.slept == []
    t.request("GET", "/b")  # held by the limiter until the window resets
    assert wall.slept == [pytest.approx(7.0)]


# -- learning the limit from X-RateLimit-Limit / -Reset ---------------------------------------


@responses.activate
def test_an_unknown_limit_is_learnt_from_rate_limit_headers(clock: StepClock) -> None:
    # 120 requests per 60 s window; the first answer comes mid-window (30 s left)
    for left in ("30", "60", "45"):
        responses.get(f"{BASE}/a", json={},
                      headers={"X-RateLimit-Limit": "120", "X-RateLimit-Reset": left})
    t = make_transport(clock)
    assert t.limiter.ceiling is None
    t.request("GET", "/a")
    assert t.limiter.ceiling == pytest.approx(4.0)  # 120 / 30: an over-estimate, harmless
    t.request("GET", "/a")
    assert t.limiter.ceiling == pytest.approx(2.0)  # the longest window seen: the true rate
    t.request("GET", "/a")
    assert t.limiter.ceiling == pytest.approx(2.0)  # a shorter time-to-reset teaches nothing
    assert t.limiter.rate == pytest.approx(2.0)
    clock.slept.clear()
    responses.get(f"{BASE}/b", json={})
    for _ in range(3):
        t.request("GET", "/b")
    assert len(clock.slept) >= 2
    assert all(s == pytest.approx(0.5, abs=0.01) for s in clock.slept)  # paced at 2/s


@pytest.mark.parametrize(("documented", "headers", "expected"), [
    (5.0, {"X-RateLimit-Limit": "600", "X-RateLimit-Reset": "60"}, 5.0),  # higher: kept
    (5.0, {"X-RateLimit-Limit": "60", "X-RateLimit-Reset": "60"}, 1.0),  # lower: obeyed
    (None, {"X-RateLimit-Limit": "10000", "X-RateLimit-Reset": "86400"}, None),  # daily quota
    (None, {"X-RateLimit-Limit": "abc", "X-RateLimit-Reset": "60"}, None),
    (None, {"X-RateLimit-Limit": "100"}, None),
])
@responses.activate
def test_rate_limit_headers_only_ever_lower_the_ceiling(
    clock: StepClock, documented: float | None, headers: dict[str, str], expected: float | None,
) -> None:
    responses.get(f"{BASE}/a", json={}, headers=headers)
    t = make_transport(clock, rate=documented)
    t.request("GET", "/a")
    assert t.limiter.ceiling == expected


@responses.activate
def test_remaining_zero_with_a_reset_beyond_max_retry_after_does_not_block(
    clock: StepClock,
) -> None:
    # An exhausted hourly quota: espkit must not silently hold the next call for an hour
    # (max_retry_after says such waits are surfaced, not slept on); the ESP's 429 surfaces.
    responses.get(f"{BASE}/a", json={},
                  headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3600"})
    responses.get(f"{BASE}/b", status=429, headers={"Retry-After": "3599"})
    t = make_transport(clock, retry=RetryPolicy(max_retry_after=120))
    t.request("GET", "/a")
    with pytest.raises(RateLimited) as info:
        t.request("GET", "/b")
    assert info.value.retry_after == 3599.0
    assert clock.slept == []


@pytest.mark.parametrize(
    "headers",
    [
        {"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "7"},
        {"X-RateLimit-Remaining": "0"},
        {"X-RateLimit-Remaining": "lots", "X-RateLimit-Reset": "7"},
        {"X-RateLimit-Reset": "7"},
    ],
)
@responses.activate
def test_remaining_headers_that_do_not_pause(clock: StepClock, headers: dict[str, str]) -> None:
    responses.get(f"{BASE}/a", json={}, headers=headers)
    responses.get(f"{BASE}/b", json={})
    t = make_transport(clock)
    t.request("GET", "/a")
    t.request("GET", "/b")
    assert clock.slept == []


# -- scoped transports -------------------------------------------------------------------------


@responses.activate
def test_scoped_adds_headers_and_shares_limiter_budget_and_stats(clock: StepClock) -> None:
    responses.get(f"{BASE}/x", json={})
    t = make_transport(clock, headers={"X-Base": "1"})
    sub = t.scoped({"X-Subaccount": "sub-1"})
    sub.request("GET", "/x", headers={"X-Call": "c"})
    t.request("GET", "/x")
    first, second = (c.request.headers for c in responses.calls)
    assert (first["X-Base"], first["X-Subaccount"], first["X-Call"]) == ("1", "sub-1", "c")
    assert second["X-Base"] == "1"
    assert "X-Subaccount" not in second
    assert sub.limiter is t.limiter
    assert sub.budget is t.budget
    assert sub.session is t.session
    assert sub.stats is t.stats
    assert t.stats["requests"] == 2


@responses.activate
def test_scoped_overrides_a_header_only_for_itself(clock: StepClock) -> None:
    responses.get(f"{BASE}/x", json={})
    t = make_transport(clock, headers={"X-Sub": "parent"})
    t.scoped({"X-Sub": "child"}).request("GET", "/x")
    t.request("GET", "/x")
    assert [c.request.headers["X-Sub"] for c in responses.calls] == ["child", "parent"]


@responses.activate
def test_throttle_through_a_scoped_copy_paces_the_parent(clock: StepClock) -> None:
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "5"})
    responses.get(f"{BASE}/y", json={})
    t = make_transport(clock, retry=NO_RETRY)
    with pytest.raises(RateLimited):
        t.scoped({"X-Sub": "a"}).request("GET", "/x")
    t.request("GET", "/y")
    assert clock.slept == [5.0]


# -- logging -----------------------------------------------------------------------------------


def _all_log_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = []
    for rec in caplog.records:
        parts.append(rec.getMessage())
        parts.append(repr(rec.args))
        parts.append(rec.exc_text or "")
    return "\n".join(parts)


@responses.activate
def test_debug_logs_method_path_status_latency_and_retry_reasons_never_the_key(
    key_in_env: None, caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    responses.get(f"{BASE}/domains/example.com", status=503, json={"message": "busy"})
    responses.get(f"{BASE}/domains/example.com", json={"name": "example.com"})
    responses.get(f"{BASE}/domains/missing.com", status=401, json={"message": "bad key"})
    acct = espkit.connect("transportesp")
    acct.domains.get("example.com")
    with pytest.raises(AuthError) as info:
        acct.domains.get("missing.com")
    text = _all_log_text(caplog)
    assert re.search(
        r"GET https://api\.transport-esp\.test/v1/domains/example\.com -> 503 in \d+\.\d ms", text)
    assert re.search(r"GET \S+/domains/example\.com -> 200 in \d+\.\d ms", text)
    assert re.search(r"GET \S+/domains/missing\.com -> 401 in \d+\.\d ms", text)
    assert re.search(r"retry 1/4 in \d+\.\d\d s after transportesp 503 server error: busy", text)
    assert len(sleeps) == 1
    for leaked in (KEY, "Bearer", "Authorization"):
        assert leaked not in text
        assert leaked not in caplog.text
    assert KEY not in str(info.value)
    assert KEY not in repr(acct)
    assert KEY not in repr(acct.provider)


@responses.activate
def test_transport_failures_are_logged_without_the_key(
    clock: StepClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    responses.get(f"{BASE}/x", body=requests.ReadTimeout(f"read timeout, key was {KEY}"))
    responses.get(f"{BASE}/x", json={})
    make_transport(clock).request("GET", "/x", params={"token": "qs-token"})
    text = _all_log_text(caplog)
    assert re.search(r"GET \S+/x -> timed out after \d+\.\d ms", text)
    assert re.search(r"GET \S+/x\?token=\*\*\* -> 200 in \d+\.\d ms", text)
    assert "retry 1/4" in text
    assert "timed out: ReadTimeout" in text
    assert KEY not in text
    assert "qs-token" not in text


class _Handler(Quiet):
    def do_GET(self) -> None:
        self.reply(200, json.dumps({"name": "example.com"}).encode())


@pytest.fixture
def local_esp() -> Iterator[str]:
    with serving(_Handler) as url:
        yield f"{url}/v1"


def test_real_http_logging_including_urllib3_never_shows_the_key(
    local_esp: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ESPKIT_TRANSPORTESP_API_KEY", raising=False)
    monkeypatch.delenv(ENV_KEY, raising=False)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    with espkit.connect("transportesp", api_key=KEY, base_url=local_esp) as acct:
        assert acct.domains.get("example.com").name == "example.com"
    loggers = {rec.name for rec in caplog.records}
    assert "espkit.http" in loggers
    assert any(name.startswith("urllib3") for name in loggers)  # really captured
    text = _all_log_text(caplog)
    assert "/v1/domains/example.com" in text
    for leaked in (KEY, "Bearer", "Authorization"):
        assert leaked not in text


@responses.activate
def test_delete_that_landed_before_a_timeout_is_reported_as_done(clock: StepClock) -> None:
    responses.delete(f"{BASE}/things/a", body=requests.ReadTimeout("read timed out"))
    responses.delete(f"{BASE}/things/a", status=404, json={"message": "not found"})
    r = make_transport(clock).request("DELETE", "/things/a")
    assert r.status == 404
    assert len(responses.calls) == 2


@responses.activate
def test_delete_after_a_5xx_then_404_is_done_but_a_plain_404_is_not(clock: StepClock) -> None:
    responses.delete(f"{BASE}/things/b", status=503)
    responses.delete(f"{BASE}/things/b", status=404)
    make_transport(clock).request("DELETE", "/things/b")
    responses.delete(f"{BASE}/things/c", status=404, json={"message": "no such thing"})
    with pytest.raises(NotFound, match="no such thing"):
        make_transport(clock).request("DELETE", "/things/c")


@responses.activate
def test_get_404_after_a_timeout_is_still_not_found(clock: StepClock) -> None:
    responses.get(f"{BASE}/things/d", body=requests.ReadTimeout("read timed out"))
    responses.get(f"{BASE}/things/d", status=404)
    with pytest.raises(NotFound):
        make_transport(clock).request("GET", "/things/d")


# -- environment read once; threads backing off are counted ------------------------------------


def test_proxy_and_ca_bundle_are_read_from_the_environment_once(
    monkeypatch: pytest.MonkeyPatch, clock: StepClock,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/corp-ca.pem")
    t = make_transport(clock)
    assert t.session.proxies["https"] == "http://proxy.internal:3128"
    assert t.session.verify == "/etc/corp-ca.pem"
    assert t.session.trust_env is False  # requests no longer re-reads them per call
    monkeypatch.setenv("NO_PROXY", "api.transport-esp.test")
    assert "https" not in make_transport(clock).session.proxies  # bypassed host: direct


@responses.activate
def test_threads_sleeping_between_retries_are_counted(clock: StepClock) -> None:
    seen: list[int] = []
    t = make_transport(clock)
    t.runner._sleep = lambda s: seen.append(t.runner.backing_off)
    responses.get(f"{BASE}/a", status=503)
    responses.get(f"{BASE}/a", json={})
    t.request("GET", "/a")
    assert seen == [1]
    assert t.runner.backing_off == 0


# -- an ESP's error text is scrubbed and bounded; a parser's trouble is not the caller's -------


@responses.activate
def test_an_error_parser_that_fails_on_a_hostile_body_falls_back_to_the_default(
    clock: StepClock, caplog: pytest.LogCaptureFixture
) -> None:
    def fragile(response: requests.Response, body: Any) -> ErrorDetail:
        return ErrorDetail(body["errors"][0]["message"])  # KeyError on anything else

    responses.get(f"{BASE}/x", status=422, json={"message": f"no: Bearer {KEY}"})
    with caplog.at_level(logging.WARNING, logger="espkit.http"), \
            pytest.raises(Rejected) as info:
        make_transport(clock, parse_error=fragile).request("GET", "/x")
    assert info.value.message == "no: ***"  # the whole header value it echoed
    assert "error parser failed on a 422 answer (KeyError)" in caplog.text


@responses.activate
def test_a_provider_message_echoing_the_key_is_scrubbed(clock: StepClock) -> None:
    def echo(response: requests.Response, body: Any) -> ErrorDetail:
        return ErrorDetail(f"key {KEY} refused", code=f"code-{KEY}")

    responses.post(f"{BASE}/x", status=401, json={"echo": KEY},
                   headers={"X-Request-Id": "rid\x1b[2J" + "r" * 500})
    with pytest.raises(AuthError) as info:
        make_transport(clock, parse_error=echo).request("POST", "/x", json={})
    err = info.value
    assert err.message == "key *** refused"
    assert err.code == "code-***"
    assert err.body == {"echo": "***"}
    assert err.request_id is not None
    assert len(err.request_id) <= 200
    assert "\x1b" not in err.request_id
    assert KEY not in str(err) + repr(err) + repr(err.body)


@pytest.mark.parametrize("bad", ["k\u00e9y", "a\r\nX-Injected: 1", "\u0661\u0662", " 42", ""])
def test_a_scoped_header_value_must_be_printable_ascii(bad: str) -> None:
    """A subaccount id goes into a header: anything HTTP cannot carry as it is refused when
    the scoped transport is made, so no request can be sent with it."""
    t = Transport("demo", "https://api.example.com", retry=NO_RETRY)
    with pytest.raises(espkit.ValidationError) as info:
        t.scoped({"On-Behalf-Of": bad})
    assert info.value.field == "On-Behalf-Of"
    with responses.RequestsMock() as mock:
        mock.add("GET", "https://api.example.com/v1/x", json={})
        t.scoped({"On-Behalf-Of": "customer-42"}).request("GET", "/v1/x")
        assert mock.calls[0].request.headers["On-Behalf-Of"] == "customer-42"
