"""The sandbox's simulated IP warmup: stages follow an ``espkit.warmup`` schedule one sending
day at a time on the sandbox clock, through the same account calls as every ESP's warmup.

Each test drives a ``FakeClock``: a day is ``clock.advance(DAY)``, and a day of traffic is a
``record_sends`` on the IP. Requests are counted at the emulator (``history``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import espkit
from espkit import WarmupState
from espkit.errors import ConflictingState, ProtocolError, ValidationError
from espkit.providers.sandbox import SandboxProvider
from espkit.sandbox import Emulator, FakeClock, Reply, database
from espkit.sandbox.store import SEED_IPS, WARMING_IPS
from espkit.warmup import schedule

DAY = 86400.0
DOMAIN = "news.acme.example"
IP, IP2 = "198.51.100.1", "198.51.100.2"
JAN_1 = datetime(2026, 1, 1, tzinfo=timezone.utc)  # where a FakeClock starts
CONSERVATIVE = schedule("conservative")
WARMING, WARM, NOT_STARTED = WarmupState.WARMING, WarmupState.WARM, WarmupState.NOT_STARTED


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def acct(clock: FakeClock) -> Iterator[espkit.Account]:
    with espkit.connect("sandbox", path=":memory:", clock=clock) as a:
        a.domains.create(DOMAIN)
        yield a


def sandbox(acct: espkit.Account) -> SandboxProvider:
    assert isinstance(acct.provider, SandboxProvider)
    return acct.provider


def requests_made(acct: espkit.Account) -> int:
    return len(sandbox(acct).emulator.history)


def send_today(acct: espkit.Account, ip: str = IP, sent: int = 100) -> None:
    sandbox(acct).record_sends(DOMAIN, sent, ip=ip)


def call(em: Emulator, method: str, path: str, body: Any = None, *, query: str = "",
         **headers: str) -> tuple[int, Any]:
    sent = {"Authorization": "Bearer k", **{k.replace("_", "-"): v for k, v in headers.items()}}
    reply = em.exchange(method, path, query, sent,
                        None if body is None else json.dumps(body).encode())
    return reply.status, json.loads(reply.body) if reply.body else None


# -- the script every ESP runs: start, read as days pass, stop -----------------------------------


def test_a_warmup_starts_moves_a_stage_per_sending_day_and_stops(acct: espkit.Account,
                                                                 clock: FakeClock) -> None:
    before = requests_made(acct)
    started = acct.ips.start_warmup(IP)
    assert requests_made(acct) == before + 1
    assert (started.ip, started.state, started.provider) == (IP, WARMING, "sandbox")
    assert (started.stage, started.stages) == (1, CONSERVATIVE.days) == (1, 29)
    assert started.daily_cap == CONSERVATIVE.cap(1) == 200
    assert started.hourly_cap is None  # the conservative schedule has no hourly table
    assert started.overflow == "shared"
    assert started.started == JAN_1
    assert started.progress == pytest.approx(1 / 29)
    assert started.raw["schedule"] == "conservative"
    for stage in range(1, 6):
        send_today(acct)
        clock.advance(DAY - 1)  # the day's last second: still on this stage
        assert acct.ips.warmup_status(IP).stage == stage
        clock.advance(1)  # 00:00 UTC: the next
        now = acct.ips.warmup_status(IP)
        assert (now.state, now.stage) == (WARMING, stage + 1)
        assert now.daily_cap == CONSERVATIVE.cap(stage + 1)
        assert now.progress == pytest.approx((stage + 1) / 29)
        assert now.started == JAN_1
    before = requests_made(acct)
    stopped = acct.ips.stop_warmup(IP)
    assert requests_made(acct) == before + 1
    assert stopped.state is NOT_STARTED
    assert (stopped.stage, stopped.stages, stopped.progress, stopped.daily_cap,
            stopped.overflow, stopped.started) == (None,) * 6
    assert acct.ips.warmup_status(IP).state is NOT_STARTED
    assert not acct.ips.get(IP).warming_up
    before = requests_made(acct)
    assert acct.ips.stop_warmup(IP).state is NOT_STARTED  # not warming: not an error
    assert requests_made(acct) == before + 1


def test_only_days_with_sends_on_the_ip_move_it_on(acct: espkit.Account,
                                                   clock: FakeClock) -> None:
    clock.advance(DAY)
    send_today(acct)  # Jan 2, before the warmup: not counted
    clock.advance(DAY)
    acct.ips.start_warmup(IP)  # Jan 3
    sandbox(acct).record_sends(DOMAIN, 100)  # the shared IPs
    send_today(acct, ip=IP2)  # another IP
    send_today(acct, sent=0)  # nothing sent is no traffic
    clock.advance(DAY)
    assert acct.ips.warmup_status(IP).stage == 1
    send_today(acct, sent=1)  # one message is a day of traffic
    clock.advance(DAY)
    assert acct.ips.warmup_status(IP).stage == 2
    clock.advance(DAY)  # a day without sends does not count
    assert acct.ips.warmup_status(IP).stage == 2
    send_today(acct)
    send_today(acct)  # two records on one day are one sending day
    clock.advance(DAY)
    assert acct.ips.warmup_status(IP).stage == 3


def test_a_week_of_silence_steps_back_and_a_month_restarts(acct: espkit.Account,
                                                           clock: FakeClock) -> None:
    # the schedule's pause rules: 7 idle days step back 3 sending days, 31 start again
    acct.ips.start_warmup(IP)
    for _ in range(5):  # Jan 1-5
        send_today(acct)
        clock.advance(DAY)
    assert acct.ips.warmup_status(IP).stage == 6  # Jan 6
    clock.advance(6 * DAY)  # Jan 12: 6 idle days (6-11)
    assert acct.ips.warmup_status(IP).stage == 6
    clock.advance(DAY)  # Jan 13: 7
    assert acct.ips.warmup_status(IP).stage == 3
    clock.advance(23 * DAY)  # Feb 5: 30 idle days
    assert acct.ips.warmup_status(IP).stage == 3
    clock.advance(DAY)  # Feb 6: 31
    status = acct.ips.warmup_status(IP)
    assert (status.state, status.stage, status.started) == (WARMING, 1, JAN_1)


def test_after_its_last_stage_the_ip_is_warm_for_good(acct: espkit.Account,
                                                      clock: FakeClock) -> None:
    acct.ips.start_warmup(IP)
    for _ in range(CONSERVATIVE.days - 1):
        send_today(acct)
        clock.advance(DAY)
    assert acct.ips.warmup_status(IP).stage == CONSERVATIVE.days
    clock.advance(DAY)  # the last stage without traffic: not done
    last = acct.ips.warmup_status(IP)
    assert (last.state, last.stage, last.progress) == (WARMING, 29, 1.0)
    send_today(acct)  # traffic on the last stage: warm when the day is over
    clock.advance(DAY - 1)
    assert acct.ips.warmup_status(IP).state is WARMING
    assert acct.ips.get(IP).warming_up
    clock.advance(1)
    warm = acct.ips.warmup_status(IP)
    assert (warm.state, warm.stage, warm.stages, warm.progress) == (WARM, None, 29, 1.0)
    assert (warm.daily_cap, warm.hourly_cap, warm.overflow) == (None, None, None)
    assert warm.started == JAN_1
    assert not acct.ips.get(IP).warming_up  # the listing agrees
    assert {ip.address for ip in acct.ips.list() if ip.warming_up} == set(WARMING_IPS)
    clock.advance(60 * DAY)  # a pause does not put a warm IP back on warmup
    assert acct.ips.warmup_status(IP).state is WARM
    assert acct.ips.stop_warmup(IP).state is WARM  # nothing to stop
    again = acct.ips.start_warmup(IP)  # asked again: a new plan from today
    assert (again.state, again.stage) == (WARMING, 1)
    assert again.started == datetime.fromtimestamp(clock.time(), timezone.utc)


def test_a_pause_on_the_way_delays_warm_by_the_days_it_stepped_back(
        acct: espkit.Account, clock: FakeClock) -> None:
    acct.ips.start_warmup(IP)
    for _ in range(5):
        send_today(acct)
        clock.advance(DAY)
    clock.advance(7 * DAY)  # a week idle: back 3, to 3
    assert acct.ips.warmup_status(IP).stage == 3
    for _ in range(CONSERVATIVE.days - 3):  # stages 3 to 28: 31 days of traffic in all
        send_today(acct)
        clock.advance(DAY)
    last = acct.ips.warmup_status(IP)
    assert (last.state, last.stage) == (WARMING, CONSERVATIVE.days)
    send_today(acct)
    clock.advance(DAY)
    assert acct.ips.warmup_status(IP).state is WARM


def test_starting_a_warming_ip_changes_nothing(acct: espkit.Account, clock: FakeClock) -> None:
    acct.ips.start_warmup(IP)
    send_today(acct)
    clock.advance(DAY)
    before = requests_made(acct)
    again = acct.ips.start_warmup(IP)
    assert requests_made(acct) == before + 1
    assert (again.stage, again.started) == (2, JAN_1)


# -- choosing a stage -----------------------------------------------------------------------------


def test_a_warmup_may_start_at_a_stage_and_move_back_only(acct: espkit.Account,
                                                          clock: FakeClock) -> None:
    at_ten = acct.ips.start_warmup(IP, stage=10)
    assert (at_ten.stage, at_ten.daily_cap) == (10, CONSERVATIVE.cap(10))
    assert at_ten.progress == pytest.approx(10 / 29)
    before = requests_made(acct)
    assert acct.ips.start_warmup(IP, stage=10).stage == 10  # read, nothing to write
    assert requests_made(acct) == before + 1
    with pytest.raises(ValidationError, match="only moves back"):
        acct.ips.start_warmup(IP, stage=11)
    assert requests_made(acct) == before + 2  # the status read, no write
    assert acct.ips.warmup_status(IP).stage == 10
    clock.advance(DAY)
    back = acct.ips.start_warmup(IP, stage=4)
    assert (back.stage, back.started) == (4, JAN_1)  # the same plan, counted again from 4
    send_today(acct)
    clock.advance(DAY)
    assert acct.ips.warmup_status(IP).stage == 5


@pytest.mark.parametrize(("stage", "ok"), [(0, False), (1, True), (29, True), (30, False),
                                           (True, False), ("2", False)])
def test_a_stage_outside_the_schedule_is_refused_before_sending(
        acct: espkit.Account, stage: Any, ok: bool) -> None:
    before = requests_made(acct)
    if ok:
        assert acct.ips.start_warmup(IP2, stage=stage).stage == stage
        return
    with pytest.raises(ValidationError):
        acct.ips.start_warmup(IP2, stage=stage)
    assert requests_made(acct) == before


def test_a_pause_after_a_chosen_stage_steps_back_from_it(acct: espkit.Account,
                                                         clock: FakeClock) -> None:
    acct.ips.start_warmup(IP, stage=10)
    clock.advance(6 * DAY)
    assert acct.ips.warmup_status(IP).stage == 10
    clock.advance(DAY)
    assert acct.ips.warmup_status(IP).stage == 7


def test_the_server_checks_every_start_itself(acct: espkit.Account) -> None:
    em = sandbox(acct).emulator
    path = f"/v1/ips/{IP}/warmup"
    assert call(em, "PUT", path, {"stage": 5})[1]["stage"] == 5
    status, body = call(em, "PUT", path, {"stage": 6})  # forwards: a race the client lost
    assert (status, body["error"]["code"]) == (409, "conflict")
    for bad in ({"stage": 0}, {"stage": 30}, {"stage": True}, {"schedule": "fast"},
                {"speed": 1}, [1]):
        assert call(em, "PUT", f"/v1/ips/{IP2}/warmup", bad)[0] == 400, bad
    assert call(em, "PUT", f"/v1/ips/{IP2}/warmup", {"schedule": "sendgrid-hourly",
                                                     "stage": 42})[1]["stages"] == 42
    assert call(em, "GET", "/v1/ips/192.0.2.1/warmup")[0] == 404
    assert call(em, "GET", "/v1/ips/not-an-ip/warmup")[0] == 400
    with pytest.raises(ConflictingState):
        sandbox(acct).transport.request("PUT", path, json={"stage": 9})


def test_a_subaccount_reads_warmups_but_does_not_run_them(acct: espkit.Account) -> None:
    sub = acct.subaccounts.create("customer-1")
    scoped = acct.on_behalf_of(sub)
    assert scoped.ips.warmup_status(IP).state is NOT_STARTED
    with pytest.raises(espkit.AuthError):
        scoped.ips.start_warmup(IP)
    with pytest.raises(espkit.AuthError):
        scoped.ips.stop_warmup(IP)
    assert acct.ips.warmup_status(IP).state is NOT_STARTED


# -- every IP at once -----------------------------------------------------------------------------


def test_every_ips_warmup_comes_in_one_request(acct: espkit.Account) -> None:
    acct.ips.start_warmup(IP)
    before = requests_made(acct)
    warmups = list(acct.ips.warmups())
    assert requests_made(acct) == before + 1
    assert [w.ip for w in warmups] == list(SEED_IPS)
    states = {w.ip: w.state for w in warmups}
    assert states[IP] is WARMING
    assert {ip for ip, s in states.items() if s is WARMING} == {IP, *WARMING_IPS}
    assert all(s is NOT_STARTED for ip, s in states.items() if ip not in {IP, *WARMING_IPS})


def test_the_warmup_listing_pages(acct: espkit.Account) -> None:
    em = sandbox(acct).emulator
    seen, query = [], "limit=5"
    for _ in range(len(SEED_IPS)):
        status, body = call(em, "GET", "/v1/warmups", query=query)
        assert status == 200
        seen += [w["ip"] for w in body["items"]]
        if body["next_cursor"] is None:
            break
        query = f"limit=5&cursor={body['next_cursor']}"
    assert seen == list(SEED_IPS)
    assert call(em, "GET", "/v1/warmups", query="limit=101")[0] == 400
    assert call(em, "GET", "/v1/warmups", query="limit=100")[0] == 200
    assert call(em, "GET", "/v1/warmups", query="state=warm")[0] == 400


def test_a_seeded_warming_ip_warms_from_its_first_recorded_send(acct: espkit.Account,
                                                                clock: FakeClock) -> None:
    seeded = "198.51.100.15"
    status = acct.ips.warmup_status(seeded)
    assert (status.state, status.stage, status.started) == (WARMING, 1, None)
    clock.advance(3 * DAY)
    assert acct.ips.warmup_status(seeded).stage == 1  # no traffic yet
    for _ in range(2):
        send_today(acct, ip=seeded)
        clock.advance(DAY)
    assert acct.ips.warmup_status(seeded).stage == 3
    assert acct.ips.start_warmup(seeded).stage == 3  # already warming
    assert acct.ips.stop_warmup(seeded).state is NOT_STARTED
    assert not acct.ips.get(seeded).warming_up


# -- like=: the ESP's own schedule --------------------------------------------------------------


@pytest.mark.parametrize(("like", "name", "hourly", "choose"), [
    ("sendgrid", "sendgrid-hourly", 20, False),
    ("sparkpost", "sparkpost-auto", None, True),
    ("mailgun", "conservative", None, False),
    ("ses", "conservative", None, False),
])
def test_a_like_sandbox_warms_on_that_esps_schedule(clock: FakeClock, like: str, name: str,
                                                    hourly: int | None, choose: bool) -> None:
    with espkit.connect("sandbox", path=":memory:", clock=clock, like=like) as a:
        # the provider's own call: the schedule is the sandbox's whatever the model declares
        p = sandbox(a)
        w = p.start_warmup(IP)
        assert (w.raw["schedule"], w.stages) == (name, schedule(name).days)
        assert (w.daily_cap, w.hourly_cap) == (schedule(name).cap(1), hourly)
        before = len(p.emulator.history)
        if choose:
            assert p.start_warmup(IP2, stage=2).stage == 2
        else:
            with pytest.raises(ValidationError, match="choose where a warmup starts"):
                p.start_warmup(IP2, stage=2)
            assert len(p.emulator.history) == before


# -- kept in the file ----------------------------------------------------------------------------


def test_plans_survive_reopening_the_file(tmp_path: Path, clock: FakeClock) -> None:
    path = str(tmp_path / "sandbox.db")
    with espkit.connect("sandbox", path=path, clock=clock) as a:
        a.domains.create(DOMAIN)
        a.ips.start_warmup(IP, stage=3)
        send_today(a)
    clock.advance(DAY)
    with espkit.connect("sandbox", path=path, clock=clock) as b:
        status = b.ips.warmup_status(IP)
        assert (status.stage, status.started) == (4, JAN_1)


def test_a_file_made_before_warmups_and_sends_gains_them_and_keeps_its_data(
        tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "older.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(
        database.SCHEMA[:database.SCHEMA.index("CREATE TABLE IF NOT EXISTS warmups")])
    conn.execute("INSERT INTO pools (id, name, description) VALUES ('pool_1', 'mkt', NULL)")
    conn.execute(f"INSERT INTO ips (seq, address, rdns, warming_up, pool_seq) "
                 f"VALUES (1, '{IP}', 'o1.example', 1, 1)")
    conn.execute(f"PRAGMA application_id = {database.APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {database.SCHEMA_VERSION}")
    conn.close()
    with espkit.connect("sandbox", path=str(path), clock=clock) as a:
        assert a.pools.get("mkt").ips == (IP,)  # kept
        assert a.ips.warmup_status(IP).state is WARMING  # warming_up, no plan yet
        a.domains.create(DOMAIN)
        send_today(a)
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    # the version stays: an espkit that predates the tables opens the file and ignores them
    assert conn.execute("PRAGMA user_version").fetchone()[0] == database.SCHEMA_VERSION
    assert tables >= database.ADDED_TABLES
    assert conn.execute("SELECT COUNT(*) FROM sends").fetchone()[0] == 1
    conn.close()
    database.check(str(path))


def test_the_schema_has_no_semicolon_inside_a_statement() -> None:
    # _initialise splits the schema on ";": one in a comment would cut a statement in two
    for statement in database.ADDITIONS_2:
        assert ";" not in statement


# -- answers are read like any ESP's ------------------------------------------------------------


def _answering(monkeypatch: pytest.MonkeyPatch, em: Emulator, body: Any) -> None:
    def exchange(method: str, path: str, query: str, headers: Any, data: Any) -> Reply:
        return Reply(200, {"Content-Type": "application/json"}, json.dumps(body).encode())

    monkeypatch.setattr(em, "exchange", exchange)


GOOD = {"ip": IP, "state": "warming", "schedule": "conservative", "stage": 2, "stages": 29,
        "daily_cap": 500, "hourly_cap": None, "overflow": "shared",
        "started_at": "2026-01-01T00:00:00+00:00"}


@pytest.mark.parametrize("change", [
    {"state": "hot"}, {"state": None}, {"ip": "198.51.100.9"}, {"ip": "nope"}, {"ip": None},
    {"stage": None}, {"stage": 0}, {"stage": 30}, {"stage": True}, {"stage": "2"},
    {"stage": -1}, {"stage": 2**70}, {"stages": 0}, {"stages": 367}, {"stages": None},
    {"daily_cap": -1}, {"daily_cap": "500"}, {"daily_cap": 2**64}, {"hourly_cap": 1.5},
    {"overflow": 3}, {"started_at": "2026-01-01T00:00:00"}, {"started_at": 1767225600},
    {"started_at": "yesterday"},
], ids=str)
def test_a_malformed_status_is_a_protocol_error(acct: espkit.Account, change: dict[str, Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _answering(monkeypatch, sandbox(acct).emulator, {**GOOD, **change})
    with pytest.raises(ProtocolError):
        acct.ips.warmup_status(IP)


def test_a_well_formed_status_reads_back(acct: espkit.Account,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _answering(monkeypatch, sandbox(acct).emulator, GOOD)
    w = acct.ips.warmup_status(IP)
    assert (w.stage, w.stages, w.daily_cap, w.overflow, w.started) == (2, 29, 500, "shared",
                                                                       JAN_1)
    _answering(monkeypatch, sandbox(acct).emulator, {**GOOD, "stages": 366, "stage": 366})
    assert acct.ips.warmup_status(IP).stage == 366


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(st.sampled_from(sorted(GOOD)), JSON, max_size=5))
def test_any_answer_is_a_warmup_or_a_protocol_error(acct: espkit.Account,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    fields: dict[str, Any]) -> None:
    _answering(monkeypatch, sandbox(acct).emulator, {**GOOD, **fields})
    try:
        w = acct.ips.warmup_status(IP)
    except ProtocolError:
        return
    assert w.state is not WarmupState.WARMING or (w.stage is not None and w.stages is not None
                                                  and 1 <= w.stage <= w.stages <= 366)
    for figure in (w.daily_cap, w.hourly_cap, w.stage, w.stages):
        assert figure is None or (type(figure) is int and 0 <= figure < 2**63)
