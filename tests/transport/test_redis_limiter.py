"""``RedisLimiter``: one rate budget and one backoff for every process and host on a Redis.

Runs against a real ``redis-server`` started on 127.0.0.1 for the session (skipped when it is
not installed, unless ``ESPKIT_REQUIRE_REDIS=1``, as in CI). Timing tests use real time, with
bounds loose enough for a busy machine and rates high enough that each takes under 2 s.
"""

from __future__ import annotations

import itertools
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

import espkit
from espkit.credentials import Secret
from espkit.errors import ConfigError
from espkit.transport import ratelimit
from espkit.transport.ratelimit import (
    BETA,
    KEY_PREFIX,
    SCALE,
    Limiter,
    LimiterUnavailable,
    RateLimiter,
    RedisLimiter,
    redis_key,
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


def key() -> tuple[str, str]:
    """A limiter key of its own for each use."""
    return ("test", uuid.uuid4().hex)


def grant_times(limiter: Limiter, seconds: float, threads: int = 1) -> list[float]:
    """Acquire from ``threads`` threads for ``seconds``; the sorted grant times."""
    times: list[float] = []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def run() -> None:
        while True:
            limiter.acquire()
            now = time.monotonic()
            if now > end:
                return
            with lock:
                times.append(now)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sorted(times)


def rate_of(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0])


def most_in_window(times: list[float], window: float) -> int:
    return max(sum(1 for t in times[i:] if t - start < window)
               for i, start in enumerate(times))


# -- pacing -----------------------------------------------------------------------------------


def test_paces_smoothly_at_the_rate(url: str) -> None:
    lim = RedisLimiter(key(), 40.0, url=url)
    times = grant_times(lim, 0.75)
    assert 0.93 * 40 <= rate_of(times) <= 1.03 * 40
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # never a burst: grants stay about 1/rate apart (TOLERANCE lets one come 5 ms early)
    assert min(gaps) > 0.5 / 40
    assert most_in_window(times, 0.25) <= 0.25 * 40 + 1


def test_two_limiter_objects_on_one_key_share_the_budget(url: str) -> None:
    k = key()
    a, b = RedisLimiter(k, 50.0, url=url), RedisLimiter(k, 50.0, url=url)
    times: list[float] = []
    done = [threading.Thread(target=lambda lim=lim: times.extend(grant_times(lim, 0.8, 2)))
            for lim in (a, b)]
    for t in done:
        t.start()
    for t in done:
        t.join()
    times.sort()
    assert 0.9 * 50 <= rate_of(times) <= 1.03 * 50
    assert most_in_window(times, 0.2) <= 0.2 * 50 + 2


def _child(url: str, name: str, rate: float, seconds: float, ready: Any, go: Any,
           results: Any) -> None:
    """One OS process sharing the budget: acquire for ``seconds``, report the grant times."""
    lim = RedisLimiter(("test", name), rate, url=url)
    ready.release()
    go.wait()
    end = time.monotonic() + seconds
    times = []
    while True:
        lim.acquire()
        now = time.monotonic()  # CLOCK_MONOTONIC: comparable across processes on one host
        if now > end:
            break
        times.append(now)
    results.put(times)


def test_three_processes_share_one_budget(url: str) -> None:
    rate, seconds, name = 60.0, 0.8, uuid.uuid4().hex
    # fork where there is one: a spawned interpreter takes longer to import than the test
    ctx = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    ready, go, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_child, args=(url, name, rate, seconds, ready, go, results))
             for _ in range(3)]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            assert ready.acquire(timeout=10)
        go.set()
        per_process: list[list[float]] = [results.get(timeout=10) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs)
    times = sorted(t for mine in per_process for t in mine)
    aggregate = rate_of(times)
    print(f"3 processes at a shared {rate:g}/s: {len(times)} grants, {aggregate:.2f}/s "
          f"({aggregate / rate:.1%}); per process {sorted(len(m) for m in per_process)}; "
          f"most in 0.2 s: {most_in_window(times, 0.2)}")
    assert all(per_process)  # nobody starved
    assert 0.9 * rate <= aggregate <= 1.03 * rate
    # +2: the times are taken after acquire returns, so scheduling jitter shows in them
    assert most_in_window(times, 0.2) <= 0.2 * rate + 2


# -- throttling --------------------------------------------------------------------------------


def test_retry_after_in_one_pauses_the_others(url: str) -> None:
    k = key()
    a, b = RedisLimiter(k, 100.0, url=url), RedisLimiter(k, 100.0, url=url)
    a.acquire()
    a.on_throttle(0.3)
    start = time.monotonic()
    waited = b.acquire()
    took = time.monotonic() - start
    assert 0.27 <= waited <= 0.35
    assert 0.27 <= took <= 0.5
    assert a.throttles == 1
    assert b.throttles == 0


def test_pause_for_holds_every_limiter_on_the_key(url: str) -> None:
    k = key()
    a, b = RedisLimiter(k, None, url=url), RedisLimiter(k, None, url=url)
    a.pause_for(0.2)
    a.pause_for(0.05)  # shorter: the longer pause stands
    assert 0.15 <= b.snapshot()["paused_for"] <= 0.2  # type: ignore[operator]
    assert b.acquire() >= 0.15


def test_a_throttle_cuts_the_shared_rate_and_successes_grow_it_back(url: str) -> None:
    k = key()
    a, b = RedisLimiter(k, 10.0, url=url), RedisLimiter(k, 10.0, url=url)
    assert b.rate == 10.0
    a.acquire()
    a.on_throttle(None)
    assert b.rate == pytest.approx(10.0 * BETA)
    time.sleep(0.3)
    b.on_success()
    snap = b.snapshot()
    since = snap["since_cut"]
    assert since is not None
    k_ = (10.0 * (1 - BETA) / SCALE) ** (1 / 3)
    expected = SCALE * (since - k_) ** 3 + 10.0  # RateLimiter's CUBIC curve
    assert snap["rate"] == pytest.approx(expected, rel=0.01)
    assert 10.0 * BETA < (a.rate or 0) < 10.0


def test_growth_stops_at_the_ceiling(url: str) -> None:
    lim = RedisLimiter(key(), 10.0, url=url)
    lim.acquire()
    lim.on_throttle(None)
    # as if the cut were long ago: the curve is far past the ceiling
    client = redis.Redis.from_url(url)
    cut = float(client.hget(lim.redis_key, "cut") or 0)
    client.hset(lim.redis_key, "cut", repr(cut - 60e6))
    lim.on_success()
    assert lim.rate == 10.0
    client.delete(lim.redis_key)  # on_success now knows there is nothing to grow
    lim.on_success()
    assert not client.exists(lim.redis_key)


def test_a_burst_of_429s_from_many_processes_cuts_once(url: str) -> None:
    k = key()
    limiters = [RedisLimiter(k, 200.0, url=url) for _ in range(10)]
    for lim in limiters:
        lim.acquire()  # ten requests in flight at the old rate...
    for lim in limiters:
        lim.on_throttle(None)  # ...all answered 429: one overload, one cut
    snap = limiters[0].snapshot()
    assert snap["cuts"] == 1
    assert snap["rate"] == pytest.approx(200.0 * BETA)
    # a request sent after the cut and still refused is a new event
    limiters[3].acquire()
    limiters[3].on_throttle(None)
    assert limiters[0].snapshot()["cuts"] == 2
    assert limiters[0].rate == pytest.approx(200.0 * BETA * BETA)
    assert sum(lim.throttles for lim in limiters) == 11


def test_threads_of_one_limiter_also_cut_once_per_event(url: str) -> None:
    lim = RedisLimiter(key(), 200.0, url=url)
    barrier = threading.Barrier(5)

    def request() -> None:
        lim.acquire()
        barrier.wait()  # all five sent before any 429 is reported
        lim.on_throttle(None)

    threads = [threading.Thread(target=request) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lim.snapshot()["cuts"] == 1
    assert lim.throttles == 5


def test_unknown_rate_does_not_limit_until_a_429_teaches_it(url: str) -> None:
    k = key()
    a, b = RedisLimiter(k, None, url=url), RedisLimiter(k, None, url=url)
    assert a.rate is None
    start = time.monotonic()
    for _ in range(20):
        a.acquire()
        b.acquire()
    assert time.monotonic() - start < 0.5
    b.on_throttle(None)
    learned = a.rate
    assert learned is not None
    assert learned == b.rate
    # what both were sending together, cut by BETA
    snap = a.snapshot()
    assert learned == pytest.approx((snap["w_max"] or 0) * BETA)
    assert (snap["w_max"] or 0) > 40 / 0.5


def test_unknown_rate_with_nothing_sent_only_pauses(url: str) -> None:
    lim = RedisLimiter(key(), None, url=url)
    lim.on_throttle(0.1)
    assert lim.rate is None
    assert lim.snapshot()["cuts"] == 0
    assert lim.acquire() >= 0.05


def test_different_keys_are_independent(url: str) -> None:
    a, b = RedisLimiter(key(), 5.0, url=url), RedisLimiter(key(), 5.0, url=url)
    a.acquire()
    a.on_throttle(5.0)
    assert b.acquire() == 0.0
    assert b.rate == 5.0


def test_state_is_namespaced_hashed_and_expires(url: str) -> None:
    secret = Secret("key-do-not-leak-0123456789")
    lim = RedisLimiter(("mailgun", secret.fingerprint, MAILGUN), 5.0, url=url)
    lim.acquire()
    client = redis.Redis.from_url(url)
    names = [n.decode() for n in client.keys("*")]
    assert names == [lim.redis_key]
    assert lim.redis_key.startswith(KEY_PREFIX)
    assert len(lim.redis_key) == len(KEY_PREFIX) + 64
    assert "mailgun" not in lim.redis_key
    assert 0 < client.pttl(lim.redis_key) <= 3600 * 1000
    # the same key tuple gives the same Redis key everywhere
    assert redis_key(("mailgun", secret.fingerprint, MAILGUN)) == lim.redis_key


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
    assert lim.throttles == 1
    assert len(caplog.records) == 3
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
])
def test_malformed_url_is_a_config_error_without_the_password(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        shared_limiter(key(), 5.0, bad)
    assert "s3cret" not in str(info.value)


def test_unknown_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="memory://, redis:// or rediss://") as info:
        shared_limiter(key(), 5.0, "http://:s3cret@example.com")
    assert "s3cret" not in str(info.value)


def test_missing_redis_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # the client is imported where a RedisLimiter is made, not with espkit
    monkeypatch.setitem(sys.modules, "redis", None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[redis\]'"):
        shared_limiter(key(), 5.0, "redis://127.0.0.1:6379/0")


def test_bad_rate_is_rejected(url: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        RedisLimiter(key(), 0, url=url)


# -- the registry and wiring -------------------------------------------------------------------


def test_one_limiter_per_key_and_url_per_process(url: str) -> None:
    k = key()
    lim = shared_limiter(k, 5.0, url)
    assert isinstance(lim, RedisLimiter)
    assert shared_limiter(k, 5.0, url) is lim
    assert isinstance(shared_limiter(k, 5.0), RateLimiter)
    assert shared_limiter(k, 5.0, "memory://") is shared_limiter(k, 5.0)
    assert isinstance(lim, Limiter)
    assert isinstance(shared_limiter(k, 5.0), Limiter)


@responses.activate
def test_connect_with_limiter_url_shares_an_http_providers_budget(url: str) -> None:
    acct = espkit.connect("mailgun", api_key="key-test", limiter_url=url)
    limiter = acct.provider.transport.limiter  # type: ignore[attr-defined]
    assert isinstance(limiter, RedisLimiter)
    assert limiter.ceiling == 5.0
    # the key another process computes for the same account and endpoint
    assert limiter.redis_key == redis_key(("mailgun", Secret("key-test").fingerprint, MAILGUN))
    assert espkit.connect("mailgun", api_key="key-test", limiter_url=url).provider \
        .transport.limiter is limiter  # type: ignore[attr-defined]
    responses.get(f"{MAILGUN}/v4/domains", status=429, headers={"Retry-After": "0.2"},
                  json={"message": "slow down"})
    responses.get(f"{MAILGUN}/v4/domains", json={"items": [], "total_count": 0})
    acct.provider.transport.request("GET", "/v4/domains")  # type: ignore[attr-defined]
    # another process on the same account sees the cut the 429 made
    other = RedisLimiter(("mailgun", Secret("key-test").fingerprint, MAILGUN), 5.0, url=url)
    assert other.snapshot()["cuts"] == 1
    assert other.snapshot()["w_max"] == 5.0
    # and the success after it has started the shared recovery (CUBIC, from 70 %)
    assert 5.0 * BETA <= (other.rate or 0) < 5.0


def test_env_var_is_the_default_limiter_url(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ratelimit.ENV_LIMITER_URL, url)
    acct = espkit.connect("mailgun", api_key="key-env")
    assert isinstance(acct.provider.transport.limiter, RedisLimiter)  # type: ignore[attr-defined]
    # an explicit option wins over the environment
    acct = espkit.connect("mailgun", api_key="key-env", limiter_url="memory://")
    assert isinstance(acct.provider.transport.limiter, RateLimiter)  # type: ignore[attr-defined]
    monkeypatch.setenv(ratelimit.ENV_LIMITER_URL, "")
    acct = espkit.connect("mailgun", api_key="key-env2")
    assert isinstance(acct.provider.transport.limiter, RateLimiter)  # type: ignore[attr-defined]


def test_ses_takes_limiter_url(url: str) -> None:
    session = boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x" * 40,
                            region_name="us-east-1")
    acct = espkit.connect("ses", session=session, limiter_url=url)
    limiter = acct.provider.runner.limiter  # type: ignore[attr-defined]
    assert isinstance(limiter, RedisLimiter)
    assert limiter.ceiling is None  # SES publishes no management rate: learnt from 429s


def test_sandbox_uses_the_shared_limiter_when_given_one(url: str) -> None:
    with espkit.connect("sandbox", path=":memory:", rate_limit=20, limiter_url=url) as acct:
        limiter = acct.provider.transport.limiter  # type: ignore[attr-defined]
        assert isinstance(limiter, RedisLimiter)
        acct.domains.create("shared.example.com")
        acct.domains.get("shared.example.com")
        assert limiter.snapshot()["queued"] > 0  # type: ignore[operator]  # paced by Redis


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


def test_a_learnt_lower_ceiling_caps_the_shared_rate(url: str) -> None:
    limiter = RedisLimiter(key(), None, url=url)
    assert limiter.rate is None
    limiter.lower_ceiling(40.0)
    assert limiter.ceiling == 40.0
    limiter.lower_ceiling(80.0)  # never raised
    assert limiter.ceiling == 40.0
    times = grant_times(limiter, 0.5)
    assert rate_of(times) <= 40 * 1.05


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0])
def test_numbers_that_cannot_pace_or_pause_are_ignored(url: str, bad: float) -> None:
    # round(inf) raises OverflowError and nan would poison the shared hash
    lim = RedisLimiter(key(), 5.0, url=url)
    lim.lower_ceiling(bad)
    lim.pause_for(bad)
    lim.on_throttle(bad)
    assert lim.ceiling == 5.0
    assert lim.snapshot()["paused_for"] == 0.0
