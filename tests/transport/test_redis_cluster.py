"""One budget across hosts on a Redis Cluster: a real three-node cluster on 127.0.0.1.

The session fixture starts three ``redis-server --cluster-enabled yes`` nodes (no
persistence) and joins them with ``redis-cli --cluster create``. The tests skip when
redis-server or redis-cli is not installed, and fail instead when ``ESPKIT_REQUIRE_REDIS=1``
(as in CI). Grants are counted per window on an injected clock shared by the processes, or,
where real time runs, on the cluster's own ``TIME`` with only the upper bound asserted.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.cluster
import responses

import espkit
from espkit.credentials import Secret
from espkit.transport import ratelimit
from espkit.transport.ratelimit import (
    BETA,
    Budget,
    LimiterUnavailable,
    RedisLimiter,
    RedisRetryBudget,
    ScopedLimiter,
    redis_key,
    shared_limiter,
)

MAILGUN = "https://api.mailgun.net"


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _node_ports(n: int) -> list[int]:
    """``n`` ports whose cluster bus ports (port + 10000) are free too."""
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port > 55000:
            port = 20000 + port % 30000
        if port not in ports and _bindable(port) and _bindable(port + 10000):
            ports.append(port)
    return ports


def _need(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        reason = f"{tool} not installed: apt-get install redis-server (redis-tools)"
        if os.environ.get("ESPKIT_REQUIRE_REDIS") == "1":
            pytest.fail(f"{reason} (ESPKIT_REQUIRE_REDIS=1)")
        pytest.skip(reason)
    return exe


def _state(client: redis.Redis) -> str | None:
    """``cluster_state`` of a node (redis-py parses CLUSTER INFO into a dict)."""
    info = client.execute_command("CLUSTER INFO")
    if isinstance(info, dict):
        state = info.get("cluster_state")
        return state.decode() if isinstance(state, bytes) else state
    return "ok" if b"cluster_state:ok" in info else None


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis+cluster://127.0.0.1:<port>`` of a throwaway three-node cluster."""
    server, cli = _need("redis-server"), _need("redis-cli")
    tmp: Path = tmp_path_factory.mktemp("redis-cluster")
    ports = _node_ports(3)
    procs = [subprocess.Popen(
        [server, "--port", str(p), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
         "--cluster-config-file", str(tmp / f"nodes-{p}.conf"), "--dir", str(tmp),
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p in ports]
    try:
        deadline = time.monotonic() + 20
        for p in ports:
            client = redis.Redis(host="127.0.0.1", port=p)
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline or any(x.poll() is not None for x in procs):
                        pytest.fail(f"redis-server on port {p} did not start")
                    time.sleep(0.05)
            client.close()
        created = subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True, timeout=60)
        if created.returncode != 0:
            pytest.fail(f"redis-cli --cluster create failed: {created.stdout}{created.stderr}")
        for p in ports:
            client = redis.Redis(host="127.0.0.1", port=p)
            while _state(client) != "ok":
                if time.monotonic() > deadline:
                    pytest.fail("the cluster did not reach cluster_state:ok")
                time.sleep(0.05)
            client.close()
        yield f"redis+cluster://127.0.0.1:{ports[0]}"
    finally:
        for x in procs:
            x.terminate()
        for x in procs:
            x.wait(timeout=10)


@pytest.fixture
def url(cluster: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv(ratelimit.ENV_LIMITER_URL, raising=False)
    return cluster


def client(url: str) -> redis.cluster.RedisCluster:
    return redis.cluster.RedisCluster.from_url(url.replace("redis+cluster://", "redis://"))


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def account() -> tuple[str, str, str]:
    return ("mailgun", uuid.uuid4().hex, MAILGUN)


# -- one slot per account ----------------------------------------------------------------------


def test_every_key_of_an_account_lands_in_one_slot(url: str) -> None:
    c = client(url)
    acct = account()
    lim = RedisLimiter(acct, Budget(3, 1.0), url=url, scope="domains")
    lim.acquire()
    budget = RedisRetryBudget(acct, url=url)
    assert budget.spend() == 5
    keys = [lim.redis_key, lim.redis_key + ":log", lim.redis_key + ":sent",
            f"{redis_key(acct)}:metrics", f"{redis_key(acct)}:account", budget.redis_key]
    assert len({c.keyslot(k) for k in keys}) == 1
    # what the tag saves us from: a node refuses a script whose keys are in two slots
    a, b = "espkit:limiter:a", "espkit:limiter:b"
    assert c.keyslot(a) != c.keyslot(b)
    node = c.get_node_from_key(a)
    assert node is not None
    with pytest.raises(redis.RedisError, match="same slot"):
        redis.Redis(host=node.host, port=node.port).eval("return 1", 2, a, b)


def test_accounts_spread_over_the_nodes_and_each_is_exact(url: str) -> None:
    c = client(url)
    nodes: dict[str, int] = {}
    clock = Clock()
    while len(nodes) < 3:
        acct = account()
        lim = RedisLimiter(acct, Budget(4, 2.0), url=url, clock=clock)
        node = c.get_node_from_key(lim.redis_key)
        assert node is not None
        if node.name in nodes:
            continue
        nodes[node.name] = 1
        assert [lim.try_acquire() for _ in range(4)] == [0.0] * 4
        assert lim.try_acquire() == pytest.approx(Budget(4, 2.0).span)
        lim.announce(10, 7, 3.0)
        assert [lim.try_acquire() for _ in range(7)] == [0.0] * 7
        assert lim.try_acquire() == pytest.approx(3.0)
        lim.on_throttle(None)  # inside the announced window: spent, no cut
        assert lim.snapshot()["cuts"] == 0
    assert len(nodes) == 3


def test_a_cut_and_a_pause_are_shared_on_the_cluster(url: str) -> None:
    clock = Clock()
    acct = account()
    a = RedisLimiter(acct, 10.0, url=url, clock=clock)
    b = RedisLimiter(acct, 10.0, url=url, clock=clock)
    a.acquire()
    a.on_throttle(0.5)
    assert b.rate == pytest.approx(10.0 * BETA)
    assert b.try_acquire() == pytest.approx(0.5)
    clock.now += 60.0
    b.on_success()
    assert a.rate == 10.0


# -- several processes, one budget -----------------------------------------------------------


def _racer(url: str, acct: Any, now: Any, barrier: Any, rounds: int, results: Any) -> None:
    lim = RedisLimiter(acct, Budget(50, 10.0), url=url, scope="domains",
                       clock=lambda: now.value)
    got = []
    for _ in range(rounds):
        barrier.wait(timeout=60)
        n = 0
        while lim.try_acquire() == 0.0:
            n += 1
        got.append(n)
        barrier.wait(timeout=60)
    results.put(got)


def test_four_processes_share_one_window_exactly(url: str) -> None:
    budget = Budget(50, 10.0)
    t0 = 7000.0
    steps = [t0, t0 + 5.0, t0 + budget.span - 1e-6, t0 + budget.span,
             t0 + 2 * budget.span - 1e-6, t0 + 2 * budget.span]
    ctx = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    now = ctx.Value("d", t0)
    barrier, results = ctx.Barrier(5), ctx.Queue()
    acct = account()
    procs = [ctx.Process(target=_racer, args=(url, acct, now, barrier, len(steps), results))
             for _ in range(4)]
    for p in procs:
        p.start()
    try:
        for t in steps:
            now.value = t
            barrier.wait(timeout=60)
            barrier.wait(timeout=60)
        per_process = [results.get(timeout=60) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs)
    totals = [sum(step) for step in zip(*per_process, strict=True)]
    print(f"4 processes, one {budget} budget on the cluster: grants per step {totals}; "
          f"per process {per_process}")
    # exactly the window's count at once, nothing more until it has passed, to the microsecond
    assert totals == [50, 0, 0, 50, 0, 50]


def _runner(url: str, acct: Any, seconds: float, go: Any, results: Any) -> None:
    lim = RedisLimiter(acct, Budget(20, 0.5), url=url, scope="domains")
    go.wait(timeout=60)
    end = time.monotonic() + seconds
    times = []
    while time.monotonic() < end:
        lim.acquire()
        assert lim.granted_at is not None
        times.append(round(lim.granted_at * 1e6))  # the cluster's own TIME, in microseconds
    results.put(times)


def test_processes_in_real_time_never_exceed_the_window(url: str) -> None:
    budget = Budget(20, 0.5)
    ctx = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    go, results = ctx.Event(), ctx.Queue()
    acct = account()
    procs = [ctx.Process(target=_runner, args=(url, acct, 1.5, go, results)) for _ in range(4)]
    for p in procs:
        p.start()
    try:
        go.set()
        per_process = [results.get(timeout=60) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs)
    times = sorted(t for mine in per_process for t in mine)
    span = round(budget.span * 1e6)
    fullest = max(sum(1 for t in times[i:i + budget.count + 1] if t - first < span)
                  for i, first in enumerate(times))
    windows = (times[-1] - times[0]) / span if len(times) > 1 else 0
    print(f"4 processes, real time, one {budget} budget: {len(times)} grants over "
          f"{windows:.1f} windows; fullest window {fullest}/{budget.count}")
    # the upper bound only: never more than the count in any window, on the cluster's clock
    assert 0 < fullest <= budget.count


def _spender(url: str, acct: Any, go: Any, results: Any) -> None:
    budget = RedisRetryBudget(acct, url=url, capacity=200, retry_cost=5)
    go.wait(timeout=60)
    results.put(sum(budget.spend() for _ in range(30)))


def test_the_retry_budget_is_one_for_every_process(url: str) -> None:
    ctx = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    go, results = ctx.Event(), ctx.Queue()
    acct = account()
    procs = [ctx.Process(target=_spender, args=(url, acct, go, results)) for _ in range(4)]
    for p in procs:
        p.start()
    try:
        go.set()
        spent = [results.get(timeout=60) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=10)
    assert sum(spent) == 200  # 4 x 30 retries wanted, the shared 200 tokens allowed 40


# -- wiring ------------------------------------------------------------------------------------


@responses.activate
def test_connect_with_a_cluster_url(url: str) -> None:
    responses.add_passthru("http://127.0.0.1")
    key = f"key-{uuid.uuid4().hex}"
    acct = espkit.connect("mailgun", api_key=key, limiter_url=url)
    limiter = acct.provider.transport.limiter  # type: ignore[attr-defined]
    assert isinstance(limiter, ScopedLimiter)
    assert isinstance(acct.provider.transport.budget, RedisRetryBudget)  # type: ignore[attr-defined]
    responses.get(f"{MAILGUN}/v4/domains", status=429, headers={"Retry-After": "0.1"},
                  json={"message": "slow down"})
    responses.get(f"{MAILGUN}/v4/domains", json={"items": [], "total_count": 0})
    acct.provider.transport.request("GET", "/v4/domains")  # type: ignore[attr-defined]
    other = RedisLimiter(("mailgun", Secret(key).fingerprint, MAILGUN), Budget(300, 60),
                         url=url, scope="domains")
    assert other.snapshot()["cuts"] == 1
    assert len(responses.calls) == 2


def test_an_unreachable_cluster_fails_at_first_use_without_the_password() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lim = shared_limiter(account(), 5.0, f"redis+cluster://:s3cret-pw@127.0.0.1:{port}")
    with pytest.raises(LimiterUnavailable) as info:
        lim.acquire()
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "s3cret" not in str(info.value)
