"""Hedged reads (``espkit.transport.hedge``): a read sent as two copies only while every job
on the runner has room to spare, the first answer taken, the other copy called off."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from espkit.errors import NotFound, ServerError, ValidationError
from espkit.transport import RetryPolicy, RetryRunner, Spare, read_hedged


def runner(**kwargs: object) -> RetryRunner:
    return RetryRunner("test", sleep=lambda s: None, **kwargs)  # type: ignore[arg-type]


class Reads:
    """A read that records who ran it; ``answers`` are what each call returns or raises,
    ``gates`` hold a call until set."""

    def __init__(self, *answers: object, gates: dict[int, threading.Event] | None = None
                 ) -> None:
        self.answers = list(answers)
        self.gates = gates or {}
        self.threads: list[str] = []
        self.lock = threading.Lock()

    def __call__(self) -> object:
        with self.lock:
            n = len(self.threads)
            self.threads.append(threading.current_thread().name)
        gate = self.gates.get(n)
        if gate is not None:
            assert gate.wait(5)
        answer = self.answers[n]
        if isinstance(answer, BaseException):
            raise answer
        return answer


def with_room(r: RetryRunner) -> Callable[[], None]:
    job = r.spare.job(lambda: True)
    job.__enter__()
    return lambda: job.__exit__(None, None, None)


# -- Spare ---------------------------------------------------------------------------------------

def test_room_needs_a_job_and_every_job_idle() -> None:
    spare = Spare()
    assert not spare.room()  # no job running: nothing to say there is room
    busy = [False]
    with spare.job(lambda: True):
        assert spare.room()
        with spare.job(lambda: not busy[0]):
            assert spare.room()
            busy[0] = True
            assert not spare.room()  # one job has work waiting
        assert spare.room()  # that job ended
    assert not spare.room()


def test_two_jobs_with_equal_predicates_are_two_jobs() -> None:
    spare = Spare()
    idle = [True, False]
    with spare.job(lambda: idle[0]), spare.job(lambda: idle[1]):
        assert not spare.room()
        idle[1] = True
        assert spare.room()


# -- read_hedged -------------------------------------------------------------------------------

def test_without_room_the_read_runs_once_on_the_calling_thread() -> None:
    r = runner()
    read = Reads("found")
    assert read_hedged(r, read) == "found"
    assert read.threads == [threading.current_thread().name]
    assert r.hedged == 0
    assert read_hedged(None, Reads(None)) is None


def test_with_room_two_copies_go_and_the_first_answer_wins() -> None:
    r = runner()
    done = with_room(r)
    slow = threading.Event()
    read = Reads("late", "first", gates={0: slow})
    try:
        assert read_hedged(r, read) == "first"  # returned while copy 0 still waits
    finally:
        slow.set()
        done()
    assert len(read.threads) == 2
    assert threading.current_thread().name not in read.threads
    assert r.hedged == 1


def test_absent_is_an_answer_like_any_other() -> None:
    r = runner()
    done = with_room(r)
    slow = threading.Event()
    try:
        assert read_hedged(r, Reads(None, "found", gates={1: slow})) is None
    finally:
        slow.set()
        done()


def test_a_failed_copy_leaves_the_decision_to_the_other() -> None:
    r = runner()
    done = with_room(r)
    first_failed = threading.Event()

    class Failing(Reads):
        def __call__(self) -> object:
            try:
                return super().__call__()
            except ServerError:
                first_failed.set()
                raise

    read = Failing(ServerError("down", provider="test", status=503), "found",
                   gates={1: first_failed})
    try:
        assert read_hedged(r, read) == "found"
    finally:
        done()


def test_both_copies_failing_raises_the_first_failure() -> None:
    r = runner()
    done = with_room(r)
    first_failed = threading.Event()
    first = ValidationError("name", "x", "refused first")

    class Failing(Reads):
        def __call__(self) -> object:
            try:
                return super().__call__()
            except ValidationError:
                first_failed.set()
                raise

    # copy 1 answers only after copy 0 has failed: the first failure is copy 0's
    read = Failing(first, NotFound("gone", provider="test"), gates={1: first_failed})
    try:
        with pytest.raises(ValidationError) as info:
            read_hedged(r, read)
    finally:
        done()
    assert info.value is first
    assert len(read.threads) == 2


def test_the_losing_copy_stops_retrying_once_the_other_answered() -> None:
    r = runner(retry=RetryPolicy(max_attempts=5, base_delay=0.0))
    done = with_room(r)
    answered = threading.Event()
    attempts: list[str] = []
    lock = threading.Lock()

    def read() -> object:
        def attempt() -> object:
            name = threading.current_thread().name
            with lock:
                attempts.append(name)
                mine = attempts.count(name)
                loser = name == "espkit-hedge-0"
            if loser:
                if mine == 1:
                    assert answered.wait(5)  # the other copy answers meanwhile
                raise ServerError("down", provider="test", status=503)
            answered_later.set()
            return "found"
        return r.run(attempt, idempotent=True)

    answered_later = threading.Event()
    try:
        result = read_hedged(r, lambda: read())
        answered.set()
    finally:
        done()
    assert result == "found"
    # wait for the loser to finish its first (failed) attempt, then check it gave up
    for t in threading.enumerate():
        if t.name == "espkit-hedge-0":
            t.join(5)
    assert attempts.count("espkit-hedge-0") == 1  # no retry after the decision
    assert attempts.count("espkit-hedge-1") == 1


def test_copies_inherit_the_callers_give_up() -> None:
    r = runner(retry=RetryPolicy(max_attempts=5, base_delay=0.0))
    r.start_item(lambda: True)  # the caller's run says: retry nothing (the ESP is down)
    done = with_room(r)
    attempts: list[str] = []

    def read() -> object:
        def attempt() -> object:
            attempts.append(threading.current_thread().name)
            raise ServerError("down", provider="test", status=503)
        return r.run(attempt, idempotent=True)

    try:
        with pytest.raises(ServerError):
            read_hedged(r, read)
    finally:
        done()
        r.start_item()
    assert len(attempts) == 2  # one attempt per copy, no retries


def test_copies_are_urgent_and_the_callers_state_is_untouched() -> None:
    r = runner()
    done = with_room(r)
    seen: list[bool] = []

    def read() -> object:
        seen.append(r._urgent.value)
        return "found"

    r.start_item()
    try:
        read_hedged(r, read)
    finally:
        done()
    assert seen == [True, True]
    assert r._urgent.value is False
