"""Every call is bounded, against a real server on 127.0.0.1 that drips, stalls, floods and lies.

Each call must end by its deadline with a typed espkit error, never hang or raise anything
untyped; numbers in headers are read by total parsers (fuzzed with hypothesis); an error
body that echoes the request's credentials keeps none of them.

Nothing here is timed. A call against a hostile route runs in a thread bounded by
``support.hang.HANG`` (30 s): the routes drip or stall for twice that, so a call that ends
did so by its deadline or cap, and the error says which. Waits a rate-limit header asks for
go to an injected ``StepClock``, whose sleeps the tests add up.
"""

from __future__ import annotations

import base64
import email.utils
import http.server
import json
import math
import threading
import time
import urllib.parse
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.hang import HANG, raised_within
from support.stepclock import StepClock

from espkit.credentials import BasicAuth, HeaderAuth, Secret
from espkit.errors import (
    ConfigError,
    DeadlineExceeded,
    EspError,
    RateLimited,
    Rejected,
    ResponseTooLarge,
    ServerError,
    TransportError,
)
from espkit.transport import (
    MAX_HINT,
    NO_RETRY,
    RetryPolicy,
    Transport,
    parse_count,
    parse_reset,
    parse_retry_after,
)
from espkit.transport.ratelimit import RateLimiter, RetryBudget
from espkit.transport.retry import MAX_COUNT

KEY = "hk-live-0123456789abcdef-SECRET"
BASIC = base64.b64encode(f"api:{KEY}".encode()).decode()
DRIP = 0.2  # seconds between the bytes of a dripping server
#: what the hostile routes drip, stall or stream for at the least (they stop when the test
#: ends): twice the hang bound, so a call that ends before the bound was cut by espkit
FOREVER = 2 * HANG
DRIPS = int(FOREVER / DRIP)  # bytes (or chunks) a dripping route sends
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


# -- the hostile server ------------------------------------------------------------------------


def _gzip_bomb() -> bytes:
    """20 MiB of zeros, gzip-compressed to about 20 KiB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    return b"".join([packer.compress(zeros) for _ in range(20)] + [packer.flush()])


BOMB = _gzip_bomb()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    stop: threading.Event
    hits: Counter[str]
    lock: threading.Lock


class _Hostile(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    stop: threading.Event
    timeout = 10  # an idle kept-alive connection's handler ends after this
    closing = False  # this answer closes the connection (and says so)

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.hits["connections"] += 1

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._dispatch()

    # helpers: every loop is bounded and ends when the test's server stops

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the test that made this request is over; False when it is."""
        return not self.stop.wait(seconds)

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        if self.closing:
            # said, so the client never sends its next request on a socket being closed
            # (a race that a retry without a real sleep in between would lose)
            self.send_header("Connection", "close")
        for name, value in headers.items():
            # raw UTF-8, as a hostile server may send (send_header insists on latin-1)
            self._headers_buffer.append(f"{name}: {value}\r\n".encode())  # type: ignore[attr-defined]
        self.end_headers()
        self.wfile.flush()

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self._head(status, {"Content-Type": "application/json",
                            "Content-Length": str(len(body)), **(headers or {})})
        self.wfile.write(body)

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up: that is the point
            return False
        return True

    def _drip(self, data: bytes) -> None:
        for i in range(len(data)):
            if not self._write(data[i:i + 1]) or not self._wait(DRIP):
                return

    def _chunk(self, data: bytes) -> bool:
        return self._write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _dispatch(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        with self.server.lock:
            self.server.hits[url.path] += 1
            self.stop = self.server.stop  # this test's: set when it ends
        route: Callable[[dict[str, str]], None] = getattr(
            self, "route_" + url.path.strip("/").replace("-", "_"), self.route_ok)
        # the well-behaved answers keep the connection alive (HTTP/1.1); the hostile ones
        # close it
        self.closing = route != self.route_ok
        route(q)
        self.close_connection = self.closing

    def route_ok(self, q: dict[str, str]) -> None:
        self._send(200, b'{"ok": true}')

    def route_drip_body(self, q: dict[str, str]) -> None:
        body = q.get("body", "[" + "1," * DRIPS + "1]").encode()
        self._head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))})
        self._drip(body)

    def route_drip_headers(self, q: dict[str, str]) -> None:
        self._write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        self._drip(b"a" * DRIPS)

    def route_stall_after_headers(self, q: dict[str, str]) -> None:
        self._head(200, {"Content-Type": "application/json", "Content-Length": "100"})
        self._wait(FOREVER)

    def route_endless_chunked(self, q: dict[str, str]) -> None:
        self._head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        piece = b"[" + b"0," * 32767
        for _ in range(10_000):  # 640 MB at most, far past any cap
            if self.stop.is_set() or not self._chunk(piece):
                return

    def route_slow_chunked(self, q: dict[str, str]) -> None:
        self._head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        for _ in range(DRIPS):
            if not self._chunk(b" ") or not self._wait(DRIP):
                return

    def route_sized(self, q: dict[str, str]) -> None:
        """A JSON string of exactly ``n`` bytes, declared or chunked."""
        n = int(q["n"])
        body = b'"' + b"x" * (n - 2) + b'"'
        if q.get("chunked"):
            self._head(200, {"Content-Type": "application/json",
                             "Transfer-Encoding": "chunked"})
            for i in range(0, n, 10_000):
                self._chunk(body[i:i + 10_000])
            self._write(b"0\r\n\r\n")
        else:
            self._send(200, body)

    def route_huge_length(self, q: dict[str, str]) -> None:
        self._head(200, {"Content-Type": "application/json", "Content-Length": str(10 * 2**30)})
        self._write(b"{")
        self._wait(FOREVER)

    def route_gzip_bomb(self, q: dict[str, str]) -> None:
        self._send(200, BOMB, {"Content-Encoding": "gzip"})

    def route_big_error(self, q: dict[str, str]) -> None:
        self._send(int(q.get("status", "500")), b"<html>" + b"x" * (3 << 20))

    def route_deep_json(self, q: dict[str, str]) -> None:
        self._send(int(q.get("status", "200")), b"[" * 200_000)

    def route_headers(self, q: dict[str, str]) -> None:
        self._send(200, b"{}", q)

    def route_throttle(self, q: dict[str, str]) -> None:
        self._send(429, b'{"message": "slow down"}', q)

    def route_echo(self, q: dict[str, str]) -> None:
        """An error that echoes what it was sent, credentials and all."""
        auth = self.headers.get("Authorization", "")
        text = (f"Forbidden: bad key for example.com. You sent Authorization: {auth}; "
                f"raw {auth.partition(' ')[2]}; url https://api:{KEY}@api.test/v3; "
                f"query {self.path}")
        if q.get("form") == "text":
            self._send(403, text.encode(), {"Content-Type": "text/plain"})
        else:
            echo = {"message": text, "request": {"headers": dict(self.headers.items()),
                                                 "path": self.path},
                    "Authorization": auth, "key": KEY, "hint": f"Bearer {KEY}"}
            self._send(403, json.dumps(echo).encode())


@pytest.fixture(scope="module")
def _shared_server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Hostile)
    srv.stop = threading.Event()
    srv.hits = Counter()
    srv.lock = threading.Lock()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield srv
    srv.stop.set()
    srv.shutdown()
    srv.server_close()
    thread.join(HANG)
    assert not thread.is_alive()


@pytest.fixture
def server(_shared_server: _Server) -> Iterator[_Server]:
    """The module's server, with this test's request counts; when the test ends, every
    handler still dripping or stalling for it ends within one DRIP."""
    srv = _shared_server
    with srv.lock:
        srv.hits = Counter()
        srv.stop = threading.Event()
    yield srv
    srv.stop.set()


def base(srv: _Server) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}"


def make(srv: _Server, **kw: Any) -> Transport:
    # generous: a well-behaved answer from loopback must never trip them on a busy machine;
    # the tests that want a deadline to pass give a short one
    kw.setdefault("timeout", (10.0, 10.0))
    kw.setdefault("retry", NO_RETRY)
    kw.setdefault("auth", HeaderAuth("Authorization", Secret(KEY), "Bearer"))
    return Transport("hostile", base(srv), **kw)


def ended(call: Callable[[], object]) -> BaseException | None:
    """What ``call`` raised (None if nothing), once it has ended: the test fails if it is
    still running after ``HANG`` seconds, where every hostile route is still going."""
    return raised_within(call)


def stepped(srv: _Server, **kw: Any) -> tuple[Transport, StepClock]:
    """A transport whose limiter and retries wait on a ``StepClock``: the waits they ask
    for are recorded, and take no time."""
    clock = StepClock()
    return make(srv, limiter=RateLimiter(None, clock=clock, sleep=clock.sleep),
                sleep=clock.sleep, **kw), clock


# -- the deadline ------------------------------------------------------------------------------


def test_a_dripping_body_ends_at_the_deadline(server: _Server) -> None:
    t = make(server, deadline=0.5)
    err = ended(lambda: t.request("GET", "/drip-body?token=qs-secret"))
    assert isinstance(err, DeadlineExceeded)
    assert err.maybe_applied is True
    text = str(err)
    assert "deadline of 0.5 s passed" in text
    assert f"{base(server)}/drip-body?token=***" in text  # the URL, scrubbed
    assert "qs-secret" not in text + repr(err)
    assert server.hits["/drip-body"] == 1


def test_the_deadline_defaults_to_the_read_timeout(server: _Server) -> None:
    # each byte comes well within the read timeout (every 0.2 s, ten times as often): only
    # the overall deadline stops it
    t = make(server, timeout=(1.0, 2.0))
    assert t.deadline == 2.0
    err = ended(lambda: t.request("GET", "/drip-body"))
    assert isinstance(err, DeadlineExceeded)
    assert "deadline of 2 s passed" in str(err)


def test_a_body_that_drips_but_ends_within_the_deadline_is_read(server: _Server) -> None:
    t = make(server, deadline=HANG)
    r = t.request("GET", "/drip-body?body=[7]")  # three bytes: about 0.6 s
    assert r.body == [7]


def test_dripping_headers_end_at_the_deadline(server: _Server) -> None:
    # requests reads the headers itself; the watchdog cuts the socket under it
    t = make(server, deadline=0.5)
    err = ended(lambda: t.request("GET", "/drip-headers"))
    assert isinstance(err, TransportError)
    assert "deadline of 0.5 s passed" in str(err)


def test_a_dripping_body_ends_at_the_deadline_on_a_session_given_by_the_caller(
    server: _Server,
) -> None:
    session = requests.Session()
    t = make(server, deadline=0.5, session=session)
    err = ended(lambda: t.request("GET", "/drip-body"))
    assert isinstance(err, TransportError)
    # the connection was dropped, not handed back half read: the next call works
    t2 = make(server, session=session)
    assert t2.request("GET", "/ok").body == {"ok": True}


def test_a_stall_after_the_headers_ends_by_the_deadline(server: _Server) -> None:
    t = make(server, timeout=(1.0, 5.0), deadline=0.5)  # the read timeout alone: 5 s
    err = ended(lambda: t.request("GET", "/stall-after-headers"))
    assert isinstance(err, DeadlineExceeded)
    assert err.maybe_applied is True
    assert "deadline of 0.5 s passed" in str(err)  # not the read timeout


def test_a_slow_endless_chunked_body_ends_at_the_deadline(server: _Server) -> None:
    t = make(server, deadline=0.5)
    err = ended(lambda: t.request("GET", "/slow-chunked"))
    assert isinstance(err, TransportError)
    assert "deadline of 0.5 s passed" in str(err)


def test_a_deadline_overrun_is_retried_like_a_timeout_only_when_idempotent(
    server: _Server,
) -> None:
    retry = RetryPolicy(max_attempts=2, base_delay=0.01)
    budget = RetryBudget(capacity=100, retry_cost=5, timeout_cost=10)
    t = make(server, deadline=0.3, retry=retry, budget=budget)
    err = ended(lambda: t.request("GET", "/drip-body"))
    assert isinstance(err, TransportError)
    assert server.hits["/drip-body"] == 2  # retried once
    assert budget.available == 100 - 10  # at the price of a timeout
    err = ended(lambda: t.request("POST", "/drip-body", json={"name": "example.com"}))
    assert isinstance(err, TransportError)
    assert err.maybe_applied is True
    assert "may have been applied" in str(err)
    assert server.hits["/drip-body"] == 3  # a POST that may have landed: sent once


def test_keep_alive_connections_are_reused_after_a_full_read(server: _Server) -> None:
    # reading in pieces must still hand the connection back, and a deadline must never
    # cut a later attempt that reuses its connection
    t = make(server, deadline=2.0)
    for _ in range(5):
        assert t.request("GET", "/ok").body == {"ok": True}
    assert server.hits["connections"] == 1
    time.sleep(2.2)  # past the deadlines of every attempt above (at least this long)
    assert t.request("GET", "/ok").body == {"ok": True}
    assert server.hits["connections"] == 1


def test_a_connection_cut_by_the_deadline_is_not_reused(server: _Server) -> None:
    t = make(server, deadline=2.0)  # the drip is cut by it; the ok answers come well within
    assert t.request("GET", "/ok").body == {"ok": True}
    err = ended(lambda: t.request("GET", "/drip-body"))
    assert isinstance(err, TransportError)
    assert t.request("GET", "/ok").body == {"ok": True}
    assert server.hits["connections"] in (2, 3)  # the ok, the drip (when not reused), a new


# -- the size cap ------------------------------------------------------------------------------


def test_an_endless_chunked_body_stops_at_the_size_cap(server: _Server) -> None:
    t = make(server, deadline=10.0, max_response_bytes=256 * 1024)
    err = ended(lambda: t.request("GET", "/endless-chunked"))
    assert isinstance(err, TransportError)
    assert "answer too large" in str(err)


def test_the_default_cap_is_ten_megabytes(server: _Server) -> None:
    t = make(server, deadline=10.0)
    assert t.max_response_bytes == 10 * 1024 * 1024
    err = ended(lambda: t.request("GET", "/endless-chunked"))
    assert isinstance(err, TransportError)
    assert "over the limit of 10485760" in str(err)


@pytest.mark.parametrize("chunked", ["", "1"], ids=["content-length", "chunked"])
def test_the_size_cap_on_both_sides_of_the_boundary(server: _Server, chunked: str) -> None:
    cap = 50_000
    t = make(server, max_response_bytes=cap)
    r = t.request("GET", f"/sized?n={cap}&chunked={chunked}")
    assert isinstance(r.body, str)
    assert len(r.body) == cap - 2
    # a transport of its own: this server closes /sized connections after answering, and a
    # pooled connection it is closing would race the next request
    t = make(server, max_response_bytes=cap)
    err = ended(lambda: t.request("GET", f"/sized?n={cap + 1}&chunked={chunked}"))
    assert isinstance(err, ResponseTooLarge)
    assert "answer too large" in str(err)


def test_an_answer_too_large_is_not_retried(server: _Server) -> None:
    """The same GET would bring the same answer: one request, not max_attempts of them."""
    t = make(server, max_response_bytes=1000,
             retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    err = ended(lambda: t.request("GET", "/sized?n=5000&chunked=1"))
    assert isinstance(err, ResponseTooLarge)
    assert server.hits["/sized"] == 1
    # a body within the cap on the same transport is read as before
    assert len(t.request("GET", "/sized?n=1000&chunked=1").body) == 998


def test_a_ten_gigabyte_content_length_is_refused_before_reading(server: _Server) -> None:
    t = make(server, deadline=10.0)
    err = ended(lambda: t.request("GET", "/huge-length"))
    assert isinstance(err, ResponseTooLarge)
    assert f"Content-Length {10 * 2**30} is over the limit" in str(err)


def test_a_gzip_bomb_stops_at_the_size_cap(server: _Server) -> None:
    assert len(BOMB) < 100_000
    t = make(server, max_response_bytes=1 << 20)
    err = ended(lambda: t.request("GET", "/gzip-bomb"))
    assert isinstance(err, TransportError)
    assert "answer too large" in str(err)


def test_a_large_error_answer_is_cut_and_reported_as_its_status(server: _Server) -> None:
    t = make(server, deadline=10.0)
    err = ended(lambda: t.request("GET", "/big-error?status=500"))
    assert type(err) is ServerError
    assert err.status == 500
    assert err.message.startswith("<html>xxx")
    assert len(err.message) <= 500


@pytest.mark.parametrize(("status", "cls"), [(200, None), (400, Rejected)])
def test_json_nested_past_the_recursion_limit_is_no_body(
    server: _Server, status: int, cls: type[EspError] | None
) -> None:
    t = make(server)
    if cls is None:
        assert t.request("GET", f"/deep-json?status={status}").body is None
    else:
        err = ended(lambda: t.request("GET", f"/deep-json?status={status}"))
        assert type(err) is cls
        assert len(err.message) <= 500


# -- numbers in headers ------------------------------------------------------------------------

FAR_FUTURE = "Fri, 31 Dec 9999 23:59:59 GMT"
HOSTILE_NUMBERS = [
    "0.0001", "1e-320", "-1", "nan", "NaN", "inf", "-inf", "Infinity", "1" + "0" * 400,
    "9" * 5000, FAR_FUTURE, "0x10", "1_000", "\u0661\u0662", " ", "1e9999", "0",
    "Sat, 01 Jan 0001 00:00:00 -0000", "Mon, 32 Foo 2024 99:99:99 GMT",
]


@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
@pytest.mark.parametrize("where", ["limit", "reset", "remaining"])
def test_hostile_rate_limit_headers_neither_stall_nor_raise(
    server: _Server, value: str, where: str
) -> None:
    headers = {
        "limit": {"X-RateLimit-Limit": value, "X-RateLimit-Reset": "60"},
        "reset": {"X-RateLimit-Limit": "100", "X-RateLimit-Reset": value,
                  "X-RateLimit-Remaining": "0"},
        "remaining": {"X-RateLimit-Remaining": value, "X-RateLimit-Reset": "0.2"},
    }[where]
    policy = RetryPolicy(max_retry_after=0.5)
    t, clock = stepped(server, retry=policy)
    t.request("GET", "/headers?" + urllib.parse.urlencode(headers))
    ceiling = t.limiter.ceiling
    assert ceiling is None or (math.isfinite(ceiling) and ceiling >= 1 / 60)
    assert t.request("GET", "/ok").body == {"ok": True}
    assert sum(clock.slept) <= policy.max_retry_after  # paused no longer than the policy


def test_a_valid_remaining_zero_still_pauses(server: _Server) -> None:
    # the other side of the boundary above: "0" left with a short reset does pause
    t, clock = stepped(server, retry=RetryPolicy(max_retry_after=5))
    t.request("GET", "/headers?" + urllib.parse.urlencode(
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0.6"}))
    assert clock.slept == []
    assert t.request("GET", "/ok").body == {"ok": True}
    assert clock.slept == [pytest.approx(0.6)]  # until the window resets


@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
def test_hostile_retry_after_on_a_429_neither_stalls_nor_raises_untyped(
    server: _Server, value: str
) -> None:
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, max_retry_after=0.5)
    t, clock = stepped(server, retry=policy)
    err = ended(lambda: t.request(
        "GET", "/throttle?" + urllib.parse.urlencode({"Retry-After": value})))
    assert isinstance(err, RateLimited)
    hint = err.retry_after
    assert hint is None or (math.isfinite(hint) and 0 <= hint <= MAX_HINT)
    assert sum(clock.slept) <= policy.max_retry_after  # waited no longer than the policy
    # a wait beyond the policy surfaces at once; anything else is retried once
    expected = 1 if hint is not None and hint > policy.max_retry_after else 2
    assert server.hits["/throttle"] == expected
    if value == FAR_FUTURE:
        assert hint == MAX_HINT


# -- fuzzing the parsers -----------------------------------------------------------------------

numberish = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789.-+eE_ xnaifINF", max_size=40),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**500), max_value=10**500).map(str),
    # real HTTP-dates from year 1 to 9890, and date-shaped strings with any field out of range
    st.floats(min_value=-6.2e10, max_value=2.5e11).map(
        lambda f: email.utils.formatdate(f, usegmt=True)),
    st.builds(
        "{}, {:02} {} {} {:02}:{:02}:{:02} {}".format,
        st.sampled_from(["Mon", "Fri", "Xyz"]), st.integers(-5, 40),
        st.sampled_from(["Jan", "Dec", "Foo"]), st.integers(-(10**6), 10**6),
        st.integers(-1, 99), st.integers(-1, 99), st.integers(-1, 99),
        st.sampled_from(["GMT", "-0000", "+2359", "-9999", "PST", "+99999999", ""]),
    ),
    st.sampled_from(HOSTILE_NUMBERS),
)
nows = st.floats(min_value=0, max_value=4e9)


def _bounded(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isfinite(x) and 0 <= x <= MAX_HINT)


@FUZZ
@given(value=numberish, now=nows)
def test_parse_retry_after_is_total_and_bounded(value: str, now: float) -> None:
    assert _bounded(parse_retry_after(value, now))
    assert _bounded(parse_retry_after(value))


@FUZZ
@given(value=numberish, now=nows)
def test_parse_reset_is_total_and_bounded(value: str, now: float) -> None:
    assert _bounded(parse_reset(value, now))


@FUZZ
@given(value=numberish)
def test_parse_count_is_total_and_whole(value: str) -> None:
    n = parse_count(value)
    assert n is None or (type(n) is int and 0 <= n <= MAX_COUNT)
    stripped = value.strip(" \t")
    if stripped.isascii() and stripped.isdigit() and len(stripped) <= 13 \
            and int(stripped) <= MAX_COUNT:
        assert n == int(stripped)  # and what is a count is read as one


def test_parse_count_boundaries() -> None:
    assert parse_count(str(MAX_COUNT)) == MAX_COUNT
    assert parse_count(str(MAX_COUNT + 1)) is None
    assert parse_count("0") == 0
    assert parse_count("1.0") is None
    assert parse_count("-1") is None


@FUZZ
@given(headers=st.dictionaries(
    st.sampled_from(["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"]),
    numberish))
def test_any_rate_limit_headers_leave_the_limiter_sane(headers: dict[str, str]) -> None:
    clock = StepClock()
    policy = RetryPolicy(max_retry_after=120)
    t = Transport("hostile", "https://api.hostile.test", retry=policy,
                  limiter=RateLimiter(None, clock=clock, sleep=clock.sleep), sleep=clock.sleep)
    response = requests.Response()
    response.status_code = 200
    response.headers.update(headers)
    t._observe_rate_headers(response)
    ceiling = t.limiter.ceiling
    assert ceiling is None or (math.isfinite(ceiling) and ceiling >= 1 / policy.max_retry_after)
    t.limiter.acquire()  # whatever was paused, for no longer than the policy allows
    assert sum(clock.slept) <= policy.max_retry_after


# -- error bodies keep no credential -----------------------------------------------------------


@pytest.mark.parametrize("form", ["json", "text"])
@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_an_error_that_echoes_the_credentials_keeps_none(
    server: _Server, form: str, auth: str
) -> None:
    signer = (HeaderAuth("Authorization", Secret(KEY), "Bearer") if auth == "bearer"
              else BasicAuth("api", Secret(KEY)))
    t = make(server, auth=signer)
    err = ended(lambda: t.request("GET", f"/echo?form={form}&api_key=qs-secret-77",
                                     headers={"X-Server-Token": "srv-token-4242"}))
    assert isinstance(err, EspError)
    assert err.status == 403
    shown = " ".join([str(err), repr(err), repr(err.body), str(err.code)])
    for secret in (KEY, BASIC, f"Bearer {KEY}", f"api:{KEY}", "qs-secret-77",
                   "srv-token-4242"):
        assert secret not in shown
    # what the ESP meant to say survives
    assert "Forbidden: bad key for example.com" in err.message
    if form == "json":
        assert isinstance(err.body, dict)
        assert err.body["request"]["path"].startswith("/echo")


def test_an_error_message_is_bounded_and_has_no_control_characters(server: _Server) -> None:
    t = make(server)
    err = ended(lambda: t.request("GET", "/big-error?status=400"))
    assert isinstance(err, Rejected)
    assert len(str(err)) < 1000


# -- adapters that deliver bodies whole (the sandbox's) ----------------------------------------


class _WholeBodyAdapter(requests.adapters.BaseAdapter):
    """Hands back bodies already read, as the sandbox's adapter does."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
             ) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response._content = b'"' + b"x" * (self.size - 2) + b'"'
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("size", "fits"), [(1000, True), (1001, False)])
def test_the_size_cap_holds_for_bodies_delivered_whole(size: int, fits: bool) -> None:
    session = requests.Session()
    session.mount("https://whole.test", _WholeBodyAdapter(size))
    t = Transport("hostile", "https://whole.test", session=session, retry=NO_RETRY,
                  max_response_bytes=1000)
    if fits:
        assert len(t.request("GET", "/x").body) == size - 2
    else:
        with pytest.raises(TransportError, match="answer too large: 1001 bytes"):
            t.request("GET", "/x")


def test_a_header_that_cannot_be_sent_is_a_config_error_without_its_value(
    server: _Server,
) -> None:
    t = make(server)
    with pytest.raises(ConfigError) as info:
        t.request("GET", "/ok", headers={"X-Token": f"{KEY}\u20ac"})
    assert KEY not in str(info.value) + repr(info.value)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None  # the encoder's message quoted the value
    assert server.hits["/ok"] == 0  # nothing reached the server
