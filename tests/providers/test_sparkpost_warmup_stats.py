"""SparkPost's auto warmup and Metrics API time series through ``acct.ips`` and ``acct.stats``,
against the stateful fake (``support.fakes.sparkpost``) or blueprint-shaped bodies on
``responses`` for answers the fake would never give. Requests are counted at the wire."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from datetime import date, datetime, timezone
from typing import Any, TypeVar

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.fakes.sparkpost import KEY, SparkPostFake

import espkit
from espkit import (
    NotFound,
    ProtocolError,
    Rejected,
    Resolution,
    StatsScope,
    ValidationError,
    WarmupState,
)
from espkit.models import StatsQuery
from espkit.providers.sparkpost import SparkPostProvider
from espkit.providers.sparkpost_stats import FIGURES, METRICS
from espkit.warmup import schedule

T = TypeVar("T")
US = "https://api.sparkpost.com/api/v1"
DAY1, DAY2, DAY3 = date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)
AUTO = schedule("sparkpost-auto")


@pytest.fixture
def fake(sleeps: list[float]) -> Iterator[SparkPostFake]:
    with SparkPostFake() as f:
        yield f


@pytest.fixture
def http(sleeps: list[float]) -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def attempt(call: Callable[[], T]) -> T | ProtocolError:
    """What ``call`` returns, or the ``ProtocolError`` it raises."""
    try:
        return call()
    except ProtocolError as exc:
        return exc


def connect() -> espkit.Account:
    return espkit.connect("sparkpost", api_key=KEY, region="us")


def puts(fake: SparkPostFake) -> list[tuple[str, Any]]:
    return [(path, body) for method, path, body, _ in fake.requests if method == "PUT"]


def pools_answer(ips: list[dict[str, Any]], **pool: Any) -> dict[str, Any]:
    return {"results": [{"id": "default", "name": "Default", "ips": ips, **pool}]}


def test_declares_both_capabilities_and_every_scope() -> None:
    assert {espkit.Capability.IP_WARMUP, espkit.Capability.DELIVERY_STATS} \
        <= SparkPostProvider.SUPPORTS
    assert frozenset(StatsScope) == SparkPostProvider.STATS_SCOPES


# -- warmup: the state mapping ------------------------------------------------------------------


@pytest.mark.parametrize(("enabled", "stage", "state", "shown", "progress", "cap"), [
    (False, None, WarmupState.NOT_STARTED, None, None, None),
    (True, None, WarmupState.WARMING, None, None, None),
    (True, 1, WarmupState.WARMING, 1, 1 / 29, 200),
    (True, 2, WarmupState.WARMING, 2, 2 / 29, 500),
    (True, 28, WarmupState.WARMING, 28, 28 / 29, 7_500_000),
    (True, 29, WarmupState.WARMING, 29, 1.0, 10_000_000),
    (False, 5, WarmupState.NOT_STARTED, None, None, None),    # stopped, or stalled 10 days
    (False, 29, WarmupState.NOT_STARTED, None, None, None),   # still one stage to go
    (False, 30, WarmupState.WARM, None, 1.0, None),           # "Stage 30: DONE"
    (True, 30, WarmupState.WARM, None, 1.0, None),
])
def test_state_mapping(fake: SparkPostFake, enabled: bool, stage: int | None,
                       state: WarmupState, shown: int | None, progress: float | None,
                       cap: int | None) -> None:
    ip = fake.ips[1]
    fake.warm_up(ip, stage, enabled)
    got = fake.connect().ips.warmup_status(ip)
    assert (got.ip, got.state, got.stage, got.stages) == (ip, state, shown, 29)
    assert got.progress == pytest.approx(progress) if progress is not None \
        else got.progress is None
    assert got.daily_cap == cap
    if cap is not None:  # derived from the published table, not from the answer
        assert cap == AUTO.cap(stage or 0)
    assert (got.hourly_cap, got.started, got.provider) == (None, None, "sparkpost")
    assert got.raw["external_ip"] == ip


def test_overflow_is_the_pools_name_or_shared(fake: SparkPostFake) -> None:
    acct = fake.connect()
    ip = fake.ips[0]
    acct.pools.create("spill-over")  # id spill_over: the name is what is shown
    acct.pools.create("marketing", ips=[ip])
    assert acct.ips.warmup_status(ip).overflow is None  # none set
    provider: SparkPostProvider = acct.provider  # type: ignore[assignment]
    provider.update_pool("marketing", auto_warmup_overflow_pool="spill-over")
    assert fake.pools["marketing"]["auto_warmup_overflow_pool"] == "spill_over"
    assert acct.ips.warmup_status(ip).overflow == "spill-over"
    provider.update_pool("marketing", auto_warmup_overflow_pool="shared pool")
    assert acct.ips.warmup_status(ip).overflow == "shared"
    assert acct.ips.warmup_status(fake.ips[1]).overflow is None  # the default pool's


@pytest.mark.parametrize(("value", "shown"), [
    ("gone_pool", "gone_pool"),  # an id the listing does not name: kept as is
    (7, None), (["x"], None), ("", None), ("bad\x1b[2J", None),  # report-only: dropped
])
def test_overflow_of_an_unknown_or_odd_kind(http: responses.RequestsMock, value: Any,
                                            shown: str | None) -> None:
    http.add("GET", f"{US}/ip-pools", json=pools_answer(
        [{"external_ip": "192.0.2.10", "auto_warmup_enabled": True, "auto_warmup_stage": 3}],
        auto_warmup_overflow_pool=value))
    assert connect().ips.warmup_status("192.0.2.10").overflow == shown


# -- warmup: request economy ----------------------------------------------------------------------


def test_every_warmup_comes_from_one_pool_listing(fake: SparkPostFake) -> None:
    acct = fake.connect()
    fake.warm_up(fake.ips[2], 4)
    found = {w.ip: w for w in acct.ips.warmups()}
    assert set(found) == set(fake.ips)
    assert found[fake.ips[2]].stage == 4
    assert fake.log == [("GET", "/ip-pools")]
    assert acct.ips.warmup_status(fake.ips[2]).stage == 4
    assert len(fake.log) == 2


def test_unknown_ip_is_not_found(fake: SparkPostFake) -> None:
    with pytest.raises(NotFound, match=r"192\.0\.2\.99"):
        fake.connect().ips.warmup_status("192.0.2.99")
    assert puts(fake) == []


def test_in_a_run_the_listing_is_shared_and_read_again_after_a_write(
        fake: SparkPostFake) -> None:
    acct = fake.connect()
    ip = fake.ips[0]
    with acct.batch():
        list(acct.pools.list())
        list(acct.ips.warmups())
        acct.ips.warmup_status(ip)
        assert fake.sent("GET", "/ip-pools") == 1
        assert acct.ips.start_warmup(ip).state is WarmupState.WARMING
        assert fake.sent("GET", "/ip-pools") == 2  # forgotten by the write, read once more
        assert acct.ips.warmup_status(ip).warming
        assert fake.sent("GET", "/ip-pools") == 2


# -- warmup: start and stop ---------------------------------------------------------------------


def test_start_turns_auto_warmup_on(fake: SparkPostFake) -> None:
    acct = fake.connect()
    ip = fake.ips[0]
    started = acct.ips.start_warmup(ip)
    assert (started.state, started.stage, started.daily_cap) == (WarmupState.WARMING, 1, 200)
    assert puts(fake) == [(f"/sending-ips/{ip}", {"auto_warmup_enabled": True})]
    assert fake.log == [("GET", "/ip-pools"), ("PUT", f"/sending-ips/{ip}"),
                        ("GET", "/ip-pools")]


def test_starting_a_warming_ip_costs_one_read(fake: SparkPostFake) -> None:
    acct = fake.connect()
    ip = fake.ips[0]
    fake.warm_up(ip, 5)
    assert acct.ips.start_warmup(ip).stage == 5
    assert acct.ips.start_warmup(ip, stage=5).stage == 5  # the stage it is at
    assert len(fake.log) == 2
    assert puts(fake) == []


@pytest.mark.parametrize(("asked", "allowed"), [(4, True), (1, True), (6, False), (29, False)])
def test_a_stage_moves_only_back(fake: SparkPostFake, asked: int, allowed: bool) -> None:
    acct = fake.connect()
    ip = fake.ips[0]
    fake.warm_up(ip, 5)
    if allowed:
        assert acct.ips.start_warmup(ip, stage=asked).stage == asked
        assert puts(fake) == [(f"/sending-ips/{ip}", {"auto_warmup_enabled": True,
                                                      "auto_warmup_stage": asked})]
        return
    with pytest.raises(ValidationError, match=r"only back: .* stage 5; choose 1 to 5"):
        acct.ips.start_warmup(ip, stage=asked)
    assert fake.log == [("GET", "/ip-pools")]  # the read that told; no write


def test_a_stopped_ips_stage_still_bounds_a_restart(fake: SparkPostFake) -> None:
    acct = fake.connect()
    ip = fake.ips[0]
    fake.warm_up(ip, 5, enabled=False)
    with pytest.raises(ValidationError):
        acct.ips.start_warmup(ip, stage=6)
    assert acct.ips.start_warmup(ip, stage=5).stage == 5
    assert len(puts(fake)) == 1


@pytest.mark.parametrize("stage", [0, 30, 31, -1])
def test_a_stage_outside_1_to_29_sends_nothing(http: responses.RequestsMock,
                                               stage: int) -> None:
    with pytest.raises(ValidationError):
        connect().ips.start_warmup("192.0.2.10", stage=stage)
    assert len(http.calls) == 0


@pytest.mark.parametrize("stage", [1, 29])
def test_stages_1_and_29_are_sent_when_nothing_is_known_locally(
        http: responses.RequestsMock, stage: int) -> None:
    idle = {"external_ip": "192.0.2.10", "auto_warmup_enabled": False}
    http.add("GET", f"{US}/ip-pools", json=pools_answer([idle]))
    http.add("PUT", f"{US}/sending-ips/192.0.2.10", json={"results": {"message": "ok"}})
    http.add("GET", f"{US}/ip-pools", json=pools_answer(
        [{**idle, "auto_warmup_enabled": True, "auto_warmup_stage": stage}]))
    assert connect().ips.start_warmup("192.0.2.10", stage=stage).stage == stage
    body = http.calls[1].request.body
    assert body is not None
    assert json.loads(body) == {"auto_warmup_enabled": True, "auto_warmup_stage": stage}


def test_what_espkit_cannot_know_sparkpost_refuses(http: responses.RequestsMock) -> None:
    idle = {"external_ip": "192.0.2.10", "auto_warmup_enabled": False}
    http.add("GET", f"{US}/ip-pools", json=pools_answer([idle]))
    http.add("PUT", f"{US}/sending-ips/192.0.2.10", status=400, json={"errors": [
        {"message": "auto_warmup_stage must be less than or equal to 5"}]})
    with pytest.raises(Rejected, match="less than or equal to 5"):
        connect().ips.start_warmup("192.0.2.10", stage=9)


def test_stop_turns_auto_warmup_off(fake: SparkPostFake) -> None:
    acct = fake.connect()
    ip = fake.ips[0]
    fake.warm_up(ip, 7)
    stopped = acct.ips.stop_warmup(ip)
    assert (stopped.state, stopped.daily_cap) == (WarmupState.NOT_STARTED, None)
    assert puts(fake) == [(f"/sending-ips/{ip}", {"auto_warmup_enabled": False})]
    assert len(fake.log) == 3


@pytest.mark.parametrize(("enabled", "stage"), [(False, None), (False, 12), (True, 30)])
def test_stopping_an_ip_not_warming_costs_one_read(fake: SparkPostFake, enabled: bool,
                                                   stage: int | None) -> None:
    fake.warm_up(fake.ips[0], stage, enabled)
    assert not fake.connect().ips.stop_warmup(fake.ips[0]).warming
    assert len(fake.log) == 1


# -- warmup: hostile answers -----------------------------------------------------------------------


@pytest.mark.parametrize("entry", [
    {"auto_warmup_enabled": "yes"},
    {"auto_warmup_enabled": 1},
    {"auto_warmup_enabled": True, "auto_warmup_stage": 0},
    {"auto_warmup_enabled": True, "auto_warmup_stage": 31},
    {"auto_warmup_enabled": True, "auto_warmup_stage": -1},
    {"auto_warmup_enabled": True, "auto_warmup_stage": "5"},
    {"auto_warmup_enabled": True, "auto_warmup_stage": True},
    {"auto_warmup_enabled": True, "auto_warmup_stage": 2.5},
    {"auto_warmup_enabled": True, "auto_warmup_stage": 10**30},
    {"auto_warmup_enabled": True, "auto_warmup_stage": [5]},
    {"external_ip": None},
    {"external_ip": "not an ip"},
])
def test_hostile_warmup_fields_are_protocol_errors(http: responses.RequestsMock,
                                                   entry: dict[str, Any]) -> None:
    http.add("GET", f"{US}/ip-pools",
             json=pools_answer([{"external_ip": "192.0.2.10", **entry}]))
    with pytest.raises(ProtocolError) as info:
        connect().ips.warmup_status("192.0.2.10")
    assert info.value.__cause__ is None  # a reader's refusal, not a decoder's slip


@pytest.mark.parametrize("body", [
    {}, {"results": None}, {"results": {}}, {"results": [{"id": "default", "ips": "x"}]},
    {"results": [{"id": "default", "ips": [7]}]}, [],
])
def test_a_pool_listing_of_the_wrong_shape_is_a_protocol_error(
        http: responses.RequestsMock, body: Any) -> None:
    http.add("GET", f"{US}/ip-pools", json=body)
    with pytest.raises(ProtocolError):
        list(connect().ips.warmups())


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 40),
                     st.integers(min_value=2**62), st.floats(allow_nan=True),
                     st.text(max_size=5), st.lists(st.integers(), max_size=2))


@settings(max_examples=150, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(enabled=_scalars, stage=_scalars, overflow=_scalars)
def test_any_warmup_fields_give_a_sound_warmup_or_a_protocol_error(
        enabled: Any, stage: Any, overflow: Any) -> None:
    entry: dict[str, Any] = {"external_ip": "192.0.2.10"}
    for key, value in (("auto_warmup_enabled", enabled), ("auto_warmup_stage", stage)):
        if value is not None or enabled is True:
            entry[key] = value
    body = pools_answer([entry], auto_warmup_overflow_pool=overflow)
    try:
        text = json.dumps(body, allow_nan=True)
    except ValueError:
        return
    with responses.RequestsMock() as mock:
        mock.add("GET", f"{US}/ip-pools", body=text, content_type="application/json")
        got = attempt(lambda: connect().ips.warmup_status("192.0.2.10"))
    if isinstance(got, ProtocolError):
        assert got.__cause__ is None
        return
    assert got.warming == (enabled is True and stage != 30)
    assert got.stage is None or 1 <= got.stage <= 29
    assert got.progress is None or 0 < got.progress <= 1
    assert got.daily_cap is None or got.daily_cap == AUTO.cap(got.stage or 0)
    assert got.overflow is None or (isinstance(got.overflow, str) and got.overflow.isprintable())


# -- delivery figures ------------------------------------------------------------------------------


def metrics_queries(fake: SparkPostFake) -> list[dict[str, str]]:
    return [q for _m, path, q in fake.query_values
            if path == "/metrics/deliverability/time-series"]


def test_account_figures_per_day_with_none_for_a_day_without_any(fake: SparkPostFake) -> None:
    fake.record_sends(DAY1, count_sent=100, count_delivered=90, count_hard_bounce=3,
                      count_soft_bounce=2, count_spam_complaint=1, count_delayed=7)
    fake.record_sends(DAY3, count_sent=5, count_delivered=5, count_hard_bounce=0,
                      count_soft_bounce=0, count_spam_complaint=0, count_delayed=0)
    rows = fake.connect().stats.delivery(DAY1, DAY3)
    assert [r.period for r in rows] == [datetime(2026, 12, d, tzinfo=timezone.utc)
                                        for d in (1, 2, 3)]
    first, empty, last = rows
    assert (first.sent, first.delivered, first.bounced_hard, first.bounced_soft,
            first.complained, first.deferred) == (100, 90, 3, 2, 1, 7)
    assert first.bounce_rate == pytest.approx(0.05)
    assert (first.resolution, first.scope, first.target, first.provider) == (
        Resolution.DAY, StatsScope.ACCOUNT, None, "sparkpost")
    # nothing reported for day 2: None, never 0; zeros SparkPost said stay zeros
    assert (empty.sent, empty.delivered, empty.deferred, empty.raw) == (None, None, None, {})
    assert (last.bounced_hard, last.complained, last.deferred) == (0, 0, 0)
    assert fake.sent("GET", "time-series") == 1
    (query,) = metrics_queries(fake)
    assert query == {"from": "2026-12-01T00:00", "to": "2026-12-03T23:59",
                     "precision": "day", "metrics": ",".join(METRICS), "timezone": "UTC"}


def test_a_figure_missing_from_a_period_is_none(http: responses.RequestsMock) -> None:
    http.add("GET", f"{US}/metrics/deliverability/time-series", json={"results": [
        {"ts": "2026-12-01T00:00:00+00:00", "count_sent": 10, "count_delivered": 0}]})
    (row,) = connect().stats.delivery(DAY1, DAY1)
    assert (row.sent, row.delivered) == (10, 0)
    assert (row.bounced_hard, row.bounced_soft, row.complained, row.deferred) == (None,) * 4
    assert row.bounced is None
    assert row.bounce_rate is None


@pytest.mark.parametrize(("scope", "param", "value"), [
    ("domain", "sending_domains", "news.example.com"),
    ("ip", "sending_ips", "192.0.2.11"),
    ("subaccount", "subaccounts", "101"),
])
def test_each_scope_filters_what_was_recorded(fake: SparkPostFake, scope: str, param: str,
                                              value: str) -> None:
    fake.record_sends(DAY1, domain="news.example.com", ip="192.0.2.11", subaccount=101,
                      count_sent=40)
    fake.record_sends(DAY1, domain="other.example.com", ip="192.0.2.12", subaccount=102,
                      count_sent=2)
    (row,) = fake.connect().stats.delivery(DAY1, DAY1, **{scope: value})
    assert (row.sent, row.scope, row.target) == (40, StatsScope(scope), value)
    (query,) = metrics_queries(fake)
    assert query[param] == value
    assert not {"domains", *({"sending_domains", "sending_ips", "ip_pools", "subaccounts"}
                             - {param})} & set(query)


def test_a_pool_is_asked_by_its_id(fake: SparkPostFake) -> None:
    acct = fake.connect()
    acct.pools.create("warm-pool", ips=[fake.ips[0]])  # id warm_pool
    fake.record_sends(DAY1, ip=fake.ips[0], count_sent=12)
    fake.record_sends(DAY1, ip=fake.ips[1], count_sent=1)
    fake.log.clear()
    (row,) = acct.stats.delivery(DAY1, DAY1, pool="warm-pool")
    assert (row.sent, row.target) == (12, "warm-pool")
    assert metrics_queries(fake)[-1]["ip_pools"] == "warm_pool"
    assert fake.log == [("GET", "/ip-pools"), ("GET", "/metrics/deliverability/time-series")]
    with pytest.raises(NotFound):
        acct.stats.delivery(DAY1, DAY1, pool="no-such-pool")
    assert fake.sent("GET", "time-series") == 1


def test_hours_and_months(fake: SparkPostFake) -> None:
    acct = fake.connect()
    fake.record_sends(datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc), count_sent=3)
    fake.record_sends(datetime(2026, 12, 2, 23, 0, tzinfo=timezone.utc), count_sent=4)
    fake.record_sends(date(2027, 1, 31), count_sent=5)
    hours = acct.stats.delivery(DAY1, DAY2, resolution="hour")
    assert len(hours) == 48
    assert {r.period.hour: r.sent for r in hours if r.sent} == {9: 3, 23: 4}
    assert hours[9].period == datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    months = acct.stats.delivery(date(2026, 11, 15), date(2027, 1, 31), resolution="month")
    assert [(r.period.month, r.sent) for r in months] == [(11, None), (12, 7), (1, 5)]
    assert [q["precision"] for q in metrics_queries(fake)] == ["hour", "month"]


@pytest.mark.parametrize(("days", "allowed"), [(31, True), (32, False)])
def test_hours_over_at_most_31_days(fake: SparkPostFake, days: int, allowed: bool) -> None:
    # the Metrics API's documented window for precision hour ("Precision Parameter")
    until = date.fromordinal(DAY1.toordinal() + days - 1)
    if allowed:
        assert len(fake.connect().stats.delivery(DAY1, until, resolution="hour")) == days * 24
    else:
        with pytest.raises(ValidationError):
            fake.connect().stats.delivery(DAY1, until, resolution="hour")
    assert fake.sent("GET", "time-series") == int(allowed)


def test_a_subaccount_handle_reads_its_own_figures(fake: SparkPostFake) -> None:
    fake.record_sends(DAY1, subaccount=101, count_sent=8)
    fake.record_sends(DAY1, subaccount=0, count_sent=1)
    sub = fake.connect().on_behalf_of("101")
    (row,) = sub.stats.delivery(DAY1, DAY1)
    assert row.sent == 8
    assert fake.requests[-1][3]["X-MSYS-SUBACCOUNT"] == "101"
    assert "subaccounts" not in metrics_queries(fake)[-1]
    assert sub.stats.delivery(DAY1, DAY1, subaccount="101")[0].sent == 8
    with pytest.raises(ValidationError, match="acts for subaccount 101"):
        sub.stats.delivery(DAY1, DAY1, subaccount="102")
    assert fake.sent("GET", "time-series") == 2
    assert fake.connect().stats.delivery(DAY1, DAY1, subaccount="0")[0].sent == 1


def test_a_subaccount_id_that_is_no_number_sends_nothing(http: responses.RequestsMock) -> None:
    provider: SparkPostProvider = connect().provider  # type: ignore[assignment]
    with pytest.raises(ValidationError):
        list(provider.delivery_stats(StatsQuery(DAY1, DAY1, StatsScope.SUBACCOUNT, "abc")))
    assert len(http.calls) == 0


def test_a_period_is_the_day_its_ts_names(http: responses.RequestsMock) -> None:
    # the blueprint's example labels days at local midnight ("...T00:00:00-04:00")
    http.add("GET", f"{US}/metrics/deliverability/time-series", json={"results": [
        {"ts": "2026-12-01T00:00:00-04:00", "count_sent": 1},
        {"ts": "2026-12-02T00:00:00Z", "count_sent": 2},
        {"ts": "2026-12-03T00:00:00+09:00", "count_sent": 3},
        {"ts": "2026-12-04T00:00:00+00:00", "count_sent": 99},  # not asked for: left out
    ]})
    assert [r.sent for r in connect().stats.delivery(DAY1, DAY3)] == [1, 2, 3]


def test_a_month_is_the_month_its_ts_names(http: responses.RequestsMock) -> None:
    # a window starting mid-month may label its first month with the window's start
    http.add("GET", f"{US}/metrics/deliverability/time-series", json={"results": [
        {"ts": "2026-11-15T00:00:00+00:00", "count_sent": 1},
        {"ts": "2026-12-01T00:00:00-05:00", "count_sent": 2}]})
    rows = connect().stats.delivery(date(2026, 11, 15), DAY3, resolution="month")
    assert [(r.period, r.sent) for r in rows] == [
        (datetime(2026, 11, 1, tzinfo=timezone.utc), 1),
        (datetime(2026, 12, 1, tzinfo=timezone.utc), 2)]


def test_an_hour_is_the_utc_hour_its_ts_falls_in(http: responses.RequestsMock) -> None:
    http.add("GET", f"{US}/metrics/deliverability/time-series", json={"results": [
        {"ts": "2026-12-01T05:00:00+05:00", "count_sent": 1},   # 00:00 UTC
        {"ts": "2026-12-01T01:30:00+00:00", "count_sent": 2},
    ]})
    rows = connect().stats.delivery(DAY1, DAY1, resolution="hour")
    assert [r.sent for r in rows[:3]] == [1, 2, None]


@pytest.mark.parametrize("results", [
    None, {}, "x", [7], [{"count_sent": 1}], [{"ts": 5}], [{"ts": "yesterday"}],
    [{"ts": ""}], [{"ts": "2026-12-01T00:00:00\x00"}],
    [{"ts": "2026-12-01T00:00:00Z", "count_sent": -1}],
    [{"ts": "2026-12-01T00:00:00Z", "count_sent": True}],
    [{"ts": "2026-12-01T00:00:00Z", "count_sent": "10"}],
    [{"ts": "2026-12-01T00:00:00Z", "count_sent": 1.5}],
    [{"ts": "2026-12-01T00:00:00Z", "count_sent": 2**63}],
    [{"ts": "2026-12-01T00:00:00Z", "count_delayed": [1]}],
    [{"ts": "2026-12-01T00:00:00Z", "count_block_bounce": -3}],
    [{"ts": "2026-12-01T00:00:00Z"}, {"ts": "2026-12-01T00:00:00+00:00"}],
])
def test_hostile_time_series_answers_are_protocol_errors(http: responses.RequestsMock,
                                                         results: Any) -> None:
    http.add("GET", f"{US}/metrics/deliverability/time-series", json={"results": results})
    with pytest.raises(ProtocolError) as info:
        connect().stats.delivery(DAY1, DAY1)
    assert info.value.__cause__ is None


def test_the_largest_count_is_read(http: responses.RequestsMock) -> None:
    http.add("GET", f"{US}/metrics/deliverability/time-series", json={"results": [
        {"ts": "2026-12-01T00:00:00Z", "count_sent": 2**63 - 1, "count_delivered": 0.0}]})
    (row,) = connect().stats.delivery(DAY1, DAY1)
    assert (row.sent, row.delivered) == (2**63 - 1, 0)


_count = st.one_of(st.none(), st.booleans(), st.integers(-5, 2**64), st.floats(),
                   st.text(max_size=4))
_ts = st.one_of(st.sampled_from(["2026-12-01T00:00:00Z", "2026-12-02T00:00:00-04:00",
                                 "2026-12-01T23:59:00+14:00", "9999-12-31T23:59:59-23:59",
                                 "0001-01-01T00:00:00+23:59", "2026-13-01T00:00:00Z"]),
                st.text(max_size=8), st.integers())


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({"ts": _ts}, optional=dict.fromkeys(
    METRICS, _count)), max_size=4),
    resolution=st.sampled_from(list(Resolution)))
def test_any_time_series_gives_sound_rows_or_a_protocol_error(
        rows: list[dict[str, Any]], resolution: Resolution) -> None:
    try:
        text = json.dumps({"results": rows})
    except ValueError:
        return
    q = StatsQuery(DAY1, DAY2, StatsScope.ACCOUNT, None, resolution)
    with responses.RequestsMock() as mock:
        mock.add("GET", f"{US}/metrics/deliverability/time-series", body=text,
                 content_type="application/json")
        provider: SparkPostProvider = connect().provider  # type: ignore[assignment]
        got = attempt(lambda: list(provider.delivery_stats(q)))
    if isinstance(got, ProtocolError):
        assert got.__cause__ is None
        return
    assert len(got) == {Resolution.HOUR: 48, Resolution.DAY: 2, Resolution.MONTH: 1}[resolution]
    assert [r.period for r in got] == sorted(r.period for r in got)
    for row in got:
        assert row.period.tzinfo is timezone.utc
        for field in FIGURES:
            value = getattr(row, field)
            assert value is None or (type(value) is int and 0 <= value < 2**63)
        assert row.bounce_rate is None or math.isfinite(row.bounce_rate)
