"""``Transport`` pinned where mutation testing found it loose (scripts/mutation.py
transport): a transport re-pointed at another host (``rebased``, e.g. Mailgun's EU region)
keeps every setting of the original; a body's ``retry-seconds`` is read as a bounded,
finite, non-negative number; ``should_retry`` and ``retry_delay`` reach the retry runner.

The wire is ``responses``; every wait runs on a step clock, so nothing sleeps for real.
"""

from __future__ import annotations

import io
import json
import logging
import math
import random
import socket
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import pytest
import requests
import responses
import tenacity
import urllib3.exceptions
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict
from support.stepclock import StepClock

from espkit.credentials import HeaderAuth, Secret
from espkit.errors import (
    AlreadyExists,
    ConfigError,
    DeadlineExceeded,
    EspError,
    NotFound,
    RateLimited,
    Rejected,
    ResponseTooLarge,
    ServerError,
    TransportError,
)
from espkit.transport import NO_RETRY, ErrorDetail, HttpResponse, RetryPolicy, Transport
from espkit.transport import deadline as deadline_module
from espkit.transport import http as http_module
from espkit.transport.ratelimit import RateLimiter, RetryBudget
from espkit.transport.redaction import ELIDED
from espkit.transport.retry import MAX_HINT

US = "https://api.mutants-esp.test/v3"
EU = "https://api.eu.mutants-esp.test/v3"
KEY = "mk-live-0123456789abcdef-SECRET"


def _parser(response: requests.Response, body: Any) -> ErrorDetail:
    """A provider's own parser: its message and class must survive the re-pointing."""
    return ErrorDetail(message=f"parsed by the provider: {response.status_code}",
                       code="P1", error_class=AlreadyExists)


def _transport(clock: StepClock, **kw: Any) -> Transport:
    settings_: dict[str, Any] = {
        "auth": HeaderAuth("Authorization", Secret(KEY), "Bearer"),
        "headers": {"X-Scope": "sub-7"},
        "retry": NO_RETRY,
        "limiter": RateLimiter(None, clock=clock, sleep=clock.sleep),
        "sleep": clock.sleep,
    }
    settings_.update(kw)
    return Transport("mutantsesp", US, **settings_)


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


# -- rebased: another host, the same account and settings -------------------------------------


@responses.activate
def test_rebased_sends_to_the_new_host_as_the_same_account(clock: StepClock) -> None:
    responses.get(f"{EU}/domains", json={"items": []})
    t = _transport(clock)
    eu = t.rebased(EU + "/")
    assert eu.base_url == EU
    assert eu.provider == "mutantsesp"
    assert repr(eu) == f"Transport('mutantsesp', {EU!r})"
    r = eu.request("GET", "/domains")
    assert r.status == 200
    assert len(responses.calls) == 1
    sent = responses.calls[0].request
    assert sent.url == f"{EU}/domains"
    assert sent.headers["Authorization"] == f"Bearer {KEY}"  # the same credentials
    assert sent.headers["X-Scope"] == "sub-7"  # the same headers (a subaccount scope)
    assert eu.key_fingerprint == t.key_fingerprint is not None
    # the original is untouched
    assert t.base_url == US


@responses.activate
def test_rebased_names_the_provider_in_its_errors(clock: StepClock) -> None:
    responses.get(f"{EU}/domains", status=500, json={"message": "down"})
    with pytest.raises(ServerError) as info:
        _transport(clock).rebased(EU).request("GET", "/domains")
    assert info.value.provider == "mutantsesp"
    assert len(responses.calls) == 1


@responses.activate
def test_rebased_keeps_a_scoped_transports_headers(clock: StepClock) -> None:
    responses.get(f"{EU}/x", json={})
    scoped = _transport(clock, headers=None).scoped({"On-Behalf-Of": "tenant-3"})
    scoped.rebased(EU).request("GET", "/x")
    assert responses.calls[0].request.headers["On-Behalf-Of"] == "tenant-3"


@responses.activate
def test_rebased_keeps_the_retry_policy_unless_given_one(clock: StepClock) -> None:
    responses.get(f"{EU}/x", status=500)
    t = _transport(clock)  # NO_RETRY: one attempt
    kept = t.rebased(EU)
    assert kept.retry == NO_RETRY
    with pytest.raises(ServerError):
        kept.request("GET", "/x")
    assert len(responses.calls) == 1

    two = RetryPolicy(max_attempts=2, base_delay=0.0)
    own = t.rebased(EU, retry=two)
    assert own.retry == two
    assert t.retry == NO_RETRY  # the original keeps its own
    with pytest.raises(ServerError):
        own.request("GET", "/x")
    assert len(responses.calls) == 3  # one more request, then a retry


@responses.activate
def test_rebased_shares_the_limiter(clock: StepClock) -> None:
    responses.get(f"{US}/x", json={})
    responses.get(f"{EU}/x", json={})
    limiter = RateLimiter(1.0, clock=clock, sleep=clock.sleep)
    t = _transport(clock, limiter=limiter)
    eu = t.rebased(EU)
    assert eu.limiter is limiter
    t.request("GET", "/x")
    eu.request("GET", "/x")
    # one request per second between both hosts: the second one waited for the first
    assert sum(clock.slept) == pytest.approx(1.0)
    assert len(responses.calls) == 2


@responses.activate
def test_rebased_shares_the_retry_budget(clock: StepClock) -> None:
    responses.get(f"{EU}/x", status=500)
    empty = RetryBudget(capacity=0)
    t = _transport(clock, budget=empty, retry=RetryPolicy(max_attempts=3, base_delay=0.0))
    eu = t.rebased(EU)
    assert eu.budget is empty
    with pytest.raises(ServerError):
        eu.request("GET", "/x")
    assert len(responses.calls) == 1  # the spent budget allows no retry on the other host


@responses.activate
def test_rebased_shares_the_session(clock: StepClock) -> None:
    responses.get(f"{EU}/x", json={})
    session = requests.Session()
    session.headers["X-Session"] = "kept"
    t = _transport(clock, session=session)
    eu = t.rebased(EU)
    assert eu.session is session
    eu.request("GET", "/x")
    assert responses.calls[0].request.headers["X-Session"] == "kept"


@responses.activate
def test_rebased_keeps_the_error_parser(clock: StepClock) -> None:
    responses.get(f"{EU}/x", status=418, json={"message": "the default parser's words"})
    with pytest.raises(AlreadyExists) as info:  # the parser's class, not the status's
        _transport(clock, parse_error=_parser).rebased(EU).request("GET", "/x")
    assert "parsed by the provider: 418" in str(info.value)
    assert "default parser" not in str(info.value)
    assert info.value.code == "P1"


@responses.activate
def test_rebased_keeps_the_request_id_headers(clock: StepClock) -> None:
    responses.get(f"{EU}/x", json={}, headers={"X-Trace-Id": "trace-42",
                                               "X-Request-Id": "request-1"})
    eu = _transport(clock, request_id_headers=("X-Trace-Id",)).rebased(EU)
    assert eu.request("GET", "/x").request_id == "trace-42"


@responses.activate
def test_rebased_waits_on_the_injected_sleep(
    clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "uniform", lambda a, b: 0.25)  # the back-off drawn
    responses.get(f"{EU}/x", status=500)
    responses.get(f"{EU}/x", json={})
    t = _transport(clock, retry=RetryPolicy(max_attempts=2))
    r = t.rebased(EU).request("GET", "/x")
    assert r.status == 200
    assert clock.slept == [0.25]  # the back-off ran on the step clock, not time.sleep
    assert len(responses.calls) == 2


@responses.activate
def test_rebased_keeps_timeouts_and_deadline(clock: StepClock) -> None:
    responses.get(f"{EU}/x", json={})
    t = _transport(clock, timeout=(2.0, 9.0), deadline=7.0)
    eu = t.rebased(EU)
    assert eu.timeout == (2.0, 9.0)
    assert eu.deadline == 7.0
    eu.request("GET", "/x")
    # no socket operation may wait longer than the whole attempt: min(9, 7)
    assert responses.calls[0].request.req_kwargs["timeout"] == (2.0, 7.0)  # type: ignore[attr-defined]


@responses.activate
def test_rebased_keeps_the_answer_size_cap(clock: StepClock) -> None:
    responses.get(f"{EU}/x", body="x" * 64)
    eu = _transport(clock, max_response_bytes=32).rebased(EU)
    assert eu.max_response_bytes == 32
    with pytest.raises(ResponseTooLarge):
        eu.request("GET", "/x")
    responses.get(f"{EU}/y", body="y" * 32)
    assert eu.request("GET", "/y").status == 200  # exactly the cap is allowed


# -- a request that got no answer --------------------------------------------------------------


def _raising(exc: BaseException) -> Callable[[requests.PreparedRequest], Any]:
    def callback(request: requests.PreparedRequest) -> Any:
        raise exc

    return callback


def _refused() -> urllib3.exceptions.NewConnectionError:
    return urllib3.exceptions.NewConnectionError(None, "refused")  # type: ignore[arg-type]


def _failure(clock: StepClock, exc: BaseException, method: str = "POST") -> TransportError:
    """The error a request whose connection raised ``exc`` ends in (one attempt)."""
    with responses.RequestsMock() as mock:
        mock.add_callback(method, f"{US}/x", callback=_raising(exc))
        with pytest.raises(TransportError) as info:
            _transport(clock).request(method, "/x")
        assert len(mock.calls) == 1
    return info.value


def test_a_refused_connection_found_as_the_cause_was_never_sent(clock: StepClock) -> None:
    exc = requests.ConnectionError("connection aborted")
    exc.__cause__ = _refused()  # set by hand: no __context__ beside it
    err = _failure(clock, exc)
    assert type(err) is TransportError
    assert err.maybe_applied is False
    assert err.message == "connection failed: ConnectionError"
    assert err.provider == "mutantsesp"
    assert err.method == "POST"
    assert err.url == f"{US}/x"


def test_a_refused_connection_found_as_the_context_was_never_sent(clock: StepClock) -> None:
    exc = requests.ConnectionError("connection aborted")
    exc.__context__ = _refused()
    assert _failure(clock, exc).maybe_applied is False


def test_a_refused_connection_found_in_the_arguments_was_never_sent(clock: StepClock) -> None:
    pool_error = urllib3.exceptions.MaxRetryError(None, "/x", _refused())  # type: ignore[arg-type]
    assert _failure(clock, requests.ConnectionError(pool_error)).maybe_applied is False
    assert _failure(clock, requests.ConnectionError(_refused())).maybe_applied is False


def test_a_broken_connection_may_have_been_applied(clock: StepClock) -> None:
    exc = requests.ConnectionError("connection reset")
    exc.__cause__ = ConnectionResetError("reset by peer")
    err = _failure(clock, exc)
    assert type(err) is TransportError
    assert err.maybe_applied is True
    assert err.message == "connection failed: ConnectionError (the request may have been applied)"


def test_timeouts_are_named_and_a_connect_timeout_was_never_sent(clock: StepClock) -> None:
    read = _failure(clock, requests.ReadTimeout("read timed out"))
    assert read.message == "timed out: ReadTimeout (the request may have been applied)"
    assert read.maybe_applied is True
    connect = _failure(clock, requests.ConnectTimeout("connect timed out"))
    assert connect.message == "timed out: ConnectTimeout"
    assert connect.maybe_applied is False


def test_a_cycle_in_the_error_chain_ends_the_search(clock: StepClock) -> None:
    """An error chain may loop (a cause whose cause is the first error): the search for a
    refused connection stops where it has been before, instead of spinning forever."""
    exc = requests.ConnectionError("connection reset")
    inner = OSError("broken pipe")
    exc.__cause__ = inner
    inner.__cause__ = exc
    found: list[TransportError] = []
    worker = threading.Thread(target=lambda: found.append(_failure(clock, exc)), daemon=True)
    worker.start()
    worker.join(timeout=30)  # generous: it takes microseconds; a loop never ends
    assert not worker.is_alive(), "the error-chain search did not end"
    assert found[0].maybe_applied is True


def test_a_request_cut_by_its_deadline_says_so(clock: StepClock) -> None:
    def cut(request: requests.PreparedRequest) -> Any:
        # what the watchdog does when the attempt's deadline passes: the attempt is marked
        # expired and its socket shut down, so the read fails under requests
        current = deadline_module.current()
        assert current is not None
        current.expire()
        raise requests.ConnectionError("connection shut down")

    with responses.RequestsMock() as mock:
        mock.add_callback("POST", f"{US}/x", callback=cut)
        with pytest.raises(DeadlineExceeded) as info:
            _transport(clock, deadline=7.5).request("POST", "/x")
        assert len(mock.calls) == 1
    err = info.value
    assert err.message == ("deadline of 7.5 s passed: ConnectionError "
                           "(the request may have been applied)")
    assert err.maybe_applied is True
    assert err.provider == "mutantsesp"


# -- the retry runner, reached through the transport ----------------------------------------


def test_should_retry_passes_the_error_and_idempotence_on(clock: StepClock) -> None:
    t = _transport(clock, retry=RetryPolicy(max_attempts=3))
    five = ServerError("down", status=500)
    assert t.should_retry(five, True) is True
    assert t.should_retry(five, False) is False  # a 5xx on a POST may have been applied
    never = TransportError("connection failed", maybe_applied=False)
    assert t.should_retry(never, False) is True
    assert t.should_retry(RateLimited("slow", retry_after=1.0), False) is True
    assert t.should_retry(Rejected("bad"), True) is False


def test_should_retry_spends_the_shared_budget(clock: StepClock) -> None:
    budget = RetryBudget(capacity=5, retry_cost=5)
    t = _transport(clock, budget=budget)
    assert t.should_retry(ServerError("down", status=500), True) is True
    assert budget.available == 0
    assert t.should_retry(ServerError("down", status=500), True) is False


def _state(exc: BaseException, attempt: int = 1) -> tenacity.RetryCallState:
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    state.attempt_number = attempt
    try:
        raise exc
    except type(exc):
        state.set_exception(sys.exc_info())  # type: ignore[arg-type]
    return state


def test_retry_delay_reads_the_outcome(clock: StepClock) -> None:
    t = _transport(clock, retry=RetryPolicy(max_attempts=3, max_retry_after=30.0))
    assert t.retry_delay(_state(RateLimited("slow", retry_after=7.0))) == 7.0
    assert t.retry_delay(_state(RateLimited("slow", retry_after=90.0))) == 30.0
    # never sent: no load to spare the ESP, no wait
    assert t.retry_delay(_state(TransportError("refused", maybe_applied=False))) == 0.0
    cap = t.runner.backoff_cap(2)
    for _ in range(20):
        assert 0.0 <= t.retry_delay(_state(ServerError("down", status=500), 2)) <= cap


# -- retry-seconds in a 429's body ------------------------------------------------------------


def _hint(clock: StepClock, value: Any) -> float | None:
    """The wait a 429 whose JSON body says ``{"retry-seconds": value}`` is read as."""
    with responses.RequestsMock() as mock:
        mock.get(f"{US}/x", status=429, json={"message": "slow down", "retry-seconds": value})
        with pytest.raises(RateLimited) as info:
            _transport(clock).request("GET", "/x")
        assert len(mock.calls) == 1
    return info.value.retry_after


@pytest.mark.parametrize(("value", "want"), [
    (4, 4.0),
    (2.5, 2.5),
    (0, 0.0),           # the lower bound is allowed ...
    (0.5, 0.5),         # ... and a wait under a second
    (-1, None),         # ... and below it nothing is
    (-0.001, None),
    (MAX_HINT, MAX_HINT),
    (MAX_HINT * 10, MAX_HINT),
    (10**400, None),    # float() overflows: no hint, no crash
    (math.nan, None),
    (math.inf, None),
    (-math.inf, None),
    (True, None),       # JSON true is no number of seconds
    (False, None),
    (None, None),
    ([5], None),
    ({"s": 5}, None),
    ("5", 5.0),
    ("5.5", 5.5),
    (" 7", 7.0),
    ("\t7", 7.0),
    ("0", 0.0),
    ("soon", None),
    ("-5", None),
    ("", None),
    ("nan", None),
    # a body's hint is a number, never a date (only the Retry-After header may be one)
    ("Wed, 21 Oct 2099 07:28:00 GMT", None),
    ("\n21 Oct 2099 07:28:00 GMT", None),
    ("X5,21 Oct 2099 07:28:00 GMT", None),
])
def test_retry_seconds_in_the_body(clock: StepClock, value: Any, want: float | None) -> None:
    assert _hint(clock, value) == want


@settings(max_examples=60, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_retry_seconds_property(value: float) -> None:
    want = min(value, MAX_HINT) if math.isfinite(value) and value >= 0 else None
    assert _hint(StepClock(), value) == want


@responses.activate
def test_retry_after_header_beats_the_body(clock: StepClock) -> None:
    responses.get(f"{US}/x", status=429, headers={"Retry-After": "3"},
                  json={"retry-seconds": 9})
    with pytest.raises(RateLimited) as info:
        _transport(clock).request("GET", "/x")
    assert info.value.retry_after == 3.0


# -- a delete that finds the item gone after an ambiguous attempt -----------------------------


def _gone_parser(response: requests.Response, body: Any) -> ErrorDetail:
    """A provider that answers a deleted item with 410 Gone."""
    if response.status_code == 410:
        return ErrorDetail(message="gone", error_class=NotFound)
    return ErrorDetail(message="failed")


@responses.activate
def test_a_delete_gone_after_an_ambiguous_attempt_succeeds(
    clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "uniform", lambda a, b: 0.0)
    responses.delete(f"{US}/domains/a.example", status=503)
    responses.delete(f"{US}/domains/a.example", status=404, json={"message": "no such domain"},
                     headers={"X-Request-Id": "req-gone-1"})
    t = _transport(clock, retry=RetryPolicy(max_attempts=2))
    r = t.request("DELETE", "/domains/a.example")
    # the earlier attempt deleted it: a success with the ESP's status and request id, and
    # nothing else claimed about the answer
    assert r == HttpResponse(404, None, {}, "req-gone-1")
    assert len(responses.calls) == 2


@responses.activate
def test_a_delete_gone_keeps_the_status_the_esp_answered(
    clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "uniform", lambda a, b: 0.0)
    responses.delete(f"{US}/domains/a.example", status=503)
    responses.delete(f"{US}/domains/a.example", status=410)
    t = _transport(clock, retry=RetryPolicy(max_attempts=2), parse_error=_gone_parser)
    r = t.request("DELETE", "/domains/a.example")
    assert r == HttpResponse(410, None, {}, None)


# -- what an error keeps of the ESP's answer --------------------------------------------------


def _error(clock: StepClock, **answer: Any) -> EspError:
    with responses.RequestsMock() as mock:
        mock.get(f"{US}/x", **answer)
        with pytest.raises(EspError) as info:
            _transport(clock, parse_error=_code_parser).request("GET", "/x")
        assert len(mock.calls) == 1
    return info.value


def _code_parser(response: requests.Response, body: Any) -> ErrorDetail:
    """A parser that reads the response it is given (its status) and the body's code."""
    return ErrorDetail(message=f"status {response.status_code}: {body.get('message')}",
                       code=body.get("code"))


def test_the_parser_reads_the_answer(clock: StepClock) -> None:
    err = _error(clock, status=400, json={"message": "bad name", "code": "E1"})
    assert isinstance(err, Rejected)
    assert err.message == "status 400: bad name"
    assert err.code == "E1"


def test_an_error_code_is_bounded_at_100_characters(clock: StepClock) -> None:
    exact = "C" * 100
    err = _error(clock, status=400, json={"message": "m", "code": exact})
    assert isinstance(err, Rejected)
    assert err.code == exact
    err = _error(clock, status=400, json={"message": "m", "code": "C" * 101})
    assert isinstance(err, Rejected)
    assert err.code == "C" * 99 + ELIDED
    err = _error(clock, status=400, json={"message": "m", "code": "C" * 400})
    assert isinstance(err, Rejected)
    assert err.code == "C" * 99 + ELIDED


def _broken_parser(response: requests.Response, body: Any) -> ErrorDetail:
    raise KeyError("the provider's parser did not expect this")


@responses.activate
def test_a_failing_parser_falls_back_to_the_default_on_the_same_answer(
    clock: StepClock,
) -> None:
    responses.get(f"{US}/x", status=400, body="plain failure text from the ESP")
    with pytest.raises(Rejected) as info:
        _transport(clock, parse_error=_broken_parser).request("GET", "/x")
    assert "plain failure text from the ESP" in info.value.message


SECRET = "QuartzLemon42Zebra"


@responses.activate
def test_a_key_sent_in_the_query_is_scrubbed_from_the_error(clock: StepClock) -> None:
    responses.get(f"{US}/x", status=400,
                  json={"message": f"unknown account {SECRET}", "echo": SECRET})
    with pytest.raises(Rejected) as info:
        _transport(clock, auth=None).request("GET", f"/x?api_key={SECRET}")
    err = info.value
    assert SECRET not in str(err)
    assert err.message == "unknown account ***"
    assert err.body == {"message": "unknown account ***", "echo": "***"}
    assert SECRET in (responses.calls[0].request.url or "")  # it was sent, in the query


class _BareAdapter(requests.adapters.HTTPAdapter):
    """A caller's adapter whose answers do not say which request they answer."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
             ) -> requests.Response:
        self.sent = getattr(self, "sent", 0) + 1
        response = requests.Response()
        response.status_code = 400
        response._content = json.dumps({"message": f"bad input {SECRET}"}).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.url = request.url or ""
        response.request = None  # type: ignore[assignment]
        return response


def test_an_error_without_the_request_it_answers_is_still_typed(clock: StepClock) -> None:
    session = requests.Session()
    adapter = _BareAdapter()
    session.mount("https://", adapter)
    with pytest.raises(Rejected) as info:
        _transport(clock, session=session).request("GET", f"/x?api_key={SECRET}")
    assert adapter.sent == 1
    # no request to take credentials from: only the shapes of credentials are masked
    assert info.value.message == f"bad input {SECRET}"


# -- request ids ------------------------------------------------------------------------------


@responses.activate
def test_a_request_id_is_bounded_and_an_errors_is_scrubbed(clock: StepClock) -> None:
    long_id = "r" * 300
    responses.get(f"{US}/ok", json={}, headers={"X-Request-Id": long_id})
    responses.get(f"{US}/bad", status=400, json={}, headers={"X-Request-Id": long_id})
    t = _transport(clock)
    assert t.request("GET", "/ok").request_id == "r" * 200
    with pytest.raises(Rejected) as info:
        t.request("GET", "/bad")
    assert info.value.request_id == "r" * 199 + ELIDED


@responses.activate
def test_a_successful_answers_request_id_is_kept_as_sent(clock: StepClock) -> None:
    rid = "r" * 200
    responses.get(f"{US}/ok", json={}, headers={"X-Request-Id": rid})
    assert _transport(clock).request("GET", "/ok").request_id == rid


# -- rate-limit headers -----------------------------------------------------------------------


def _paced(headers: dict[str, str], max_retry_after: float = 30.0
           ) -> tuple[StepClock, RateLimiter]:
    """Two requests, the first answered with ``headers``: the waits and the limiter."""
    clock = StepClock()
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    t = _transport(clock, limiter=limiter, retry=RetryPolicy(max_retry_after=max_retry_after))
    with responses.RequestsMock() as mock:
        mock.get(f"{US}/x", json={}, headers=headers)
        mock.get(f"{US}/x", json={})
        t.request("GET", "/x")
        t.request("GET", "/x")
        assert len(mock.calls) == 2
    return clock, limiter


@pytest.mark.parametrize(("reset", "ceiling"), [
    ("0.5", 4.0),     # a window under a second is learnt ...
    ("30", 2 / 30),   # ... and one exactly as long as the policy may wait
    ("30.5", None),   # a longer one is not
    ("0", None),
])
def test_a_limit_without_remaining_is_learnt(reset: str, ceiling: float | None) -> None:
    clock, limiter = _paced({"X-RateLimit-Limit": "2", "X-RateLimit-Reset": reset})
    if ceiling is None:
        assert limiter.ceiling is None
        assert clock.slept == []
    else:
        assert limiter.ceiling == pytest.approx(ceiling)
        assert clock.slept == [pytest.approx(1 / ceiling)]


@pytest.mark.parametrize(("headers", "wait"), [
    ({"X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "5"}, 5.0),
    ({"X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0.5"}, 0.5),
    ({"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"}, 30.0),
    ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2"}, 2.0),
    # nonsense is ignored: a window past what the policy waits, a limit of 0, more left
    # than the limit
    ({"X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "31"}, None),
    ({"X-RateLimit-Limit": "0", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "5"}, None),
    ({"X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "5"}, None),
    ({"X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"}, None),
])
def test_an_announced_window_is_spent(headers: dict[str, str], wait: float | None) -> None:
    clock, _ = _paced(headers)
    assert clock.slept == ([] if wait is None else [pytest.approx(wait)])


# -- an attempt that fails while sending or while reading the answer --------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_header_that_cannot_be_encoded_is_refused_without_its_value(
    clock: StepClock,
) -> None:
    # a loopback port nothing listens on: http.client refuses the header before connecting
    # (had it connected, this would be a TransportError instead)
    base = f"http://127.0.0.1:{_closed_port()}"
    t = Transport("mutantsesp", base, retry=NO_RETRY, sleep=clock.sleep,
                  limiter=RateLimiter(None, clock=clock, sleep=clock.sleep))
    value = "key-\u2603-0123456789"
    with pytest.raises(ConfigError) as info:
        t.request("GET", "/x?limit=5&api_key=abc123456", headers={"X-Api-Key": value})
    err = info.value
    assert str(err) == (f"a request header for GET {base}/x?limit=5&api_key=*** holds "
                        "characters that cannot be sent (the value is not shown: it may be "
                        "a credential)")
    assert value not in str(err)
    # not even the context keeps http.client's message, which quotes the value
    assert err.__context__ is None
    assert err.__cause__ is None


def _read_failure(clock: StepClock, **answer: Any) -> TransportError:
    with responses.RequestsMock() as mock:
        mock.add(method="PUT", url=f"{US}/x", **answer)
        with pytest.raises(TransportError) as info:
            _transport(clock, max_response_bytes=32, deadline=7.5).request("PUT", "/x?key=k1")
        assert len(mock.calls) == 1
    return info.value


def _said_by_the_pipeline(err: TransportError) -> None:
    assert err.provider == "mutantsesp"
    assert err.method == "PUT"
    assert err.url == f"{US}/x?key=***"
    assert err.maybe_applied is True


def test_an_answer_over_the_cap_is_too_large(clock: StepClock) -> None:
    err = _read_failure(clock, body="x" * 33)
    assert type(err) is ResponseTooLarge
    assert err.message == ("answer too large: over the limit of 32 bytes "
                           "(the request may have been applied)")
    _said_by_the_pipeline(err)


class _Broken(io.RawIOBase):
    """A body whose connection breaks at the first read."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise ConnectionResetError("reset by peer")


def test_a_body_cut_off_by_the_peer_may_have_been_applied(clock: StepClock) -> None:
    err = _read_failure(clock, body=io.BufferedReader(_Broken()))
    assert type(err) is TransportError
    assert err.message == ("connection failed while reading the answer: ProtocolError "
                           "(the request may have been applied)")
    _said_by_the_pipeline(err)


def test_a_body_cut_by_the_deadline_says_so(clock: StepClock) -> None:
    def late(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        # the headers came in time; the deadline passes before the body is read
        current = deadline_module.current()
        assert current is not None
        current.expire()
        return 200, {}, "{}"

    with responses.RequestsMock() as mock:
        mock.add_callback("PUT", f"{US}/x", callback=late)
        with pytest.raises(TransportError) as info:
            _transport(clock, deadline=7.5).request("PUT", "/x?key=k1")
        assert len(mock.calls) == 1
    err = info.value
    assert type(err) is DeadlineExceeded
    assert err.message == ("deadline of 7.5 s passed while reading the answer "
                           "(the request may have been applied)")
    _said_by_the_pipeline(err)


# -- the label a request is named by in the retry log -----------------------------------------


@pytest.mark.parametrize(("path", "shown"), [
    ("/domains/a.example", "/domains/a.example"),
    ("/domains/a.example?api_key=s3cr3t-value", "/domains/a.example?api_key=***"),
    ("/domains/a.example#token=s3cr3t-value", "/domains/a.example"),
])
def test_the_gone_log_names_the_request_safely(
    clock: StepClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    path: str, shown: str,
) -> None:
    monkeypatch.setattr(random, "uniform", lambda a, b: 0.0)
    caplog.set_level(logging.INFO, logger="espkit.http")
    with responses.RequestsMock() as mock:
        mock.delete(f"{US}/domains/a.example", status=503)
        mock.delete(f"{US}/domains/a.example", status=404)
        t = _transport(clock, retry=RetryPolicy(max_attempts=2))
        assert t.request("DELETE", path).status == 404
        assert len(mock.calls) == 2
    gone = [r.getMessage() for r in caplog.records if "gone after" in r.getMessage()]
    assert gone == [f"DELETE {US}{shown}: gone after an ambiguous earlier attempt; deleted"]
    assert "s3cr3t" not in caplog.text


# -- the answer a success returns; a redirect is an error ------------------------------------


@pytest.mark.parametrize(("status", "ok"), [(200, True), (299, True), (300, False),
                                            (301, False)])
def test_a_success_is_under_300(clock: StepClock, status: int, ok: bool) -> None:
    with responses.RequestsMock() as mock:
        mock.get(f"{US}/x", status=status, json={"name": "a"},
                 headers={"X-Custom": "v", "Location": f"{US}/elsewhere"})
        t = _transport(clock)
        if ok:
            r = t.request("GET", "/x")
            assert (r.status, r.body, r.headers["X-Custom"]) == (status, {"name": "a"}, "v")
        else:
            with pytest.raises(Rejected) as info:
                t.request("GET", "/x")
            assert info.value.status == status
        assert len(mock.calls) == 1  # a redirect is never followed


def test_the_debug_log_times_the_attempt_on_the_clock_it_is_given(
    clock: StepClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    ticks = iter([100.0, 100.25])
    monkeypatch.setattr(http_module, "time", types.SimpleNamespace(
        perf_counter=lambda: next(ticks)))
    caplog.set_level(logging.DEBUG, logger="espkit.http")
    with responses.RequestsMock() as mock:
        mock.get(f"{US}/x", json={})
        _transport(clock).request("GET", "/x?key=k1")
    said = [r.getMessage() for r in caplog.records if r.name == "espkit.http"]
    assert f"GET {US}/x?key=*** -> 200 in 250.0 ms" in said


# -- a caller's own session: requests' way, every part of the call passed on ------------------


def test_a_callers_session_gets_every_part_of_the_call(clock: StepClock) -> None:
    session = requests.Session()  # trust_env: requests merges the environment itself
    assert session.trust_env
    with responses.RequestsMock() as mock:
        mock.post(f"{US}/x", json={"ok": True})
        mock.put(f"{US}/y", json={"ok": True})
        t = _transport(clock, session=session, timeout=(2.0, 9.0), deadline=7.0)
        t.request("POST", "/x", params={"limit": "5"}, data={"name": "a.example"},
                  headers={"X-Extra": "1"})
        t.request("PUT", "/y", json={"name": "b.example"})
        form, body = mock.calls[0].request, mock.calls[1].request
    assert form.url == f"{US}/x?limit=5"
    assert form.body == "name=a.example"
    assert form.headers["X-Extra"] == "1"
    assert form.headers["X-Scope"] == "sub-7"
    assert form.headers["Authorization"] == f"Bearer {KEY}"
    assert body.body == b'{"name": "b.example"}'
    for sent in (form, body):
        kwargs = sent.req_kwargs  # type: ignore[attr-defined]
        assert kwargs["timeout"] == (2.0, 7.0)
        assert kwargs["stream"] is True


@pytest.mark.parametrize("trust_env", [True, False])
def test_a_redirect_is_not_followed_on_any_session(clock: StepClock, trust_env: bool) -> None:
    session = requests.Session()
    session.trust_env = trust_env
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{US}/x", status=302, headers={"Location": f"{EU}/stolen"})
        mock.get(f"{EU}/stolen", json={"key": "received"})
        with pytest.raises(Rejected) as info:
            _transport(clock, session=session).request("GET", "/x")
        assert info.value.status == 302
        assert len(mock.calls) == 1  # the credentials went nowhere else


@pytest.mark.parametrize("trust_env", [True, False])
def test_an_answer_is_read_as_a_stream_on_any_session(clock: StepClock, trust_env: bool) -> None:
    session = requests.Session()
    session.trust_env = trust_env
    with responses.RequestsMock() as mock:
        mock.get(f"{US}/x", body="x" * 33)
        with pytest.raises(ResponseTooLarge) as info:
            _transport(clock, session=session, max_response_bytes=32).request("GET", "/x")
        assert mock.calls[0].request.req_kwargs["stream"] is True  # type: ignore[attr-defined]
    # read piece by piece, stopped at the cap (not read whole first, then measured)
    assert info.value.message == ("answer too large: over the limit of 32 bytes "
                                  "(the request may have been applied)")


def test_our_session_sends_with_its_tls_settings(clock: StepClock) -> None:
    with responses.RequestsMock() as mock:
        mock.get(f"{US}/x", json={})
        mock.get(f"{US}/x", json={})
        t = _transport(clock)
        assert not t.session.trust_env
        # True, or the CA bundle the environment names (read once, when it was made)
        initial = t.session.verify
        assert initial
        t.request("GET", "/x")
        t.session.verify = "/etc/ssl/espkit-test-bundle.pem"
        t.session.cert = ("/etc/ssl/client.pem", "/etc/ssl/client.key")
        t.request("GET", "/x")
        first, second = (c.request.req_kwargs for c in mock.calls)  # type: ignore[attr-defined]
    assert first["verify"] == initial  # certificates are checked
    assert first["cert"] is None
    assert second["verify"] == "/etc/ssl/espkit-test-bundle.pem"
    assert second["cert"] == ("/etc/ssl/client.pem", "/etc/ssl/client.key")
    assert first["stream"] is second["stream"] is True
