"""A request that certainly never reached the ESP goes again at once; an ambiguous one keeps
the back-off (and, for a create, is not re-sent blind). Told apart by the exception requests
raises, at the wire: a port nothing listens on (connection refused), a failed DNS lookup, and
a server on 127.0.0.1 that resets the connection before or after reading the request.

Also here: the limiter is waited for by one thread at a time (hundreds of workers polling it
burnt a core), and the bulk engine's give-up hook stops retries on its threads only."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from support.backoff import scaled

from espkit.errors import ResponseTooLarge, ServerError, TransportError
from espkit.transport import RetryPolicy, RetryRunner, Transport
from espkit.transport.ratelimit import RetryBudget
from espkit.transport.retry import never_sent


def reuse_port() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port bound by a socket that does not listen: every connection to it is refused,
    and no other socket can take it meanwhile."""
    sock = reuse_port()
    yield sock.getsockname()[1]
    sock.close()


class ResettingServer:
    """Accepts connections on 127.0.0.1 and resets each (RST): at once (``read=False``) or
    after reading the request's head (``read=True``). Counts connections."""

    def __init__(self, *, read: bool) -> None:
        self.read = read
        self.connections = 0
        self.sock = reuse_port()
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            if self.read:
                conn.settimeout(5)
                data = b""
                with contextlib.suppress(OSError):
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def reset_after_reading() -> Iterator[ResettingServer]:
    server = ResettingServer(read=True)
    yield server
    server.close()


@pytest.fixture
def reset_at_once() -> Iterator[ResettingServer]:
    server = ResettingServer(read=False)
    yield server
    server.close()


def transport(base_url: str, sleeps: list[float], *, attempts: int = 3,
              budget: RetryBudget | None = None, **kw: object) -> Transport:
    return Transport("test", base_url, retry=RetryPolicy(max_attempts=attempts),
                     sleep=sleeps.append, budget=budget or RetryBudget(),
                     timeout=(2.0, 2.0), **kw)  # type: ignore[arg-type]


@pytest.fixture
def full_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jitter draws its cap, so a back-off's length is known: 0.5 s, then 1 s, 2 s ..."""
    monkeypatch.setattr("espkit.transport.retry.random.uniform", lambda low, high: high)


# -- never sent: again at once ------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_refused_connection_is_tried_again_at_once_even_for_a_create(
        refused_port: int, method: str) -> None:
    sleeps: list[float] = []
    t = transport(f"http://127.0.0.1:{refused_port}", sleeps)
    with pytest.raises(TransportError) as info:
        t.request(method, "/v4/domains")
    assert info.value.maybe_applied is False
    assert never_sent(info.value)
    assert t.stats["requests"] == 3  # every attempt the policy allows
    assert t.stats["retries"] == 2
    assert sleeps == [0.0, 0.0]  # no back-off: the ESP never saw them


def test_a_failed_dns_lookup_is_tried_again_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []

    def no_such_host(host: str, *args: object, **kwargs: object) -> object:
        looked_up.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    sleeps: list[float] = []
    t = transport("http://esp.invalid", sleeps, allow_insecure=True)
    with pytest.raises(TransportError) as info:
        t.request("POST", "/v4/domains")
    assert info.value.maybe_applied is False
    assert looked_up == ["esp.invalid"] * 3
    assert sleeps == [0.0, 0.0]


def test_never_sent_retries_still_pay_the_retry_budget(refused_port: int) -> None:
    sleeps: list[float] = []
    budget = RetryBudget(capacity=10, timeout_cost=10)  # exactly one retry's worth
    t = transport(f"http://127.0.0.1:{refused_port}", sleeps, attempts=5, budget=budget)
    with pytest.raises(TransportError):
        t.request("POST", "/v4/domains")
    assert t.stats["requests"] == 2
    assert sleeps == [0.0]
    assert budget.available == 0


# -- ambiguous: the back-off stays, a create is not re-sent -------------------------------


def test_a_reset_after_the_request_was_read_is_ambiguous(
        reset_after_reading: ResettingServer, full_jitter: None) -> None:
    url = f"http://127.0.0.1:{reset_after_reading.port}"
    sleeps: list[float] = []
    post = transport(url, sleeps)
    with pytest.raises(TransportError) as info:
        post.request("POST", "/v4/domains")
    assert info.value.maybe_applied is True
    assert not never_sent(info.value)
    assert reset_after_reading.connections == 1  # a create is never re-sent blind
    assert sleeps == []
    get = transport(url, sleeps)
    with pytest.raises(TransportError):
        get.request("GET", "/v4/domains/a.example")
    assert reset_after_reading.connections == 4
    assert sleeps == scaled([0.5, 1.0])  # the policy's back-off (a full budget's share)


def test_a_reset_before_the_request_was_read_is_retried_only_when_urllib3_says_so(
        reset_at_once: ResettingServer) -> None:
    """The server resets each connection as soon as it has it. When the reset lands while
    urllib3 is still setting the connection up, it raises ``NewConnectionError``: nothing was
    sent, and the create goes again at once. When it lands after the request went out, the
    ``ConnectionError`` (urllib3 ``ProtocolError``) is the same as for a reset after reading:
    nothing proves the request was not taken, and the create is not re-sent. Which one each
    attempt meets is the kernel's timing; what follows from each is fixed."""
    sleeps: list[float] = []
    t = transport(f"http://127.0.0.1:{reset_at_once.port}", sleeps)
    with pytest.raises(TransportError) as info:
        t.request("POST", "/v4/domains")
    assert set(sleeps) <= {0.0}  # a create never waits out a back-off: no retry, or at once
    assert reset_at_once.connections == t.stats["requests"] == len(sleeps) + 1
    if info.value.maybe_applied:
        assert not never_sent(info.value)  # the last attempt may have been taken: no more
    else:
        assert reset_at_once.connections == 3  # never sent, every time: all attempts made


def test_never_sent_is_read_from_the_error_alone() -> None:
    assert never_sent(TransportError("refused", provider="x", maybe_applied=False))
    assert not never_sent(TransportError("reset", provider="x", maybe_applied=True))
    assert not never_sent(ResponseTooLarge("big", provider="x", maybe_applied=False))
    assert not never_sent(ServerError("503", provider="x", status=503))
    assert not never_sent(None)


# -- the limiter, one waiter at a time ------------------------------------------------------


class CountingLimiter:
    """A limiter whose ``acquire`` takes a while and counts how many threads are inside."""

    rate = 100.0
    ceiling = 100.0
    throttles = 0

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self.lock = threading.Lock()
        self.inside = 0
        self.most = 0
        self.calls = 0

    def acquire(self) -> float:
        with self.lock:
            self.inside += 1
            self.calls += 1
            self.most = max(self.most, self.inside)
        time.sleep(self.wait)
        with self.lock:
            self.inside -= 1
        return self.wait

    def on_throttle(self, retry_after: float | None = None) -> None: ...
    def on_success(self) -> None: ...
    def pause_for(self, seconds: float) -> None: ...
    def lower_ceiling(self, rate: float) -> None: ...


def test_threads_wait_for_the_limiter_one_at_a_time() -> None:
    limiter = CountingLimiter(0.002)
    runner = RetryRunner("test", limiter=limiter)  # type: ignore[arg-type]
    go = threading.Barrier(8)

    def worker() -> None:
        go.wait()
        for _ in range(5):
            runner.start_attempt()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert limiter.calls == 40
    assert runner.stats["requests"] == 40
    assert limiter.most == 1


def test_limited_is_the_share_of_grants_that_waited(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])

    class Stepping(CountingLimiter):
        def acquire(self) -> float:
            now[0] = self.wait  # each grant is asked for at 0.0 and given at its wait
            return self.wait

    def grants(runner: RetryRunner, n: int) -> None:
        for _ in range(n):
            now[0] = 0.0
            runner.start_attempt()

    quick = RetryRunner("test", limiter=Stepping(0.002))  # type: ignore[arg-type]
    grants(quick, 10)
    assert quick.limited == 0.0  # 2 ms is not waiting
    slow = RetryRunner("test", limiter=Stepping(0.0021))  # type: ignore[arg-type]
    grants(slow, 1)
    assert slow.limited == pytest.approx(0.1)
    grants(slow, 100)
    assert slow.limited > 0.99


# -- the bulk engine's give-up hook ----------------------------------------------------------


def test_start_item_gives_up_retries_on_the_calling_thread_only_and_spends_nothing(
        ) -> None:
    budget = RetryBudget(capacity=100)
    runner = RetryRunner("test", budget=budget)
    refused = TransportError("refused", provider="x", maybe_applied=False)
    runner.start_item(lambda: True)
    assert not runner.should_retry(refused, idempotent=True)
    assert budget.available == 100
    other: list[bool] = []
    t = threading.Thread(target=lambda: other.append(runner.should_retry(refused, True)))
    t.start()
    t.join(30)
    assert other == [True]
    runner.start_item(lambda: False)
    assert runner.should_retry(refused, idempotent=True)
    runner.start_item()
    assert runner.should_retry(refused, idempotent=True)


# -- the line for the limiter: a thread finishing a failed call goes first ------------------


def test_a_thread_part_way_through_a_failed_call_is_granted_before_fresh_ones() -> None:
    from espkit.transport.grants import GrantLine

    line = GrantLine()
    order: list[str] = []
    holder_in = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with line.turn(False):
            holder_in.set()
            release.wait(30)

    def wait_turn(name: str, urgent: bool, queued: threading.Event) -> None:
        queued.set()
        with line.turn(urgent):
            order.append(name)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holder_in.wait(30)
    threads = []
    for name, urgent in (("fresh-1", False), ("fresh-2", False), ("retry", True)):
        queued = threading.Event()
        t = threading.Thread(target=wait_turn, args=(name, urgent, queued))
        t.start()
        assert queued.wait(30)
        threads.append(t)
    # let the holder go once all three stand in line
    for _ in range(30_000):
        if line.waiting() == (1, 2):
            break
        time.sleep(0.001)
    assert line.waiting() == (1, 2)
    release.set()
    for t in (holder, *threads):
        t.join(30)
    assert order == ["retry", "fresh-1", "fresh-2"]


def test_the_runner_puts_a_thread_first_after_a_failure_and_back_after_an_answer() -> None:
    runner = RetryRunner("test", retry=RetryPolicy(max_attempts=1))
    seen: list[bool] = []

    class Spy(CountingLimiter):
        def acquire(self) -> float:
            seen.append(getattr(runner._urgent, "value", False))
            return 0.0

    runner.limiter = Spy(0.0)  # type: ignore[assignment]
    boom = ServerError("503", provider="x", status=503)

    def failing() -> str:
        runner.start_attempt()
        raise boom

    def fine() -> str:
        runner.start_attempt()
        return "ok"

    with pytest.raises(ServerError):
        runner.run(failing, idempotent=True)
    runner.run(fine, idempotent=True)  # the read-back: first in line
    runner.run(fine, idempotent=True)  # answered: back in the line like everyone
    with pytest.raises(ServerError):
        runner.run(failing, idempotent=True)
    runner.start_item()  # a new item starts afresh
    runner.run(fine, idempotent=True)
    assert seen == [False, True, False, False, False]
