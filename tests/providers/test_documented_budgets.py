"""Each provider declares the limits its ESP documents, per scope of the API, and espkit spends
exactly those: Mailgun's domains API 300 a minute at once (not 5 a second), its metrics API
500 per 10 seconds, neither holding the other or the undocumented rest; SendGrid's budgets per
endpoint as its answers announce them; the others learnt from 429s.

The limiters read a step clock (``ratelimit.set_default_clock``) that only the skipped sleeps
move, so every wait below is exact and nothing really waits. Requests are counted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import pytest
import responses
from support.stepclock import StepClock

import espkit
from espkit.errors import RateLimited
from espkit.providers.mailgun import MailgunProvider
from espkit.providers.postmark import PostmarkProvider
from espkit.providers.sendgrid import SendGridProvider
from espkit.providers.sparkpost import SparkPostProvider
from espkit.transport import RetryPolicy, ratelimit
from espkit.transport.ratelimit import BETA, Budget, RateLimiter, Scope, ScopedLimiter

MAILGUN = "https://api.mailgun.net"
SENDGRID = "https://api.sendgrid.com"
SPAN_300 = Budget(300, 60).span  # 61 s: the documented minute and its margin


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[StepClock]:
    step = StepClock()
    monkeypatch.setattr(time, "sleep", step.sleep)
    ratelimit.set_default_clock(step)
    yield step
    ratelimit.set_default_clock(None)


def mailgun() -> espkit.Account:
    return espkit.connect("mailgun", api_key="key-documented-budgets")


def send(acct: espkit.Account, method: str, path: str, n: int) -> None:
    for _ in range(n):
        acct.provider.transport.request(method, path)  # type: ignore[attr-defined]


# -- what each provider declares ---------------------------------------------------------


def test_mailgun_declares_its_domains_and_metrics_budgets() -> None:
    declared = MailgunProvider.RATE_LIMIT
    assert declared == (Budget(300, 60, "domains", paths=("/v4/domains", "/v3/domains")),
                        Budget(500, 10, "metrics", paths=("/v1/analytics",)))


def test_sendgrid_declares_a_scope_per_endpoint_family_and_no_number() -> None:
    spec = SendGridProvider.RATE_LIMIT
    assert isinstance(spec, tuple)
    assert all(isinstance(s, Scope) for s in spec)  # announced, never documented
    names = [s.scope for s in spec]
    assert names == ["domains", "pools", "warmup", "ips", "subusers"]
    # the more specific prefixes come first: /v3/ips/pools is not "ips"
    assert names.index("pools") < names.index("ips")


@pytest.mark.parametrize("cls", [SparkPostProvider, PostmarkProvider])
def test_esps_that_document_no_number_learn_from_429s(cls: type) -> None:
    assert cls.RATE_LIMIT is None


def test_ses_learns_its_rate_unless_told() -> None:
    session = boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x" * 40,
                            region_name="us-east-1")
    limiter = espkit.connect("ses", session=session).provider.runner.limiter
    assert isinstance(limiter, RateLimiter)
    assert limiter.ceiling is None
    told = espkit.connect("ses", session=session, region="eu-west-1", rate_limit="1/s")
    assert told.provider.runner.limiter.budget == Budget(1, 1.0)  # type: ignore[attr-defined]


def test_mailgun_gets_one_limiter_per_scope() -> None:
    limiter = mailgun().provider.transport.limiter  # type: ignore[attr-defined]
    assert isinstance(limiter, ScopedLimiter)
    assert set(limiter.limiters) == {"domains", "metrics", "account"}
    assert limiter.ceiling == 5.0  # outside a request: the domains budget's average
    assert limiter.scope_of("/v4/domains").ceiling == 5.0
    assert limiter.scope_of("/v1/analytics/metrics").ceiling == 50.0
    assert limiter.scope_of("/v3/ips").ceiling is None


# -- Mailgun's domains API: 300 a minute, at once ------------------------------------------


@responses.activate
def test_the_domains_budget_goes_at_once_and_not_one_request_more(clock: StepClock) -> None:
    responses.get(f"{MAILGUN}/v4/domains", json={"items": [], "total_count": 0})
    acct = mailgun()
    send(acct, "GET", "/v4/domains", 300)
    assert clock.slept == []  # 300 requests: the whole minute's budget, no waiting
    assert len(responses.calls) == 300
    send(acct, "GET", "/v4/domains", 1)  # the 301st waits for the window
    assert clock.slept == [pytest.approx(SPAN_300)]
    assert len(responses.calls) == 301


@responses.activate
def test_a_job_of_twice_the_window_takes_one_window(clock: StepClock) -> None:
    responses.post(f"{MAILGUN}/v4/domains", json={"message": "ok", "domain": {}})
    acct = mailgun()
    start = clock.now
    send(acct, "POST", "/v4/domains", 600)
    assert len(responses.calls) == 600
    # 300 at once, 300 more when the window has passed: the budget's bound (60 s) and its
    # 2 % margin, not 600 / 5 per second = 120 s
    assert clock.now - start == pytest.approx(SPAN_300)
    assert len(clock.slept) == 1


@responses.activate
def test_other_endpoints_are_not_held_by_the_domains_budget(clock: StepClock) -> None:
    responses.get(f"{MAILGUN}/v4/domains", json={"items": [], "total_count": 0})
    responses.get(f"{MAILGUN}/v3/ips", json={"items": [], "total_count": 0})
    acct = mailgun()
    send(acct, "GET", "/v4/domains", 300)
    send(acct, "GET", "/v3/ips", 1000)  # documented by no budget: not paced until a 429
    assert clock.slept == []
    assert len(responses.calls) == 1300


@responses.activate
def test_the_metrics_budget_is_its_own(clock: StepClock) -> None:
    responses.post(f"{MAILGUN}/v1/analytics/metrics", json={"items": []})
    responses.get(f"{MAILGUN}/v4/domains", json={"items": [], "total_count": 0})
    acct = mailgun()
    send(acct, "POST", "/v1/analytics/metrics", 500)
    assert clock.slept == []
    send(acct, "GET", "/v4/domains", 300)  # the domains budget is untouched by metrics
    assert clock.slept == []
    send(acct, "POST", "/v1/analytics/metrics", 1)
    assert clock.slept == [pytest.approx(Budget(500, 10).span)]
    assert len(responses.calls) == 801


@responses.activate
def test_a_429_pauses_and_cuts_its_own_scope_only(clock: StepClock) -> None:
    responses.get(f"{MAILGUN}/v4/domains", status=429, json={"retry-seconds": 60})
    responses.get(f"{MAILGUN}/v4/domains", json={"items": [], "total_count": 0})
    responses.get(f"{MAILGUN}/v3/ips", json={"items": [], "total_count": 0})
    acct = espkit.connect("mailgun", api_key="key-429", retry=RetryPolicy(max_attempts=1))
    limiter = acct.provider.transport.limiter  # type: ignore[attr-defined]
    with pytest.raises(RateLimited):
        send(acct, "GET", "/v4/domains", 1)
    domains, ips = limiter.scope_of("/v4/domains"), limiter.scope_of("/v3/ips")
    assert (domains.throttles, ips.throttles) == (1, 0)
    assert domains.rate == pytest.approx(5.0 * BETA)  # cut: paced smoothly from now on
    send(acct, "GET", "/v3/ips", 50)  # during the domains pause: the other scope goes on
    assert clock.slept == []
    assert ips.rate is None
    send(acct, "GET", "/v4/domains", 1)  # held until Mailgun's retry-seconds are over
    assert clock.slept == [pytest.approx(60.0)]
    assert len(responses.calls) == 52


@responses.activate
def test_rate_limit_replaces_the_documented_budgets_for_every_request(clock: StepClock) -> None:
    responses.get(f"{MAILGUN}/v3/ips", json={"items": [], "total_count": 0})
    acct = espkit.connect("mailgun", api_key="key-told", rate_limit="10/min")
    send(acct, "GET", "/v3/ips", 10)
    assert clock.slept == []
    send(acct, "GET", "/v3/ips", 1)
    assert clock.slept == [pytest.approx(Budget(10, 60).span)]


# -- SendGrid: what each endpoint announces ------------------------------------------------


@responses.activate
def test_sendgrid_spends_what_each_endpoint_announces(clock: StepClock) -> None:
    def limits(remaining: int) -> dict[str, str]:
        # SendGrid sends an epoch second; the delta form keeps this test off the wall clock
        return {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": "40"}

    responses.get(f"{SENDGRID}/v3/whitelabel/domains", json=[], headers=limits(2))
    responses.get(f"{SENDGRID}/v3/ips", json=[], headers=limits(599))
    acct = espkit.connect("sendgrid", api_key="SG.documented-budgets")
    send(acct, "GET", "/v3/whitelabel/domains", 3)  # 2 left after the first: 3 in all
    assert clock.slept == []
    send(acct, "GET", "/v3/ips", 100)  # another endpoint's budget, announced as 599
    assert clock.slept == []
    send(acct, "GET", "/v3/whitelabel/domains", 1)  # the 4th waits for that reset
    assert clock.slept == [pytest.approx(40.0)]
    assert len(responses.calls) == 104
