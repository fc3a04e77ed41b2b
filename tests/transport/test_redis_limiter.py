"""``RedisLimiter``: one rate budget and one backoff for every process and host on a Redis.

Runs against a real ``redis-server`` started on 127.0.0.1 for the session (skipped when it is
not installed, unless ``ESPKIT_REQUIRE_REDIS=1``, as in CI). The limiters read an injected
step clock instead of Redis's ``TIME`` (``clock=``), so every wait is exact and no test holds
a real-time window; several processes share one clock through shared memory.
"""

from __future__ import annotations

import itertools
import logging
import math
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import redis
import responses
from support.stepclock import StepClock

import espkit
from espkit.credentials import Secret
from espkit.errors import ConfigError
from espkit.transport import ratelimit
from espkit.transport.ratelimit import (
    BETA,
    BUDGET_PREFIX,
    KEY_PREFIX,
    SCALE,
    Budget,
    Limiter,
    LimiterUnavailable,
    RateLimiter,
    RedisLimiter,
    RedisRetryBudget,
    ScopedLimiter,
    redis_key,
    shared_budget,
    shared_limiter,
)

MAILGUN = "https://api.mailgun.net"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """``redis://127.0.0.1:<port>/0`` of a throwaway server, no persistence."""
    exe = shutil.which("redis-server")
    if exe is None:
        reason = "redis-server not installed: apt-get install redis-server"
        if os.environ.get("ESPKIT_REQUIRE_REDIS") == "1":
            pytest.fail(f"{reason} (ESPKIT_REQUIRE_REDIS=1)")
        pytest.skip(reason)
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server on port {port} did not start")
                time.sleep(0.02)
        yield url
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def url(redis_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv(ratelimit.ENV_LIMITER_URL, raising=False)
    redis.Redis.from_url(redis_server).flushdb()
    return redis_server


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


def key() -> tuple[str, str]:
    """A limiter key of its own for each use."""
    return ("test", uuid.uuid4().hex)


def make(k: Any, rate: Any, url: str, clock: StepClock, **kw: Any) -> RedisLimiter:
    return RedisLimiter(k, rate, url=url, clock=clock, sleep=clock.sleep, **kw)


def grants(limiter: Limiter, clock: StepClock, n: int) -> list[float]:
    """The step-clock times of ``n`` grants in a row."""
    times = []
    for _ in range(n):
        limiter.acquire()
        times.append(clock.now)
    return times


# -- pacing a rate -----------------------------------------------------------------------------


def test_paces_at_the_rate_a_grant_at_most_tolerance_early(url: str, clock: StepClock) -> None:
    lim = make(key(), 40.0, url, clock)
    times = grants(lim, clock, 41)
    # spaced 1/rate apart; only the first wait comes TOLERANCE (5 ms) early, the schedule
    # is kept: 40 intervals take 1 s less those 5 ms
    assert times[-1] - times[0] == pytest.approx(40 / 40 - 0.005)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.75 / 40 - 1e-6  # never a burst: at most TOLERANCE (5 ms) early
    assert lim.try_acquire() > 0.0


def test_two_limiter_objects_on_one_key_share_the_budget(url: str, clock: StepClock) -> None:
    k = key()
    a, b = make(k, 50.0, url, clock), make(k, 50.0, url, clock)
    times = []
    for _ in range(20):
        for lim in (a, b):
            lim.acquire()
            times.append(clock.now)
    assert times[-1] - times[0] == pytest.approx(39 / 50 - 0.005)


def _racer(url: str, name: str, rate: Any, now: Any, barrier: Any, rounds: int,
           results: Any) -> None:
    """One OS process on the shared budget: at each step of the shared clock, take every
    grant it can; report how many it got per step."""
    lim = RedisLimiter(("test", name), rate, url=url, clock=lambda: now.value)
    got = []
    for _ in range(rounds):
        barrier.wait(timeout=30)  # the parent has set the clock
        n = 0
        while lim.try_acquire() == 0.0:
            n += 1
        got.append(n)
        barrier.wait(timeout=30)  # every process has been refused at this time
    results.put(got)


def race(url: str, rate: Any, steps: list[float], processes: int = 3) -> list[list[int]]:
    """Run ``processes`` racers through the clock times ``steps``; grants per process/step."""
    ctx = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    now = ctx.Value("d", steps[0])
    barrier, results = ctx.Barrier(processes + 1), ctx.Queue()
    name = uuid.uuid4().hex
    procs = [ctx.Process(target=_racer,
                         args=(url, name, rate, now, barrier, len(steps), results))
             for _ in range(processes)]
    for p in procs:
        p.start()
    try:
        for t in steps:
            now.value = t
            barrier.wait(timeout=30)
            barrier.wait(timeout=30)
        out: list[list[int]] = [results.get(timeout=30) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs)
    return out


def test_three_processes_share_one_rate(url: str) -> None:
    # at 20/s: one grant per 50 ms across all three, whoever wins each race
    steps = [1000.0 + 0.05 * i for i in range(10)] + [1000.494, 1000.495]
    per_process = race(url, 20.0, steps)
    totals = [sum(step) for step in zip(*per_process, strict=True)]
    assert totals[:10] == [1] * 10  # exactly one grant per emission interval
    assert totals[10:] == [0, 1]  # 6 ms before the next slot: refused; 5 ms: granted


# -- documented windows ------------------------------------------------------------------------


def test_a_window_goes_at_once_then_one_span_later(url: str, clock: StepClock) -> None:
    k = key()
    budget = Budget(5, 1.0)
    a, b = make(k, budget, url, clock), make(k, budget, url, clock)
    assert [lim.try_acquire() for lim in (a, b, a, b, a)] == [0.0] * 5  # shared: 5 in all
    assert b.try_acquire() == pytest.approx(budget.span)
    assert a.snapshot()["in_window"] == 5
    clock.advance(budget.span - 1e-6)
    assert a.try_acquire() > 0.0  # the other side of the boundary
    clock.advance(1e-6)
    assert [a.try_acquire() for _ in range(5)] == [0.0] * 5
    assert a.try_acquire() > 0.0
    assert a.rate == b.rate == 5.0


def test_a_429_on_a_window_paces_every_process_then_recovers(url: str, clock: StepClock) -> None:
    k = key()
    a, b = make(k, Budget(10, 1.0), url, clock), make(k, Budget(10, 1.0), url, clock)
    a.acquire()
    a.on_throttle(None)
    assert b.rate == pytest.approx(10.0 * BETA)
    clock.advance(60.0)
    b.on_success()  # long past K: back at the ceiling, and the window governs again
    assert b.snapshot()["rate"] is None
    assert [b.try_acquire() for _ in range(10)] == [0.0] * 10


# -- announced windows -------------------------------------------------------------------------


def test_an_announcement_is_shared_exactly(url: str, clock: StepClock) -> None:
    k = key()
    a, b = make(k, None, url, clock), make(k, None, url, clock)
    a.acquire()
    b.acquire()  # sent after a's request: the ESP had not counted it
    a.announce(100, 5, 30.0)
    snap = b.snapshot()
    assert snap["announced_left"] == 4
    assert snap["announced_for"] == pytest.approx(30.0)
    assert [b.try_acquire() for _ in range(4)] == [0.0] * 4
    assert a.try_acquire() == pytest.approx(30.0)  # remaining 0: paused till the reset
    a.announce(100, 50, 29.0)  # the same window: it never raises what is left
    assert b.try_acquire() > 0.0
    clock.advance(30.0)
    # the new window holds the announced limit
    assert [b.try_acquire() for _ in range(100)] == [0.0] * 100
    assert b.try_acquire() > 0.0


def test_a_later_window_raises_the_pace(url: str, clock: StepClock) -> None:
    lim = make(key(), Budget(2, 60.0), url, clock)
    lim.acquire()
    lim.announce(500, 300, 45.0)
    assert [lim.try_acquire() for _ in range(300)] == [0.0] * 300
    assert lim.try_acquire() == pytest.approx(45.0)


# -- throttling --------------------------------------------------------------------------------


def test_retry_after_in_one_pauses_the_others(url: str, clock: StepClock) -> None:
    k = key()
    a, b = make(k, 100.0, url, clock), make(k, 100.0, url, clock)
    a.acquire()
    a.on_throttle(0.3)
    assert b.acquire() == pytest.approx(0.3)
    assert (a.throttles, b.throttles) == (1, 0)


def test_pause_for_holds_every_limiter_on_the_key(url: str, clock: StepClock) -> None:
    k = key()
    a, b = make(k, None, url, clock), make(k, None, url, clock)
    a.pause_for(0.2)
    a.pause_for(0.05)  # shorter: the longer pause stands
    assert b.snapshot()["paused_for"] == pytest.approx(0.2)
    assert b.acquire() == pytest.approx(0.2)


def test_a_throttle_cuts_the_shared_rate_and_successes_grow_it_back(
    url: str, clock: StepClock
) -> None:
    k = key()
    a, b = make(k, 10.0, url, clock), make(k, 10.0, url, clock)
    assert b.rate == 10.0
    a.acquire()
    a.on_throttle(None)
    assert b.rate == pytest.approx(10.0 * BETA)
    clock.advance(0.3)
    b.on_success()
    k_ = (10.0 * (1 - BETA) / SCALE) ** (1 / 3)
    assert b.snapshot()["since_cut"] == pytest.approx(0.3)
    assert a.rate == pytest.approx(SCALE * (0.3 - k_) ** 3 + 10.0)  # RateLimiter's curve
    clock.advance(60.0)
    b.on_success()
    assert a.rate == 10.0  # and never past the ceiling


def test_a_burst_of_429s_from_many_limiters_cuts_once(url: str, clock: StepClock) -> None:
    k = key()
    limiters = [make(k, 200.0, url, clock) for _ in range(10)]
    for lim in limiters:
        lim.acquire()  # ten requests in flight at the old rate...
    for lim in limiters:
        lim.on_throttle(None)  # ...all answered 429: one overload, one cut
    snap = limiters[0].snapshot()
    assert snap["cuts"] == 1
    assert snap["rate"] == pytest.approx(200.0 * BETA)
    limiters[3].acquire()  # sent after the cut (it waits for the new pace) and refused
    limiters[3].on_throttle(None)
    assert limiters[0].snapshot()["cuts"] == 2
    assert limiters[0].rate == pytest.approx(200.0 * BETA * BETA)
    assert sum(lim.throttles for lim in limiters) == 11


def test_threads_of_one_limiter_also_cut_once_per_event(url: str, clock: StepClock) -> None:
    lim = RedisLimiter(key(), 200.0, url=url, clock=clock, sleep=clock.sleep, burst=5)
    barrier = threading.Barrier(5)

    def request() -> None:
        lim.acquire()
        barrier.wait(timeout=30)  # all five sent before any 429 is reported
        lim.on_throttle(None)

    threads = [threading.Thread(target=request) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert lim.snapshot()["cuts"] == 1
    assert lim.throttles == 5


def test_unknown_rate_is_learnt_from_what_everyone_sent(url: str, clock: StepClock) -> None:
    k = key()
    a, b = make(k, None, url, clock), make(k, None, url, clock)
    assert a.rate is None
    for _ in range(20):
        a.acquire()
        b.acquire()
        clock.advance(0.01)
    assert clock.slept == []  # nothing paced before the first 429
    b.on_throttle(None)
    sent = 40 / (clock.now - 1000.0)  # 40 sends since the first, by both
    assert a.snapshot()["w_max"] == pytest.approx(sent)
    assert a.rate == b.rate == pytest.approx(sent * BETA)


def test_unknown_rate_with_nothing_sent_only_pauses(url: str, clock: StepClock) -> None:
    lim = make(key(), None, url, clock)
    lim.on_throttle(0.1)
    assert lim.rate is None
    assert lim.snapshot()["cuts"] == 0
    assert lim.acquire() == pytest.approx(0.1)


def test_different_keys_and_scopes_are_independent(url: str, clock: StepClock) -> None:
    k = key()
    a = make(k, 5.0, url, clock)
    a.acquire()
    a.on_throttle(5.0)
    assert make(key(), 5.0, url, clock).acquire() == 0.0
    other_scope = make(k, 5.0, url, clock, scope="metrics")
    assert other_scope.acquire() == 0.0
    assert other_scope.rate == 5.0


def test_a_learnt_lower_ceiling_caps_the_shared_rate(url: str, clock: StepClock) -> None:
    lim = make(key(), None, url, clock)
    assert lim.rate is None
    lim.lower_ceiling(40.0)
    lim.lower_ceiling(80.0)  # never raised
    assert lim.ceiling == 40.0
    times = grants(lim, clock, 21)
    assert times[-1] - times[0] == pytest.approx(20 / 40 - 0.005)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0])
def test_numbers_that_cannot_pace_or_pause_are_ignored(
    url: str, clock: StepClock, bad: float
) -> None:
    # round(inf) raises OverflowError and nan would poison the shared hash
    lim = make(key(), 5.0, url, clock)
    lim.lower_ceiling(bad)
    lim.pause_for(bad)
    lim.on_throttle(bad)
    lim.announce(10, 0, bad)
    assert lim.ceiling == 5.0
    assert lim.snapshot()["paused_for"] == 0.0
    assert lim.snapshot()["announced_left"] is None


# -- keys --------------------------------------------------------------------------------------


def test_state_is_namespaced_hashed_tagged_and_expires(url: str, clock: StepClock) -> None:
    secret = Secret("key-do-not-leak-0123456789")
    account = ("mailgun", secret.fingerprint, MAILGUN)
    lim = make(account, Budget(3, 1.0), url, clock, scope="domains")
    lim.acquire()
    client = redis.Redis.from_url(url)
    names = sorted(n.decode() for n in client.keys("*"))
    tag = redis_key(account)
    assert names == [f"{tag}:domains", f"{tag}:domains:log"]
    assert lim.redis_key == f"{tag}:domains"
    assert tag.startswith(KEY_PREFIX + "{")  # a cluster hash tag...
    assert tag.endswith("}")  # ...around the digest alone
    assert len(tag) == len(KEY_PREFIX) + 64 + 2
    assert "mailgun" not in tag
    assert secret.reveal() not in " ".join(names)
    assert all(0 < client.pttl(n) <= 3600 * 1000 for n in names)
    # the same key tuple gives the same Redis key everywhere
    assert redis_key(("mailgun", secret.fingerprint, MAILGUN)) == tag


# -- the retry budget in Redis -----------------------------------------------------------------


def test_the_retry_budget_is_shared_by_every_process(url: str) -> None:
    k = key()
    a = RedisRetryBudget(k, url=url, capacity=20, retry_cost=5, timeout_cost=10)
    b = RedisRetryBudget(k, url=url, capacity=20, retry_cost=5, timeout_cost=10)
    assert a.redis_key == BUDGET_PREFIX + redis_key(k).rpartition(":")[2]
    assert a.spend() == 5
    assert b.spend(timeout=True) == 10
    assert a.available == b.available == 5
    assert a.spend(timeout=True) == 0  # cannot afford: nothing taken
    assert b.spend() == 5
    assert a.spend() == 0
    for _ in range(19):
        a.refund()  # counted here, not sent yet
    assert b.available == 0
    a.refund()  # the 20th flushes
    assert b.available == 20  # never above the capacity...
    a.refund(100)
    assert a.spend() == 5  # ...and a spend sends the refunds counted before it


def test_threads_spending_the_shared_budget_never_overdraw(url: str) -> None:
    budget = RedisRetryBudget(key(), url=url, capacity=100, retry_cost=5)
    spent: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def worker() -> None:
        barrier.wait(timeout=30)
        for _ in range(5):
            cost = budget.spend()
            with lock:
                spent.append(cost)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sum(spent) == 100
    assert budget.available == 0


def test_an_unreachable_budget_refuses_retries_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = _free_port()
    budget = RedisRetryBudget(key(), url=f"redis://:s3cret-pw@127.0.0.1:{port}/0")
    with caplog.at_level(logging.WARNING):
        assert budget.spend() == 0
    assert f"127.0.0.1:{port}" in caplog.text
    assert "s3cret" not in caplog.text


# -- failure -----------------------------------------------------------------------------------


def test_unreachable_redis_fails_at_first_use_naming_it_without_the_password() -> None:
    port = _free_port()  # nothing listens there
    lim = shared_limiter(key(), 5.0, f"redis://:s3cret-pw@127.0.0.1:{port}/0")
    assert "s3cret" not in repr(lim)
    with pytest.raises(LimiterUnavailable) as info:
        lim.acquire()
    text = str(info.value)
    assert f"127.0.0.1:{port}" in text
    assert "s3cret" not in text
    assert isinstance(info.value, ConfigError)  # not an ESP error: never retried


def test_reporting_an_answer_to_an_unreachable_redis_only_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = _free_port()
    lim = RedisLimiter(key(), 5.0, url=f"redis://:s3cret-pw@127.0.0.1:{port}/0")
    # the ESP has answered already: raising now would make a create that happened look failed
    lim.on_success()
    lim.on_throttle(1.0)
    lim.pause_for(1.0)
    lim.announce(10, 0, 1.0)
    assert lim.throttles == 1
    assert len(caplog.records) == 4
    assert all(f"127.0.0.1:{port}" in r.getMessage() for r in caplog.records)
    assert "s3cret" not in caplog.text


def test_wrong_password_is_reported_without_it(url: str) -> None:
    lim = RedisLimiter(key(), 5.0, url=url.replace("redis://", "redis://user:s3cret-pw@"))
    with pytest.raises(LimiterUnavailable) as info:
        lim.acquire()
    assert "s3cret" not in str(info.value)
    assert "127.0.0.1" in str(info.value)


@pytest.mark.parametrize("bad", [
    "redis://:s3cret@127.0.0.1:notaport/0",
    "redis://:s3cret@[::1/0",
    "redis+cluster://:s3cret@127.0.0.1:notaport",
])
def test_malformed_url_is_a_config_error_without_the_password(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        shared_limiter(key(), 5.0, bad)
    assert "s3cret" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        shared_budget(key(), bad)
    assert "s3cret" not in str(info.value)


def test_unknown_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"redis\+cluster://") as info:
        shared_limiter(key(), 5.0, "http://:s3cret@example.com")
    assert "s3cret" not in str(info.value)


def test_missing_redis_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # the client is imported where a RedisLimiter is made, not with espkit
    monkeypatch.setitem(sys.modules, "redis", None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[redis\]'"):
        shared_limiter(key(), 5.0, "redis://127.0.0.1:6379/0")
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[redis\]'"):
        shared_budget(key(), "redis://127.0.0.1:6379/0")


def test_bad_rate_is_rejected(url: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        RedisLimiter(key(), 0, url=url)


# -- the registry and wiring -------------------------------------------------------------------


def test_one_limiter_and_budget_per_key_and_url_per_process(url: str) -> None:
    k = key()
    lim = shared_limiter(k, 5.0, url)
    assert isinstance(lim, RedisLimiter)
    assert shared_limiter(k, 5.0, url) is lim
    assert isinstance(shared_limiter(k, 5.0), RateLimiter)
    assert shared_limiter(k, 5.0, "memory://") is shared_limiter(k, 5.0)
    assert isinstance(lim, Limiter)
    budget = shared_budget(k, url)
    assert isinstance(budget, RedisRetryBudget)
    assert shared_budget(k, url) is budget
    assert not isinstance(shared_budget(k), RedisRetryBudget)


@responses.activate
def test_connect_with_limiter_url_shares_an_http_providers_budgets(url: str) -> None:
    acct = espkit.connect("mailgun", api_key="key-test", limiter_url=url)
    limiter = acct.provider.transport.limiter  # type: ignore[attr-defined]
    assert isinstance(limiter, ScopedLimiter)
    domains = limiter.scope_of("/v4/domains")
    assert isinstance(domains, RedisLimiter)
    assert domains.budget == Budget(300, 60, "domains", paths=("/v4/domains", "/v3/domains"))
    assert isinstance(acct.provider.transport.budget, RedisRetryBudget)  # type: ignore[attr-defined]
    account = ("mailgun", Secret("key-test").fingerprint, MAILGUN)
    # the key another process computes for the same account, endpoint and scope
    assert domains.redis_key == redis_key(account) + ":domains"
    again = espkit.connect("mailgun", api_key="key-test", limiter_url=url)
    assert again.provider.transport.limiter is limiter  # type: ignore[attr-defined]
    responses.get(f"{MAILGUN}/v4/domains", status=429, headers={"Retry-After": "0.2"},
                  json={"message": "slow down"})
    responses.get(f"{MAILGUN}/v4/domains", json={"items": [], "total_count": 0})
    acct.provider.transport.request("GET", "/v4/domains")  # type: ignore[attr-defined]
    # another process on the same account and scope sees the cut the 429 made
    other = RedisLimiter(account, Budget(300, 60), url=url, scope="domains")
    assert other.snapshot()["cuts"] == 1
    assert other.snapshot()["w_max"] == 5.0
    # and the other scopes saw nothing
    assert RedisLimiter(account, None, url=url).snapshot()["cuts"] == 0


def test_env_var_is_the_default_limiter_url(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ratelimit.ENV_LIMITER_URL, url)
    acct = espkit.connect("mailgun", api_key="key-env", rate_limit=5)
    assert isinstance(acct.provider.transport.limiter, RedisLimiter)  # type: ignore[attr-defined]
    # an explicit option wins over the environment
    acct = espkit.connect("mailgun", api_key="key-env", rate_limit=5, limiter_url="memory://")
    assert isinstance(acct.provider.transport.limiter, RateLimiter)  # type: ignore[attr-defined]
    monkeypatch.setenv(ratelimit.ENV_LIMITER_URL, "")
    acct = espkit.connect("mailgun", api_key="key-env2", rate_limit=5)
    assert isinstance(acct.provider.transport.limiter, RateLimiter)  # type: ignore[attr-defined]


def test_ses_takes_limiter_url(url: str) -> None:
    session = boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x" * 40,
                            region_name="us-east-1")
    acct = espkit.connect("ses", session=session, limiter_url=url)
    limiter = acct.provider.runner.limiter  # type: ignore[attr-defined]
    assert isinstance(limiter, RedisLimiter)
    assert limiter.ceiling is None  # SES documents no rate for what espkit calls
    assert isinstance(acct.provider.runner.budget, RedisRetryBudget)  # type: ignore[attr-defined]


def test_sandbox_uses_the_shared_limiter_when_given_one(url: str) -> None:
    with espkit.connect("sandbox", path=":memory:", rate_limit="20/s",
                        limiter_url=url) as acct:
        limiter = acct.provider.transport.limiter  # type: ignore[attr-defined]
        assert isinstance(limiter, RedisLimiter)
        acct.domains.create("shared.example.com")
        acct.domains.get("shared.example.com")
        assert limiter.snapshot()["in_window"] == 2  # both counted in Redis's window


def test_sandbox_limiter_url_needs_real_time(url: str) -> None:
    from espkit.sandbox import FakeClock

    with pytest.raises(ConfigError, match="real time"):
        espkit.connect("sandbox", path=":memory:", clock=FakeClock(), limiter_url=url)


def test_sandbox_env_var_applies_to_a_shared_file_only(
    url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv(ratelimit.ENV_LIMITER_URL, url)
    # in memory (no other process can reach it): its own limiter, as before
    with espkit.connect("sandbox", path=":memory:") as acct:
        assert isinstance(acct.provider.transport.limiter, RateLimiter)  # type: ignore[attr-defined]
    with espkit.connect("sandbox", path=str(tmp_path / "s.db")) as acct:
        assert isinstance(acct.provider.transport.limiter, RedisLimiter)  # type: ignore[attr-defined]
