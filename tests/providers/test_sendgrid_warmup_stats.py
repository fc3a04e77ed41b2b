"""SendGrid's IP warmup and delivery statistics through the public API (``acct.ips.*warmup*``,
``acct.stats.delivery``), against the wire-level fake (``support.fakes.sendgrid``) and, for
answers the fake does not give, ``responses``.

Shapes: ``../shared/specs/sendgrid/tsg_ip_warmup_v3.yaml``, ``tsg_ips_v3.yaml``,
``tsg_subusers_v3.yaml`` and https://github.com/twilio/sendgrid-oai ``tsg_stats_v3.yaml``
(its requests are validated against the specs by ``test_sendgrid_spec.py``'s tour).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support.fakes.sendgrid import METRICS, SendGridFake

import espkit
from espkit import (
    NotFound,
    ProtocolError,
    Rejected,
    Resolution,
    StatsScope,
    Unsupported,
    ValidationError,
    WarmupState,
)
from espkit.models import StatsQuery
from espkit.providers import sendgrid_warmup
from espkit.warmup import schedule

G = "https://api.sendgrid.com"
KEY = "SG.warmup-stats.0123456789abcdefghijklmnopqrstuvwxyz"
DAY = 86400
#: 2026-12-01T00:00:00Z
T0 = 1796083200
TABLE = schedule("sendgrid-hourly")


@pytest.fixture
def fake(sleeps: list[float]) -> Iterator[SendGridFake]:
    with SendGridFake() as f:
        f.now = T0
        yield f


def acct_of(fake: SendGridFake) -> espkit.Account:
    return fake.connect()


def sent(fake: SendGridFake) -> list[tuple[str, str]]:
    return list(fake.log)


# -- warmup: state, day and cap ---------------------------------------------------------------


def test_start_reads_day_one_from_the_answer_in_one_request(fake: SendGridFake) -> None:
    acct, ip = acct_of(fake), fake.ips[0]
    w = acct.ips.start_warmup(ip)
    assert (w.ip, w.state, w.provider, w.stage, w.stages, w.hourly_cap, w.daily_cap) == (
        ip, WarmupState.WARMING, "sendgrid", 1, 42, 20, None)
    assert w.progress == pytest.approx(1 / 42)
    assert w.started == dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    assert w.overflow is not None
    assert "other IPs" in w.overflow
    assert w.raw == {"ip": ip, "start_date": T0}
    assert sent(fake) == [("POST", "/v3/ips/warmup")]
    assert fake.warmups == {ip: T0}


def test_starting_a_warming_ip_is_its_status_and_costs_one_request(fake: SendGridFake) -> None:
    acct, ip = acct_of(fake), fake.ips[1]
    acct.ips.start_warmup(ip)
    fake.now = T0 + 3 * DAY
    again = acct.ips.start_warmup(ip)
    assert (again.state, again.stage, again.hourly_cap) == (WarmupState.WARMING, 4, 55)
    assert fake.warmups[ip] == T0  # the plan was not restarted
    assert sent(fake) == [("POST", "/v3/ips/warmup")] * 2


def test_a_refused_restart_of_a_warming_ip_reads_its_status(fake: SendGridFake) -> None:
    acct, ip = acct_of(fake), fake.ips[1]
    acct.ips.start_warmup(ip)
    fake.refuse_rewarm = True
    assert acct.ips.start_warmup(ip).warming
    assert sent(fake) == [("POST", "/v3/ips/warmup"), ("POST", "/v3/ips/warmup"),
                          ("GET", f"/v3/ips/warmup/{ip}")]


@responses.activate
def test_a_refusal_for_an_ip_not_warming_is_raised(sleeps: list[float]) -> None:
    responses.add("POST", f"{G}/v3/ips/warmup", status=400,
                  json={"errors": [{"field": "ip", "message": "ip is not eligible"}]})
    responses.add("GET", f"{G}/v3/ips/warmup/1.2.3.4", status=404,
                  json={"errors": [{"field": None, "message": "resource not found"}]})
    responses.add("GET", f"{G}/v3/ips/1.2.3.4", json={"ip": "1.2.3.4", "warmup": False})
    with pytest.raises(Rejected, match="not eligible"):
        espkit.connect("sendgrid", api_key=KEY).ips.start_warmup("1.2.3.4")
    assert len(responses.calls) == 3


def test_start_of_another_accounts_ip_is_not_found(fake: SendGridFake) -> None:
    with pytest.raises(NotFound):
        acct_of(fake).ips.start_warmup("198.51.100.77")
    assert sent(fake) == [("POST", "/v3/ips/warmup")]


@pytest.mark.parametrize("stage", [1, 2, 42])
def test_a_stage_is_refused_before_sending(fake: SendGridFake, stage: int) -> None:
    with pytest.raises(ValidationError, match="starts at day 1") as err:
        acct_of(fake).ips.start_warmup(fake.ips[0], stage=stage)
    assert err.value.field == "stage"
    assert sent(fake) == []


@pytest.mark.parametrize(("elapsed", "day"), [
    (0, 1), (DAY - 1, 1), (DAY, 2), (2 * DAY - 1, 2), (41 * DAY, 42), (42 * DAY - 1, 42)])
def test_the_day_turns_on_whole_days_of_warmup_age(fake: SendGridFake, elapsed: int,
                                                   day: int) -> None:
    acct, ip = acct_of(fake), fake.ips[0]
    acct.ips.start_warmup(ip)
    fake.now = T0 + elapsed
    w = acct.ips.warmup_status(ip)
    assert (w.state, w.stage, w.hourly_cap) == (WarmupState.WARMING, day, TABLE.hourly_cap(day))
    assert w.progress == pytest.approx(day / 42)


def test_every_day_of_the_published_table(fake: SendGridFake) -> None:
    """The hourly cap is the published figure of the IP's warmup day, each of the 42."""
    acct, ip = acct_of(fake), fake.ips[0]
    acct.ips.start_warmup(ip)
    caps = []
    for age in range(42):
        fake.now = T0 + age * DAY + 3600
        caps.append(acct.ips.warmup_status(ip).hourly_cap)
    assert caps == list(TABLE.hourly_caps or ())
    assert caps[0] == 20
    assert caps[-1] == 19_601_056
    # the day after age 41 SendGrid takes the IP off warmup: it reads as not started (a
    # finished warmup and one never begun look the same on SendGrid)
    fake.now = T0 + 42 * DAY
    done = acct.ips.warmup_status(ip)
    assert (done.state, done.stage, done.hourly_cap, done.stages) == (
        WarmupState.NOT_STARTED, None, None, None)


@responses.activate
@pytest.mark.parametrize(("age_days", "stage", "cap", "progress"), [
    (41, 42, 19_601_056, 1.0), (42, 43, None, 1.0), (400, 401, None, 1.0)])
def test_still_listed_past_the_table(sleeps: list[float], age_days: int, stage: int,
                                     cap: int | None, progress: float) -> None:
    answer = email.utils.formatdate(T0 + age_days * DAY, usegmt=True)
    responses.add("GET", f"{G}/v3/ips/warmup/1.2.3.4",
                  json=[{"ip": "1.2.3.4", "start_date": T0}], headers={"Date": answer})
    w = espkit.connect("sendgrid", api_key=KEY).ips.warmup_status("1.2.3.4")
    assert (w.state, w.stage, w.hourly_cap, w.progress) == (
        WarmupState.WARMING, stage, cap, progress)


@responses.activate
@pytest.mark.parametrize("date_header", [None, "", "yesterday", "Mon, 99 Foo 2026 00:00:00"])
def test_without_a_readable_date_the_local_clock_counts(
        sleeps: list[float], monkeypatch: pytest.MonkeyPatch, date_header: str | None) -> None:
    monkeypatch.setattr(sendgrid_warmup, "now", lambda: dt.datetime.fromtimestamp(
        T0 + 5 * DAY, dt.timezone.utc))
    headers = {} if date_header is None else {"Date": date_header}
    responses.add("GET", f"{G}/v3/ips/warmup/1.2.3.4",
                  json=[{"ip": "1.2.3.4", "start_date": T0}], headers=headers)
    assert espkit.connect("sendgrid", api_key=KEY).ips.warmup_status("1.2.3.4").stage == 6


@responses.activate
def test_a_start_just_ahead_of_the_answer_is_day_one(sleeps: list[float]) -> None:
    responses.add("GET", f"{G}/v3/ips/warmup/1.2.3.4",
                  json=[{"ip": "1.2.3.4", "start_date": T0 + 30}],
                  headers={"Date": email.utils.formatdate(T0, usegmt=True)})
    assert espkit.connect("sendgrid", api_key=KEY).ips.warmup_status("1.2.3.4").stage == 1


# -- warmup: status, stop, listing; requests counted -------------------------------------------


def test_status_of_a_warming_ip_is_one_request(fake: SendGridFake) -> None:
    acct, ip = acct_of(fake), fake.ips[2]
    acct.ips.start_warmup(ip)
    fake.log.clear()
    assert acct.ips.warmup_status(ip).warming
    assert sent(fake) == [("GET", f"/v3/ips/warmup/{ip}")]


def test_status_of_an_ip_not_warming_reads_the_ip(fake: SendGridFake) -> None:
    acct, ip = acct_of(fake), fake.ips[2]
    w = acct.ips.warmup_status(ip)
    assert (w.state, w.stage, w.hourly_cap, w.overflow, w.started) == (
        WarmupState.NOT_STARTED, None, None, None, None)
    assert w.raw["ip"] == ip
    assert sent(fake) == [("GET", f"/v3/ips/warmup/{ip}"), ("GET", f"/v3/ips/{ip}")]


def test_status_of_another_accounts_ip_is_not_found(fake: SendGridFake) -> None:
    with pytest.raises(NotFound):
        acct_of(fake).ips.warmup_status("198.51.100.77")
    assert len(sent(fake)) == 2


def test_stop_a_warming_ip_is_one_request(fake: SendGridFake) -> None:
    acct, ip = acct_of(fake), fake.ips[3]
    acct.ips.start_warmup(ip)
    fake.log.clear()
    assert acct.ips.stop_warmup(ip).state is WarmupState.NOT_STARTED
    assert fake.warmups == {}
    assert sent(fake) == [("DELETE", f"/v3/ips/warmup/{ip}")]


def test_stop_an_ip_not_warming_is_not_an_error(fake: SendGridFake) -> None:
    acct, ip = acct_of(fake), fake.ips[3]
    assert acct.ips.stop_warmup(ip).state is WarmupState.NOT_STARTED
    assert sent(fake) == [("DELETE", f"/v3/ips/warmup/{ip}"), ("GET", f"/v3/ips/{ip}")]
    with pytest.raises(NotFound):
        acct.ips.stop_warmup("198.51.100.77")


def test_the_listing_has_every_ip_in_one_request(fake: SendGridFake) -> None:
    acct = acct_of(fake)
    acct.ips.start_warmup(fake.ips[1])
    fake.now = T0 + 2 * DAY
    fake.log.clear()
    listed = {w.ip: w for w in acct.ips.warmups()}
    assert set(listed) == set(fake.ips)
    assert [(ip, w.state, w.stage) for ip, w in sorted(listed.items())] == [
        (fake.ips[0], WarmupState.NOT_STARTED, None), (fake.ips[1], WarmupState.WARMING, 3),
        (fake.ips[2], WarmupState.NOT_STARTED, None), (fake.ips[3], WarmupState.NOT_STARTED,
                                                       None)]
    assert sent(fake) == [("GET", "/v3/ips")]


@responses.activate
def test_the_listing_pages_by_100(sleeps: list[float]) -> None:
    ips = [{"ip": f"10.0.{n // 250}.{n % 250 + 1}", "warmup": n % 3 == 0,
            "start_date": T0 if n % 3 == 0 else None} for n in range(150)]

    def page(request: Any) -> tuple[int, dict[str, str], str]:
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url).query))
        offset, limit = int(q["offset"]), int(q["limit"])
        return 200, {}, json.dumps(ips[offset:offset + limit])

    responses.add_callback("GET", f"{G}/v3/ips", callback=page)
    listed = list(espkit.connect("sendgrid", api_key=KEY).ips.warmups())
    assert len(listed) == 150
    assert sum(w.warming for w in listed) == 50
    assert [str(c.request.url).split("?")[1] for c in responses.calls] == [
        "limit=100&offset=0", "limit=100&offset=100"]


# -- warmup: hostile answers ------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize("body", [
    {"ips": []}, "[]", [{"ip": "1.2.3.4"}], [{"ip": "1.2.3.4", "warmup": "true"}],
    [{"ip": "1.2.3.4", "warmup": 1}], [{"ip": "1.2.3.4", "warmup": None}],
    [{"ip": "not-an-ip", "warmup": True}], [{"warmup": False}], [["1.2.3.4"]],
])
def test_a_listing_that_does_not_say_whether_an_ip_warms_is_refused(
        sleeps: list[float], body: Any) -> None:
    responses.add("GET", f"{G}/v3/ips", json=body)
    with pytest.raises(ProtocolError):
        list(espkit.connect("sendgrid", api_key=KEY).ips.warmups())


@responses.activate
@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/v3/ips/warmup/1.2.3.4", [{"ip": "5.6.7.8", "start_date": T0}]),
    ("GET", "/v3/ips/warmup/1.2.3.4", {"ip": "1.2.3.4", "start_date": T0}),
    ("GET", "/v3/ips/warmup/1.2.3.4", [{"ip": 1234, "start_date": T0}]),
    ("POST", "/v3/ips/warmup", []),
    ("POST", "/v3/ips/warmup", [{"ip": "5.6.7.8", "start_date": T0}]),
    ("POST", "/v3/ips/warmup", None),
])
def test_a_warmup_answer_about_another_ip_or_none_is_refused(
        sleeps: list[float], method: str, path: str, body: Any) -> None:
    responses.add(method, G + path, json=body)
    ips = espkit.connect("sendgrid", api_key=KEY).ips
    call = ips.start_warmup if method == "POST" else ips.warmup_status
    with pytest.raises(ProtocolError):
        call("1.2.3.4")
    assert len(responses.calls) == 1


@responses.activate
def test_an_empty_status_answer_reads_the_ip(sleeps: list[float]) -> None:
    responses.add("GET", f"{G}/v3/ips/warmup/1.2.3.4", json=[])
    responses.add("GET", f"{G}/v3/ips/1.2.3.4", json={"ip": "1.2.3.4", "warmup": False})
    w = espkit.connect("sendgrid", api_key=KEY).ips.warmup_status("1.2.3.4")
    assert w.state is WarmupState.NOT_STARTED
    assert len(responses.calls) == 2


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8)
def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any],
           odds: int) -> st.SearchStrategy[Any]:
    """``good`` ``odds`` times out of ``odds + 1``, else ``bad``."""
    return st.integers(0, odds).flatmap(lambda n: bad if n == 0 else good)


#: mostly good values, so that a good share of the examples are read whole and checked
_start = mostly(st.integers(T0 - 60 * DAY, T0 + 3 * DAY), st.one_of(st.none(), _json), 6)
_ip_item = st.fixed_dictionaries(
    {"ip": mostly(st.sampled_from(["1.2.3.4", "2001:DB8::1", "10.0.0.1"]),
                  st.sampled_from(["1.2.3", 5, None]), 16),
     "warmup": mostly(st.booleans(), _json, 16)},
    optional={"start_date": _start, "pools": _json})


@given(body=mostly(st.lists(_ip_item, max_size=3, unique_by=lambda i: str(i["ip"])),
                   st.one_of(_json, st.lists(st.one_of(_ip_item, _json), max_size=3)), 4))
@settings(max_examples=150, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
def test_any_listing_answer_is_warmups_or_a_protocol_error(sleeps: list[float],
                                                           body: Any) -> None:
    with responses.RequestsMock() as mock:
        mock.add("GET", f"{G}/v3/ips", json=body,
                 headers={"Date": email.utils.formatdate(T0 + 3 * DAY, usegmt=True)})
        try:
            listed = list(espkit.connect("sendgrid", api_key=KEY).ips.warmups())
        except ProtocolError as exc:
            refused: ProtocolError | None = exc
        else:
            refused = None
    event("refused" if refused is not None else "read")
    if refused is not None:
        assert refused.__cause__ is None, repr(refused.__cause__)  # a reader refused it
        return
    for w in listed:
        assert w.state in (WarmupState.WARMING, WarmupState.NOT_STARTED)
        if w.stage is None:
            assert w.hourly_cap is None
            assert w.started is None
        else:
            assert w.started is not None
            assert (w.hourly_cap is None) == (w.stage > 42)
        assert w.progress is None or 0 < w.progress <= 1


# -- stats ------------------------------------------------------------------------------------


def fill(fake: SendGridFake) -> None:
    """What was sent: the parent on 1 and 3 December, subuser cust-1 on 2 and 3 December."""
    fake.record("2026-12-01", requests=100, delivered=95, bounces=2, blocks=3, deferred=4,
                spam_reports=1, processed=99)
    fake.record("2026-12-03", requests=10, delivered=10)
    fake.record("2026-12-02", subuser="cust-1", requests=50, delivered=40, bounces=5,
                blocks=5, deferred=1)
    fake.record("2026-12-03", subuser="cust-1", requests=7, delivered=7, spam_reports=2)


def figures(row: Any) -> tuple[Any, ...]:
    return (row.period.date().isoformat(), row.sent, row.delivered, row.bounced_hard,
            row.bounced_soft, row.complained, row.deferred)


def test_account_figures_per_day(fake: SendGridFake) -> None:
    acct = acct_of(fake)
    fill(fake)
    rows = acct.stats.delivery("2026-11-30", "2026-12-04")
    assert [figures(r) for r in rows] == [
        ("2026-11-30", 0, 0, 0, 0, 0, 0),  # reported, and nothing was sent: 0, not None
        ("2026-12-01", 100, 95, 2, 3, 1, 4),
        ("2026-12-02", 50, 40, 5, 5, 0, 1),  # the parent sees its subusers' too
        ("2026-12-03", 17, 17, 0, 0, 2, 0),
        ("2026-12-04", 0, 0, 0, 0, 0, 0),
    ]
    assert {(r.scope, r.target, r.resolution, r.provider) for r in rows} == {
        (StatsScope.ACCOUNT, None, Resolution.DAY, "sendgrid")}
    assert all(r.period.tzinfo is dt.timezone.utc for r in rows)
    assert rows[1].bounce_rate == pytest.approx(0.05)
    assert rows[1].raw["date"] == "2026-12-01"
    assert rows[1].raw["stats"][0]["metrics"]["processed"] == 99
    (request,) = fake.requests
    assert dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(str(request.url)).query)) == {
        "start_date": "2026-11-30", "end_date": "2026-12-04", "aggregated_by": "day",
        "limit": "5", "offset": "0"}


def test_subuser_figures(fake: SendGridFake) -> None:
    acct = acct_of(fake)
    sub = acct.subaccounts.create("cust-1").id
    fill(fake)
    fake.log.clear()
    rows = acct.stats.delivery("2026-12-01", "2026-12-03", subaccount=sub)
    assert [figures(r) for r in rows] == [
        ("2026-12-01", 0, 0, 0, 0, 0, 0), ("2026-12-02", 50, 40, 5, 5, 0, 1),
        ("2026-12-03", 7, 7, 0, 0, 2, 0)]
    assert {(r.scope, r.target) for r in rows} == {(StatsScope.SUBACCOUNT, "cust-1")}
    assert sent(fake) == [("GET", "/v3/subusers/stats")]
    assert "subusers=cust-1" in str(fake.requests[-1].url)
    # acting for the subuser, the account's figures are the subuser's (on-behalf-of)
    scoped = acct.on_behalf_of(sub)
    assert [r.sent for r in scoped.stats.delivery("2026-12-01", "2026-12-03")] == [0, 50, 7]
    assert [r.sent for r in scoped.stats.delivery("2026-12-01", "2026-12-03",
                                                  subaccount=sub)] == [0, 50, 7]
    assert [p for _, p in fake.log[-2:]] == ["/v3/stats", "/v3/stats"]
    assert fake.requests[-1].headers["on-behalf-of"] == "cust-1"
    with pytest.raises(ValidationError, match="another subuser"):
        scoped.stats.delivery("2026-12-01", "2026-12-03", subaccount="cust-2")
    assert len(fake.log) == 3


def test_monthly_figures_start_on_the_first_of_each_month(fake: SendGridFake) -> None:
    acct = acct_of(fake)
    fill(fake)
    fake.record("2026-11-20", requests=5, delivered=5)
    fake.record("2026-11-10", requests=1000)  # before since: not counted
    rows = acct.stats.delivery("2026-11-15", "2027-01-31", resolution="month")
    assert [figures(r) for r in rows] == [
        ("2026-11-01", 5, 5, 0, 0, 0, 0), ("2026-12-01", 167, 152, 7, 8, 3, 5),
        ("2027-01-01", 0, 0, 0, 0, 0, 0)]
    assert {r.resolution for r in rows} == {Resolution.MONTH}
    assert "aggregated_by=month" in str(fake.requests[-1].url)
    assert str(fake.requests[-1].url).count("limit=3") == 1
    # a range ending on the first of a month has a row for that month; one within a month,
    # one row
    assert [r.period.date().isoformat() for r in acct.stats.delivery(
        "2026-11-30", "2026-12-01", resolution="month")] == ["2026-11-01", "2026-12-01"]
    assert [r.sent for r in acct.stats.delivery("2026-12-01", "2026-12-31",
                                                 resolution="month")] == [167]


@pytest.mark.parametrize("scope", [{"domain": "news.example.com"}, {"ip": "203.0.113.20"},
                                   {"pool": "marketing"}])
def test_scopes_sendgrid_cannot_filter_by_are_refused_before_sending(
        fake: SendGridFake, scope: dict[str, str]) -> None:
    with pytest.raises(Unsupported, match="account, subaccount"):
        acct_of(fake).stats.delivery("2026-12-01", "2026-12-02", **scope)
    assert sent(fake) == []


def test_hours_are_refused_before_sending(fake: SendGridFake) -> None:
    acct = acct_of(fake)
    with pytest.raises(Unsupported, match="by hour") as err:
        acct.stats.delivery("2026-12-01", "2026-12-02", resolution="hour")
    assert "resolution='day'" in err.value.hint
    q = StatsQuery(dt.date(2026, 12, 1), dt.date(2026, 12, 1), resolution=Resolution.HOUR)
    with pytest.raises(Unsupported):
        acct.provider.delivery_stats(q)  # refused at the call, not at the first row
    q = StatsQuery(dt.date(2026, 12, 1), dt.date(2026, 12, 1), StatsScope.DOMAIN, "a.example")
    with pytest.raises(Unsupported, match="by domain"):
        acct.provider.delivery_stats(q)
    assert sent(fake) == []


def test_a_year_of_days_is_one_request(fake: SendGridFake) -> None:
    fill(fake)
    rows = acct_of(fake).stats.delivery("2026-01-01", "2026-12-31")
    assert len(rows) == 365
    assert rows[334].sent == 100
    assert len(fake.log) == 1
    assert "limit=365" in str(fake.requests[0].url)


# -- stats: paging, gaps, hostile answers ---------------------------------------------------------


def row(day: str, **metrics: Any) -> dict[str, Any]:
    return {"date": day, "stats": [{"metrics": metrics}]}


def serve_pages(mock: responses.RequestsMock, rows: list[Any], cap: int | None = None) -> None:
    """``rows`` by limit/offset, at most ``cap`` a page (a server whose pages are shorter
    than asked)."""
    def page(request: Any) -> tuple[int, dict[str, str], str]:
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url).query))
        offset, limit = int(q["offset"]), int(q["limit"])
        return 200, {}, json.dumps(rows[offset:offset + min(limit, cap or limit)])

    mock.add_callback("GET", f"{G}/v3/stats", callback=page)


def query(since: str, until: str) -> StatsQuery:
    return StatsQuery(dt.date.fromisoformat(since), dt.date.fromisoformat(until))


@responses.activate
def test_short_pages_are_read_on_lazily(sleeps: list[float]) -> None:
    days = [row(f"2026-12-0{n}", requests=n) for n in range(1, 6)]
    serve_pages(responses.mock, days, cap=2)
    rows = espkit.connect("sendgrid", api_key=KEY).provider.delivery_stats(
        query("2026-12-01", "2026-12-05"))
    assert len(responses.calls) == 0  # nothing read until a row is wanted
    assert next(rows).sent == 1
    assert len(responses.calls) == 1
    assert [r.sent for r in rows] == [2, 3, 4, 5]
    assert [str(c.request.url).split("&limit=")[1] for c in responses.calls] == [
        "5&offset=0", "5&offset=2", "5&offset=4"]


@responses.activate
def test_periods_missing_from_the_answer_are_rows_of_none(sleeps: list[float]) -> None:
    serve_pages(responses.mock, [row("2026-12-02", requests=3, delivered=2)])
    rows = espkit.connect("sendgrid", api_key=KEY).stats.delivery("2026-12-01", "2026-12-04")
    assert [(r.period.day, r.sent, r.delivered, r.bounced_hard, r.raw) for r in rows] == [
        (1, None, None, None, {}), (2, 3, 2, None, row("2026-12-02", requests=3, delivered=2)),
        (3, None, None, None, {}), (4, None, None, None, {})]
    # the answer stopped before 4 December: one more page is asked for, and is empty
    assert len(responses.calls) == 2
    assert rows[1].bounced is None  # a metric SendGrid left out is unknown, not 0
    assert rows[1].delivery_rate == pytest.approx(2 / 3)


@responses.activate
@pytest.mark.parametrize("stats", [[], [{}], [{"metrics": None}]])
def test_a_row_without_metrics_is_a_row_of_none(sleeps: list[float], stats: Any) -> None:
    responses.add("GET", f"{G}/v3/stats", json=[{"date": "2026-12-01", "stats": stats}])
    (r,) = espkit.connect("sendgrid", api_key=KEY).stats.delivery("2026-12-01", "2026-12-01")
    assert (r.sent, r.delivered, r.bounced_hard, r.bounced_soft, r.complained, r.deferred) \
        == (None,) * 6


@responses.activate
@pytest.mark.parametrize(("value", "ok"), [
    (0, True), (2**63 - 1, True), (7.0, True), (-1, False), (2**63, False), (10**30, False),
    (True, False), (False, False), (1.5, False), ("5", False), ([], False), ({}, False),
    (float("nan"), False)])
def test_every_count_is_a_bounded_whole_number(sleeps: list[float], value: Any,
                                               ok: bool) -> None:
    for metric in ("requests", "delivered", "bounces", "blocks", "spam_reports", "deferred"):
        responses.upsert("GET", f"{G}/v3/stats", body=json.dumps(
            [row("2026-12-01", **{metric: value})]), content_type="application/json")
        acct = espkit.connect("sendgrid", api_key=KEY)
        if ok:
            (r,) = acct.stats.delivery("2026-12-01", "2026-12-01")
            assert int(value) in (r.sent, r.delivered, r.bounced_hard, r.bounced_soft,
                                  r.complained, r.deferred)
        else:
            with pytest.raises(ProtocolError, match=f"metrics.{metric}"):
                acct.stats.delivery("2026-12-01", "2026-12-01")


@responses.activate
@pytest.mark.parametrize(("body", "why"), [
    ({"date": "2026-12-01"}, "not a list"),
    ([{"stats": []}], "date"),
    ([{"date": "2026-12-01"}], "stats"),
    ([{"date": "2026-12-01", "stats": {"metrics": {}}}], "stats"),
    ([{"date": "20261201", "stats": []}], "YYYY-MM-DD"),
    ([{"date": "2026-13-01", "stats": []}], "YYYY-MM-DD"),
    ([{"date": "2026-12-01T00:00:00", "stats": []}], "YYYY-MM-DD"),
    ([{"date": 20261201, "stats": []}], "date"),
    ([row("2026-11-30")], "outside"),
    ([row("2026-12-04")], "outside"),
    ([row("2026-12-02"), row("2026-12-01")], "out of order"),
    ([row("2026-12-01"), row("2026-12-01")], "out of order"),
    ([{"date": "2026-12-01", "stats": [{"metrics": {}}, {"metrics": {}}]}], "several"),
    ([{"date": "2026-12-01", "stats": [{"metrics": []}]}], "metrics"),
    ([{"date": "2026-12-01", "stats": ["x"]}], "stats"),
])
def test_hostile_stats_answers_are_protocol_errors(sleeps: list[float], body: Any,
                                                   why: str) -> None:
    responses.add("GET", f"{G}/v3/stats", json=body)
    with pytest.raises(ProtocolError, match=why):
        espkit.connect("sendgrid", api_key=KEY).stats.delivery("2026-12-01", "2026-12-03")


@responses.activate
def test_a_repeating_server_cannot_keep_the_paging_going(sleeps: list[float]) -> None:
    """A server that ignores the offset sends the same rows again: refused, not looped."""
    responses.add("GET", f"{G}/v3/stats", json=[row("2026-12-01")])
    with pytest.raises(ProtocolError, match="out of order"):
        espkit.connect("sendgrid", api_key=KEY).stats.delivery("2026-12-01", "2026-12-03")
    assert len(responses.calls) == 2


@responses.activate
@pytest.mark.parametrize("entries", [
    [{"type": "subuser", "name": "cust-2", "metrics": {}}],
    [{"type": "subuser", "metrics": {}}],
    [{"type": "subuser", "name": "cust-1", "metrics": {}},
     {"type": "subuser", "name": "cust-1", "metrics": {}}],
])
def test_subuser_rows_must_be_the_subusers(sleeps: list[float], entries: Any) -> None:
    responses.add("GET", f"{G}/v3/subusers/stats",
                  json=[{"date": "2026-12-01", "stats": entries}])
    with pytest.raises(ProtocolError, match=r"subuser|name"):
        espkit.connect("sendgrid", api_key=KEY).stats.delivery(
            "2026-12-01", "2026-12-01", subaccount="cust-1")


_count = mostly(st.integers(0, 10**6), st.one_of(
    st.integers(-5, 2**64), st.booleans(), st.none(), st.floats(), st.text(max_size=3)), 30)
_metrics = st.dictionaries(st.sampled_from(METRICS), _count, max_size=6)
_stat_row = st.fixed_dictionaries(
    {"date": st.sampled_from(["2026-12-01", "2026-12-02", "2026-12-03"] * 5
                             + ["2026-11-30", "2026-12-9", "x"]),
     "stats": mostly(st.lists(st.fixed_dictionaries({"metrics": _metrics}), min_size=1,
                              max_size=1),
                     st.lists(st.fixed_dictionaries({}, optional={"metrics": _metrics}),
                              max_size=2), 6)})
_stat_rows = st.lists(_stat_row, max_size=3, unique_by=lambda r: r["date"]).map(
    lambda rows: sorted(rows, key=lambda r: r["date"]))


@given(body=mostly(_stat_rows, st.one_of(_json, st.lists(st.one_of(_stat_row, _json),
                                                         max_size=4)), 4))
@settings(max_examples=200, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
def test_any_stats_answer_is_rows_or_a_protocol_error(sleeps: list[float], body: Any) -> None:
    def page(request: Any) -> tuple[int, dict[str, str], str]:
        # the generated body is the first page; the ones after it are empty
        first = "offset=0" in str(request.url)
        return 200, {"Content-Type": "application/json"}, json.dumps(body if first else [])

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback("GET", f"{G}/v3/stats", callback=page)
        try:
            rows = espkit.connect("sendgrid", api_key=KEY).stats.delivery(
                "2026-12-01", "2026-12-03")
        except ProtocolError as exc:
            refused: ProtocolError | None = exc
        else:
            refused = None
        asked = len(mock.calls)
    assert asked <= 3  # one page per period at most
    event("refused" if refused is not None else "read")
    if refused is not None:
        assert refused.__cause__ is None, repr(refused.__cause__)
        return
    assert [r.period.day for r in rows] == [1, 2, 3]
    for r in rows:
        for value in (r.sent, r.delivered, r.bounced_hard, r.bounced_soft, r.complained,
                      r.deferred):
            assert value is None or (type(value) is int and 0 <= value < 2**63)
