"""A bulk run rides out an outage of its ESP: at the wire, through a loopback proxy that takes
the ESP away in the middle of a run (after the server applied the N-th create) and brings it
back when the run's clock says so. The breaker's waits run on a step clock, so a 15-second
outage takes no real time; the ESP's requests are counted at the server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.flakyproxy import DomainServer, FlakyProxy
from support.stepclock import StepClock

import espkit
from espkit.bulk import Bulk, BulkInterrupted, Journal, Operation, Progress
from espkit.bulk.report import ItemResult, Outcome
from espkit.errors import TransportError
from espkit.models import Capability

N = 60
DOWN_AFTER = 20  # creates applied before the ESP goes away
START = 1000.0  # the step clock's start: the outage begins then (the clock moves only in waits)


@pytest.fixture
def esp() -> Iterator[tuple[DomainServer, FlakyProxy]]:
    server = DomainServer()
    proxy = FlakyProxy(server.port)
    yield server, proxy
    proxy.close()
    server.close()


def account(proxy: FlakyProxy) -> espkit.Account:
    # a retry policy with millisecond back-offs: the outage is timed by the run's step clock,
    # and the requests' own retries should not add real seconds either
    return espkit.connect("mailgun", api_key="key-outage", base_url=proxy.url,
                          rate_limit=1000,
                          retry=espkit.RetryPolicy(base_delay=0.001, max_backoff=0.01))


def names(n: int = N) -> list[str]:
    return [f"d{i:03d}.outage.example" for i in range(n)]


def back_at(clock: StepClock, when: float, bring_back: Callable[[], None]
            ) -> Callable[[float], None]:
    """The run's sleep: moves the step clock, and brings the ESP back once it reads ``when``."""
    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now >= when:
            bring_back()
    return sleep


def go_down_after(server: DomainServer, n: int, take_away: Callable[[], None]) -> None:
    def on_create(applied: int) -> None:
        if applied == n:
            take_away()
    server.on_create = on_create


def assert_each_created_once(server: DomainServer, wanted: list[str]) -> None:
    assert set(server.applied) == set(wanted)
    assert set(server.applied.values()) == {1}
    assert server.duplicates == 0


@pytest.mark.parametrize("kind", ["refuse", "reset", "5xx"])
def test_an_outage_in_the_middle_is_waited_out_and_every_item_is_done_once(
        esp: tuple[DomainServer, FlakyProxy], kind: str) -> None:
    server, proxy = esp
    down: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
        "refuse": (proxy.refuse, proxy.up),
        "reset": (proxy.reset, proxy.up),
        "5xx": (lambda: setattr(server, "fail_all", True),
                lambda: setattr(server, "fail_all", False)),
    }
    take_away, bring_back = down[kind]
    go_down_after(server, DOWN_AFTER, take_away)
    clock = StepClock(START)
    seen: list[str] = []

    def progress(p: Progress) -> None:
        if p.waiting:
            seen.append(p.waiting)

    report = Bulk(account(proxy), clock=clock, sleep=back_at(clock, START + 15, bring_back),
                  on_progress=progress).create_domains(names())
    assert report.ok, report.summary()
    assert report.counts == {"created": N}
    assert not report.failed  # nothing was burnt while the ESP was away
    assert report.outages == 1
    assert report.outage_seconds == 15.0  # probes at +1, +3, +7, +15: the last one answered
    assert clock.now == START + 15
    assert_each_created_once(server, names())
    word = "failing every request" if kind == "5xx" else "unreachable"
    # shown as soon as the run pauses, and again as the probes back off
    assert seen
    assert all(s.startswith(f"ESP {word} since ") for s in seen)
    assert "probing every 1 s" in seen[0]
    assert any("probing every 8 s" in s for s in seen)


@pytest.mark.parametrize(("max_outage", "finishes"), [(15.0, True), (14.9, False)])
def test_the_run_stops_at_max_outage_not_before_and_a_resume_finishes(
        esp: tuple[DomainServer, FlakyProxy], tmp_path: Path, max_outage: float,
        finishes: bool) -> None:
    server, proxy = esp
    go_down_after(server, DOWN_AFTER, proxy.refuse)
    clock = StepClock(START)
    journal = str(tmp_path / "run.db")
    acct = account(proxy)
    report = Bulk(acct, journal=journal, clock=clock, max_outage=max_outage,
                  sleep=back_at(clock, START + 15, proxy.up)).create_domains(names())
    assert not report.failed
    if finishes:
        assert report.ok
        assert report.stopped is None
        assert_each_created_once(server, names())
        return
    # the last probe went out at exactly max_outage (14.9, cut short of the 8 s gap) and
    # failed: the run stops there, not before and not after
    assert clock.now == START + 14.9
    assert report.stopped is not None
    assert "the ESP was unreachable for 14.9 s" in report.stopped
    assert "max_outage=14.9" in report.stopped
    assert 0 < report.remaining < N
    states = Journal(journal).counts()
    assert states["failed"] == 0
    assert states["pending"] + states["inflight"] == report.remaining
    assert "run again with the same journal" in report.summary()
    # the ESP is back: a resume finishes the job, reading back what was in flight
    proxy.up()
    rest = Bulk(acct, journal=journal).resume()
    assert rest.ok, rest.summary()
    assert rest.counts.get("skipped", 0) + rest.counts.get("created", 0) == N
    assert Journal(journal).outcomes() == {"created": N}
    assert_each_created_once(server, names())


def test_an_outage_while_the_queue_is_still_being_fed_is_waited_out_too(
        esp: tuple[DomainServer, FlakyProxy]) -> None:
    # 4 workers and 200 items: the feeder is still reading the journal when the ESP goes
    server, proxy = esp
    go_down_after(server, DOWN_AFTER, proxy.refuse)
    clock = StepClock(START)
    report = Bulk(account(proxy), max_concurrency=4, max_consecutive_failures=4, clock=clock,
                  sleep=back_at(clock, START + 7, proxy.up)).create_domains(names(200))
    assert report.ok, report.summary()
    assert report.counts == {"created": 200}
    assert report.outages == 1
    assert report.outage_seconds == 7.0
    assert_each_created_once(server, names(200))


def test_ctrl_c_while_waiting_out_an_outage_stops_cleanly(
        esp: tuple[DomainServer, FlakyProxy], tmp_path: Path) -> None:
    server, proxy = esp
    go_down_after(server, DOWN_AFTER, proxy.refuse)
    clock = StepClock(START)

    pressed = []

    def progress(p: Progress) -> None:
        if p.waiting and not pressed:
            pressed.append(True)
            raise KeyboardInterrupt

    journal = str(tmp_path / "run.db")
    with pytest.raises(BulkInterrupted) as info:
        Bulk(account(proxy), journal=journal, clock=clock, sleep=clock.sleep,
             on_progress=progress).create_domains(names())
    report = info.value.report
    assert report.interrupted
    assert not report.failed
    assert 0 < report.remaining < N
    assert Journal(journal).counts()["failed"] == 0
    proxy.up()
    rest = Bulk(account(proxy), journal=journal).resume()
    assert rest.ok
    assert_each_created_once(server, names())


def test_while_the_esp_is_down_requests_go_one_at_a_time() -> None:
    """With an operation of our own (no HTTP): from the run's first wait for a probe until
    the ESP is back, requests never overlap: the first probe waits for the requests sent
    before the pause, and each probe for the one before it."""
    lock = threading.Lock()
    state = {"down": False, "paused": False, "active": 0, "overlap": 0, "probes": 0,
             "answered": 0}

    def run(acct: espkit.Account, key: str, payload: object, resumed: bool) -> ItemResult:
        with lock:
            counted = state["paused"]
            if counted:
                state["probes"] += 1
                state["active"] += 1
                state["overlap"] = max(state["overlap"], state["active"])
        try:
            time.sleep(0.002)  # long enough for two requests to overlap, were they sent so
            with lock:
                if state["down"]:
                    raise TransportError("connection refused", provider="test")
                state["answered"] += 1
                if state["answered"] == 30:
                    state["down"] = True
            return ItemResult(key, Outcome.CREATED)
        finally:
            if counted:
                with lock:
                    state["active"] -= 1

    def sleep(seconds: float) -> None:
        with lock:
            state["paused"] = True  # the run waits for its next probe: it has paused
        clock.sleep(seconds)
        if clock.now >= START + 31:  # probes at +1, +3, +7, +15, +23 failed; +31 won't
            with lock:
                state["down"] = state["paused"] = False

    op = Operation("probe-test", lambda acct, item: (str(item), {}), run, Capability.DOMAINS)
    clock = StepClock(START)
    acct = espkit.connect("sandbox", path=":memory:")
    report = Bulk(acct, clock=clock, sleep=sleep, max_concurrency=4,
                  max_consecutive_failures=5).run(op, [f"k{i}" for i in range(100)])
    assert report.counts == {"created": 100}
    assert report.outages == 1
    # probes at +1, +3, +7, +15 and +23; a request the 4 workers had already started when
    # the run paused may begin its call after that moment, but never beside a probe
    assert 5 <= state["probes"] <= 5 + 4
    assert state["overlap"] == 1


def test_max_outage_and_the_failure_threshold_are_checked_before_anything_is_sent() -> None:
    acct = espkit.connect("sandbox", path=":memory:")
    for bad in (-1, float("nan"), float("inf"), "300", True, None):
        with pytest.raises(espkit.ValidationError, match="max_outage"):
            Bulk(acct, max_outage=bad)  # type: ignore[arg-type]
    for bad_count in (0, -3, 2.5, True):
        with pytest.raises(espkit.ValidationError, match="max_consecutive_failures"):
            Bulk(acct, max_consecutive_failures=bad_count)  # type: ignore[arg-type]
    assert Bulk(acct, max_outage=0).max_outage == 0.0  # 0: one probe, then stop
    assert Bulk(acct, max_outage=86400).max_outage == 86400.0
