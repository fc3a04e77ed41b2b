"""``RetryRunner``: the retry loop shared by the HTTP transport and non-HTTP providers (SES).

Attempts are plain callables raising espkit errors, so the checker, delay, budget, limiter and
the delete-after-ambiguous rule are tested without any network; so is the parsing of the
servers' hints (``Retry-After``, ``X-RateLimit-Reset``) the delay is taken from.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable

import pytest
import responses

from espkit.errors import (
    NotFound,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
    ValidationError,
)
from espkit.transport import RetryPolicy, RetryRunner, Transport
from espkit.transport.ratelimit import RateLimiter, RetryBudget
from espkit.transport.retry import parse_reset, parse_retry_after


def make_runner(**kw: object) -> tuple[RetryRunner, list[float]]:
    sleeps: list[float] = []
    runner = RetryRunner("esp", sleep=sleeps.append, **kw)  # type: ignore[arg-type]
    return runner, sleeps


def script(*outcomes: object) -> tuple[Callable[[], str], list[int]]:
    """An attempt that raises or returns each outcome in turn; counts its calls."""
    calls = [0]

    def attempt() -> str:
        outcome = outcomes[calls[0]]
        calls[0] += 1
        if isinstance(outcome, BaseException):
            raise outcome
        return str(outcome)

    return attempt, calls


def test_first_success_returns_without_retrying() -> None:
    runner, sleeps = make_runner()
    attempt, calls = script("ok")
    assert runner.run(attempt, idempotent=False, label="Create") == "ok"
    assert calls == [1]
    assert sleeps == []
    assert runner.stats["retries"] == 0


def test_throttle_is_retried_after_its_hint_even_when_not_idempotent() -> None:
    runner, sleeps = make_runner()
    attempt, calls = script(RateLimited("slow down", retry_after=3.0), "ok")
    assert runner.run(attempt, idempotent=False, label="Create") == "ok"
    assert calls == [2]
    assert sleeps == [3.0]
    assert runner.stats["retries"] == 1


def test_ambiguous_failure_of_a_create_is_not_retried() -> None:
    runner, _ = make_runner()
    err = TransportError("read timed out", maybe_applied=True)
    attempt, calls = script(err, "ok")
    with pytest.raises(TransportError) as info:
        runner.run(attempt, idempotent=False, label="Create")
    assert info.value.maybe_applied
    assert calls == [1]


def test_never_sent_failure_of_a_create_is_retried() -> None:
    runner, _ = make_runner()
    attempt, calls = script(TransportError("refused", maybe_applied=False), "ok")
    assert runner.run(attempt, idempotent=False, label="Create") == "ok"
    assert calls == [2]


def test_server_error_is_retried_only_when_idempotent() -> None:
    runner, sleeps = make_runner()
    attempt, calls = script(ServerError("busy"), ServerError("busy"), "ok")
    assert runner.run(attempt, idempotent=True, label="Get") == "ok"
    assert calls == [3]
    assert len(sleeps) == 2
    assert all(0 <= s <= 1.0 for s in sleeps)  # full jitter under base_delay * 2

    attempt, calls = script(ServerError("busy"), "ok")
    with pytest.raises(ServerError):
        runner.run(attempt, idempotent=False, label="Create")
    assert calls == [1]


def test_client_errors_are_never_retried() -> None:
    runner, _ = make_runner()
    attempt, calls = script(Rejected("quota"), "ok")
    with pytest.raises(Rejected):
        runner.run(attempt, idempotent=True, label="Get")
    assert calls == [1]


def test_gives_up_after_max_attempts() -> None:
    runner, sleeps = make_runner(retry=RetryPolicy(max_attempts=3))
    attempt, calls = script(*[RateLimited("x", retry_after=0.1)] * 5)
    with pytest.raises(RateLimited):
        runner.run(attempt, idempotent=True, label="Get")
    assert calls == [3]
    assert sleeps == [0.1, 0.1]


def test_exhausted_budget_stops_retrying() -> None:
    runner, _ = make_runner(budget=RetryBudget(capacity=5, retry_cost=5))
    attempt, calls = script(ServerError("a"), ServerError("b"), ServerError("c"), "ok")
    with pytest.raises(ServerError):
        runner.run(attempt, idempotent=True, label="Get")
    assert calls == [2]  # one retry paid for, then the budget is empty


def test_delete_gone_after_an_ambiguous_attempt_is_success() -> None:
    runner, _ = make_runner()
    attempt, _calls = script(ServerError("5xx"), NotFound("no such identity"))
    assert runner.run(attempt, idempotent=True, label="Delete",
                      gone=lambda exc: "deleted") == "deleted"


def test_not_found_without_an_earlier_ambiguous_attempt_is_raised() -> None:
    runner, _ = make_runner()
    attempt, _ = script(NotFound("no such identity"))
    with pytest.raises(NotFound):
        runner.run(attempt, idempotent=True, label="Delete", gone=lambda exc: "deleted")
    attempt, _ = script(RateLimited("x", retry_after=0), NotFound("no such identity"))
    with pytest.raises(NotFound):  # a throttle is not ambiguous: nothing was applied
        runner.run(attempt, idempotent=True, label="Delete", gone=lambda exc: "deleted")


def test_reporting_hooks_drive_limiter_budget_and_counters() -> None:
    limiter = RateLimiter(10.0, sleep=lambda s: None)
    budget = RetryBudget(capacity=10)
    runner, _ = make_runner(limiter=limiter, budget=budget)
    budget.spend()
    runner.start_attempt()
    runner.succeeded()
    assert budget.available == 6
    runner.throttled(2.0)
    assert limiter.throttles == 1
    runner.throttled(10_000.0)  # beyond max_retry_after: not imposed on the limiter
    assert runner.stats == {"requests": 1, "retries": 0, "throttled": 2}


@responses.activate
def test_transport_runs_its_requests_through_its_runner() -> None:
    responses.get("https://esp.test/x", status=503)
    responses.get("https://esp.test/x", json={"ok": True})
    sleeps: list[float] = []
    t = Transport("esp", "https://esp.test", sleep=sleeps.append)
    assert t.request("GET", "/x").body == {"ok": True}
    assert t.stats is t.runner.stats
    assert t.stats == {"requests": 2, "retries": 1, "throttled": 0}
    assert t.limiter is t.runner.limiter
    assert t.budget is t.runner.budget
    assert t.scoped({"X": "1"}).runner is t.runner


def test_a_policy_replaced_after_construction_sets_the_attempt_count() -> None:
    from espkit.errors import ServerError
    from espkit.transport import RetryPolicy, RetryRunner

    runner = RetryRunner("x", retry=RetryPolicy(max_attempts=5), sleep=lambda s: None)
    runner.retry = RetryPolicy(max_attempts=2)
    calls: list[int] = []

    def attempt() -> None:
        calls.append(1)
        raise ServerError("down", status=503)

    with pytest.raises(ServerError):
        runner.run(attempt, idempotent=True)
    assert len(calls) == 2


# -- Retry-After / reset parsing ------------------------------------------------------------


def test_parse_retry_after() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after(" 12 ") == 12.0
    assert parse_retry_after("1.5") == 1.5
    # not delta-seconds (RFC 9110: digits only): ignored, so the jittered backoff applies
    # rather than an immediate retry
    assert parse_retry_after("-3") is None
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 90, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(90.0)
    assert parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), now=now) == 0.0


def test_parse_reset() -> None:
    now = 1_700_000_000.0
    assert parse_reset(None, now) is None
    assert parse_reset("", now) is None
    assert parse_reset("30", now) == 30.0
    assert parse_reset(str(now + 45), now) == pytest.approx(45.0)
    assert parse_reset(str(int((now + 45) * 1000)), now) == pytest.approx(45.0)
    assert parse_reset(str(now - 10), now) == 0.0
    assert parse_reset(email.utils.formatdate(now + 60, usegmt=True), now) == pytest.approx(60.0)
    assert parse_reset("garbage", now) is None


# -- the policy's own numbers --------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [
    ("max_attempts", 0), ("max_attempts", 1001), ("max_attempts", True), ("max_attempts", 2.5),
    ("base_delay", -0.1), ("max_backoff", math.inf), ("max_retry_after", math.nan),
    ("max_retry_after", -1), ("max_retry_after", "60"),
])
def test_a_policy_that_could_let_any_wait_through_is_refused(field: str, value: object) -> None:
    # a nan or infinite max_retry_after would make every server hint "short enough"
    with pytest.raises(ValidationError) as info:
        RetryPolicy(**{field: value})  # type: ignore[arg-type]
    assert info.value.field == field


def test_policy_bounds_are_inclusive() -> None:
    assert RetryPolicy(max_attempts=1).max_attempts == 1
    assert RetryPolicy(max_attempts=1000).max_attempts == 1000
    assert RetryPolicy(base_delay=0, max_retry_after=0).max_retry_after == 0
