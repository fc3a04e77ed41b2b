"""SES v2 dedicated IP warm-up and VDM delivery figures through ``acct.ips`` and ``acct.stats``,
against the moto-based fake (``support.fakes.ses``), which answers the operations moto lacks
in the botocore model's shapes. Every call is counted and its parameters checked against the
model botocore loads (which validates types and required members, not enums or list maxima)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar

import botocore.session
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.fakes.ses import SesFake

import espkit
from espkit import (
    AuthError,
    ConflictingState,
    EspError,
    ProtocolError,
    Resolution,
    ServerError,
    StatsScope,
    Unsupported,
    ValidationError,
    WarmupState,
)
from espkit.models import StatsQuery
from espkit.providers.ses import SesProvider
from espkit.providers.ses_stats import SPAN_DAYS, parts, requests

DOMAIN = "news.acme.example"
T = TypeVar("T")
DAY1 = date(2026, 12, 1)
MODEL = botocore.session.get_session().get_service_model("sesv2")


@pytest.fixture
def fake(sleeps: list[float]) -> Iterator[SesFake]:
    with SesFake() as f:
        yield f


#: the last fake a generated case ran on, and its account (the fake is held, so that no
#: later fake can be mistaken for it)
_LAST: list[tuple[SesFake, espkit.Account]] = []


def account(fake: SesFake) -> espkit.Account:
    """One account per fake, for the generated cases that share a fake."""
    if not _LAST or _LAST[0][0] is not fake:
        _LAST[:] = [(fake, fake.connect())]
    return _LAST[0][1]


def attempt(call: Callable[[], T]) -> T | ProtocolError:
    """What ``call`` returns, or the ``ProtocolError`` it raises."""
    try:
        return call()
    except ProtocolError as exc:
        return exc


def ops(fake: SesFake) -> list[str]:
    return [op for op, _ in fake.params]


def sent(fake: SesFake, op: str) -> list[dict[str, Any]]:
    return [p for o, p in fake.params if o == op]


def days(n: int) -> date:
    return DAY1 + timedelta(days=n - 1)


def test_declares_both_capabilities_and_its_scopes() -> None:
    assert {espkit.Capability.IP_WARMUP, espkit.Capability.DELIVERY_STATS} \
        <= SesProvider.SUPPORTS
    assert frozenset({StatsScope.ACCOUNT, StatsScope.DOMAIN}) == SesProvider.STATS_SCOPES


# -- warm-up: the state mapping -------------------------------------------------------------------


SHARES = [(0, WarmupState.WARMING, 0.0), (1, WarmupState.WARMING, 0.01),
          (40, WarmupState.WARMING, 0.4), (99, WarmupState.WARMING, 0.99),
          (100, WarmupState.WARM, 1.0)]


def test_state_and_progress_from_the_percentage(fake: SesFake) -> None:
    ip = fake.ips[0]
    acct = fake.connect()
    for share, state, progress in SHARES:
        fake.warmup[ip] = share
        got = acct.ips.warmup_status(ip)
        assert (got.ip, got.state, got.provider) == (ip, state, "ses")
        assert got.progress == pytest.approx(progress)
        # SES publishes no per-day figures and says nothing about overflow
        assert (got.stage, got.stages, got.daily_cap, got.hourly_cap,
                got.overflow) == (None,) * 5
        assert got.raw["WarmupPercentage"] == share
    assert ops(fake) == ["GetDedicatedIp"] * len(SHARES)
    assert sent(fake, "GetDedicatedIp") == [{"Ip": ip}] * len(SHARES)


def test_an_ip_of_a_managed_pool_is_not_applicable(fake: SesFake) -> None:
    fake.lease_managed_ip("198.51.100.50", "managed-pool")
    got = fake.connect().ips.warmup_status("198.51.100.50")
    assert (got.state, got.progress) == (WarmupState.NOT_APPLICABLE, None)
    assert got.raw["WarmupPercentage"] == -1


def test_every_warmup_comes_from_the_ip_listing(fake: SesFake) -> None:
    fake.warmup[fake.ips[1]] = 30
    fake.lease_managed_ip("198.51.100.50", "managed-pool")
    found = {w.ip: w for w in fake.connect().ips.warmups()}
    assert set(found) == {*fake.ips, "198.51.100.50"}
    assert found[fake.ips[1]].progress == pytest.approx(0.3)
    assert found["198.51.100.50"].state is WarmupState.NOT_APPLICABLE
    assert ops(fake) == ["GetDedicatedIps"]
    assert sent(fake, "GetDedicatedIps") == [{"PageSize": 100}]


# -- warm-up: start and stop ----------------------------------------------------------------------


def test_start_sets_the_percentage_to_0(fake: SesFake) -> None:
    ip = fake.ips[0]
    started = fake.connect().ips.start_warmup(ip)
    assert (started.state, started.progress) == (WarmupState.WARMING, 0.0)
    assert ops(fake) == ["GetDedicatedIp", "GetAccount", "PutDedicatedIpWarmupAttributes",
                         "GetDedicatedIp"]
    assert sent(fake, "PutDedicatedIpWarmupAttributes") == [{"Ip": ip, "WarmupPercentage": 0}]
    assert fake.auto_warmup is True


@pytest.mark.parametrize("share", [0, 50, 99])
def test_starting_a_warming_ip_costs_one_read(fake: SesFake, share: int) -> None:
    fake.warmup[fake.ips[0]] = share
    assert fake.connect().ips.start_warmup(fake.ips[0]).progress == pytest.approx(share / 100)
    assert ops(fake) == ["GetDedicatedIp"]


def test_in_a_run_the_account_switch_is_read_once(fake: SesFake) -> None:
    acct = fake.connect()
    with acct.batch():
        acct.ips.start_warmup(fake.ips[0])
        acct.ips.start_warmup(fake.ips[1])
    assert ops(fake).count("GetAccount") == 1
    assert len(sent(fake, "PutDedicatedIpWarmupAttributes")) == 2


def test_in_a_run_the_ip_listing_is_read_again_after_a_write(fake: SesFake) -> None:
    acct = fake.connect()
    ip = fake.ips[0]
    with acct.batch():
        assert not {i.address: i for i in acct.ips.list()}[ip].warming_up
        acct.ips.start_warmup(ip)
        assert {i.address: i for i in acct.ips.list()}[ip].warming_up
    assert ops(fake).count("GetDedicatedIps") == 2


def test_a_stage_is_refused_before_anything_is_sent(fake: SesFake) -> None:
    with pytest.raises(ValidationError, match="no stages"):
        fake.connect().ips.start_warmup(fake.ips[0], stage=1)
    assert ops(fake) == []


def test_start_never_flips_the_account_wide_switch(fake: SesFake) -> None:
    fake.auto_warmup = False
    acct = fake.connect()
    with pytest.raises(ConflictingState, match=r"off for this account .*set_auto_warmup"):
        acct.ips.start_warmup(fake.ips[0])
    assert ops(fake) == ["GetDedicatedIp", "GetAccount"]
    assert fake.auto_warmup is False
    provider: SesProvider = acct.provider  # type: ignore[assignment]
    provider.warmups.set_auto_warmup(True)
    assert sent(fake, "PutAccountDedicatedIpWarmupAttributes") == [{"AutoWarmupEnabled": True}]
    assert provider.warmups.auto_warmup_enabled() is True
    assert acct.ips.start_warmup(fake.ips[0]).warming


def test_set_auto_warmup_takes_a_boolean(fake: SesFake) -> None:
    provider: SesProvider = fake.connect().provider  # type: ignore[assignment]
    with pytest.raises(ValidationError):
        provider.warmups.set_auto_warmup("yes")  # type: ignore[arg-type]
    assert ops(fake) == []


@pytest.mark.parametrize("verb", ["start_warmup", "stop_warmup"])
def test_a_managed_ip_is_refused_before_any_write(fake: SesFake, verb: str) -> None:
    fake.lease_managed_ip("198.51.100.50", "managed-pool")
    with pytest.raises(ConflictingState, match=r"'managed-pool', a MANAGED pool"):
        getattr(fake.connect().ips, verb)("198.51.100.50")
    assert ops(fake) == ["GetDedicatedIp"]


def test_stop_sets_the_percentage_to_100(fake: SesFake) -> None:
    ip = fake.ips[0]
    fake.warmup[ip] = 35
    stopped = fake.connect().ips.stop_warmup(ip)
    assert (stopped.state, stopped.progress) == (WarmupState.WARM, 1.0)
    assert sent(fake, "PutDedicatedIpWarmupAttributes") == [{"Ip": ip, "WarmupPercentage": 100}]
    assert ops(fake) == ["GetDedicatedIp", "PutDedicatedIpWarmupAttributes", "GetDedicatedIp"]


def test_stopping_a_warm_ip_costs_one_read(fake: SesFake) -> None:
    assert fake.connect().ips.stop_warmup(fake.ips[0]).state is WarmupState.WARM
    assert ops(fake) == ["GetDedicatedIp"]


def test_warmup_writes_pass_the_models_checks(fake: SesFake) -> None:
    acct = fake.connect()
    acct.ips.start_warmup(fake.ips[0])
    acct.ips.stop_warmup(fake.ips[0])
    provider: SesProvider = acct.provider  # type: ignore[assignment]
    provider.warmups.set_auto_warmup(False)
    for op in ("PutDedicatedIpWarmupAttributes", "PutAccountDedicatedIpWarmupAttributes",
               "GetDedicatedIp", "GetAccount"):
        shape = MODEL.operation_model(op).input_shape
        for params in sent(fake, op):
            assert set(shape.required_members) <= set(params) <= set(shape.members)
    for params in sent(fake, "PutDedicatedIpWarmupAttributes"):
        assert params["WarmupPercentage"] in (0, 100)  # "0-100" (DedicatedIp)


# -- warm-up: hostile answers ----------------------------------------------------------------------


#: one fake serves each list of cases below (a fake's botocore session loads the SES model,
#: which is most of a test's time)
HOSTILE_IPS: list[dict[str, Any]] = [
    {"WarmupStatus": "WARMING", "WarmupPercentage": 5},
    {"WarmupStatus": None, "WarmupPercentage": 5},
    {"WarmupPercentage": 5},
    {"WarmupStatus": 1, "WarmupPercentage": 5},
    {"WarmupStatus": "IN_PROGRESS", "WarmupPercentage": 101},
    {"WarmupStatus": "IN_PROGRESS", "WarmupPercentage": -2},
    {"WarmupStatus": "IN_PROGRESS", "WarmupPercentage": "50"},
    {"WarmupStatus": "IN_PROGRESS", "WarmupPercentage": True},
    {"WarmupStatus": "IN_PROGRESS", "WarmupPercentage": 1.5},
    {"WarmupStatus": "IN_PROGRESS", "WarmupPercentage": 2**70},
    {"WarmupStatus": "DONE", "WarmupPercentage": 100, "Ip": "198.51.100.99"},
    {"WarmupStatus": "DONE", "WarmupPercentage": 100, "Ip": None},
]


def test_hostile_dedicated_ip_answers_are_protocol_errors(fake: SesFake) -> None:
    ip = fake.ips[0]
    acct = fake.connect()
    for answer in HOSTILE_IPS:
        fake.answer_next("GetDedicatedIp", {"DedicatedIp": {"Ip": ip, **answer}})
        with pytest.raises(ProtocolError) as info:
            acct.ips.warmup_status(ip)
        assert info.value.__cause__ is None, answer
    assert ops(fake) == ["GetDedicatedIp"] * len(HOSTILE_IPS)


ODD_IPS: list[tuple[dict[str, Any], float | None]] = [
    ({"WarmupStatus": "IN_PROGRESS"}, None),  # required by the model; unknown is None
    ({"WarmupStatus": "IN_PROGRESS", "WarmupPercentage": -1}, None),
    ({"WarmupStatus": "NOT_APPLICABLE", "WarmupPercentage": 40}, None),
    ({"WarmupStatus": "DONE", "WarmupPercentage": 100.0}, 1.0),
]


def test_odd_but_readable_percentages(fake: SesFake) -> None:
    acct = fake.connect()
    for answer, progress in ODD_IPS:
        fake.answer_next("GetDedicatedIp", {"DedicatedIp": {"Ip": fake.ips[0], **answer}})
        assert acct.ips.warmup_status(fake.ips[0]).progress == progress, answer


_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 103), st.floats(),
                    st.text(max_size=12), st.sampled_from(["IN_PROGRESS", "DONE",
                                                           "NOT_APPLICABLE"]))


@settings(max_examples=100, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(status=_values, share=_values)
def test_any_dedicated_ip_gives_a_sound_warmup_or_a_protocol_error(
        fake: SesFake, status: Any, share: Any) -> None:
    fake.answer_next("GetDedicatedIps", {"DedicatedIps": [
        {"Ip": fake.ips[0], "WarmupStatus": status, "WarmupPercentage": share}]})
    listed = attempt(lambda: list(account(fake).ips.warmups()))
    if isinstance(listed, ProtocolError):
        assert listed.__cause__ is None
        return
    (got,) = listed
    assert got.state is {"IN_PROGRESS": WarmupState.WARMING, "DONE": WarmupState.WARM,
                         "NOT_APPLICABLE": WarmupState.NOT_APPLICABLE}[status]
    assert got.progress is None or 0.0 <= got.progress <= 1.0
    assert got.state is not WarmupState.NOT_APPLICABLE or got.progress is None


# -- delivery figures ------------------------------------------------------------------------------


def metric_requests(fake: SesFake) -> list[list[dict[str, Any]]]:
    return [p["Queries"] for p in sent(fake, "BatchGetMetricData")]


def test_account_figures_per_day_with_none_for_a_day_without_any(fake: SesFake) -> None:
    fake.record_sends(DAY1, identity=DOMAIN, SEND=100, DELIVERY=95, PERMANENT_BOUNCE=2,
                      TRANSIENT_BOUNCE=1, COMPLAINT=1)
    fake.record_sends(days(3), identity="other.example", SEND=4, DELIVERY=4,
                      PERMANENT_BOUNCE=0, TRANSIENT_BOUNCE=0, COMPLAINT=0)
    rows = fake.connect().stats.delivery(DAY1, days(3))
    assert [r.period for r in rows] == [datetime(2026, 12, d, tzinfo=timezone.utc)
                                        for d in (1, 2, 3)]
    first, empty, last = rows
    assert (first.sent, first.delivered, first.bounced_hard, first.bounced_soft,
            first.complained) == (100, 95, 2, 1, 1)
    assert first.deferred is None  # SES has no delay metric
    assert (empty.sent, empty.delivered, empty.complained, empty.raw) == (None, None, None, {})
    assert (last.sent, last.bounced_hard, last.complained) == (4, 0, 0)
    (queries,) = metric_requests(fake)
    assert [q["Metric"] for q in queries] == ["SEND", "DELIVERY", "PERMANENT_BOUNCE",
                                              "TRANSIENT_BOUNCE", "COMPLAINT"]
    assert all("Dimensions" not in q for q in queries)
    assert queries[0]["StartDate"] == datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert queries[0]["EndDate"] == datetime(2026, 12, 3, 23, 59, 59, tzinfo=timezone.utc)


def test_a_domain_is_its_email_identity(fake: SesFake) -> None:
    fake.record_sends(DAY1, identity=DOMAIN, SEND=10)
    fake.record_sends(DAY1, identity="other.example", SEND=3)
    (row,) = fake.connect().stats.delivery(DAY1, DAY1, domain=DOMAIN)
    assert (row.sent, row.scope, row.target) == (10, StatsScope.DOMAIN, DOMAIN)
    assert {str(q["Dimensions"]) for q in metric_requests(fake)[0]} == {
        str({"EMAIL_IDENTITY": DOMAIN})}


#: days asked -> requests sent: 30 days a query, two spans (10 queries) a request
SPANS = [(1, 1), (30, 1), (31, 1), (60, 1), (61, 2), (90, 2), (120, 2), (121, 3), (366, 7)]


def test_long_spans_are_split_in_30_days_two_to_a_request(fake: SesFake) -> None:
    acct = fake.connect()
    for span, calls in SPANS:
        fake.params.clear()
        fake.sends.clear()
        fake.record_sends(days(span), SEND=1)
        rows = acct.stats.delivery(DAY1, days(span))
        assert len(rows) == span
        assert rows[-1].sent == 1
        assert span == 1 or rows[-2].sent is None
        asked = metric_requests(fake)
        assert len(asked) == calls, span
        covered: list[date] = []
        for queries in asked:
            assert 1 <= len(queries) <= 10
            for query in queries[::5]:
                first, last = query["StartDate"].date(), query["EndDate"].date()
                assert (last - first).days + 1 <= SPAN_DAYS
                covered += [first + timedelta(days=n) for n in range((last - first).days + 1)]
        assert covered == [days(n) for n in range(1, span + 1)]  # each day once, in order


def test_parts_and_requests_at_their_boundaries() -> None:
    assert parts(DAY1, days(30)) == [(DAY1, days(30))]
    assert parts(DAY1, days(31)) == [(DAY1, days(30)), (days(31), days(31))]
    assert [len(r) for r in requests(DAY1, days(61))] == [2, 1]


def test_rows_are_read_lazily_a_request_at_a_time(fake: SesFake) -> None:
    acct = fake.connect()
    rows = acct.provider.delivery_stats(StatsQuery(DAY1, days(366)))
    assert ops(fake) == []
    first = next(rows)
    assert first.period.date() == DAY1
    assert len(metric_requests(fake)) == 1
    assert len(list(rows)) == 365
    assert len(metric_requests(fake)) == 7


def test_months_sum_their_days(fake: SesFake) -> None:
    fake.record_sends(date(2026, 12, 30), SEND=5, DELIVERY=5)
    fake.record_sends(date(2027, 1, 2), SEND=7, DELIVERY=6, COMPLAINT=1)
    fake.record_sends(date(2027, 1, 20), SEND=3, DELIVERY=3)
    rows = fake.connect().stats.delivery(date(2026, 11, 20), date(2027, 1, 31),
                                         resolution="month")
    assert [(r.period.date(), r.sent, r.delivered, r.complained) for r in rows] == [
        (date(2026, 11, 1), None, None, None), (date(2026, 12, 1), 5, 5, 0),
        (date(2027, 1, 1), 10, 9, 1)]
    assert rows[1].resolution is Resolution.MONTH


def test_hours_are_unsupported_before_anything_is_sent(fake: SesFake) -> None:
    with pytest.raises(Unsupported, match="whole days"):
        fake.connect().stats.delivery(DAY1, DAY1, resolution="hour")
    assert ops(fake) == []


@pytest.mark.parametrize("scope", [{"ip": "198.51.100.10"}, {"pool": "marketing"},
                                   {"subaccount": "tenant-a"}])
def test_scopes_without_a_dimension_are_refused_before_anything_is_sent(
        fake: SesFake, scope: dict[str, str]) -> None:
    with pytest.raises(Unsupported, match="account, domain"):
        fake.connect().stats.delivery(DAY1, DAY1, **scope)
    assert ops(fake) == []


def test_metric_requests_pass_the_models_checks(fake: SesFake) -> None:
    acct = fake.connect()
    acct.stats.delivery(DAY1, days(100))
    acct.stats.delivery(DAY1, days(45), domain=DOMAIN, resolution="month")
    request = MODEL.operation_model("BatchGetMetricData").input_shape
    queries_shape = request.members["Queries"]
    query_shape = queries_shape.member
    metric_enum = set(query_shape.members["Metric"].enum)
    namespaces = set(query_shape.members["Namespace"].enum)
    dimensions = query_shape.members["Dimensions"]
    for params in sent(fake, "BatchGetMetricData"):
        assert set(params) <= set(request.members)
        queries = params["Queries"]
        assert queries_shape.metadata["min"] <= len(queries) <= queries_shape.metadata["max"]
        assert len({q["Id"] for q in queries}) == len(queries)
        for query in queries:
            assert set(query_shape.required_members) <= set(query) <= set(query_shape.members)
            assert 1 <= len(query["Id"]) <= 255
            assert query["Metric"] in metric_enum
            assert query["Namespace"] in namespaces
            dims = query.get("Dimensions", {})
            assert set(dims) <= set(dimensions.key.enum)
            assert len(dims) <= dimensions.metadata["max"]
            assert query["StartDate"] < query["EndDate"]
            assert query["EndDate"] - query["StartDate"] < timedelta(days=SPAN_DAYS)


# -- delivery figures: hostile answers -------------------------------------------------------------


def _result(qid: str = "send_0", stamps: Any = None, values: Any = None) -> dict[str, Any]:
    return {"Id": qid,
            "Timestamps": [datetime(2026, 12, 1, tzinfo=timezone.utc)] if stamps is None
            else stamps,
            "Values": [1] if values is None else values}


HOSTILE_METRICS: list[dict[str, Any]] = [
    {"Results": "x"}, {"Results": [7]}, {"Results": [{"Id": None}]},
    {"Results": [_result("nobody_0")]},
    {"Results": [_result(), _result()]},
    {"Results": [_result(values=[1, 2])]},
    {"Results": [_result(stamps="x", values="x")]},
    {"Results": [_result(values=[-1])]},
    {"Results": [_result(values=[True])]},
    {"Results": [_result(values=["3"])]},
    {"Results": [_result(values=[2**63])]},
    {"Results": [_result(values=[1.5])]},
    {"Results": [_result(stamps=["2026-12-01"])]},
    {"Results": [_result(stamps=[1764547200])]},
    {"Results": [_result(stamps=[datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))])]},
    {"Results": [_result(stamps=[datetime(2026, 12, 1, 0, tzinfo=timezone.utc),
                                 datetime(2026, 12, 1, 12, tzinfo=timezone.utc)],
                         values=[1, 2])]},
    {"Errors": "x"},
]


def test_hostile_metric_answers_are_protocol_errors(fake: SesFake) -> None:
    acct = fake.connect()
    for body in HOSTILE_METRICS:
        fake.answer_next("BatchGetMetricData", body)
        with pytest.raises(ProtocolError) as info:
            acct.stats.delivery(DAY1, DAY1)
        assert info.value.__cause__ is None, body


def test_a_query_ses_failed_is_raised_not_read_as_none(fake: SesFake) -> None:
    acct = fake.connect()
    for code, error in (("ACCESS_DENIED", AuthError), ("INTERNAL_FAILURE", ServerError),
                        ("SOMETHING", EspError)):
        fake.answer_next("BatchGetMetricData", {"Results": [], "Errors": [
            {"Id": "delivery_0", "Code": code, "Message": "no\x1b[2J access"}]})
        with pytest.raises(error) as info:
            acct.stats.delivery(DAY1, DAY1)
        assert type(info.value) is error
        assert "DELIVERY" in str(info.value)
        assert code in str(info.value)
        assert "\x1b" not in str(info.value)


def test_days_outside_a_query_are_left_out(fake: SesFake) -> None:
    fake.answer_next("BatchGetMetricData", {"Results": [_result(
        stamps=[datetime(2026, 11, 30, tzinfo=timezone.utc),
                datetime(2026, 12, 1, 5, tzinfo=timezone.utc),
                datetime(2026, 12, 2, tzinfo=timezone.utc)], values=[50, 6, 70])]})
    (row,) = fake.connect().stats.delivery(DAY1, DAY1)
    assert (row.sent, row.delivered) == (6, None)


def test_a_value_outside_its_query_is_not_taken_for_the_next_part(fake: SesFake) -> None:
    # 31 days: Dec 1-30 (queries *_0) and Dec 31 (queries *_1) in one request
    fake.answer_next("BatchGetMetricData", {"Results": [
        _result("send_0", stamps=[datetime(2026, 12, 31, tzinfo=timezone.utc)], values=[50]),
        _result("delivery_1", stamps=[datetime(2026, 12, 31, tzinfo=timezone.utc)],
                values=[4]),
        _result("send_1", stamps=[datetime(2026, 12, 30, tzinfo=timezone.utc)], values=[60]),
    ]})
    rows = fake.connect().stats.delivery(DAY1, days(31))
    assert (rows[-1].sent, rows[-1].delivered) == (None, 4)
    assert rows[-2].sent is None
    assert len(metric_requests(fake)) == 1


def test_a_query_may_answer_in_several_results(fake: SesFake) -> None:
    fake.answer_next("BatchGetMetricData", {"Results": [
        _result("send_0", stamps=[datetime(2026, 12, 1, tzinfo=timezone.utc)], values=[3]),
        _result("send_0", stamps=[datetime(2026, 12, 2, tzinfo=timezone.utc)], values=[5]),
    ]})
    assert [r.sent for r in fake.connect().stats.delivery(DAY1, days(2))] == [3, 5]


_cells = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**64), st.floats(),
                   st.text(max_size=3),
                   st.datetimes(min_value=datetime(2026, 11, 29), max_value=datetime(2026, 12, 4),
                                timezones=st.just(timezone.utc)))


@settings(max_examples=100, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(results=st.lists(st.fixed_dictionaries({
    "Id": st.sampled_from(["send_0", "delivery_0", "complaint_0", "x", ""]),
    "Timestamps": st.one_of(st.none(), st.lists(_cells, max_size=3)),
    "Values": st.one_of(st.none(), st.lists(_cells, max_size=3))}), max_size=3))
def test_any_metric_answer_gives_sound_rows_or_a_protocol_error(
        fake: SesFake, results: list[dict[str, Any]]) -> None:
    fake.answer_next("BatchGetMetricData", {"Results": results})
    rows = attempt(lambda: account(fake).stats.delivery(DAY1, days(2)))
    if isinstance(rows, ProtocolError):
        assert rows.__cause__ is None
        return
    assert [r.period.date() for r in rows] == [DAY1, days(2)]
    for row in rows:
        for value in (row.sent, row.delivered, row.bounced_hard, row.bounced_soft,
                      row.complained):
            assert value is None or (type(value) is int and 0 <= value < 2**63)
        assert row.deferred is None


@pytest.mark.parametrize("status", [[], {}, ["IN_PROGRESS"], 3, True])
def test_an_ip_listing_with_a_status_of_the_wrong_type_never_slips(status: object) -> None:
    from espkit.providers.ses_warmup import dedicated_ip

    # an unhashable status used to raise TypeError from the decoder; the percentage decides
    ip = dedicated_ip({"Ip": "198.51.100.10", "WarmupStatus": status, "WarmupPercentage": 40})
    assert ip.warming_up is True
    done = dedicated_ip({"Ip": "198.51.100.10", "WarmupStatus": status,
                         "WarmupPercentage": True})
    assert done.warming_up is None  # a bool is not a percentage
