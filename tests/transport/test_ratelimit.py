"""Client-side rate limiter (token bucket + CUBIC recovery, documented windows, announced
windows, scopes) and the retry budget. Every test runs on an injected clock."""

from __future__ import annotations

import math
import threading
import time

import pytest
from support.stepclock import StepClock

from espkit.transport import ratelimit
from espkit.transport.ratelimit import (
    BETA,
    Budget,
    Limiter,
    RateLimiter,
    RetryBudget,
    Scope,
    ScopedLimiter,
    requesting,
    shared_budget,
    shared_limiter,
)


def limiter(rate: float | None, clock: StepClock, **kw: float) -> RateLimiter:
    return RateLimiter(rate, clock=clock, sleep=clock.sleep, **kw)


# -- token bucket pacing ---------------------------------------------------------------------


def test_paces_requests_at_the_rate() -> None:
    clock = StepClock()
    lim = limiter(4.0, clock)
    waits = [lim.acquire() for _ in range(5)]
    assert waits[0] == 0.0  # the bucket starts full (one token)
    assert waits[1:] == pytest.approx([0.25] * 4)
    assert clock.now - 1000.0 == pytest.approx(1.0)


def test_burst_allows_that_many_at_once_then_paces() -> None:
    clock = StepClock()
    lim = limiter(2.0, clock, burst=3)
    assert [lim.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert lim.acquire() == pytest.approx(0.5)


def test_the_first_answer_restarts_the_pace_from_when_it_came() -> None:
    # the ESP's window starts when the first request reaches it; its answer is the first
    # moment we know it has: the second request goes one interval after that answer
    clock = StepClock()
    lim = limiter(10.0, clock)
    assert lim.try_acquire() == 0.0
    clock.advance(0.03)
    lim.on_success()
    clock.advance(0.07)  # 0.1 s after the first left: the send-paced moment
    assert lim.try_acquire() == pytest.approx(0.03)
    clock.advance(0.0299)
    assert lim.try_acquire() > 0.0
    clock.advance(0.0001)
    assert lim.try_acquire() == 0.0
    # once: the next answers do not restart it
    clock.advance(0.05)
    lim.on_success()
    clock.advance(0.05)
    assert lim.try_acquire() == 0.0


def test_without_an_answer_the_pace_runs_from_the_send() -> None:
    clock = StepClock()
    lim = limiter(10.0, clock)
    assert lim.try_acquire() == 0.0
    clock.advance(0.1)
    assert lim.try_acquire() == 0.0


def test_the_first_answer_after_several_grants_changes_nothing() -> None:
    # a burst already in flight: the ESP's window is running; no restart
    clock = StepClock()
    lim = limiter(10.0, clock, burst=2)
    assert [lim.try_acquire(), lim.try_acquire()] == [0.0, 0.0]
    clock.advance(0.03)
    lim.on_success()
    clock.advance(0.07)
    assert lim.try_acquire() == 0.0


def test_a_burst_keeps_what_the_first_request_left() -> None:
    clock = StepClock()
    lim = limiter(10.0, clock, burst=3)
    assert lim.try_acquire() == 0.0
    clock.advance(0.03)
    lim.on_success()
    # two tokens were left after the first grant: both still go at once
    assert [lim.try_acquire(), lim.try_acquire()] == [0.0, 0.0]
    assert lim.try_acquire() == pytest.approx(0.1)


def test_idle_time_refills_only_up_to_the_burst() -> None:
    clock = StepClock()
    lim = limiter(1.0, clock, burst=2)
    lim.acquire()
    lim.acquire()
    clock.advance(3600)
    assert [lim.acquire() for _ in range(2)] == [0.0, 0.0]
    assert lim.acquire() == pytest.approx(1.0)


def test_unknown_rate_does_not_limit() -> None:
    clock = StepClock()
    lim = limiter(None, clock)
    assert lim.rate is None
    assert sum(lim.acquire() for _ in range(1000)) == 0.0
    assert clock.slept == []


@pytest.mark.parametrize("rate", [0, -1.0])
def test_rejects_non_positive_rate(rate: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(rate)


def test_falls_back_to_time_sleep_looked_up_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = StepClock()
    lim = RateLimiter(10.0, clock=clock)  # no sleep injected
    monkeypatch.setattr(time, "sleep", clock.sleep)  # replaced after the limiter was built
    lim.acquire()
    assert lim.acquire() == pytest.approx(0.1)
    assert clock.slept == [pytest.approx(0.1)]


# -- throttling ------------------------------------------------------------------------------


def test_on_throttle_cuts_rate_by_beta_and_pauses_for_retry_after() -> None:
    clock = StepClock()
    lim = limiter(10.0, clock)
    lim.acquire()
    lim.on_throttle(3.0)
    assert lim.rate == pytest.approx(10.0 * BETA)
    assert lim.throttles == 1
    assert lim.acquire() == pytest.approx(3.0)  # paused: nobody sends until then
    # after the pause the bucket runs at the reduced rate
    assert lim.acquire() == pytest.approx(1 / (10.0 * BETA))


def test_on_throttle_drains_the_bucket_even_after_idle_time() -> None:
    clock = StepClock()
    lim = limiter(10.0, clock)
    lim.acquire()
    clock.advance(5.0)  # a slow request: the 429 arrives 5 s after the token was taken
    lim.on_throttle(None)
    # The throttle must leave no saved-up token: the next send waits one token's time.
    assert lim.acquire() == pytest.approx(1 / (10.0 * BETA))


def test_on_throttle_never_goes_below_min_rate() -> None:
    clock = StepClock()
    lim = limiter(1.0, clock, min_rate=0.5)
    for _ in range(10):
        lim.on_throttle(None)
    assert lim.rate == pytest.approx(0.5)
    assert lim.throttles == 10


def test_repeated_retry_after_keeps_the_latest_pause() -> None:
    clock = StepClock()
    lim = limiter(None, clock)
    lim.on_throttle(5.0)
    lim.on_throttle(2.0)  # a shorter hint does not shorten the pause already in force
    assert lim.acquire() == pytest.approx(5.0)


def test_pause_until_holds_every_caller() -> None:
    clock = StepClock()
    lim = limiter(None, clock)
    lim.pause_until(clock.now + 7.5)
    lim.pause_until(clock.now + 1.0)  # earlier: ignored
    assert lim.acquire() == pytest.approx(7.5)
    assert lim.acquire() == 0.0


def test_pause_for_is_relative_to_the_limiters_own_clock() -> None:
    clock = StepClock(start=5.0)
    lim = limiter(None, clock)
    lim.pause_for(4.0)
    assert lim.acquire() == pytest.approx(4.0)


# -- CUBIC recovery --------------------------------------------------------------------------


def test_cubic_recovery_grows_back_to_but_never_above_the_ceiling() -> None:
    clock = StepClock()
    lim = limiter(10.0, clock)
    lim.on_throttle(None)
    assert lim.rate == pytest.approx(7.0)
    lim.on_success()  # immediately after the throttle: still at BETA * w_max
    assert lim.rate == pytest.approx(7.0)
    seen = [lim.rate]
    for _ in range(60):
        clock.advance(0.25)
        lim.on_success()
        seen.append(lim.rate)
    assert all(r is not None for r in seen)
    rates = [r for r in seen if r is not None]
    assert rates == sorted(rates)  # monotone recovery
    assert max(rates) == pytest.approx(10.0)
    assert all(r <= 10.0 for r in rates)
    # the CUBIC curve: back at w_max exactly K seconds after the throttle
    k = (10.0 * (1 - BETA) / ratelimit.SCALE) ** (1 / 3)
    clock2 = StepClock()
    lim2 = limiter(10.0, clock2)
    lim2.on_throttle(None)
    clock2.advance(k)
    lim2.on_success()
    assert lim2.rate == pytest.approx(10.0)
    clock2.advance(k / 2)
    lim2.on_success()
    assert lim2.rate == pytest.approx(10.0)  # capped


def test_cubic_recovery_halfway_to_k_is_part_way_back() -> None:
    clock = StepClock()
    lim = limiter(100.0, clock)
    lim.acquire()
    lim.on_throttle(None)
    k = (100.0 * (1 - BETA) / ratelimit.SCALE) ** (1 / 3)
    clock.advance(k / 2)
    lim.on_success()
    # SCALE * (-K/2)**3 + w_max = w_max - w_max * (1 - BETA) / 8
    assert lim.rate == pytest.approx(100.0 - 100.0 * (1 - BETA) / 8)


def test_on_success_without_a_throttle_changes_nothing() -> None:
    clock = StepClock()
    lim = limiter(5.0, clock)
    lim.on_success()
    assert lim.rate == 5.0
    lim2 = limiter(None, clock)
    lim2.on_success()
    assert lim2.rate is None


# -- learning an unknown rate ----------------------------------------------------------------


def test_unknown_rate_learns_from_measured_sends() -> None:
    clock = StepClock()
    lim = limiter(None, clock)
    for _ in range(10):  # 10 requests/second
        lim.acquire()
        clock.advance(0.1)
    lim.on_throttle(None)
    assert lim.rate == pytest.approx(10.0 * BETA)
    assert lim.ceiling is None
    # the next request waits one token at the learnt rate
    assert lim.acquire() == pytest.approx(1 / (10.0 * BETA))
    # recovery without a documented ceiling stops at twice the last good rate
    clock.advance(3600)
    lim.on_success()
    assert lim.rate == pytest.approx(2 * 10.0)


def test_unknown_rate_measures_the_recent_send_rate_not_the_lifetime_average() -> None:
    clock = StepClock()
    lim = limiter(None, clock)
    lim.acquire()  # one request, then a long idle spell
    clock.advance(600)
    for _ in range(20):  # a 20/s burst that the ESP throttles
        lim.acquire()
        clock.advance(0.05)
    lim.on_throttle(None)
    assert lim.rate == pytest.approx(20.0 * BETA, rel=0.1)


def test_unknown_rate_with_nothing_to_measure_only_honours_retry_after() -> None:
    # The very first request is throttled (another process used the quota): there is no
    # send rate to learn from, so the limiter must not invent a crawl (0.07/s = 14 s a call).
    clock = StepClock()
    lim = limiter(None, clock)
    lim.acquire()
    lim.on_throttle(1.0)
    assert lim.throttles == 1
    assert lim.acquire() == pytest.approx(1.0)
    assert lim.acquire() < 1.0
    assert clock.now - 1000.0 < 3.0


# -- retry budget ----------------------------------------------------------------------------


def test_retry_budget_spend_refund_capacity() -> None:
    budget = RetryBudget(capacity=20, retry_cost=5, timeout_cost=10)
    assert budget.available == 20
    assert budget.spend() == 5
    assert budget.spend(timeout=True) == 10
    assert budget.available == 5
    assert budget.spend(timeout=True) == 0  # cannot afford: nothing taken
    assert budget.available == 5
    assert budget.spend() == 5
    assert budget.spend() == 0
    assert budget.available == 0
    budget.refund()
    assert budget.available == 1
    budget.refund(100)
    assert budget.available == 20  # never above capacity


def test_retry_budget_defaults() -> None:
    budget = RetryBudget()
    assert budget.capacity == budget.available == 500
    spent = 0
    while budget.spend():
        spent += 1
    assert spent == 100


# -- process-wide sharing --------------------------------------------------------------------


def test_shared_limiter_and_budget_are_one_object_per_key() -> None:
    a = shared_limiter(("p", "acct1"), 5.0)
    assert shared_limiter(("p", "acct1"), 99.0) is a
    assert a.rate == 4.9  # the first caller's rate wins (paced 2 % under)
    assert shared_limiter(("p", "acct2"), 5.0) is not a
    b = shared_budget(("p", "acct1"))
    assert shared_budget(("p", "acct1")) is b
    assert shared_budget(("p", "acct2")) is not b
    ratelimit.reset_shared()
    assert shared_limiter(("p", "acct1"), 5.0) is not a
    assert shared_budget(("p", "acct1")) is not b


def _in_threads(n: int, target: object) -> None:
    threads = [threading.Thread(target=target) for _ in range(n)]  # type: ignore[arg-type]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()


def test_shared_limiter_is_thread_safe() -> None:
    barrier = threading.Barrier(32)
    got: list[RateLimiter] = []
    budgets: list[RetryBudget] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        lim = shared_limiter("hot-key", 10.0)
        bud = shared_budget("hot-key")
        with lock:
            got.append(lim)
            budgets.append(bud)

    _in_threads(32, worker)
    assert len(got) == 32
    assert len({id(x) for x in got}) == 1
    assert len({id(x) for x in budgets}) == 1


class _OutOfTokens(Exception):
    pass


def test_threads_hammering_acquire_never_exceed_the_bucket() -> None:
    # A frozen clock: exactly ``burst`` tokens exist. Any race in acquire would hand out more.
    now = 50.0
    burst = 5
    lim = RateLimiter(1.0, burst=burst, clock=lambda: now, sleep=_raise_out_of_tokens)
    granted: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def worker() -> None:
        barrier.wait()
        for _ in range(1000):
            try:
                lim.acquire()
            except _OutOfTokens:
                return
            with lock:
                granted.append(1)

    _in_threads(16, worker)
    assert len(granted) == burst


def _raise_out_of_tokens(seconds: float) -> None:
    raise _OutOfTokens(seconds)


def test_threads_hammering_a_window_get_exactly_its_count_per_window() -> None:
    # the documented window on a frozen clock: exactly ``count`` grants, whatever the races;
    # the clock moved on by exactly the window (its margin included) frees exactly as many
    clock = StepClock()
    budget = Budget(25, 10.0)
    lim = RateLimiter(budget, clock=clock, sleep=_raise_out_of_tokens)
    rounds: list[int] = []
    for _ in range(2):
        granted: list[int] = []
        lock = threading.Lock()
        barrier = threading.Barrier(12)

        def worker(granted: list[int] = granted, lock: threading.Lock = lock,
                   barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            for _ in range(100):
                try:
                    lim.acquire()
                except _OutOfTokens:
                    return
                with lock:
                    granted.append(1)

        _in_threads(12, worker)
        rounds.append(len(granted))
        clock.advance(budget.span)
    assert rounds == [25, 25]


def test_retry_budget_is_thread_safe() -> None:
    budget = RetryBudget(capacity=100, retry_cost=5)
    barrier = threading.Barrier(50)
    spent: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        for _ in range(10):
            cost = budget.spend()
            if cost:
                with lock:
                    spent.append(cost)

    _in_threads(50, worker)
    assert sum(spent) == 100
    assert budget.available == 0


def test_one_overload_seen_by_many_threads_cuts_the_rate_once() -> None:
    clock = StepClock()
    lim = RateLimiter(1000.0, burst=50, clock=clock, sleep=clock.sleep)
    in_flight = threading.Barrier(20)

    def request() -> None:
        lim.acquire()
        in_flight.wait()  # all 20 are out before any answer comes back
        lim.on_throttle(1.0)

    threads = [threading.Thread(target=request) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lim.throttles == 20
    assert lim.rate == pytest.approx(1000.0 * BETA)  # not 1000 * 0.7 ** 20
    # a request sent after that cut and throttled again is a new event: it cuts again
    lim.acquire()
    lim.on_throttle(None)
    assert lim.rate == pytest.approx(1000.0 * BETA * BETA)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 0.0, -1.0])
def test_numbers_that_cannot_pace_or_pause_are_ignored(bad: float) -> None:
    # nan would switch pacing off (every comparison with it is false), inf stop it for good
    clock = StepClock()
    lim = RateLimiter(2.0, clock=clock, sleep=clock.sleep)
    lim.lower_ceiling(bad)
    lim.pause_for(bad)
    lim.on_throttle(bad)
    assert lim.ceiling == 2.0
    assert lim.rate is not None
    assert math.isfinite(lim.rate)
    lim.acquire()
    lim.acquire()
    assert clock.slept
    assert all(math.isfinite(s) and s <= 1.0 for s in clock.slept)
    lim.lower_ceiling(1.0)  # the other side: a real number still lowers it
    assert lim.ceiling == 1.0


# -- documented windows ------------------------------------------------------------------------


def test_a_window_lets_its_count_go_at_once_and_not_one_more() -> None:
    clock = StepClock()
    lim = RateLimiter(Budget(300, 60.0), clock=clock, sleep=clock.sleep)
    assert [lim.try_acquire() for _ in range(300)] == [0.0] * 300  # the whole burst, at once
    assert clock.slept == []
    wait = lim.try_acquire()  # the 301st: refused until the first grant leaves the window
    assert wait == pytest.approx(Budget(300, 60.0).span)
    assert Budget(300, 60.0).span == pytest.approx(61.0)  # the safety margin
    clock.advance(wait - 1e-3)
    assert lim.try_acquire() > 0.0  # just before: still refused
    clock.advance(1e-3)
    # exactly then the whole burst has left the window: the next 300, and not one more
    assert [lim.try_acquire() for _ in range(300)] == [0.0] * 300
    assert lim.try_acquire() == pytest.approx(Budget(300, 60.0).span)


def test_a_window_never_holds_more_than_its_count_in_any_span() -> None:
    clock = StepClock()
    budget = Budget(5, 1.0)
    lim = RateLimiter(budget, clock=clock, sleep=clock.sleep)
    grants = []
    for _ in range(40):
        lim.acquire()
        grants.append(clock.now)
        clock.advance(0.07)  # a steady caller faster than the window's average
    for i, first in enumerate(grants):
        assert sum(1 for t in grants[i:] if t - first < budget.span - 1e-9) <= 5
    # and it uses the budget: 5 per window, one window after another
    assert grants[5] - grants[0] == pytest.approx(budget.span)


def test_a_window_rate_is_its_average_and_a_429_cuts_from_it() -> None:
    clock = StepClock()
    lim = RateLimiter(Budget(300, 60.0), clock=clock, sleep=clock.sleep)
    assert lim.rate == lim.ceiling == 5.0
    lim.acquire()
    lim.on_throttle(2.0)
    assert lim.throttles == 1
    assert lim.rate == pytest.approx(5.0 * BETA)  # paced smoothly now, not in bursts
    assert lim.acquire() == pytest.approx(2.0)  # Retry-After first
    assert lim.acquire() == pytest.approx(1 / (5.0 * BETA))


def test_a_window_recovers_to_bursts_once_the_pace_is_back_at_the_ceiling() -> None:
    clock = StepClock()
    lim = RateLimiter(Budget(10, 2.0), clock=clock, sleep=clock.sleep)
    lim.acquire()
    lim.on_throttle(None)
    k = (5.0 * (1 - BETA) / ratelimit.SCALE) ** (1 / 3)
    clock.advance(k / 2)
    lim.on_success()
    assert lim.rate is not None
    assert lim.rate < 5.0  # part way back: still paced
    clock.advance(k)
    lim.on_success()
    assert lim.rate == 5.0
    clock.advance(10.0)
    # the pace is off again: the window's burst is back
    assert [lim.try_acquire() for _ in range(10)] == [0.0] * 10
    assert lim.try_acquire() > 0.0


def test_a_lowered_ceiling_paces_a_window_smoothly() -> None:
    clock = StepClock()
    lim = RateLimiter(Budget(100, 10.0), clock=clock, sleep=clock.sleep)
    lim.lower_ceiling(2.0)
    assert lim.ceiling == 2.0
    lim.acquire()
    assert lim.acquire() == pytest.approx(0.5)


# -- announced windows -------------------------------------------------------------------------


def test_announced_remaining_zero_pauses_until_the_reset() -> None:
    clock = StepClock()
    lim = limiter(None, clock)
    lim.acquire()
    lim.announce(600, 0, 7.0)
    assert lim.try_acquire() == pytest.approx(7.0)
    clock.advance(7.0 - 1e-6)
    assert lim.try_acquire() > 0.0
    clock.advance(1e-6)
    # the new window holds the announced limit: 600 at once, not one more
    assert [lim.try_acquire() for _ in range(600)] == [0.0] * 600
    assert lim.try_acquire() == pytest.approx(7.0)


def test_announced_remaining_high_raises_the_pace_above_the_documented_one() -> None:
    clock = StepClock()
    lim = RateLimiter(Budget(10, 60.0), clock=clock, sleep=clock.sleep)
    lim.acquire()
    lim.announce(100, 99, 30.0)  # the account has more than the docs say
    assert [lim.try_acquire() for _ in range(99)] == [0.0] * 99
    assert lim.try_acquire() == pytest.approx(30.0)  # and not one more before the reset


def test_announced_budget_lowers_the_pace_below_the_documented_one() -> None:
    clock = StepClock()
    lim = RateLimiter(Budget(300, 60.0), clock=clock, sleep=clock.sleep)
    lim.acquire()
    lim.announce(300, 3, 20.0)  # another host has spent most of the window
    assert [lim.try_acquire() for _ in range(3)] == [0.0] * 3
    assert lim.try_acquire() == pytest.approx(20.0)


def test_announcements_count_requests_the_esp_has_not_seen_yet() -> None:
    clock = StepClock()
    lim = limiter(None, clock)
    done = threading.Event()
    seen = threading.Event()

    def first() -> None:
        lim.acquire()  # this thread's request...
        seen.set()
        done.wait(10)
        lim.announce(50, 10, 30.0)  # ...answered after 4 more went out

    t = threading.Thread(target=first)
    t.start()
    assert seen.wait(10)
    for _ in range(4):
        lim.acquire()
    done.set()
    t.join(10)
    # 10 left when the first was answered, 4 of them already spent since
    assert [lim.try_acquire() for _ in range(6)] == [0.0] * 6
    assert lim.try_acquire() > 0.0


def test_within_one_window_an_announcement_only_lowers_what_is_left() -> None:
    clock = StepClock()
    lim = limiter(None, clock)
    lim.acquire()
    lim.announce(100, 20, 30.0)
    for _ in range(15):
        lim.acquire()  # 5 left by our count; the ESP has counted fewer so far
    lim.announce(100, 18, 29.0)  # the same window (ends about when the first said)
    assert [lim.try_acquire() for _ in range(5)] == [0.0] * 5
    assert lim.try_acquire() > 0.0
    lim.announce(100, 2, 29.5)  # lower than our count (another host): obeyed
    assert lim.try_acquire() > 0.0


def test_a_later_window_replaces_the_announcement_upward() -> None:
    clock = StepClock()
    lim = limiter(None, clock)
    lim.acquire()
    lim.announce(100, 0, 5.0)
    clock.advance(5.0)
    lim.acquire()  # the new window
    lim.announce(100, 99, 60.0)  # its own count, from the ESP: up from 0
    assert [lim.try_acquire() for _ in range(99)] == [0.0] * 99
    assert lim.try_acquire() > 0.0


@pytest.mark.parametrize(("limit", "remaining", "reset"), [
    (0, 0, 5.0), (10, 5, 0.0), (10, 5, -1.0), (10, -1, 5.0), (10, 5, math.nan),
    (10, 5, math.inf),
])
def test_announcements_that_make_no_sense_are_ignored(
    limit: int, remaining: int, reset: float
) -> None:
    clock = StepClock()
    lim = limiter(None, clock)
    lim.acquire()
    lim.announce(limit, remaining, reset)
    assert sum(lim.acquire() for _ in range(50)) == 0.0


def test_a_429_inside_an_announced_window_spends_it_without_a_cut() -> None:
    clock = StepClock()
    lim = limiter(None, clock)
    for _ in range(5):
        lim.acquire()
        clock.advance(0.1)
    lim.announce(100, 50, 10.0)
    lim.on_throttle(None)  # the ESP refused anyway: the window is spent
    assert lim.try_acquire() == pytest.approx(10.0)
    assert lim.rate == pytest.approx(100 / 10.0)  # the announced window's, not a cut one
    clock.advance(10.0)
    # no pace was learnt from the refusal: the next window's 100 go at once
    assert [lim.try_acquire() for _ in range(100)] == [0.0] * 100


# -- scopes --------------------------------------------------------------------------------


def _scoped(clock: StepClock) -> ScopedLimiter:
    domains = RateLimiter(Budget(3, 60.0), clock=clock, sleep=clock.sleep)
    metrics = RateLimiter(Budget(2, 10.0), clock=clock, sleep=clock.sleep)
    other = RateLimiter(None, clock=clock, sleep=clock.sleep)
    routes = [Budget(3, 60.0, "domains", paths=("/v4/domains", "/v3/domains")),
              Budget(2, 10.0, "metrics", paths=("/v1/analytics",))]
    return ScopedLimiter({"domains": domains, "metrics": metrics, "account": other},
                         routes, "account", "domains")


def test_each_request_is_paced_by_its_scope_alone() -> None:
    clock = StepClock()
    lim = _scoped(clock)
    assert isinstance(lim, Limiter)
    with requesting("/v4/domains"):
        assert [lim.try_acquire() for _ in range(3)] == [0.0] * 3
        assert lim.try_acquire() > 0.0  # the domains window is spent...
    with requesting("/v3/ips"):
        assert [lim.try_acquire() for _ in range(100)] == [0.0] * 100  # ...not the others'
    with requesting("/v1/analytics/metrics"):
        assert [lim.try_acquire() for _ in range(2)] == [0.0] * 2
        assert lim.try_acquire() > 0.0
    with requesting("/v3/domains/example.com/ips"):  # below a prefix: the same scope
        assert lim.try_acquire() > 0.0
    with requesting("/v4/domainsx"):  # a prefix of a segment is not below it
        assert lim.try_acquire() == 0.0


def test_a_throttle_reaches_the_scope_of_the_request_only() -> None:
    clock = StepClock()
    lim = _scoped(clock)
    with requesting("/v1/analytics/metrics"):
        lim.acquire()
        lim.on_throttle(30.0)
        assert lim.rate == pytest.approx(0.2 * BETA)
    assert lim.throttles == 1
    with requesting("/v4/domains/x.example.com"):
        assert lim.try_acquire() == 0.0  # not paused by the metrics 429
        assert lim.rate == pytest.approx(0.05)


def test_outside_a_request_the_primary_scope_answers() -> None:
    clock = StepClock()
    lim = _scoped(clock)
    assert lim.rate == lim.ceiling == pytest.approx(3 / 60)
    assert lim.budget == Budget(3, 60.0)  # what the bulk engine may size a burst for
    with requesting("/v5/accounts/subaccounts"):
        assert lim.rate is None  # the undocumented rest: learnt from 429s
        assert lim.budget is None


def test_shared_limiter_builds_one_limiter_per_scope_and_account() -> None:
    spec = (Budget(300, 60, "domains", paths=("/v4/domains",)),
            Scope("pools", ("/v3/ip_pools",)))
    lim = shared_limiter(("p", "acct"), spec)
    assert isinstance(lim, ScopedLimiter)
    assert shared_limiter(("p", "acct"), spec) is lim
    assert set(lim.limiters) == {"domains", "pools", "account"}
    assert lim.scope_of("/v4/domains") is lim.limiters["domains"]
    assert lim.scope_of("/v3/ip_pools/1") is lim.limiters["pools"]
    assert lim.scope_of("/v3/ips") is lim.limiters["account"]
    # another account's scopes are its own
    other = shared_limiter(("p", "other"), spec)
    assert isinstance(other, ScopedLimiter)
    assert other.limiters["domains"] is not lim.limiters["domains"]
    # a single budget is a plain limiter
    assert isinstance(shared_limiter(("p", "single"), Budget(10, 1.0)), RateLimiter)


def test_a_scope_declared_twice_is_refused() -> None:
    from espkit.errors import ValidationError

    with pytest.raises(ValidationError, match="declared twice"):
        shared_limiter(("p", "twice"), (Budget(1, 1, "a", paths=("/a",)),
                                        Scope("a", ("/b",))))
