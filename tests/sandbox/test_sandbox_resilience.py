"""The sandbox's simulated failures going through espkit's real pipeline: the limiter, the
retry checker, Retry-After waits and read-back after an ambiguous create."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

import espkit
from espkit import RateLimited, RetryPolicy, ServerError, TransportError
from espkit.providers.sandbox import SandboxProvider
from espkit.sandbox import Emulator, FakeClock

NAME = "news.acme.example"


def connect(clock: FakeClock, **options: object) -> espkit.Account:
    return espkit.connect("sandbox", path=":memory:", clock=clock, **options)


def parts(acct: espkit.Account) -> tuple[SandboxProvider, Emulator]:
    provider = acct.provider
    assert isinstance(provider, SandboxProvider)
    return provider, provider.emulator


def history(acct: espkit.Account, method: str) -> list[int | str]:
    return [outcome for m, _, outcome in parts(acct)[1].history if m == method]


# -- rate limits -----------------------------------------------------------------------------

def test_client_paces_itself_at_the_known_limit() -> None:
    clock = FakeClock()
    acct = connect(clock, rate_limit=5)
    provider, _ = parts(acct)
    assert provider.transport.limiter.rate == 5  # starts at the emulator's limit
    start = clock.monotonic()
    for i in range(20):
        acct.domains.create(f"d{i}.acme.example")
    assert provider.transport.stats["throttled"] == 0
    assert 429 not in history(acct, "POST")
    assert clock.monotonic() - start == pytest.approx(19 / 5, abs=0.05)


def test_lowered_limit_is_obeyed_from_rate_limit_headers() -> None:
    """The ESP lowers the account's limit under a client that started at the old one: the
    client sees ``X-RateLimit-Remaining: 0`` and waits for the reset instead of hammering."""
    clock = FakeClock()
    acct = connect(clock, rate_limit=20)
    acct.domains.create(NAME)
    parts(acct)[1].rate_limit = 2
    start = clock.monotonic()
    for _ in range(30):
        assert acct.domains.get(NAME).name == NAME
    assert clock.monotonic() - start >= 13  # about 2 a second, as the ESP now allows


def test_threads_over_a_lowered_limit_all_succeed() -> None:
    """Threads already past the client's limiter hit real 429s; all of them recover."""
    clock = FakeClock()
    acct = connect(clock, rate_limit=20)
    acct.domains.create(NAME)
    parts(acct)[1].rate_limit = 2
    results: list[str] = []

    def work() -> None:
        results.extend(acct.domains.get(NAME).name for _ in range(10))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [NAME] * 40


def test_injected_429_is_waited_out(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    # the HTTP-date form is written and read on the real wall clock: held still here, so
    # the date the sandbox writes is exactly a second ahead of the instant the client reads
    # it against, however long the machine takes in between
    monkeypatch.setattr(time, "time", lambda: 1_767_225_600.0)
    acct = connect(clock)
    provider, emulator = parts(acct)
    acct.domains.create(NAME)
    emulator.inject("429", method="GET", path="/v1/domains/*", times=2)
    start = clock.monotonic()
    assert acct.domains.get(NAME).name == NAME
    assert history(acct, "GET") == [429, 429, 200]
    assert provider.transport.stats["throttled"] == 2
    # Retry-After said a second each time (once in seconds, once as an HTTP date)
    assert clock.monotonic() - start == pytest.approx(2.0)


def test_429_asking_too_long_is_raised_at_once() -> None:
    clock = FakeClock()
    acct = connect(clock, rate_limit=20, retry=RetryPolicy(max_retry_after=10))
    acct.domains.create(NAME)
    parts(acct)[1].rate_limit = 0.001  # one request per 1000 s from now on
    acct.domains.get(NAME)
    with pytest.raises(RateLimited) as info:
        acct.domains.get(NAME)
    assert info.value.retry_after is not None
    assert info.value.retry_after > 10
    assert history(acct, "GET") == [200, 429]


def test_waits_with_the_system_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """No fake clock: the sandbox's system clock reads ``time.monotonic`` and sleeps with
    ``time.sleep`` (both looked up per call), and the client's limiter paces on it at the
    emulator's limit. Both are replaced here by a clock that only sleeps move: real waits
    would make the pacing depend on how busy the machine is."""
    slept: list[float] = []
    now = [time.monotonic()]  # from the real reading on, so nothing else sees time go back

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += max(0.0, seconds)

    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    monkeypatch.setattr(time, "sleep", sleep)
    acct = espkit.connect("sandbox", path=":memory:", rate_limit=100)
    provider, _ = parts(acct)
    for i in range(31):
        acct.domains.create(f"d{i}.acme.example")
    assert sum(slept) == pytest.approx(30 / 100)  # 30 gaps of 10 ms
    assert len(list(acct.domains.list())) == 31
    assert provider.transport.stats["throttled"] == 0


# -- ambiguous failures and read-back --------------------------------------------------------

def test_timeout_after_commit_on_create_adopts_the_domain() -> None:
    acct = connect(FakeClock())
    _, emulator = parts(acct)
    emulator.inject("timeout_after_commit", method="POST", path="/v1/domains")
    d = acct.domains.create(NAME)
    assert d.name == NAME
    assert [x.name for x in acct.domains.list()] == [NAME]
    assert history(acct, "POST") == [201]  # sent once, never re-sent blind


@pytest.mark.parametrize(("create", "path"), [
    (lambda a: a.pools.create("marketing", ips=["198.51.100.7"]), "/v1/pools"),
    (lambda a: a.subaccounts.create("customer-42"), "/v1/subaccounts"),
])
def test_timeout_after_commit_on_other_creates(
    create: Callable[[espkit.Account], object], path: str
) -> None:
    acct = connect(FakeClock())
    parts(acct)[1].inject("reset_after_commit", method="POST", path=path)
    assert create(acct)
    assert history(acct, "POST") == [201]


@pytest.mark.parametrize("fault", ["reset", "timeout", "503"])
def test_create_lost_before_the_server_acted_is_resent_once(fault: str) -> None:
    acct = connect(FakeClock())
    parts(acct)[1].inject(fault, method="POST", path="/v1/domains")
    assert acct.domains.create(NAME).name == NAME
    assert history(acct, "POST") == [503 if fault == "503" else fault, 201]
    assert len(list(acct.domains.list())) == 1


def test_refused_connection_is_retried_by_the_transport() -> None:
    acct = connect(FakeClock())
    provider, emulator = parts(acct)
    emulator.inject("refused", method="POST", path="/v1/domains")
    assert acct.domains.create(NAME).name == NAME
    assert history(acct, "POST") == ["refused", 201]
    assert history(acct, "GET") == []  # never sent, so no read-back needed
    assert provider.transport.stats["retries"] == 1


def test_503_on_get_is_retried() -> None:
    acct = connect(FakeClock())
    provider, emulator = parts(acct)
    acct.domains.create(NAME)
    emulator.inject("503", method="GET", times=2)
    assert acct.domains.get(NAME).name == NAME
    assert history(acct, "GET") == [503, 503, 200]
    assert provider.transport.stats["retries"] == 2


def test_persistent_503_surfaces_as_server_error() -> None:
    acct = connect(FakeClock(), retry=RetryPolicy(max_attempts=3))
    acct.domains.create(NAME)
    parts(acct)[1].inject("503", method="GET", times=5)
    with pytest.raises(ServerError) as info:
        acct.domains.get(NAME)
    assert info.value.status == 503
    assert history(acct, "GET") == [503, 503, 503]


def test_timeout_on_delete_is_retried_and_a_late_landing_counts_as_deleted() -> None:
    """DELETE is retried after a timeout; if the first one landed, the retry's 404 means
    the delete worked, and it is reported as such."""
    acct = connect(FakeClock())
    emulator = parts(acct)[1]
    acct.domains.create(NAME)
    emulator.inject("timeout", method="DELETE")
    acct.domains.delete(NAME)
    assert history(acct, "DELETE") == ["timeout", 204]

    acct.domains.create(NAME)
    emulator.inject("timeout_after_commit", method="DELETE")
    acct.domains.delete(NAME)
    # the server applied the first (204) but the client saw a timeout; the retry got 404
    assert history(acct, "DELETE")[-2:] == [204, 404]
    with pytest.raises(espkit.NotFound):
        acct.domains.get(NAME)
    # without an ambiguous attempt before it, a 404 on DELETE is still an error
    with pytest.raises(espkit.NotFound):
        acct.domains.delete(NAME)


def test_timeout_on_a_scoped_call_without_retry_is_a_transport_error() -> None:
    acct = connect(FakeClock(), retry=RetryPolicy(max_attempts=1))
    parts(acct)[1].inject("timeout", method="GET")
    with pytest.raises(TransportError) as info:
        acct.domains.get(NAME)
    assert info.value.maybe_applied


def test_latency_is_spent_on_the_sandbox_clock() -> None:
    clock = FakeClock()
    acct = connect(clock, latency=0.25)
    start = clock.monotonic()
    for i in range(4):
        acct.domains.create(f"d{i}.acme.example")
    assert clock.monotonic() - start == pytest.approx(1.0)


def test_inject_rejects_unknown_faults() -> None:
    acct = connect(FakeClock())
    with pytest.raises(espkit.ConfigError):
        parts(acct)[1].inject("meteor")
    with pytest.raises(espkit.ConfigError):
        parts(acct)[1].inject("503", times=0)


# -- random faults ---------------------------------------------------------------------------

def _scripted_run(seed: int) -> tuple[list[tuple[str, str, int | str]], list[str]]:
    acct = connect(FakeClock(), faults=0.15, seed=seed)
    acct.pools.create("marketing", ips=["198.51.100.7"])
    for i in range(15):
        name = f"d{i}.acme.example"
        acct.domains.create(name)
        acct.domains.assign(name, pool="marketing")
        acct.domains.verify(name)
    names = [d.name for d in acct.domains.list()]
    return list(parts(acct)[1].history), names


def test_random_faults_are_survived_and_reproducible() -> None:
    first, names = _scripted_run(seed=7)
    assert names == [f"d{i}.acme.example" for i in range(15)]
    outcomes = {o for _, _, o in first}
    assert {503, "refused", "reset"} & outcomes  # faults did happen
    assert _scripted_run(seed=7) == (first, names)
    assert _scripted_run(seed=8)[0] != first


# -- threads ---------------------------------------------------------------------------------

def _create_concurrently(acct: espkit.Account, total: int, threads: int) -> list[str]:
    created: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(worker, total, threads):
                d = acct.domains.create(f"d{i:04d}.fleet.example")
                with lock:
                    created.append(d.name)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    return created


def test_threads_create_distinct_domains() -> None:
    acct = espkit.connect("sandbox", path=":memory:")
    created = _create_concurrently(acct, total=200, threads=8)
    listed = [d.name for d in acct.domains.list()]
    assert len(created) == len(set(created)) == 200
    assert sorted(listed) == sorted(created)


def test_threads_with_faults_and_a_rate_limit() -> None:
    """Under 10 % random faults from 6 threads, every item is either created or reported
    failed; a failed one that exists anyway was reported as possibly applied. Thread timing
    makes the exact failures vary, so the test checks the accounting, not a fixed outcome."""
    clock = FakeClock()
    acct = connect(clock, faults=0.1, seed=3, rate_limit=50)
    names = [f"d{i:04d}.fleet.example" for i in range(120)]
    created: list[str] = []
    failed: dict[str, espkit.EspError] = {}
    lock = threading.Lock()

    def work(worker: int) -> None:
        for name in names[worker::6]:
            try:
                d = acct.domains.create(name)
            except espkit.EspError as exc:
                with lock:
                    failed[name] = exc
            else:
                with lock:
                    created.append(d.name)

    pool = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()

    listed = {d.name for d in acct.domains.list()}
    assert len(created) == len(set(created))
    assert set(created) | set(failed) == set(names)
    assert set(created) <= listed
    for name in listed - set(created):
        assert failed[name].maybe_applied, f"{name} exists but its failure said it did not"
    assert len(failed) <= 6, f"too many failures for 10 % faults: {sorted(failed)}"
