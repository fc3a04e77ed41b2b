"""The name a request goes by in retry logs: its URL made safe (the base URL's host lowered,
secret-looking query values masked), whether or not the path carries a query, and the base
URL the transport has now, not the one it was made with."""

from __future__ import annotations

import logging

import pytest
import responses
from support.stepclock import StepClock

from espkit.credentials import HeaderAuth, Secret
from espkit.transport import RetryPolicy, Transport
from espkit.transport.ratelimit import RateLimiter

KEY = "sk-label-test-0123456789"


def make(base: str, clock: StepClock) -> Transport:
    return Transport(
        "labelesp", base, auth=HeaderAuth("Authorization", Secret(KEY), "Bearer"),
        retry=RetryPolicy(), limiter=RateLimiter(None, clock=clock, sleep=clock.sleep),
        sleep=clock.sleep,
    )


def gone_after_ambiguous(url: str) -> None:
    """A delete whose first attempt fails ambiguously and whose retry finds it gone: the
    runner logs the request's label."""
    responses.add(responses.DELETE, url, status=500, json={"message": "boom"})
    responses.add(responses.DELETE, url, status=404, json={"message": "not found"})


def labels(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().split(": gone")[0] for r in caplog.records if ": gone" in r.getMessage()]


@responses.activate
def test_a_path_without_query_is_named_after_the_safe_base(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="espkit")
    t = make("https://user:pw@API.Example.com:8443/api", StepClock())
    gone_after_ambiguous("https://user:pw@api.example.com:8443/api/v1/things/a")
    t.request("DELETE", "/v1/things/a")
    assert labels(caplog) == ["DELETE https://api.example.com:8443/api/v1/things/a"]
    assert "pw" not in caplog.text
    assert KEY not in caplog.text


@responses.activate
def test_a_query_in_the_path_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="espkit")
    t = make("https://api.example.com", StepClock())
    gone_after_ambiguous("https://api.example.com/v1/things/a")
    t.request("DELETE", "/v1/things/a?api_key=sekrit-value&page=2")
    assert labels(caplog) == ["DELETE https://api.example.com/v1/things/a?api_key=***&page=2"]
    assert "sekrit-value" not in caplog.text


@responses.activate
def test_the_label_follows_a_changed_base_url(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="espkit")
    t = make("https://old.example.com", StepClock())
    t.base_url = "https://new.example.com"
    gone_after_ambiguous("https://new.example.com/v1/things/b")
    t.request("DELETE", "/v1/things/b")
    assert labels(caplog) == ["DELETE https://new.example.com/v1/things/b"]
