"""Postmark's delivery statistics (``acct.stats.delivery``) and its refusal of IP warmup,
against the wire-level fake (``support.fakes.postmark``) and, for answers the fake does not
give, ``responses``.

Postmark publishes no OpenAPI file: every stats request is checked against its Stats API
reference, https://postmarkapp.com/developer/api/stats-api (``GET /stats/outbound/sends``,
``/bounces``, ``/spam``; query ``tag``, ``fromdate``, ``todate``, ``messagestream``; headers
``Accept: application/json`` and ``X-Postmark-Server-Token``), and the official SDK
ActiveCampaign/postmark.js (``src/client/ServerClient.ts``).
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support.fakes.postmark import ACCOUNT_TOKEN, PostmarkFake

import espkit
from espkit import (
    AuthError,
    Capability,
    ProtocolError,
    Resolution,
    StatsScope,
    Unsupported,
    ValidationError,
)
from espkit.providers.postmark import PostmarkProvider

API = "https://api.postmarkapp.com"
SERVER_TOKEN = "f0e1d2c3-b4a5-4968-8776-554433221100"
#: the stats paths and query parameters Postmark's Stats API reference documents
DOCUMENTED_PATHS = {"/stats/outbound/sends", "/stats/outbound/bounces", "/stats/outbound/spam"}
DOCUMENTED_QUERY = {"tag", "fromdate", "todate", "messagestream"}


@pytest.fixture
def fake(sleeps: list[float]) -> Iterator[PostmarkFake]:
    with PostmarkFake() as f:
        yield f


def check_stats_requests(fake: PostmarkFake) -> int:
    """Every stats request the fake saw is one Postmark documents; how many there were."""
    count = 0
    for request in fake.requests:
        url = urllib.parse.urlsplit(str(request.url))
        if not url.path.lower().startswith("/stats"):
            continue
        count += 1
        query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        assert request.method == "GET"
        assert url.path in DOCUMENTED_PATHS, url.path
        assert {k for k, _ in query} <= DOCUMENTED_QUERY, query
        assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) for k, v in query
                   if k in ("fromdate", "todate")), query
        assert request.headers["Accept"] == "application/json"
        assert request.headers["X-Postmark-Server-Token"].startswith("pm-server-")
        assert "X-Postmark-Account-Token" not in request.headers  # the server's call only
        assert not request.body
    return count


def figures(row: Any) -> tuple[Any, ...]:
    return (row.period.date().isoformat(), row.sent, row.bounced_hard, row.bounced_soft,
            row.deferred, row.complained)


# -- warmup: Postmark has none ---------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda a: a.ips.start_warmup("198.51.100.1"), lambda a: a.ips.warmup_status("198.51.100.1"),
    lambda a: a.ips.stop_warmup("198.51.100.1"), lambda a: list(a.ips.warmups())])
def test_warmup_is_unsupported_with_a_hint_before_sending(fake: PostmarkFake,
                                                          call: Any) -> None:
    with pytest.raises(Unsupported) as err:
        call(fake.connect())
    assert err.value.capability == "ips.warmup"
    assert err.value.hint.startswith("Postmark manages and warms its own IPs")
    assert fake.log == []


def test_declares_stats_by_server_and_account() -> None:
    assert Capability.DELIVERY_STATS in PostmarkProvider.SUPPORTS
    assert Capability.IP_WARMUP not in PostmarkProvider.SUPPORTS
    assert {StatsScope.ACCOUNT, StatsScope.SUBACCOUNT} == PostmarkProvider.STATS_SCOPES


# -- stats against the fake ------------------------------------------------------------------


def fill(fake: PostmarkFake) -> tuple[str, str]:
    one, two = fake.add_server("alpha")["ID"], fake.add_server("beta")["ID"]
    fake.record(one, "2026-12-01", Sent=100, HardBounce=2, SoftBounce=3, Transient=4,
                SMTPApiError=5, SpamComplaint=1)
    fake.record(one, "2026-12-03", Sent=10)
    fake.record(two, "2026-12-02", Sent=50, HardBounce=1)
    fake.record(two, "2026-12-03", Sent=7, SpamComplaint=2)
    return str(one), str(two)


def test_a_servers_figures(fake: PostmarkFake) -> None:
    one, _ = fill(fake)
    acct = fake.connect()
    rows = acct.stats.delivery("2026-11-30", "2026-12-04", subaccount=one)
    assert [figures(r) for r in rows] == [
        ("2026-11-30", 0, 0, 0, 0, 0),  # a day Postmark did not list had no traffic: 0
        ("2026-12-01", 100, 2, 3, 4, 1), ("2026-12-02", 0, 0, 0, 0, 0),
        ("2026-12-03", 10, 0, 0, 0, 0), ("2026-12-04", 0, 0, 0, 0, 0)]
    assert {r.delivered for r in rows} == {None}  # Postmark does not count deliveries
    assert rows[1].bounced == 5
    assert rows[1].delivery_rate is None
    assert rows[1].raw["SMTPApiError"] == 5  # refused by the API, never sent: raw only
    assert {(r.scope, r.target, r.provider, r.resolution) for r in rows} == {
        (StatsScope.SUBACCOUNT, one, "postmark", Resolution.DAY)}
    # the server's token (read with the account token), then one request per endpoint
    assert [p for _, p in fake.log] == [f"/servers/{one}", "/stats/outbound/sends",
                                        "/stats/outbound/bounces", "/stats/outbound/spam"]
    assert fake.requests[0].headers["X-Postmark-Account-Token"] == ACCOUNT_TOKEN
    assert check_stats_requests(fake) == 3
    assert fake.stats_queries[0] == {"fromdate": "2026-11-30", "todate": "2026-12-04"}
    assert {r.headers["X-Postmark-Server-Token"] for r in fake.requests[1:]} == {
        fake.token_of(int(one))}


def test_the_account_is_every_server_summed(fake: PostmarkFake) -> None:
    one, two = fill(fake)
    rows = fake.connect().stats.delivery("2026-12-01", "2026-12-03")
    assert [figures(r) for r in rows] == [
        ("2026-12-01", 100, 2, 3, 4, 1), ("2026-12-02", 50, 1, 0, 0, 0),
        ("2026-12-03", 17, 0, 0, 0, 2)]
    assert rows[0].raw["servers"] == [one, two]
    assert {(r.scope, r.target) for r in rows} == {(StatsScope.ACCOUNT, None)}
    # one listing (it carries every server's token), then three requests per server
    assert [p for _, p in fake.log].count("/servers") == 1
    assert len(fake.log) == 1 + 3 * 2
    assert check_stats_requests(fake) == 6


def test_an_account_without_servers_sent_nothing(fake: PostmarkFake) -> None:
    rows = fake.connect().stats.delivery("2026-12-01", "2026-12-02")
    assert [(r.sent, r.bounced, r.complained, r.delivered) for r in rows] == [
        (0, 0, 0, None)] * 2
    assert fake.log == [("GET", "/servers")]


def test_acting_for_a_server_the_account_is_that_server(fake: PostmarkFake) -> None:
    one, two = fill(fake)
    scoped = fake.connect().on_behalf_of(two)
    assert [r.sent for r in scoped.stats.delivery("2026-12-01", "2026-12-03")] == [0, 50, 7]
    assert [r.sent for r in scoped.stats.delivery("2026-12-01", "2026-12-03",
                                                  subaccount=two)] == [0, 50, 7]
    # the server's token is read once and kept
    assert [p for _, p in fake.log].count(f"/servers/{two}") == 1
    assert len(fake.log) == 1 + 3 + 3
    # another server's figures, from a copy acting for one: its own token
    assert [r.sent for r in scoped.stats.delivery("2026-12-01", "2026-12-01",
                                                  subaccount=one)] == [100]
    assert fake.requests[-1].headers["X-Postmark-Server-Token"] == fake.token_of(int(one))


def test_months_add_up_their_days(fake: PostmarkFake) -> None:
    one, _ = fill(fake)
    fake.record(int(one), "2026-11-20", Sent=5, SoftBounce=1)
    fake.record(int(one), "2026-11-02", Sent=1000)  # before since: not asked for
    rows = fake.connect().stats.delivery("2026-11-15", "2027-01-10", subaccount=one,
                                         resolution="month")
    assert [figures(r) for r in rows] == [
        ("2026-11-01", 5, 0, 1, 0, 0), ("2026-12-01", 110, 2, 3, 4, 1),
        ("2027-01-01", 0, 0, 0, 0, 0)]
    assert {r.resolution for r in rows} == {Resolution.MONTH}
    assert fake.stats_queries[0] == {"fromdate": "2026-11-15", "todate": "2027-01-10"}
    # a range ending on the first of a month has a row for that month; one within a month,
    # one row
    assert [r.period.date().isoformat() for r in fake.connect().stats.delivery(
        "2026-11-30", "2026-12-01", subaccount=one, resolution="month")] == [
        "2026-11-01", "2026-12-01"]
    assert len(fake.connect().stats.delivery("2026-12-01", "2026-12-31", subaccount=one,
                                             resolution="month")) == 1


def test_what_postmark_cannot_report_is_refused_before_sending(fake: PostmarkFake) -> None:
    acct = fake.connect()
    with pytest.raises(Unsupported, match="by hour") as err:
        acct.stats.delivery("2026-12-01", "2026-12-01", resolution="hour")
    assert "resolution='day'" in err.value.hint
    for scope in ({"domain": "news.example.com"}, {"ip": "198.51.100.1"},
                  {"pool": "marketing"}):
        with pytest.raises(Unsupported, match="account, subaccount"):
            acct.stats.delivery("2026-12-01", "2026-12-01", **scope)
    with pytest.raises(ValidationError, match="numbered"):
        acct.stats.delivery("2026-12-01", "2026-12-01", subaccount="customer-1")
    assert fake.log == []


def test_an_unknown_server_is_not_found(fake: PostmarkFake) -> None:
    with pytest.raises(espkit.NotFound):
        fake.connect().stats.delivery("2026-12-01", "2026-12-01", subaccount="999")
    assert fake.log == [("GET", "/servers/999")]


# -- hostile answers --------------------------------------------------------------------------


def serve(mock: responses.RequestsMock, sends: Any = None, bounces: Any = None,
          spam: Any = None) -> None:
    mock.add("GET", f"{API}/servers/1", json={"ID": 1, "Name": "s", "ApiTokens": [SERVER_TOKEN]})
    for path, body in (("sends", sends), ("bounces", bounces), ("spam", spam)):
        mock.add("GET", f"{API}/stats/outbound/{path}",
                 json={"Days": []} if body is None else body)


def read(since: str = "2026-12-01", until: str = "2026-12-03") -> list[Any]:
    acct = espkit.connect("postmark", api_key=ACCOUNT_TOKEN)
    return acct.stats.delivery(since, until, subaccount="1")


@responses.activate
@pytest.mark.parametrize(("sends", "why"), [
    ({}, "no 'Days'"), ({"Sent": 3}, "no 'Days'"), ([], "not an object"),
    ({"Days": {"Date": "2026-12-01"}}, "not a list"), ({"Days": ["x"]}, "not an object"),
    ({"Days": [{"Sent": 1}]}, "Date"), ({"Days": [{"Date": "12/01/2026", "Sent": 1}]},
                                        "YYYY-MM-DD"),
    ({"Days": [{"Date": "2026-02-30", "Sent": 1}]}, "YYYY-MM-DD"),
    ({"Days": [{"Date": "2026-11-30", "Sent": 1}]}, "outside"),
    ({"Days": [{"Date": "2026-12-04", "Sent": 1}]}, "outside"),
    ({"Days": [{"Date": "2026-12-01", "Sent": 1}, {"Date": "2026-12-01", "Sent": 2}]},
     "twice"),
    ({"Days": [{"Date": "2026-12-01", "Sent": -1}]}, "Sent"),
    ({"Days": [{"Date": "2026-12-01", "Sent": True}]}, "Sent"),
    ({"Days": [{"Date": "2026-12-01", "Sent": 1.5}]}, "Sent"),
    ({"Days": [{"Date": "2026-12-01", "Sent": "7"}]}, "Sent"),
    ({"Days": [{"Date": "2026-12-01", "Sent": 2**63}]}, "Sent"),
])
def test_hostile_answers_are_protocol_errors(sleeps: list[float], sends: Any,
                                             why: str) -> None:
    serve(responses.mock, sends=sends)
    with pytest.raises(ProtocolError, match=why) as err:
        read()
    assert SERVER_TOKEN not in f"{err.value} {err.value!r}"


@responses.activate
def test_figures_on_the_edge(sleeps: list[float]) -> None:
    serve(responses.mock, sends={"Days": [{"Date": "2026-12-01", "Sent": 2**63 - 1},
                                          {"Date": "2026-12-03", "Sent": 0.0}]},
          bounces={"Days": [{"Date": "2026-12-03", "HardBounce": None, "Transient": 3}]})
    rows = read()
    assert [(r.sent, r.bounced_hard, r.deferred) for r in rows] == [
        (2**63 - 1, 0, 0), (0, 0, 0), (0, 0, 3)]


@responses.activate
@pytest.mark.parametrize(("second", "ok"), [(1, True), (2, False)])
def test_sums_over_servers_stay_bounded(sleeps: list[float], second: int, ok: bool) -> None:
    responses.add("GET", f"{API}/servers", json={"TotalCount": 2, "Servers": [
        {"ID": 1, "ApiTokens": [SERVER_TOKEN]}, {"ID": 2, "ApiTokens": ["a-second-token"]}]})
    for sent in (2**63 - 2, second):  # one answer per server, in turn
        responses.add("GET", f"{API}/stats/outbound/sends",
                      json={"Days": [{"Date": "2026-12-01", "Sent": sent}]})
    for path in ("bounces", "spam"):
        responses.add("GET", f"{API}/stats/outbound/{path}", json={"Days": []})
    acct = espkit.connect("postmark", api_key=ACCOUNT_TOKEN)
    if ok:
        (row,) = acct.stats.delivery("2026-12-01", "2026-12-01")
        assert row.sent == 2**63 - 1
    else:
        with pytest.raises(ProtocolError, match="adds up"):
            acct.stats.delivery("2026-12-01", "2026-12-01")


@responses.activate
@pytest.mark.parametrize("servers", [[{"ID": 1, "ApiTokens": []}], [{"ID": 1}]])
def test_a_server_without_a_token_is_an_auth_error(sleeps: list[float], servers: Any) -> None:
    responses.add("GET", f"{API}/servers", json={"TotalCount": 1, "Servers": servers})
    with pytest.raises(AuthError, match="no API token for server 1"):
        espkit.connect("postmark", api_key=ACCOUNT_TOKEN).stats.delivery("2026-12-01",
                                                                          "2026-12-01")
    assert len(responses.calls) == 1


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8)
def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any],
           odds: int) -> st.SearchStrategy[Any]:
    """``good`` ``odds`` times out of ``odds + 1``, else ``bad``."""
    return st.integers(0, odds).flatmap(lambda n: bad if n == 0 else good)


#: mostly good figures and days, so that a good share of the examples are read whole and
#: their rows checked; the rest carry a hostile value somewhere
_figure = mostly(st.integers(0, 10**6), st.one_of(
    st.integers(-3, 2**64), st.booleans(), st.floats(), st.text(max_size=3)), 40)
_day = st.fixed_dictionaries(
    {"Date": mostly(st.sampled_from(["2026-12-01", "2026-12-02", "2026-12-03"]),
                    st.sampled_from(["2026-12-04", "x", "2026-12-1"]), 20)},
    optional={"Sent": _figure, "HardBounce": _figure, "SoftBounce": _figure,
              "Transient": _figure, "SpamComplaint": _figure})
_days = st.lists(_day, max_size=3, unique_by=lambda d: d["Date"])
_answer = mostly(st.fixed_dictionaries({"Days": _days}, optional={"Sent": _json}),
                 st.one_of(_json, st.fixed_dictionaries({"Days": _json})), 12)


@given(sends=_answer, bounces=_answer, spam=_answer)
@settings(max_examples=150, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
def test_any_answer_is_rows_or_a_protocol_error(sleeps: list[float], sends: Any, bounces: Any,
                                                spam: Any) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        serve(mock, sends, bounces, spam)
        try:
            rows = read()
        except ProtocolError as exc:
            refused: ProtocolError | None = exc
        else:
            refused = None
    event("refused" if refused is not None else "read")
    if refused is not None:
        assert refused.__cause__ is None, repr(refused.__cause__)  # a reader refused it
        return
    assert [r.period for r in rows] == [
        dt.datetime(2026, 12, d, tzinfo=dt.timezone.utc) for d in (1, 2, 3)]
    for r in rows:
        assert r.delivered is None
        for value in (r.sent, r.bounced_hard, r.bounced_soft, r.complained, r.deferred):
            assert type(value) is int
            assert 0 <= value < 2**63
