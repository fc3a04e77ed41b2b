"""The engine lends its room to hedged reads only once nothing of the job waits to start: an
ambiguous create's read-back goes as two copies at the end of a job, as one before."""

from __future__ import annotations

from collections import Counter

import espkit
from espkit.account import runner_of
from espkit.bulk import Bulk
from espkit.bulk.execution import Execution
from espkit.bulk.journal import Journal
from espkit.bulk.operations import CREATE
from espkit.bulk.workqueue import Task
from espkit.sandbox import FakeClock
from espkit.testing import emulator


def sandbox() -> espkit.Account:
    return espkit.connect("sandbox", path=":memory:", clock=FakeClock())


def reads(acct: espkit.Account) -> Counter[str]:
    """The read-backs the server saw, per domain."""
    return Counter(path.rsplit("/", 1)[1] for method, path, _ in emulator(acct).history
                   if method == "GET" and path.startswith("/v1/domains/"))


def test_the_last_items_read_back_goes_as_two_copies() -> None:
    acct = sandbox()
    emulator(acct).inject("503", method="POST", path="/v1/domains")
    report = Bulk(acct, max_concurrency=1).create_domains(["only.hedge.example"])
    assert report.counts == {"created": 1}
    assert reads(acct) == {"only.hedge.example": 2}
    runner = runner_of(acct.provider)
    assert runner is not None
    assert runner.hedged == 1


def test_a_read_back_while_items_wait_to_start_goes_once() -> None:
    acct = sandbox()
    emulator(acct).inject("503", method="POST", path="/v1/domains")
    names = ["a.hedge.example", "b.hedge.example", "c.hedge.example"]
    report = Bulk(acct, max_concurrency=1).create_domains(names)
    assert report.counts == {"created": 3}
    assert reads(acct) == {"a.hedge.example": 1}
    runner = runner_of(acct.provider)
    assert runner is not None
    assert runner.hedged == 0


def test_outside_a_job_nothing_is_hedged() -> None:
    acct = sandbox()
    emulator(acct).inject("503", method="POST", path="/v1/domains")
    acct.domains.create("alone.hedge.example")
    assert reads(acct) == {"alone.hedge.example": 1}


def test_the_job_leaves_the_runner_when_it_ends() -> None:
    acct = sandbox()
    Bulk(acct).create_domains(["x.hedge.example"])
    runner = runner_of(acct.provider)
    assert runner is not None
    assert not runner.spare.room()


def test_idle_means_every_item_fed_and_taken() -> None:
    acct = sandbox()
    run = Execution(CREATE, account=acct, journal=Journal(), max_concurrency=4,
                    max_consecutive_failures=50, max_outage=60.0, on_progress=None)
    run.todo, run.outstanding = 2, 1  # one item not fed yet, none queued
    assert not run.idle()
    run.outstanding = 2  # both fed and taken
    assert run.idle()
    run.queue.put(Task(None, resumed=False))  # type: ignore[arg-type]
    assert not run.idle()  # one fed and not taken
