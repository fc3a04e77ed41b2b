"""The bulk engine against the sandbox ESP: outcomes, faults, resume, stops and reports."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import pytest
from support.stepclock import StepClock

import espkit
from espkit.bulk import Bulk, BulkInterrupted, Journal, Progress
from espkit.bulk.identity import identity_of
from espkit.sandbox import Emulator, FakeClock
from espkit.testing import emulator


def sandbox(**options: object) -> espkit.Account:
    # a fake clock: retry back-offs and 429 waits pass instantly, so faults cost no time
    options.setdefault("clock", FakeClock())
    return espkit.connect("sandbox", path=":memory:", **options)


def names(n: int, zone: str = "bulk.example") -> list[str]:
    return [f"d{i:04d}.{zone}" for i in range(n)]


def on_server(acct: espkit.Account) -> set[str]:
    return {d.name for d in acct.domains.list()}


def posts(emu: Emulator) -> Counter[int | str]:
    """What the server answered to every create, by status or fault kind."""
    return Counter(outcome for method, path, outcome in emu.history
                   if method == "POST" and path == "/v1/domains")


# -- outcomes ----------------------------------------------------------------------------------


def test_create_reports_each_item_and_converges_on_the_requested_set() -> None:
    acct = sandbox()
    acct.domains.create("d0001.bulk.example")  # there before the job
    report = Bulk(acct).create_domains(names(30))
    assert report.counts == {"created": 29, "existed": 1}
    assert report.ok
    assert report.remaining == 0
    assert not report.failed
    assert on_server(acct) == set(names(30))
    assert report.requests == 30
    assert report.throttled == 0
    assert report.throughput > 0


def test_specs_mappings_and_csv_like_cells_are_accepted() -> None:
    acct = sandbox()
    pool = acct.pools.create("mkt").name
    report = Bulk(acct).create_domains([
        espkit.DomainSpec(name="a.bulk.example", dkim_key_size=2048),
        {"name": "b.bulk.example", "pool": pool, "dkim_key_size": "1024", "wildcard": "yes"},
        {"domain": "c.bulk.example", "pool": ""},
        "D.Bulk.Example",
    ])
    assert report.counts == {"created": 4}
    assert on_server(acct) == {"a.bulk.example", "b.bulk.example", "c.bulk.example",
                               "d.bulk.example"}
    assert [a.target for a in acct.domains.assignments("b.bulk.example")] == [pool]


def test_delete_verify_and_assign() -> None:
    acct = sandbox(verify_delay=0)
    pool = acct.pools.create("txn").name
    Bulk(acct).create_domains(names(5))
    verified = Bulk(acct).verify_domains(names(5))
    assert verified.counts == {"verified": 5}
    assigned = Bulk(acct).assign(names(5), pool=pool)
    assert assigned.counts == {"assigned": 5}
    assert all(acct.domains.assignments(n)[0].target == pool for n in names(5))
    deleted = Bulk(acct).delete_domains([*names(3), "gone.bulk.example"])
    assert deleted.counts == {"deleted": 3, "absent": 1}
    assert on_server(acct) == set(names(5)[3:])


def test_verify_reports_pending_domains_with_the_records_they_lack() -> None:
    acct = sandbox(verify_delay=3600)
    Bulk(acct).create_domains(names(2))
    report = Bulk(acct).verify_domains(names(2))
    assert report.counts == {"pending": 2}
    assert report.ok  # not verified yet is not a failure of the request
    assert [p.key for p in report.pending] == names(2)
    assert all("records not valid yet" in (p.detail or "") for p in report.pending)
    assert report.to_dict()["pending"][0]["outcome"] == "pending"


# -- input is checked before anything is sent ---------------------------------------------------


def test_bad_items_are_all_named_and_nothing_is_sent(tmp_path: Path) -> None:
    acct = sandbox()
    emu = emulator(acct)
    journal = str(tmp_path / "run.db")
    items = ["ok.bulk.example", "not a domain", {"name": "x.bulk.example", "colour": "red"},
             {"name": "y.bulk.example", "dkim_key_size": "512"}]
    with pytest.raises(espkit.ValidationError) as info:
        Bulk(acct, journal=journal).create_domains(items)
    text = str(info.value)
    assert "3 bad item(s)" in text
    assert "nothing was sent" in text
    assert "item 2:" in text
    assert "'not a domain'" in text
    assert "item 3:" in text
    assert "colour" in text
    assert "item 4:" in text
    assert "dkim_key_size" in text
    assert not emu.history
    assert Journal(journal).counts()["pending"] == 0  # the journal is as it was: empty


def test_the_same_domain_twice_with_different_settings_is_refused() -> None:
    acct = sandbox()
    with pytest.raises(espkit.ValidationError, match="appears twice"):
        Bulk(acct).create_domains([{"name": "a.bulk.example", "pool": "p1"},
                                   {"name": "a.bulk.example", "pool": "p2"}])
    # the same item twice is simply one item
    assert Bulk(acct).create_domains(["a.bulk.example", "A.bulk.example"]).total == 1


def test_assign_needs_exactly_one_target_and_a_string_is_not_a_list() -> None:
    acct = sandbox()
    with pytest.raises(espkit.ValidationError, match="exactly one of pool, ip"):
        Bulk(acct).assign(["a.bulk.example"])
    with pytest.raises(espkit.ValidationError, match="not one string"):
        Bulk(acct).create_domains("a.bulk.example")  # type: ignore[arg-type]
    with pytest.raises(espkit.ValidationError, match="max_concurrency"):
        Bulk(acct, max_concurrency=0)


def test_a_journal_belongs_to_one_job(tmp_path: Path) -> None:
    acct = sandbox()
    journal = str(tmp_path / "run.db")
    Bulk(acct, journal=journal).create_domains(names(2))
    emu = emulator(acct)
    emu.history.clear()
    with pytest.raises(espkit.ConfigError, match=r"belongs to another job \(a 'create' job; "
                       r"this is 'delete'\); nothing was sent"):
        Bulk(acct, journal=journal).delete_domains(names(2))
    assert list(emu.history) == []
    assert on_server(acct) == set(names(2))


# -- faults: every item settles, nothing is created twice ---------------------------------------


@pytest.mark.parametrize("fault", ["503", "429", "refused", "reset", "timeout",
                                   "timeout_after_commit", "reset_after_commit"])
def test_faults_on_creates_settle_every_item_without_duplicates(fault: str) -> None:
    acct = sandbox()
    emu = emulator(acct)
    emu.inject(fault, method="POST", path="/v1/domains", times=10)
    report = Bulk(acct).create_domains(names(40))
    assert report.counts == {"created": 40}, report.failed
    assert on_server(acct) == set(names(40))
    answers = posts(emu)
    assert answers[201] == 40  # each applied exactly once (after-commit faults log the 201)
    assert answers[409] == 0  # no create was ever re-sent for a domain already there


def test_random_faults_everything_settles_and_a_rerun_finishes_the_failures(tmp_path: Path
                                                                            ) -> None:
    acct = sandbox(faults=0.3, seed=7)
    emu = emulator(acct)
    journal = str(tmp_path / "run.db")
    first = Bulk(acct, journal=journal).create_domains(names(200))
    assert first.remaining == 0
    assert sum(first.counts.values()) == 200
    for item in first.failed:
        assert isinstance(item.error, espkit.EspError)  # typed, per item
    emu.faults = 0.0
    second = Bulk(acct, journal=journal).create_domains(names(200))
    assert second.counts.get("skipped", 0) == 200 - len(first.failed)
    assert not second.failed
    assert on_server(acct) == set(names(200))
    assert Journal(journal).outcomes() == {"created": 200}
    assert posts(emu)[409] == 0


def test_commit_then_fail_on_deletes_counts_as_deleted() -> None:
    acct = sandbox()
    Bulk(acct).create_domains(names(10))
    emu = emulator(acct)
    emu.inject("reset_after_commit", method="DELETE", times=4)
    report = Bulk(acct).delete_domains(names(10))
    assert report.counts == {"deleted": 10}
    assert on_server(acct) == set()


# -- resume --------------------------------------------------------------------------------------


def test_items_in_flight_at_a_crash_are_read_back_not_resent(tmp_path: Path) -> None:
    acct = sandbox()
    emu = emulator(acct)
    journal_path = str(tmp_path / "run.db")
    journal = Journal(journal_path)
    journal.bind("create", identity_of(acct))
    journal.add((n, {"name": n}) for n in names(4))
    # a run died after sending the first two: one landed, one was lost on the way
    acct.domains.create(names(4)[0])
    journal.start(names(4)[0])
    journal.start(names(4)[1])
    journal.close()
    emu.history.clear()
    report = Bulk(acct, journal=journal_path).resume()
    assert report.counts == {"created": 4}
    assert report.reconciled == 2
    assert posts(emu) == Counter({201: 3})  # not re-sent for the one that had landed
    assert on_server(acct) == set(names(4))


def test_resume_without_input_runs_the_recorded_job(tmp_path: Path) -> None:
    acct = sandbox()
    pool = acct.pools.create("p").name
    Bulk(acct).create_domains(names(3))
    journal = str(tmp_path / "assign.db")
    with pytest.raises(BulkInterrupted):
        Bulk(acct, journal=journal, on_progress=_interrupt_after(1)).assign(names(3), pool=pool)
    report = Bulk(acct, journal=journal).resume()
    assert report.counts.get("assigned", 0) + report.counts.get("skipped", 0) == 3
    assert all(acct.domains.assignments(n) for n in names(3))
    with pytest.raises(espkit.ConfigError, match="no job to resume"):
        Bulk(acct, journal=str(tmp_path / "empty.db")).resume()


def _interrupt_after(done: int) -> object:
    def hook(progress: Progress) -> None:
        if progress.done >= done:
            raise KeyboardInterrupt
    return hook


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path: Path) -> None:
    acct = sandbox(latency=0.001)
    journal = str(tmp_path / "run.db")
    with pytest.raises(BulkInterrupted) as info:
        Bulk(acct, journal=journal, on_progress=_interrupt_after(5)).create_domains(names(300))
    report = info.value.report
    assert report.interrupted
    assert 0 < report.remaining < 300
    assert "resume" in str(info.value)
    assert journal in str(info.value)
    states = Journal(journal).counts()
    assert states["inflight"] == 0  # requests in flight were finished and recorded
    assert states["done"] == 300 - report.remaining
    rest = Bulk(acct, journal=journal).create_domains(names(300))
    assert rest.counts["skipped"] == 300 - report.remaining
    assert rest.counts["created"] == report.remaining
    assert on_server(acct) == set(names(300))


# -- stopping early ------------------------------------------------------------------------------


def test_bad_credentials_stop_the_run_and_leave_items_pending(tmp_path: Path) -> None:
    acct = sandbox()
    emulator(acct).revoke_key("sandbox")
    journal = str(tmp_path / "run.db")
    report = Bulk(acct, journal=journal).create_domains(names(50))
    assert report.stopped
    assert "AuthError" in report.stopped
    assert report.remaining == 50
    assert not report.failed
    assert not report.ok
    assert Journal(journal).counts()["pending"] == 50


def test_an_esp_failing_every_request_pauses_the_run_then_stops_it_after_max_outage(
        tmp_path: Path) -> None:
    acct = sandbox(retry=espkit.RetryPolicy(max_attempts=1))
    emu = emulator(acct)
    emu.inject("503", method="POST", times=1000)
    clock = StepClock(1000.0)
    journal = str(tmp_path / "run.db")
    report = Bulk(acct, journal=journal, max_consecutive_failures=5, max_outage=20,
                  clock=clock, sleep=clock.sleep).create_domains(names(100))
    assert report.stopped is not None
    assert report.stopped.startswith("the ESP was failing every request for 20 s")
    assert "max_outage=20" in report.stopped
    # probes at +1, +3, +7, +15 and the last one at +20: not one second less or more
    assert clock.now == 1020.0
    assert report.outages == 1
    assert report.outage_seconds == 20.0
    # nothing was burnt: every item is still to do, none marked failed
    assert not report.failed
    assert report.remaining == 100
    assert Journal(journal).counts()["failed"] == 0
    assert posts(emu)[201] == 0


def test_unsupported_operations_are_refused_before_anything_is_sent() -> None:
    acct = espkit.connect("postmark", api_key="account-token")
    with pytest.raises(espkit.Unsupported):
        Bulk(acct).assign(["a.bulk.example"], pool="p")


# -- reports -------------------------------------------------------------------------------------


def test_report_as_json_and_text(tmp_path: Path) -> None:
    acct = sandbox()
    emulator(acct).revoke_key("nobody")  # unrelated key: no effect
    Bulk(acct).create_domains(["taken.bulk.example"])
    report = Bulk(acct, journal=str(tmp_path / "r.db")).create_domains(
        ["taken.bulk.example", "new.bulk.example"])
    data = json.loads(report.to_json())
    assert data["counts"] == {"created": 1, "existed": 1}
    assert data["operation"] == "create"
    assert data["total"] == 2
    assert data["journal"].endswith("r.db")
    assert "created" in report.summary()
    assert "2 requests" in report.summary()


def test_progress_is_reported_up_to_the_total() -> None:
    seen: list[Progress] = []
    acct = sandbox()
    Bulk(acct, on_progress=seen.append).create_domains(names(20))
    assert seen[-1].done == seen[-1].total == 20
    assert all(p.done <= p.total for p in seen)


def test_workers_follow_rate_and_latency_and_idle_ones_retire() -> None:
    # 50 req/s, answers in 0.2 s: Little's law wants 50 x 0.2 x 1.3 + 1 = 14 workers (the
    # ramp reaches them by the first answer); once answers take 10 ms, 2 or 3 are enough
    # and the rest retire
    acct = espkit.connect("sandbox", path=":memory:", latency=0.2, rate_limit=50)
    emu = emulator(acct)
    alive: list[int] = []

    def progress(p: Progress) -> None:
        if p.done >= 20:
            emu.latency = 0.01
        if p.done >= 80:
            alive.append(sum(t.name.startswith("espkit-bulk-") and t.is_alive()
                             for t in threading.enumerate()))

    report = Bulk(acct, on_progress=progress).create_domains(names(100))
    assert report.counts == {"created": 100}
    assert report.concurrency >= 12  # the most at once: 0.2 s answers
    assert alive
    assert min(alive) <= 6
    assert report.throttled == 0


# -- reading input files ---------------------------------------------------------------------


def test_read_items_formats(tmp_path: Path) -> None:
    from espkit.bulk import read_items

    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"name": "a.example.org", "pool": "p"}\n\n"b.example.org"\n')
    assert list(read_items(jsonl)) == [{"name": "a.example.org", "pool": "p"},
                                       "b.example.org"]
    headerless = tmp_path / "b.csv"
    headerless.write_text("a.example.org,ignored\nb.example.org\n")
    assert list(read_items(headerless)) == ["a.example.org", "b.example.org"]
    ragged = tmp_path / "c.csv"
    ragged.write_text("domain,pool\na.example.org,p,extra\n")
    with pytest.raises(espkit.ConfigError, match="more cells than the header"):
        list(read_items(ragged))
    broken = tmp_path / "d.json"
    broken.write_text("[1,")
    with pytest.raises(espkit.ConfigError, match="not valid JSON"):
        list(read_items(broken))
    not_list = tmp_path / "e.json"
    not_list.write_text("{}")
    with pytest.raises(espkit.ConfigError, match="expected a JSON list"):
        list(read_items(not_list))
    bad_line = tmp_path / "f.ndjson"
    bad_line.write_text('"a.example.org"\n{oops\n')
    with pytest.raises(espkit.ConfigError, match="line 2"):
        list(read_items(bad_line))
