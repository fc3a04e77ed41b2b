"""The retry loop's decisions on both sides of every boundary: which failures are retried,
how long each wait is, what a server's hint is read as, and what the runner counts.

Waits are recorded by an injected ``sleep`` and the jitter is pinned to its upper bound, so the
exact cap of each back-off is asserted; time is a scripted ``monotonic``. Written from
mutation testing (scripts/mutation.py).
"""

from __future__ import annotations

import math
import random
import time

import pytest
from support.backoff import scaled

from espkit.errors import (
    NotFound,
    RateLimited,
    Rejected,
    ResponseTooLarge,
    ServerError,
    TransportError,
    ValidationError,
)
from espkit.transport import RetryPolicy, RetryRunner
from espkit.transport.ratelimit import RetryBudget
from espkit.transport.retry import (
    MAX_COUNT,
    MAX_HINT,
    never_sent,
    parse_count,
    parse_reset,
    parse_retry_after,
)


class Limiter:
    """Records what the runner tells the limiter."""

    def __init__(self) -> None:
        self.throttles_seen: list[float | None] = []
        self.acquired = 0
        self.successes = 0

    rate = None
    ceiling = None
    throttles = 0

    def acquire(self) -> float:
        self.acquired += 1
        return 0.0

    def try_acquire(self) -> float:
        return 0.0

    def on_throttle(self, retry_after: float | None = None) -> None:
        self.throttles_seen.append(retry_after)

    def on_success(self) -> None:
        self.successes += 1

    def pause_for(self, seconds: float) -> None:
        pass

    def lower_ceiling(self, rate: float) -> None:
        pass


def runner(policy: RetryPolicy | None = None, budget: RetryBudget | None = None,
           limiter: Limiter | None = None) -> tuple[RetryRunner, list[float]]:
    slept: list[float] = []
    r = RetryRunner("esp", retry=policy or RetryPolicy(), budget=budget, limiter=limiter,
                    sleep=slept.append)
    return r, slept


@pytest.fixture
def top_of_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every jittered wait takes its upper bound, so the cap itself is seen."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)


def failing(*failures: BaseException, result: str = "ok") -> tuple[list[int], object]:
    calls = [0]
    queue = list(failures)

    def attempt() -> str:
        calls[0] += 1
        if queue:
            raise queue.pop(0)
        return result

    return calls, attempt


def server_error() -> ServerError:
    return ServerError("502", provider="esp", maybe_applied=True)


# -- the policy ----------------------------------------------------------------------------------


@pytest.mark.parametrize("good", [1, 2, 1000])
def test_max_attempts_accepts_1_to_1000(good: int) -> None:
    assert RetryPolicy(max_attempts=good).max_attempts == good


@pytest.mark.parametrize("bad", [0, 1001, -1, True, 2.0, "3"])
def test_max_attempts_refuses_the_rest(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        RetryPolicy(max_attempts=bad)  # type: ignore[arg-type]
    assert (info.value.field, info.value.value, info.value.reason) == (
        "max_attempts", bad, "must be a whole number from 1 to 1000")


@pytest.mark.parametrize("field", ["base_delay", "max_backoff", "max_retry_after"])
def test_seconds_accept_zero_and_up(field: str) -> None:
    assert getattr(RetryPolicy(**{field: 0}), field) == 0
    assert getattr(RetryPolicy(**{field: 0.5}), field) == 0.5


@pytest.mark.parametrize("field", ["base_delay", "max_backoff", "max_retry_after"])
@pytest.mark.parametrize("bad", [-0.001, math.nan, math.inf, True, "1"])
def test_seconds_refuse_negatives_non_finite_and_non_numbers(field: str, bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        RetryPolicy(**{field: bad})  # type: ignore[arg-type]
    assert info.value.field == field
    assert info.value.reason == "must be a finite, non-negative number of seconds"
    assert info.value.value is bad


def test_the_policy_defaults() -> None:
    p = RetryPolicy()
    assert (p.max_attempts, p.base_delay, p.max_backoff, p.max_retry_after) == (5, 0.5, 20.0,
                                                                               120.0)


# -- reading the server's hints ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), ("120", 120.0), ("1.5", 1.5), (" 7 ", 7.0), ("\t7\t", 7.0),
     (str(int(MAX_HINT)), MAX_HINT), (str(int(MAX_HINT) + 1), MAX_HINT),
     ("5" + " " * 255, 5.0)],
)
def test_retry_after_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value, now=0.0) == seconds


@pytest.mark.parametrize("value", [None, "", "-1", "nan", "inf", "1e3", "1_000", "\u0663",
                                   "soon", "5" + " " * 256, "1." , ".5"])
def test_retry_after_that_is_no_wait(value: str | None) -> None:
    assert parse_retry_after(value, now=0.0) is None


def test_retry_after_as_an_http_date() -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    epoch = 1445412480.0
    assert parse_retry_after(date, now=epoch - 10) == 10.0
    assert parse_retry_after(date, now=epoch + 10) == 0.0  # in the past: no wait
    assert parse_retry_after(date, now=epoch - MAX_HINT - 5) == MAX_HINT
    assert parse_retry_after("Wed, 21 Oct 2015 25:99:00 GMT", now=0.0) is None
    # without ``now`` the wall clock is the reference: a date far in the past is no wait
    assert parse_retry_after(date) == 0.0


@pytest.mark.parametrize(
    ("value", "now", "seconds"),
    [
        ("30", 5.0, 30.0),  # a delta
        ("1000000000", 999999990.0, MAX_HINT),  # 1e9 itself is still a delta
        ("1000000001", 999999990.0, 11.0),  # above 1e9: epoch seconds
        ("1000000000000", 999999990.0, MAX_HINT),  # 1e12 itself is epoch seconds
        ("1000000000001", 999999990.0, pytest.approx(10.001)),  # above: milliseconds
        ("1700000000", 1700000100.0, 0.0),  # a reset in the past: no wait
        ("1.5", 0.0, 1.5),
    ],
)
def test_reset_in_each_unit(value: str, now: float, seconds: float) -> None:
    assert parse_reset(value, now=now) == seconds


def test_reset_falls_back_to_a_date_and_refuses_junk() -> None:
    assert parse_reset("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_reset(None) is None
    assert parse_reset("") is None
    assert parse_reset("soon", now=0.0) is None
    assert parse_reset("5" + " " * 256, now=0.0) is None
    assert parse_reset("5" + " " * 255, now=0.0) == 5.0
    # without ``now``, an epoch in the past is no wait
    assert parse_reset("1000000001") == 0.0
    assert parse_reset("1000000000001") == 0.0


@pytest.mark.parametrize(
    ("value", "count"),
    [("0", 0), ("12", 12), (" 12\t", 12), (str(MAX_COUNT), MAX_COUNT),
     ("0" * 13, 0), ("1" + " " * 255, 1)],
)
def test_counts_that_are_read(value: str, count: int) -> None:
    assert parse_count(value) == count


@pytest.mark.parametrize("value", [None, "", "1.5", "-1", "+1", "1e3", "nan",
                                   str(MAX_COUNT + 1), "1" * 14, "1" + " " * 256, "\u0663"])
def test_counts_that_are_not(value: str | None) -> None:
    assert parse_count(value) is None


# -- what is retried -----------------------------------------------------------------------------


def test_should_retry_each_kind_of_failure() -> None:
    r, _ = runner(RetryPolicy(max_retry_after=10))
    never = TransportError("refused", provider="esp", maybe_applied=False)
    applied = TransportError("reset", provider="esp", maybe_applied=True)
    for idempotent in (True, False):
        assert r.should_retry(RateLimited("429", retry_after=10), idempotent)
        assert not r.should_retry(RateLimited("429", retry_after=10.5), idempotent)
        assert r.should_retry(RateLimited("429", retry_after=None), idempotent)
        assert r.should_retry(RateLimited("429", retry_after=math.nan), idempotent)
        assert r.should_retry(never, idempotent)
        assert not r.should_retry(ResponseTooLarge("big", maybe_applied=False), idempotent)
        assert not r.should_retry(Rejected("400"), idempotent)
        assert not r.should_retry(ValueError("not an ESP error"), idempotent)
    assert r.should_retry(applied, True)
    assert not r.should_retry(applied, False)
    assert r.should_retry(server_error(), True)
    assert not r.should_retry(server_error(), False)


def test_a_retry_pays_the_budget_and_a_timeout_pays_more() -> None:
    budget = RetryBudget(capacity=100, retry_cost=5, timeout_cost=10)
    r, _ = runner(budget=budget)
    assert r.should_retry(server_error(), True)
    assert budget.available == 95
    assert r.should_retry(TransportError("timeout", maybe_applied=True), True)
    assert budget.available == 85
    assert r.should_retry(RateLimited("429"), True)
    assert budget.available == 80
    # refusals cost nothing
    assert not r.should_retry(server_error(), False)
    assert budget.available == 80


def test_an_empty_budget_stops_retries() -> None:
    budget = RetryBudget(capacity=5, retry_cost=5, timeout_cost=10)
    r, _ = runner(budget=budget)
    assert not r.should_retry(TransportError("timeout", maybe_applied=True), True)
    assert budget.available == 5
    assert r.should_retry(server_error(), True)
    assert not r.should_retry(server_error(), True)


# -- the loop ------------------------------------------------------------------------------------


def test_a_first_success_is_one_request_and_no_wait() -> None:
    r, slept = runner()
    calls, attempt = failing()
    assert r.run(attempt, idempotent=True) == "ok"  # type: ignore[arg-type]
    assert (calls[0], slept, r.stats["retries"]) == (1, [], 0)


@pytest.mark.usefixtures("top_of_jitter")
def test_the_backoff_doubles_from_base_delay_up_to_max_backoff() -> None:
    r, slept = runner(RetryPolicy(max_attempts=6, base_delay=1.0, max_backoff=5.0))
    calls, attempt = failing(*(server_error() for _ in range(5)))
    assert r.run(attempt, idempotent=True) == "ok"  # type: ignore[arg-type]
    assert calls[0] == 6
    assert slept == scaled([1.0, 2.0, 4.0, 5.0, 5.0])
    assert r.stats["retries"] == 5


@pytest.mark.usefixtures("top_of_jitter")
def test_max_attempts_is_the_number_of_requests() -> None:
    r, slept = runner(RetryPolicy(max_attempts=3, base_delay=0.5))
    calls, attempt = failing(*(server_error() for _ in range(5)))
    with pytest.raises(ServerError):
        r.run(attempt, idempotent=True)  # type: ignore[arg-type]
    assert calls[0] == 3
    assert slept == scaled([0.5, 1.0])


def test_the_server_hint_is_the_wait_up_to_the_policy() -> None:
    r, slept = runner(RetryPolicy(max_retry_after=10))
    calls, attempt = failing(RateLimited("429", retry_after=3.0),
                             RateLimited("429", retry_after=10.0))
    assert r.run(attempt, idempotent=False) == "ok"  # type: ignore[arg-type]
    assert calls[0] == 3
    assert slept == [3.0, 10.0]


def test_a_hint_beyond_the_policy_is_raised_at_once() -> None:
    r, slept = runner(RetryPolicy(max_retry_after=10))
    calls, attempt = failing(RateLimited("429", retry_after=10.5))
    with pytest.raises(RateLimited):
        r.run(attempt, idempotent=True)  # type: ignore[arg-type]
    assert (calls[0], slept) == (1, [])


def test_a_request_never_sent_is_resent_without_waiting() -> None:
    r, slept = runner(RetryPolicy(base_delay=5))
    calls, attempt = failing(TransportError("refused", maybe_applied=False))
    assert r.run(attempt, idempotent=False) == "ok"  # type: ignore[arg-type]
    assert (calls[0], slept) == (2, [0.0])


def test_an_ambiguous_failure_of_a_create_is_not_resent() -> None:
    r, slept = runner()
    calls, attempt = failing(server_error())
    with pytest.raises(ServerError):
        r.run(attempt, idempotent=False)  # type: ignore[arg-type]
    assert (calls[0], slept) == (1, [])


def test_a_delete_found_gone_after_an_ambiguous_attempt_succeeded() -> None:
    r, _ = runner()
    calls, attempt = failing(server_error(), NotFound("404"))
    assert r.run(attempt, idempotent=True, gone=lambda exc: "deleted") == "deleted"  # type: ignore[arg-type]
    assert calls[0] == 2


def test_not_found_without_an_ambiguous_attempt_is_not_found() -> None:
    r, _ = runner()
    calls, attempt = failing(NotFound("404"))
    with pytest.raises(NotFound):
        r.run(attempt, idempotent=True, gone=lambda exc: "deleted")  # type: ignore[arg-type]
    # a rejected (unambiguous) earlier attempt does not make a 404 a success either
    calls, attempt = failing(TransportError("refused", maybe_applied=False), NotFound("404"))
    with pytest.raises(NotFound):
        r.run(attempt, idempotent=True, gone=lambda exc: "deleted")  # type: ignore[arg-type]
    assert calls[0] == 2


def test_a_not_found_without_gone_is_raised_after_an_ambiguous_attempt() -> None:
    r, _ = runner()
    _, attempt = failing(server_error(), NotFound("404"))
    with pytest.raises(NotFound):
        r.run(attempt, idempotent=True)  # type: ignore[arg-type]


# -- what the runner reports and counts ------------------------------------------------------


@pytest.mark.usefixtures("top_of_jitter")
def test_pause_backs_off_like_the_loop_and_counts_a_retry() -> None:
    r, slept = runner(RetryPolicy(base_delay=1.0, max_backoff=3.0))
    for attempt in (1, 2, 3, 4):
        r.pause(attempt)
    assert slept == scaled([1.0, 2.0, 3.0, 3.0])
    assert r.stats["retries"] == 4


def test_back_off_counts_the_sleeping_threads_even_when_the_sleep_fails() -> None:
    seen: list[int] = []
    r = RetryRunner("esp", sleep=lambda s: seen.append(r.backing_off))
    r.back_off(1.0)
    assert (seen, r.backing_off) == ([1], 0)

    def broken(seconds: float) -> None:
        raise KeyboardInterrupt

    r2 = RetryRunner("esp", sleep=broken)
    with pytest.raises(KeyboardInterrupt):
        r2.back_off(1.0)
    assert r2.backing_off == 0


def test_back_off_without_an_injected_sleep_uses_time_sleep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    RetryRunner("esp").back_off(2.5)
    assert slept == [2.5]


def test_throttled_passes_a_usable_hint_to_the_limiter_and_counts() -> None:
    limiter = Limiter()
    r, _ = runner(RetryPolicy(max_retry_after=10), limiter=limiter)
    for hint in (3.0, 10.0, 10.5, None, -1.0, math.inf):
        r.throttled(hint)
    assert limiter.throttles_seen == [3.0, 10.0, None, None, None, None]
    assert r.stats["throttled"] == 6


def test_succeeded_tells_the_limiter_and_refunds_the_budget() -> None:
    limiter = Limiter()
    budget = RetryBudget(capacity=10, retry_cost=5)
    r, _ = runner(limiter=limiter, budget=budget)
    budget.spend()
    r.succeeded()
    assert (limiter.successes, budget.available) == (1, 6)


def test_longer_window_keeps_the_longest() -> None:
    r, _ = runner()
    assert r.window == 0.0
    assert not r.longer_window(0.0)
    assert r.longer_window(5.0)
    assert not r.longer_window(5.0)
    assert not r.longer_window(4.0)
    assert r.longer_window(6.0)
    assert r.window == 6.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """``time.monotonic`` answers from this list, in order."""
    ticks: list[float] = []
    monkeypatch.setattr(time, "monotonic", lambda: ticks.pop(0))
    return ticks


def test_start_attempt_counts_and_tracks_the_share_of_waited_grants(clock: list[float]) -> None:
    limiter = Limiter()
    r, _ = runner(limiter=limiter)
    # queued at 0, granted at 0.002 (not a wait), sent at 0.002
    clock.extend([0.0, 0.002, 0.002])
    r.start_attempt()
    assert (r.stats["requests"], limiter.acquired, r.limited) == (1, 1, 0.0)
    # granted 0.0021 after queueing: waited
    clock.extend([1.0, 1.0021, 1.0021])
    r.start_attempt()
    assert r.stats["requests"] == 2
    assert r.limited == pytest.approx(0.1)
    clock.extend([2.0, 2.5, 2.5])
    r.start_attempt()
    assert r.limited == pytest.approx(0.9 * 0.1 + 0.1)


def test_latency_is_a_moving_average_of_answer_times(clock: list[float]) -> None:
    r, _ = runner()
    r.answered()  # nothing sent: nothing measured
    assert r.latency is None
    clock.extend([0.0, 0.0, 10.0, 12.0])  # queued, granted, sent at 10, answered at 12
    r.start_attempt()
    r.answered()
    assert r.latency == 2.0
    r.answered()  # the same answer twice is not a second sample
    assert r.latency == 2.0
    clock.extend([20.0, 20.0, 20.0, 27.0])
    r.start_attempt()
    r.answered()
    assert r.latency == pytest.approx(0.8 * 2.0 + 0.2 * 7.0)


def test_never_sent_only_for_a_transport_failure_marked_not_applied() -> None:
    assert never_sent(TransportError("refused", maybe_applied=False))
    assert not never_sent(TransportError("reset", maybe_applied=True))
    assert not never_sent(ResponseTooLarge("big", maybe_applied=False))
    assert not never_sent(ServerError("502", maybe_applied=False))
    assert not never_sent(None)


def test_repr_names_the_provider_and_policy() -> None:
    r = RetryRunner("mailgun", retry=RetryPolicy(max_attempts=2))
    assert repr(r) == f"RetryRunner('mailgun', {RetryPolicy(max_attempts=2)!r})"


@pytest.mark.parametrize("value", ["7\n", "\n7", "X7", "7X", "\r7"])
def test_only_spaces_and_tabs_are_trimmed_from_a_hint(value: str) -> None:
    assert parse_retry_after(value, now=0.0) is None
    assert parse_reset(value, now=0.0) is None
    assert parse_count(value) is None


def test_a_zero_hint_is_a_wait_of_zero_not_no_hint() -> None:
    limiter = Limiter()
    r, slept = runner(limiter=limiter)
    r.throttled(0.0)
    assert limiter.throttles_seen == [0.0]
    _, attempt = failing(RateLimited("429", retry_after=0.0))
    assert r.run(attempt, idempotent=True) == "ok"  # type: ignore[arg-type]
    assert slept == [0.0]


def test_jitter_starts_at_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    r, slept = runner(RetryPolicy(base_delay=1.0))
    r.pause(3)
    _, attempt = failing(server_error())
    r.run(attempt, idempotent=True)  # type: ignore[arg-type]
    assert slept == [0.0, 0.0]


def test_back_off_counts_every_thread_sleeping_at_once() -> None:
    seen: list[int] = []

    def sleep(seconds: float) -> None:
        seen.append(r.backing_off)
        if len(seen) == 1:  # a second thread backs off while the first still sleeps
            r.back_off(0.0)

    r = RetryRunner("esp", sleep=sleep)
    r.back_off(1.0)
    assert seen == [1, 2]
    assert r.backing_off == 0


# -- the back-off follows the strain on the retry budget ----------------------------------------


@pytest.mark.parametrize(("left", "share"), [
    (500, 0.2),   # full: sporadic failures go again soon, at MIN_STRAIN of the cap
    (405, 0.2),   # 19 % spent: still the floor
    (395, 0.21),  # 21 % spent: over the floor
    (100, 0.8),
    (5, 0.99),
])
def test_the_back_off_cap_grows_with_what_the_budget_has_spent(left: int, share: float) -> None:
    budget = RetryBudget(capacity=500)
    while budget.available > left:
        budget.spend()  # 5 a time
    assert budget.available == left
    r, _ = runner(RetryPolicy(base_delay=1.0, max_backoff=8.0), budget=budget)
    assert r.backoff_cap(1) == pytest.approx(1.0 * share)
    assert r.backoff_cap(3) == pytest.approx(4.0 * share)
    assert r.backoff_cap(9) == pytest.approx(8.0 * share)  # the policy's ceiling still holds


def test_an_empty_budget_backs_off_in_full() -> None:
    budget = RetryBudget(capacity=10, retry_cost=5)
    budget.spend()
    budget.spend()
    r, _ = runner(RetryPolicy(base_delay=0.5), budget=budget)
    assert r.backoff_cap(2) == pytest.approx(1.0)
