"""Budgets as ESPs state them: ``rate_limit=`` as a count per window, the budget an answer
announces (``X-RateLimit-*``) spent exactly through the transport, and the sandbox modelling
a window. Everything runs on injected clocks; requests are counted where nothing may be sent.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import responses
from support.stepclock import StepClock

import espkit
from espkit.credentials import HeaderAuth, Secret
from espkit.errors import ValidationError
from espkit.providers.sandbox import SandboxProvider
from espkit.sandbox import Emulator, FakeClock
from espkit.transport import RetryPolicy, Transport
from espkit.transport.ratelimit import (
    Budget,
    RateLimiter,
    Scope,
    ScopedLimiter,
    parse_rate_limit,
    reset_shared,
    set_default_clock,
    shared_limiter,
    window_span,
)

BASE = "https://api.window-esp.test"


# -- rate_limit= ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("300/min", Budget(300, 60.0)),
    ("500/10s", Budget(500, 10.0)),
    ("5/s", Budget(5, 1.0)),
    ("30 / 6 s", Budget(30, 6.0)),
    ("1000/hour", Budget(1000, 3600.0)),
    ("100/1.5m", Budget(100, 90.0)),
    ("300/60", Budget(300, 60.0)),  # no unit: seconds
    ("20/250ms", Budget(20, 0.25)),
    ("2/day", Budget(2, 86400.0)),
    ((300, 60), Budget(300, 60.0)),
    ([500, 10.0], Budget(500, 10.0)),
    (5, 5.0),  # a bare number stays requests per second
    (2.5, 2.5),
    ("5", 5.0),
    (" 0.5 ", 0.5),
    (None, None),
    (Budget(3, 1.0), Budget(3, 1.0)),
    # the bounds, inside
    ((100_000, 60), Budget(100_000, 60.0)),
    ((1, 86_400), Budget(1, 86_400.0)),
    (0.001, 0.001),
    (1_000_000, 1_000_000.0),
])
def test_rate_limit_forms(value: object, expected: object) -> None:
    assert parse_rate_limit(value) == expected


@pytest.mark.parametrize("value", [
    "", "abc", "300/", "/min", "300/0s", "0/min", "-5/min", "300/fortnight", "5/s/s",
    "300 per minute", "1e3/min", "-5", "nan", "inf",
    (300,), (300, 60, 1), (True, 60), (300.5, 60), (300, "60"), (300, math.nan),
    (300, -1), (0, 60), True, False, 0, -1, math.nan, math.inf, {"count": 300},
    # the bounds, just outside
    (100_001, 60), (1, 86_401), 0.00099, 1_000_001, (2_000_000, 1),
])
def test_bad_rate_limits_name_the_value(value: object) -> None:
    with pytest.raises(ValidationError) as info:
        parse_rate_limit(value)
    assert info.value.field == "rate_limit"
    assert info.value.value is value
    assert repr(value) in str(info.value)


def test_a_budget_knows_its_rate_span_and_paths() -> None:
    b = Budget(300, 60, "domains", paths=("/v4/domains",))
    assert b.rate == 5.0
    assert b.span == window_span(60) == pytest.approx(61.0)  # at most a second of margin
    assert window_span(30) == pytest.approx(30.6)  # 2 % of the window
    assert window_span(1.0) == pytest.approx(1.05)  # at least 50 ms
    assert window_span(86_400) == pytest.approx(86_401)
    assert str(b) == "300/60s"
    assert b.claims("/v4/domains")
    assert b.claims("/v4/domains/x.example.com/verify")
    assert b.claims("/v4/domains?limit=1")
    assert not b.claims("/v4/domainsx")
    assert not b.claims("/v3/domains")
    with pytest.raises(ValidationError, match="scope"):
        Budget(1, 1, "Bad Scope")
    with pytest.raises(ValidationError, match="paths"):
        Scope("ok", ("v4/domains",))


@responses.activate
@pytest.mark.parametrize("provider", ["mailgun", "sendgrid", "sparkpost", "postmark"])
@pytest.mark.parametrize("bad", ["300/fortnight", 0, (300, 0), "fast"])
def test_connect_refuses_a_bad_rate_limit_before_sending(provider: str, bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        espkit.connect(provider, api_key="key-test", rate_limit=bad)
    assert info.value.field == "rate_limit"
    assert info.value.value == bad
    assert len(responses.calls) == 0


def test_the_sandbox_and_ses_refuse_it_too() -> None:
    with pytest.raises(ValidationError, match="fortnight"):
        espkit.connect("sandbox", path=":memory:", rate_limit="3/fortnight")
    import boto3

    session = boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x" * 40,
                            region_name="us-east-1")
    with pytest.raises(ValidationError, match="fortnight"):
        espkit.connect("ses", session=session, rate_limit="3/fortnight")


@pytest.mark.parametrize(("given", "budget"), [
    ("300/min", Budget(300, 60.0)), ((30, 6), Budget(30, 6.0)), (5, None),
])
def test_connect_with_a_rate_limit_gives_one_budget_for_every_request(
    given: object, budget: Budget | None
) -> None:
    acct = espkit.connect("mailgun", api_key=f"key-{given!r}", rate_limit=given)
    limiter = acct.provider.transport.limiter  # type: ignore[attr-defined]
    assert isinstance(limiter, RateLimiter)  # not the documented scopes
    assert limiter.budget == budget
    # a number is paced 2 % under: at exactly 5/s a request that overtook its neighbour on
    # the way is a 429 from an ESP enforcing 5/s with a bucket of one
    assert limiter.ceiling == (budget.rate if budget else 4.9)


@pytest.mark.parametrize("rate", [0.001, 1.0, 10.0, 1000.0, 1_000_000.0])
def test_a_number_is_paced_just_under_it(rate: float) -> None:
    paced = shared_limiter(f"k-{rate}", rate)
    assert isinstance(paced, RateLimiter)
    assert paced.ceiling is not None
    assert rate * 0.979 < paced.ceiling < rate * 0.981


@pytest.mark.parametrize(("rate", "at_once"), [
    # paced 2 % under, then 20 ms of grants, at least one: 2 from 102.04/s, 20 from 1,020.4/s
    (10.0, 1), (100.0, 1), (102.0, 1), (103.0, 2), (1000.0, 19), (1020.0, 19), (1021.0, 20),
])
def test_a_number_starts_with_twenty_milliseconds_of_grants(rate: float, at_once: int) -> None:
    clock = StepClock()
    set_default_clock(clock)
    try:
        limiter = shared_limiter(f"catch-up-{rate}", rate)
        granted = 0
        while limiter.try_acquire() == 0.0:
            granted += 1
        assert granted == at_once
    finally:
        set_default_clock(None)
        reset_shared()


def test_a_late_thread_catches_up_its_grants_up_to_twenty_milliseconds() -> None:
    clock = StepClock()
    set_default_clock(clock)
    try:
        limiter = shared_limiter("catch-up-late", 1000.0)  # paced at 980/s
        while limiter.try_acquire() == 0.0:
            pass
        # the next thread in line woke 10 ms late: the 9.8 grants it missed go at once
        clock.advance(0.010)
        late = 0
        while limiter.try_acquire() == 0.0:
            late += 1
        assert late in (9, 10)  # plus what was left of the first bucket (0.6)
        # a lull of a second is not a second of grants: 20 ms at most
        clock.advance(1.0)
        idle = 0
        while limiter.try_acquire() == 0.0:
            idle += 1
        assert idle == 19
    finally:
        set_default_clock(None)
        reset_shared()


# -- announced budgets through the transport ----------------------------------------------


def transport(clock: StepClock, limiter: Any = None, **kw: Any) -> Transport:
    return Transport(
        "windowesp", BASE, auth=HeaderAuth("Authorization", Secret("key-window"), "Bearer"),
        limiter=limiter or RateLimiter(None, clock=clock, sleep=clock.sleep),
        sleep=clock.sleep, **kw,
    )


def announce(path: str, limit: str | None, remaining: str, reset: str,
             status: int = 200) -> None:
    headers = {"X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": reset}
    if limit is not None:
        headers["X-RateLimit-Limit"] = limit
    responses.get(f"{BASE}{path}", json={}, status=status, headers=headers)


@responses.activate
def test_remaining_zero_pauses_until_the_reset_then_the_limit_goes_at_once() -> None:
    clock = StepClock()
    t = transport(clock)
    announce("/a", "3", "0", "7")
    responses.get(f"{BASE}/b", json={})
    t.request("GET", "/a")
    start = clock.now
    for _ in range(3):
        t.request("GET", "/b")
    assert clock.slept == [pytest.approx(7.0)]  # one wait, to the reset
    assert clock.now - start == pytest.approx(7.0)
    t.request("GET", "/b")  # the 4th of the new window: its limit is 3
    assert len(clock.slept) == 2
    assert len(responses.calls) == 5


@responses.activate
def test_remaining_high_raises_the_pace_above_a_documented_window() -> None:
    clock = StepClock()
    t = transport(clock, RateLimiter(Budget(2, 60.0), clock=clock, sleep=clock.sleep))
    announce("/a", "100", "50", "30")
    responses.get(f"{BASE}/b", json={})
    t.request("GET", "/a")
    for _ in range(50):
        t.request("GET", "/b")
    assert clock.slept == []  # 50 in a window the docs say holds 2
    t.request("GET", "/b")  # the 51st waits for the announced reset
    assert clock.slept == [pytest.approx(30.0)]
    assert len(responses.calls) == 52


@responses.activate
def test_remaining_low_lowers_the_pace_below_a_documented_window() -> None:
    clock = StepClock()
    t = transport(clock, RateLimiter(Budget(300, 60.0), clock=clock, sleep=clock.sleep))
    announce("/a", "300", "2", "20")
    responses.get(f"{BASE}/b", json={})
    t.request("GET", "/a")
    t.request("GET", "/b")
    t.request("GET", "/b")
    assert clock.slept == []
    t.request("GET", "/b")
    assert clock.slept == [pytest.approx(20.0)]


@pytest.mark.parametrize(("reset", "paused"), [("120", True), ("121", False)])
@responses.activate
def test_an_announced_window_past_max_retry_after_is_not_waited_on(
    reset: str, paused: bool
) -> None:
    clock = StepClock()
    t = transport(clock, retry=RetryPolicy(max_retry_after=120))
    announce("/a", "100", "0", reset)
    responses.get(f"{BASE}/b", json={})
    t.request("GET", "/a")
    t.request("GET", "/b")
    assert clock.slept == ([pytest.approx(120.0)] if paused else [])


@pytest.mark.parametrize(("limit", "remaining", "reset"), [
    ("10", "11", "5"),  # more left than the limit: nonsense
    ("0", "0", "5"),  # a limit of nothing
    ("10", "0", "0"),  # a window that has ended
    ("10", "0", "soon"),
    (None, "-1", "5"),
    (None, "0", None),
])
@responses.activate
def test_announcements_that_make_no_sense_pause_nothing(
    limit: str | None, remaining: str, reset: str | None
) -> None:
    clock = StepClock()
    t = transport(clock)
    headers = {"X-RateLimit-Remaining": remaining}
    if limit is not None:
        headers["X-RateLimit-Limit"] = limit
    if reset is not None:
        headers["X-RateLimit-Reset"] = reset
    responses.get(f"{BASE}/a", json={}, headers=headers)
    responses.get(f"{BASE}/b", json={})
    t.request("GET", "/a")
    for _ in range(20):
        t.request("GET", "/b")
    assert clock.slept == []


@responses.activate
def test_the_other_side_remaining_equal_to_the_limit_is_obeyed() -> None:
    clock = StepClock()
    t = transport(clock)
    announce("/a", "10", "10", "5")
    responses.get(f"{BASE}/b", json={})
    t.request("GET", "/a")
    for _ in range(10):
        t.request("GET", "/b")
    assert clock.slept == []
    t.request("GET", "/b")
    assert clock.slept == [pytest.approx(5.0)]


@responses.activate
def test_a_429_waits_its_retry_after_not_its_remaining_headers() -> None:
    clock = StepClock()
    t = transport(clock)
    responses.get(f"{BASE}/a", status=429, json={}, headers={
        "Retry-After": "2", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "50"})
    responses.get(f"{BASE}/a", json={})
    t.request("GET", "/a")
    assert clock.slept == [2.0]


@responses.activate
def test_announcements_pace_the_scope_they_came_from() -> None:
    clock = StepClock()
    scoped = ScopedLimiter(
        {name: RateLimiter(None, clock=clock, sleep=clock.sleep)
         for name in ("domains", "ips", "account")},
        [Scope("domains", ("/v3/whitelabel/domains",)), Scope("ips", ("/v3/ips",))],
        "account", "domains")
    t = transport(clock, scoped)
    announce("/v3/whitelabel/domains", "600", "0", "40")
    responses.get(f"{BASE}/v3/ips", json={})
    t.request("GET", "/v3/whitelabel/domains")
    for _ in range(30):
        t.request("GET", "/v3/ips")  # another endpoint's budget: not held
    assert clock.slept == []
    t.request("GET", "/v3/whitelabel/domains")
    assert clock.slept == [pytest.approx(40.0)]


# -- the sandbox models a window -------------------------------------------------------------


def test_the_sandbox_enforces_and_announces_a_fixed_window() -> None:
    clock = FakeClock()
    em = Emulator(":memory:", clock=clock)
    em.app.limit_window(3, 6.0)
    assert em.rate_limit == 0.5

    def get() -> tuple[int, dict[str, str]]:
        reply = em.exchange("GET", "/v1/ips", "", {"Authorization": "Bearer k"}, None)
        return reply.status, reply.headers

    clock.advance(1.5)  # inside the window that started at 0 (the clock is on a boundary)
    answers = [get() for _ in range(4)]
    assert [status for status, _ in answers] == [200, 200, 200, 429]  # count + 1 refused
    assert [h["X-RateLimit-Remaining"] for _, h in answers[:3]] == ["2", "1", "0"]
    assert {h["X-RateLimit-Limit"] for _, h in answers[:3]} == {"3"}
    assert answers[0][1]["X-RateLimit-Reset"] == "4.500"
    clock.advance(4.5 - 1e-3)
    assert get()[0] == 429  # just before the reset
    clock.advance(1e-3)
    assert [get()[0] for _ in range(4)] == [200, 200, 200, 429]


def test_a_job_of_twice_the_window_spends_it_exactly_on_the_sandbox() -> None:
    clock = FakeClock()
    with espkit.connect("sandbox", path=":memory:", clock=clock, rate_limit="30/6s") as acct:
        provider = acct.provider
        assert isinstance(provider, SandboxProvider)
        start = clock.monotonic()
        for i in range(60):
            acct.domains.create(f"d{i}.window.example")
        took = clock.monotonic() - start
        history = [outcome for m, _, outcome in provider.emulator.history if m == "POST"]
        assert history.count(201) == 60
        assert 429 not in history  # never over the window
        assert provider.transport.stats["throttled"] == 0
        # 30 at once, 30 more as the next window opens: one window, not 60 / 0.5 per s
        assert 6.0 <= took <= 6.2
        assert provider.transport.stats["requests"] == 60
