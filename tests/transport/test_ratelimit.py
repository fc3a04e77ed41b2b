"""Client-side rate limiter (token bucket + CUBIC recovery) and the retry budget."""

from __future__ import annotations

import math
import threading
import time

import pytest
from support.stepclock import StepClock

from espkit.transport import ratelimit
from espkit.transport.ratelimit import BETA, RateLimiter, RetryBudget, shared_budget, shared_limiter


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
    assert a.rate == 5.0  # the first caller's rate wins
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


def test_threads_hammering_acquire_real_clock_stay_within_the_rate() -> None:
    rate = 200.0
    lim = RateLimiter(rate)
    stop = threading.Event()
    count: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        while not stop.is_set():
            lim.acquire()
            with lock:
                count.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    start = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    elapsed = time.monotonic() - start
    # one token in the bucket at the start plus ``rate`` per second, whatever the scheduling
    assert 1 <= len(count) <= 1 + rate * elapsed + 1


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
