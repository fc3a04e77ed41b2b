"""Mailgun IP warmup (``/v3/ip_warmups``) and delivery figures (``POST /v1/analytics/metrics``)
through the public API: against the wire-level fake (``support.fakes.mailgun``) for the
flows and request counts, and against hand-made answers (``responses``) for each mapping and
every hostile answer. ``test_mailgun_spec.py`` checks the requests against the spec.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support.fakes.base import Call
from support.fakes.mailgun import KEY, STAGE_LIMITS, US, MailgunFake

import espkit
from espkit import (
    DeliveryStats,
    NotFound,
    ProtocolError,
    Resolution,
    StatsScope,
    ValidationError,
    WarmupState,
)
from espkit.models import StatsQuery
from espkit.providers.mailgun import MailgunProvider
from espkit.providers.mailgun_stats import METRICS, SCOPES, periods, span
from espkit.providers.mailgun_warmup import OVERFLOW, PAGE, when

UTC = dt.timezone.utc
DAY = dt.date(2026, 12, 1)
BIG = 2**63 - 1


class KeepingFake(MailgunFake):
    """The fake, keeping each request whole (its JSON body, its query)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []

    def _keep(self, call: Call) -> None:
        self.calls.append(call)


@pytest.fixture
def fake(sleeps: list[float]) -> Iterator[KeepingFake]:
    with KeepingFake() as f:
        yield f


def many_ips(n: int) -> tuple[str, ...]:
    return tuple(str(ipaddress.ip_address("198.18.0.1") + i) for i in range(n))


def since(fake: MailgunFake, mark: int) -> list[str]:
    return [f"{m} {p}" for m, p in fake.log[mark:]]


# -- warmup against the fake ------------------------------------------------------------------


def test_start_reads_the_new_plan_and_maps_every_field(fake: KeepingFake) -> None:
    acct = fake.connect()
    ip = fake.ips[0]
    mark = len(fake.log)
    w = acct.ips.start_warmup(ip)
    assert since(fake, mark) == [f"POST /v3/ip_warmups/{ip}", f"GET /v3/ip_warmups/{ip}"]
    assert (w.ip, w.state, w.provider) == (ip, WarmupState.WARMING, "mailgun")
    assert (w.stage, w.stages) == (1, len(STAGE_LIMITS))
    assert w.progress == pytest.approx(1 / len(STAGE_LIMITS))
    assert (w.daily_cap, w.hourly_cap) == (STAGE_LIMITS[0], STAGE_LIMITS[0] // 40)
    assert w.overflow == OVERFLOW
    assert w.started == fake.now
    assert w.warming


def test_starting_a_warming_ip_is_no_error_and_costs_no_more(fake: KeepingFake) -> None:
    acct = fake.connect()
    ip = fake.ips[1]
    fake.start_plan(ip, stage=4)
    mark = len(fake.log)
    w = acct.ips.start_warmup(ip)  # Mailgun refuses a second plan (400): read as warming
    assert since(fake, mark) == [f"POST /v3/ip_warmups/{ip}", f"GET /v3/ip_warmups/{ip}"]
    assert (w.state, w.stage) == (WarmupState.WARMING, 4)
    assert fake.warmups[ip]["stage"] == 4  # not restarted


def test_a_stage_is_refused_before_anything_is_sent(fake: KeepingFake) -> None:
    acct = fake.connect()
    mark = len(fake.log)
    with pytest.raises(ValidationError) as err:
        acct.ips.start_warmup(fake.ips[0], stage=2)
    assert err.value.field == "stage"
    assert fake.log[mark:] == []


def test_start_on_an_ip_of_another_account_is_not_found(fake: KeepingFake) -> None:
    with pytest.raises(NotFound):
        fake.connect().ips.start_warmup("192.0.2.99")
    assert fake.warmups == {}


def test_status_reads_one_request_while_warming_two_otherwise(fake: KeepingFake) -> None:
    acct = fake.connect()
    warm, cold = fake.ips[0], fake.ips[1]
    fake.start_plan(warm, stage=3)
    mark = len(fake.log)
    assert acct.ips.warmup_status(warm).stage == 3
    assert since(fake, mark) == [f"GET /v3/ip_warmups/{warm}"]
    mark = len(fake.log)
    got = acct.ips.warmup_status(cold)
    assert (got.state, got.stage, got.daily_cap, got.progress) == (
        WarmupState.NOT_STARTED, None, None, None)
    assert since(fake, mark) == [f"GET /v3/ip_warmups/{cold}", f"GET /v3/ips/{cold}"]
    with pytest.raises(NotFound):
        acct.ips.warmup_status("192.0.2.99")  # not the account's: not "not started"


def test_stop_takes_one_request_and_stopping_again_is_no_error(fake: KeepingFake) -> None:
    acct = fake.connect()
    ip = fake.ips[2]
    fake.start_plan(ip)
    mark = len(fake.log)
    assert acct.ips.stop_warmup(ip).state is WarmupState.NOT_STARTED
    assert since(fake, mark) == [f"DELETE /v3/ip_warmups/{ip}"]
    assert ip not in fake.warmups
    mark = len(fake.log)
    assert acct.ips.stop_warmup(ip).state is WarmupState.NOT_STARTED
    assert since(fake, mark) == [f"DELETE /v3/ip_warmups/{ip}", f"GET /v3/ips/{ip}"]
    with pytest.raises(NotFound):
        acct.ips.stop_warmup("192.0.2.99")


def test_a_plan_that_ends_leaves_the_list_and_reads_as_not_started(fake: KeepingFake) -> None:
    acct = fake.connect()
    ip = fake.ips[0]
    fake.start_plan(ip, stage=len(STAGE_LIMITS))
    last = acct.ips.warmup_status(ip)
    assert (last.stage, last.progress) == (len(STAGE_LIMITS), 1.0)
    assert last.state is WarmupState.WARMING  # the last stage still runs
    fake.advance(ip)
    assert acct.ips.warmup_status(ip).state is WarmupState.NOT_STARTED


@pytest.mark.parametrize(("ips", "warming", "page_max", "requests"), [
    (100, 100, 100, 2),   # the brief's figure: the IP listing and one page
    (100, 10, 100, 2),
    (100, 0, 100, 2),     # the first page is read even when nothing is flagged
    (250, 250, 100, 4),   # 100 + 100 + 50: every flagged IP read, no empty page asked for
    (200, 200, 100, 3),   # a full last page: still no empty page
    (201, 201, 100, 4),   # ...one more IP, one more page
    (100, 100, 30, 5),    # Mailgun pages shorter than asked: 30 + 30 + 30 + 10
])
def test_list_warmups_request_counts(fake: KeepingFake, ips: int, warming: int,
                                     page_max: int, requests: int) -> None:
    fake.ips = many_ips(ips)
    fake.warmup_page_max = page_max
    for i, ip in enumerate(fake.ips[:warming]):
        fake.start_plan(ip, stage=1 + i % 5)
    acct = fake.connect()
    mark = len(fake.log)
    got = list(acct.ips.warmups())
    assert len(fake.log) - mark == requests
    assert sorted(w.ip for w in got) == sorted(fake.ips)  # every IP once
    states = {w.ip: w for w in got}
    for i, ip in enumerate(fake.ips):
        w = states[ip]
        if i < warming:
            assert (w.state, w.stage, w.overflow) == (WarmupState.WARMING, 1 + i % 5, OVERFLOW)
            assert w.daily_cap == STAGE_LIMITS[i % 5]
            assert (w.stages, w.progress, w.hourly_cap, w.started) == (None,) * 4  # unlisted
        else:
            assert w.state is WarmupState.NOT_STARTED
    asked = [c.args.get("limit") for c in fake.calls if c.path == "/v3/ip_warmups"]
    assert set(asked) == {str(PAGE)}


class UnflaggingFake(KeepingFake):
    """An IP listing whose ``details`` say nothing of its first IP."""

    def _route(self, call: Call) -> Any:
        status, headers, body = super()._route(call)
        if call.path == "/v3/ips":
            data = json.loads(body)
            data["details"] = data["details"][1:]
            body = json.dumps(data)
        return status, headers, body


def test_without_every_ip_flagged_the_listing_is_read_to_its_empty_page(
        sleeps: list[float]) -> None:
    with UnflaggingFake() as fake:
        fake.ips = many_ips(100)
        for ip in fake.ips:
            fake.start_plan(ip)
        mark = len(fake.log)
        assert len(list(fake.connect().ips.warmups())) == 100
        assert since(fake, mark) == ["GET /v3/ips"] + ["GET /v3/ip_warmups"] * 2


def test_a_hostile_next_link_is_followed_only_by_its_query(fake: KeepingFake) -> None:
    """``paging.next`` names another host: the next page is still asked of Mailgun's own
    host and path (``responses`` refuses any other host, so following it would fail)."""
    fake.ips = many_ips(150)
    for ip in fake.ips:
        fake.start_plan(ip)
    fake.next_base = "https://collector.attacker.example/steal"
    assert len(list(fake.connect().ips.warmups())) == 150
    pages = [c for c in fake.calls if c.path == "/v3/ip_warmups"]
    assert len(pages) == 2
    assert all(str(c.request.url).startswith(f"{US}/v3/ip_warmups?") for c in pages)
    assert "page" not in pages[0].args
    assert pages[1].args["page"]
    # the link's own limit is dropped: ours is sent, once
    sent = urllib.parse.parse_qs(urllib.parse.urlsplit(str(pages[1].request.url)).query)
    assert sent["limit"] == [str(PAGE)]


def test_an_ip_of_the_account_that_is_not_dedicated_is_not_found(
        mocked: responses.RequestsMock) -> None:
    mocked.add("GET", f"{US}/v3/ip_warmups/{IP}", status=404,
               json={"message": "IP warmup not found"})
    mocked.add("GET", f"{US}/v3/ips/{IP}", json={"ip": IP, "dedicated": False})
    with pytest.raises(NotFound, match="not a dedicated IP"):
        connect().ips.warmup_status(IP)
    mocked.replace("GET", f"{US}/v3/ips/{IP}", json={"ip": IP, "dedicated": True})
    assert connect().ips.warmup_status(IP).state is WarmupState.NOT_STARTED
    mocked.replace("GET", f"{US}/v3/ips/{IP}", json={"ip": "203.0.113.11"})
    with pytest.raises(ProtocolError, match="another IP"):
        connect().ips.warmup_status(IP)


def test_a_refused_start_of_an_ip_not_warming_is_the_refusal(
        mocked: responses.RequestsMock) -> None:
    mocked.add("POST", f"{US}/v3/ip_warmups/{IP}", status=400,
               json={"message": "IP is not eligible for warmup"})
    mocked.add("GET", f"{US}/v3/ip_warmups/{IP}", status=404, json={"message": "not found"})
    mocked.add("GET", f"{US}/v3/ips/{IP}", json={"ip": IP, "dedicated": True})
    with pytest.raises(espkit.Rejected, match="not eligible"):
        connect().ips.start_warmup(IP)
    mocked.replace("GET", f"{US}/v3/ips/{IP}", status=500, json={"message": "down"})
    with pytest.raises(espkit.Rejected, match="not eligible"):  # the status read failed
        connect().ips.start_warmup(IP)


@pytest.mark.parametrize(("warming", "outcome"), [(False, WarmupState.NOT_STARTED),
                                                  (True, espkit.Rejected)])
def test_a_refused_stop_is_checked_against_the_status(
        mocked: responses.RequestsMock, warming: bool, outcome: Any) -> None:
    mocked.add("DELETE", f"{US}/v3/ip_warmups/{IP}", status=400,
               json={"message": "cannot cancel"})
    if warming:
        mocked.add("GET", f"{US}/v3/ip_warmups/{IP}", json=details())
    else:
        mocked.add("GET", f"{US}/v3/ip_warmups/{IP}", status=404, json={"message": "none"})
        mocked.add("GET", f"{US}/v3/ips/{IP}", json={"ip": IP, "dedicated": True})
    if isinstance(outcome, WarmupState):
        assert connect().ips.stop_warmup(IP).state is outcome
    else:
        with pytest.raises(outcome, match="cannot cancel"):
            connect().ips.stop_warmup(IP)


# -- warmup: mapping and hostile answers (hand-made) --------------------------------------------


IP = "203.0.113.10"


@pytest.fixture
def mocked(sleeps: list[float]) -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def connect() -> espkit.Account:
    return espkit.connect("mailgun", api_key=KEY, region="us")


def details(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"stage": 2, "total_stages": 15, "stage_limit": 4000,
                            "hourly_limit": 100, "plan_started_at": "2025-01-01T00:00:00Z"}
    return {"details": {k: v for k, v in {**base, **fields}.items() if v is not ...}}


def status_with(mocked: responses.RequestsMock, body: Any) -> Any:
    mocked.add("GET", f"{US}/v3/ip_warmups/{IP}", json=body)
    return connect().ips.warmup_status(IP)


def test_details_map_every_field(mocked: responses.RequestsMock) -> None:
    w = status_with(mocked, details())
    assert (w.state, w.stage, w.stages, w.daily_cap, w.hourly_cap) == (
        WarmupState.WARMING, 2, 15, 4000, 100)
    assert w.progress == pytest.approx(2 / 15)
    assert w.started == dt.datetime(2025, 1, 1, tzinfo=UTC)
    assert w.raw == details()


def test_details_read_the_listing_names_too(mocked: responses.RequestsMock) -> None:
    # mailgun-java reads them as aliases: some details answers carry the listing's names
    w = status_with(mocked, details(stage=..., stage_limit=..., stage_number=3,
                                    stage_volume_limit=8000))
    assert (w.stage, w.daily_cap) == (3, 8000)


def test_figures_not_given_are_none_never_zero(mocked: responses.RequestsMock) -> None:
    w = status_with(mocked, {"details": {}})
    assert w.state is WarmupState.WARMING
    assert (w.stage, w.stages, w.progress, w.daily_cap, w.hourly_cap, w.started) == (None,) * 6
    assert w.overflow == OVERFLOW


def test_zero_is_a_figure(mocked: responses.RequestsMock) -> None:
    w = status_with(mocked, details(stage_limit=0, hourly_limit=0))
    assert (w.daily_cap, w.hourly_cap) == (0, 0)


def history(done: int, pending: int = 0) -> list[dict[str, Any]]:
    return ([{"completed_at": "2025-06-03T21:33:55.000000123Z", "limit": 1000}] * done
            + [{"completed_at": "0001-01-01T00:00:00Z", "limit": 1000}] * pending)


@pytest.mark.parametrize(("done", "pending", "state"), [
    (15, 0, WarmupState.WARM),
    (14, 1, WarmupState.WARMING),   # one short: Go's zero time is "not completed"
    (14, 0, WarmupState.WARMING),
    (16, 0, WarmupState.WARM),
])
def test_warm_only_when_every_stage_completed(mocked: responses.RequestsMock, done: int,
                                              pending: int, state: WarmupState) -> None:
    w = status_with(mocked, details(stage=15, stage_history=history(done, pending)))
    assert w.state is state
    if state is WarmupState.WARM:
        assert (w.progress, w.daily_cap, w.hourly_cap, w.overflow) == (1.0, None, None, None)


@pytest.mark.parametrize(("stage", "ok"), [(15, True), (16, False), (0, True)])
def test_stage_against_total_both_sides(mocked: responses.RequestsMock, stage: int,
                                        ok: bool) -> None:
    if ok:
        assert status_with(mocked, details(stage=stage)).progress == pytest.approx(stage / 15)
    else:
        with pytest.raises(ProtocolError, match="past"):
            status_with(mocked, details(stage=stage))


@pytest.mark.parametrize("fields", [
    {"stage": -1}, {"stage": True}, {"stage": "2"}, {"stage": 1.5}, {"stage": BIG + 1},
    {"stage_limit": -5}, {"stage_limit": False}, {"stage_limit": BIG + 1},
    {"hourly_limit": "100"}, {"hourly_limit": -1}, {"total_stages": 0},
    {"total_stages": None, "stage_history": "all of them"}, {"ip": "203.0.113.11"},
    {"ip": "not an ip"},
], ids=repr)
def test_hostile_details_are_protocol_errors(mocked: responses.RequestsMock,
                                             fields: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        status_with(mocked, details(**fields))


@pytest.mark.parametrize("body", [[], "details", {"details": None}, {"details": [1]}, {}],
                         ids=repr)
def test_details_of_the_wrong_shape_are_protocol_errors(mocked: responses.RequestsMock,
                                                        body: Any) -> None:
    with pytest.raises(ProtocolError):
        status_with(mocked, body)


def test_the_largest_count_is_taken(mocked: responses.RequestsMock) -> None:
    w = status_with(mocked, details(stage_limit=BIG, total_stages=BIG, stage=BIG))
    assert (w.daily_cap, w.stages, w.progress) == (BIG, BIG, 1.0)


@pytest.mark.parametrize(("value", "wanted"), [
    ("2025-01-01T00:00:00Z", dt.datetime(2025, 1, 1, tzinfo=UTC)),
    ("2025-01-01T02:00:00+02:00", dt.datetime(2025, 1, 1, tzinfo=UTC)),
    ("Wed, 01 Jan 2025 00:00:00 +0000", dt.datetime(2025, 1, 1, tzinfo=UTC)),
    ("Wed, 01 Jan 2025 00:00:00 -0000", dt.datetime(2025, 1, 1, tzinfo=UTC)),
    ("2025-01-01T00:00:00.5Z", dt.datetime(2025, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)),
    ("2025-06-03T21:33:55.123456789Z", dt.datetime(2025, 6, 3, 21, 33, 55, 123456, tzinfo=UTC)),
    ("2025-01-01T00:00:00", dt.datetime(2025, 1, 1, tzinfo=UTC)),
    ("0001-01-01T00:00:00Z", None), ("yesterday", None), (17356896, None), ("", None),
    ("2025-13-01T00:00:00Z", None),
    ("9999-12-31T23:00:00-05:00", None), ("2025-01-01T00:00:00Z" + " " * 60, None),
])
def test_timestamps_are_report_only(value: Any, wanted: dt.datetime | None) -> None:
    assert when(value) == wanted


def page_body(ips: list[str], nxt: str | None = "?page=b") -> dict[str, Any]:
    items = [{"ip": ip, "stage_number": 1, "stage_volume_limit": 1000, "throttle": 25,
              "sent_within_stage": "0%", "stage_start_time": "2025-01-01T00:00:00Z"}
             for ip in ips]
    body: dict[str, Any] = {"items": items}
    if nxt is not None:
        body["paging"] = {"next": nxt if "://" in nxt else f"{US}/v3/ip_warmups{nxt}"}
    return body


def listing(mocked: responses.RequestsMock, *pages: Any, ips: list[str] | None = None
            ) -> list[Any]:
    """The listing over ``pages``; the IP listing flags none (no ``details``), so every
    page is read until one is empty or names no next."""
    mocked.add("GET", f"{US}/v3/ips", json={"items": ips or [IP]})
    for body in pages:
        mocked.add("GET", f"{US}/v3/ip_warmups", json=body)
    return list(connect().ips.warmups())


def test_listing_items_map(mocked: responses.RequestsMock) -> None:
    (w,) = listing(mocked, page_body([IP]), page_body([], None))
    assert (w.state, w.stage, w.daily_cap, w.hourly_cap, w.stages) == (
        WarmupState.WARMING, 1, 1000, None, None)
    assert w.raw["throttle"] == 25  # undocumented: kept, not read as a cap


def test_a_listed_ip_the_ip_listing_lacks_is_still_reported(
        mocked: responses.RequestsMock) -> None:
    got = listing(mocked, page_body(["203.0.113.77"]), {"items": None}, ips=[IP])
    assert {(w.ip, w.state) for w in got} == {("203.0.113.77", WarmupState.WARMING),
                                              (IP, WarmupState.NOT_STARTED)}


def test_a_next_link_naming_no_page_ends_the_listing(mocked: responses.RequestsMock) -> None:
    # the spec's example writes "next": "next"; only a query can name a page
    got = listing(mocked, page_body([IP], "next"))
    assert len(got) == 1
    assert len(mocked.calls) == 2


@pytest.mark.parametrize("nxt", [
    "?page=a%0Ab",                                       # a control character
    "?" + "&".join(f"k{i}=v" for i in range(9)),         # too many parameters
    "?page=" + "x" * 2100,                               # too long
    "http://[::1/v3/ip_warmups?page=b",                  # no URL at all
], ids=["control", "params", "long", "not-a-url"])
def test_hostile_next_links_are_protocol_errors(mocked: responses.RequestsMock,
                                                nxt: str) -> None:
    with pytest.raises(ProtocolError):
        listing(mocked, page_body([IP], nxt))


@pytest.mark.parametrize(("nxt", "ok"), [
    ("?" + "&".join(f"k{i}=v" for i in range(8)), True),
    ("?" + "&".join(f"k{i}=v" for i in range(8)) + "&limit=5", True),  # limit is ours
    ("?page=" + "x" * 2043, True),                                      # 2048 characters
    ("?page=" + "x" * 2044, False),
])
def test_next_link_bounds_both_sides(mocked: responses.RequestsMock, nxt: str,
                                     ok: bool) -> None:
    pages = (page_body([IP], nxt), {"items": None})
    if ok:
        assert len(listing(mocked, *pages)) == 1
        assert len(mocked.calls) == 3
    else:
        with pytest.raises(ProtocolError, match="too long"):
            listing(mocked, *pages)


def test_a_next_link_that_loops_is_a_protocol_error(mocked: responses.RequestsMock) -> None:
    with pytest.raises(ProtocolError, match="already followed"):
        listing(mocked, page_body([IP], "?page=a"), page_body(["203.0.113.11"], "?page=a"),
                ips=[IP, "203.0.113.11", "203.0.113.12"])


def test_a_page_of_repeats_is_a_protocol_error(mocked: responses.RequestsMock) -> None:
    with pytest.raises(ProtocolError, match=r"nothing new|no IP not listed"):
        listing(mocked, page_body([IP], "?page=a"), page_body([IP], "?page=b"),
                ips=[IP, "203.0.113.11"])


@pytest.mark.parametrize("body", [{}, {"items": "x"}, {"items": [{"ip": "nope"}]},
                                  {"items": [{"ip": IP, "stage_number": -1}]},
                                  {"items": [], "paging": {"next": 5}}], ids=repr)
def test_hostile_listing_pages_are_protocol_errors(mocked: responses.RequestsMock,
                                                   body: Any) -> None:
    with pytest.raises(ProtocolError):
        listing(mocked, body)


# -- delivery figures against the fake ----------------------------------------------------------


def test_a_month_of_days_is_one_request_with_every_figure(fake: KeepingFake) -> None:
    acct = fake.connect()
    for i in range(31):
        fake.record_sends(DAY + dt.timedelta(days=i), domain="a.example.com",
                          ip=fake.ips[0], sent=100 + i, hard=2, soft=1, complained=i % 2,
                          deferred=3)
    mark = len(fake.log)
    rows = acct.stats.delivery(DAY, DAY + dt.timedelta(days=30))
    assert since(fake, mark) == ["POST /v1/analytics/metrics"]
    assert [r.period for r in rows] == [
        dt.datetime.combine(DAY + dt.timedelta(days=i), dt.time(), UTC) for i in range(31)]
    for i, r in enumerate(rows):
        assert (r.sent, r.delivered, r.bounced_hard, r.bounced_soft, r.complained,
                r.deferred) == (100 + i, 97 + i, 2, 1, i % 2, 3)
        assert (r.scope, r.target, r.resolution, r.provider) == (
            StatsScope.ACCOUNT, None, Resolution.DAY, "mailgun")
    body = fake.calls[-1].json()
    assert body["start"] == "Tue, 01 Dec 2026 00:00:00 +0000"
    assert body["end"] == "Thu, 31 Dec 2026 23:59:59 +0000"
    assert (body["resolution"], body["dimensions"], body["include_subaccounts"]) == (
        "day", ["time"], True)
    assert body["metrics"] == list(METRICS.values())
    assert body["pagination"] == {"skip": 0, "limit": 31}
    assert "filter" not in body
    assert "duration" not in body


def test_every_scope_the_spec_filters_by_is_declared() -> None:
    assert MailgunProvider.STATS_SCOPES == SCOPES == frozenset(StatsScope)


def test_each_scope_filters_what_was_recorded(fake: KeepingFake) -> None:
    acct = fake.connect()
    a, b = fake.ips[0], fake.ips[1]
    pool = acct.pools.create("warming", ips=[a])
    sub = acct.subaccounts.create("customer-1").id
    fake.record_sends(DAY, domain="a.example.com", ip=a, sent=10)
    fake.record_sends(DAY, domain="b.example.com", ip=b, sent=20)
    fake.record_sends(DAY, domain="c.example.com", ip=a, subaccount=sub, sent=40)
    asked = {
        "account": ({}, 70),
        "domain": ({"domain": "b.example.com"}, 20),
        "ip": ({"ip": a}, 50),
        "pool": ({"pool": "warming"}, 50),
        "subaccount": ({"subaccount": sub}, 40),
    }
    for scope, (where, sent) in asked.items():
        (row,) = acct.stats.delivery(DAY, DAY, **where)
        assert (row.scope, row.sent) == (StatsScope(scope), sent), scope
        assert row.target == (next(iter(where.values())) if where else None)
        body = fake.calls[-1].json()
        if not where:
            assert "filter" not in body
            continue
        (predicate,) = body["filter"]["AND"]
        attribute = {"pool": "ip_pool"}.get(scope, scope)
        value = pool.id if scope == "pool" else row.target
        assert predicate == {"attribute": attribute, "comparator": "=",
                             "values": [{"label": row.target, "value": value}]}


def test_a_pool_name_costs_the_pool_listing_once_per_call(fake: KeepingFake) -> None:
    acct = fake.connect()
    acct.pools.create("warming", ips=[fake.ips[0]])
    mark = len(fake.log)
    acct.stats.delivery(DAY, DAY, pool="warming")
    assert since(fake, mark) == ["GET /v3/ip_pools", "POST /v1/analytics/metrics"]
    mark = len(fake.log)
    with pytest.raises(NotFound):
        acct.stats.delivery(DAY, DAY, pool="nope")
    assert since(fake, mark) == ["GET /v3/ip_pools"]  # nothing asked of the metrics API


def test_a_subaccount_scope_sends_its_header_and_reads_its_own(fake: KeepingFake) -> None:
    acct = fake.connect()
    sub = acct.subaccounts.create("customer-2").id
    fake.record_sends(DAY, domain="a.example.com", sent=3)
    fake.record_sends(DAY, domain="b.example.com", subaccount=sub, sent=4)
    (row,) = acct.on_behalf_of(sub).stats.delivery(DAY, DAY)
    assert row.sent == 4
    assert fake.calls[-1].headers["X-Mailgun-On-Behalf-Of"] == sub


def test_hours_and_months(fake: KeepingFake) -> None:
    acct = fake.connect()
    fake.record_sends(dt.datetime(2026, 12, 1, 5, 30, tzinfo=UTC), domain="a.example.com",
                      sent=7)
    fake.record_sends(dt.date(2027, 1, 9), domain="a.example.com", sent=5)
    hours = acct.stats.delivery(DAY, DAY, resolution="hour")
    assert len(hours) == 24
    assert [r.sent for r in hours if r.sent] == [7]
    assert hours[5].period == dt.datetime(2026, 12, 1, 5, tzinfo=UTC)
    months = acct.stats.delivery("2026-11-15", "2027-01-10", resolution="month")
    assert [(r.period.month, r.sent) for r in months] == [(11, 0), (12, 7), (1, 5)]
    assert all(r.resolution is Resolution.MONTH for r in months)


@pytest.mark.parametrize(("page_max", "requests"), [(31, 1), (30, 2), (10, 4), (1, 31)])
def test_pages_follow_skip_to_the_total(fake: KeepingFake, page_max: int,
                                        requests: int) -> None:
    fake.metrics_page_max = page_max
    for i in range(31):
        fake.record_sends(DAY + dt.timedelta(days=i), domain="a.example.com", sent=i)
    mark = len(fake.log)
    rows = fake.connect().stats.delivery(DAY, DAY + dt.timedelta(days=30))
    assert len(fake.log) - mark == requests
    assert [r.sent for r in rows] == list(range(31))
    skips = [c.json()["pagination"]["skip"] for c in fake.calls[-requests:]]
    assert skips == [min(i * page_max, 31) for i in range(requests)]


def test_rows_are_read_lazily(fake: KeepingFake) -> None:
    fake.metrics_page_max = 10
    acct = fake.connect()
    rows = acct.provider.delivery_stats(StatsQuery(DAY, DAY + dt.timedelta(days=30)))
    mark = len(fake.log)
    first = next(rows)
    assert first.period.day == 1
    assert len(fake.log) - mark == 1


# -- delivery figures: mapping and hostile answers (hand-made) -----------------------------------


def item(moment: str, **metrics: Any) -> dict[str, Any]:
    return {"dimensions": [{"dimension": "time", "value": moment, "display_value": moment}],
            "metrics": metrics}


def rfc(day: dt.date, hour: int = 0) -> str:
    return f"{dt.datetime.combine(day, dt.time(hour), UTC):%a, %d %b %Y %H:%M:%S} +0000"


def stats_with(mocked: responses.RequestsMock, *bodies: Any,
               query: StatsQuery | None = None) -> list[DeliveryStats]:
    """The rows ``bodies`` give, one answer each, then empty pages."""
    for body in (*bodies, {"items": []}):
        mocked.add("POST", f"{US}/v1/analytics/metrics", json=body)
    q = query or StatsQuery(DAY, DAY + dt.timedelta(days=2))
    return list(connect().provider.delivery_stats(q))


def test_metrics_not_reported_are_none_never_zero(mocked: responses.RequestsMock) -> None:
    (row,) = stats_with(mocked, {"items": [item(rfc(DAY), delivered_count=5, sent_count=None,
                                                complained_count=0)]})
    assert (row.sent, row.delivered, row.complained) == (None, 5, 0)
    assert (row.bounced_hard, row.bounced_soft, row.deferred) == (None, None, None)
    assert row.bounced is None
    assert row.delivery_rate is None


def test_an_item_without_metrics_reports_nothing(mocked: responses.RequestsMock) -> None:
    (row,) = stats_with(mocked, {"items": [{"dimensions": item(rfc(DAY))["dimensions"]}]})
    assert (row.sent, row.delivered) == (None, None)


@pytest.mark.parametrize("value", [-1, True, "5", 1.5, BIG + 1, [1], {"n": 1}], ids=repr)
def test_hostile_counts_are_protocol_errors(mocked: responses.RequestsMock,
                                            value: Any) -> None:
    with pytest.raises(ProtocolError, match="sent_count"):
        stats_with(mocked, {"items": [item(rfc(DAY), sent_count=value)]})


def test_the_largest_count_and_a_whole_float_are_taken(mocked: responses.RequestsMock) -> None:
    (row,) = stats_with(mocked, {"items": [item(rfc(DAY), sent_count=BIG,
                                                delivered_count=3.0)]})
    assert (row.sent, row.delivered) == (BIG, 3)


@pytest.mark.parametrize(("moment", "ok"), [
    (rfc(DAY), True),                                      # the first period
    (rfc(DAY + dt.timedelta(days=2)), True),               # the last
    (rfc(DAY - dt.timedelta(days=1)), False),              # the day before
    (rfc(DAY + dt.timedelta(days=3)), False),              # the day after
    (rfc(DAY, hour=1), False),                             # not the start of a day
    ("Tue, 01 Dec 2026 00:00:00 -0600", False),            # a day, but not a UTC day
    ("Tue, 01 Dec 2026 06:00:00 +0600", True),             # the same moment, other words
    ("2026-12-01T00:00:00Z", True),
    ("the first of December", False),
])
def test_periods_both_sides_of_the_range(mocked: responses.RequestsMock, moment: str,
                                         ok: bool) -> None:
    body = {"items": [item(moment, sent_count=1)]}
    if ok:
        (row,) = stats_with(mocked, body)
        assert row.period == when(moment)
        assert row.period.utcoffset() == dt.timedelta(0)
    else:
        with pytest.raises(ProtocolError):
            stats_with(mocked, body)


@pytest.mark.parametrize(("res", "moment", "ok"), [
    (Resolution.HOUR, "Tue, 01 Dec 2026 05:00:00 +0000", True),
    (Resolution.HOUR, "Tue, 01 Dec 2026 05:00:01 +0000", False),
    (Resolution.HOUR, "Tue, 01 Dec 2026 05:30:00 +0530", True),     # 00:00 UTC
    (Resolution.MONTH, "Tue, 01 Dec 2026 00:00:00 +0000", True),
    (Resolution.MONTH, "Wed, 02 Dec 2026 00:00:00 +0000", False),
    (Resolution.MONTH, "Sun, 01 Nov 2026 00:00:00 +0000", False),   # before the first month
    (Resolution.MONTH, "Fri, 01 Jan 2027 00:00:00 +0000", True),    # the last month
    (Resolution.MONTH, "Sat, 02 Jan 2027 00:00:00 +0000", False),   # in range, not a start
])
def test_periods_start_where_the_resolution_does(mocked: responses.RequestsMock,
                                                 res: Resolution, moment: str,
                                                 ok: bool) -> None:
    # Dec 1 to Jan 3: days (or hours) of December and January, two months
    q = StatsQuery(DAY, dt.date(2027, 1, 3), resolution=res)
    body = {"items": [item(moment, sent_count=1)], "resolution": res.value}
    if ok:
        assert [r.period for r in stats_with(mocked, body, query=q)] == [when(moment)]
    else:
        with pytest.raises(ProtocolError):
            stats_with(mocked, body, query=q)


@pytest.mark.parametrize("body", [
    {},                                                                    # no items
    {"items": None},
    {"items": [{"metrics": {}}]},                                          # no dimensions
    {"items": [{"dimensions": [{"dimension": "domain", "value": "a.com"}]}]},
    {"items": [{"dimensions": [{"dimension": "time", "value": rfc(DAY)}] * 2}]},
    {"items": [item(rfc(DAY)) | {"metrics": [1]}]},
    {"items": [item(rfc(DAY))], "resolution": "hour"},
    {"items": [item(rfc(DAY))], "pagination": {"total": -1}},
    {"items": [item(rfc(DAY + dt.timedelta(days=1))), item(rfc(DAY))]},   # out of order
    {"items": [item(rfc(DAY)), item(rfc(DAY))]},                           # repeated
], ids=repr)
def test_hostile_answers_are_protocol_errors(mocked: responses.RequestsMock,
                                             body: Any) -> None:
    with pytest.raises(ProtocolError):
        stats_with(mocked, body)


def test_a_page_repeating_the_last_is_refused(mocked: responses.RequestsMock) -> None:
    page = {"items": [item(rfc(DAY))], "pagination": {"total": 3}}
    with pytest.raises(ProtocolError, match="out of order, or repeat"):
        stats_with(mocked, page, page)
    assert len(mocked.calls) == 2


def test_a_total_never_reached_ends_at_an_empty_page(mocked: responses.RequestsMock) -> None:
    rows = stats_with(mocked, {"items": [item(rfc(DAY))], "pagination": {"total": 10**6}},
                      {"items": [], "pagination": {"total": 10**6}})
    assert len(rows) == 1
    assert len(mocked.calls) == 2


@pytest.mark.parametrize(("total", "requests"), [(2, 1), (3, 2)])
def test_the_total_ends_the_reading(mocked: responses.RequestsMock, total: int,
                                    requests: int) -> None:
    rows = stats_with(mocked, {"items": [item(rfc(DAY)), item(rfc(DAY + dt.timedelta(1)))],
                               "pagination": {"total": total}})
    assert len(rows) == 2
    assert len(mocked.calls) == requests


def test_the_last_period_ends_the_reading(mocked: responses.RequestsMock) -> None:
    last = rfc(DAY + dt.timedelta(days=2))
    stats_with(mocked, {"items": [item(last)], "pagination": {"total": 10**6}})
    assert len(mocked.calls) == 1


def test_without_a_total_pages_are_read_to_an_empty_one(
        mocked: responses.RequestsMock) -> None:
    # a short page may be Mailgun paging shorter than asked: only an empty one is the end
    rows = stats_with(mocked, {"items": [item(rfc(DAY))]},
                      {"items": [item(rfc(DAY + dt.timedelta(1)))]})
    assert [r.period.day for r in rows] == [1, 2]
    assert [json.loads(c.request.body)["pagination"] for c in mocked.calls] == [
        {"skip": 0, "limit": 3}, {"skip": 1, "limit": 3}, {"skip": 2, "limit": 3}]


def test_gaps_are_left_as_mailgun_leaves_them(mocked: responses.RequestsMock) -> None:
    rows = stats_with(mocked, {"items": [item(rfc(DAY)), item(rfc(DAY + dt.timedelta(2)))],
                               "pagination": {"total": 2}})
    assert [r.period.day for r in rows] == [1, 3]


@pytest.mark.parametrize(("res", "first", "last", "count"), [
    (Resolution.HOUR, dt.date(2026, 12, 1), dt.date(2026, 12, 31), 744),
    (Resolution.DAY, dt.date(2026, 12, 1), dt.date(2026, 12, 1), 1),
    (Resolution.DAY, dt.date(2024, 1, 1), dt.date(2024, 12, 31), 366),
    (Resolution.MONTH, dt.date(2026, 11, 30), dt.date(2027, 1, 1), 3),
    (Resolution.MONTH, dt.date(2026, 12, 31), dt.date(2026, 12, 31), 1),
])
def test_periods_counted(res: Resolution, first: dt.date, last: dt.date, count: int) -> None:
    start, end = span(StatsQuery(first, last, resolution=res))
    assert periods(res, start, end) == count


# -- fuzz: any JSON where a figure belongs ------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=6,
)
#: a figure: mostly well-formed (so both outcomes are exercised), else any JSON
FIGURE = st.none() | st.integers(min_value=0, max_value=BIG) | JSON
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(metrics=st.dictionaries(st.sampled_from(sorted(METRICS.values())), FIGURE,
                               max_size=6))
def test_fuzzed_metrics_are_figures_or_protocol_errors(sleeps: list[float],
                                                       metrics: dict[str, Any]) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        try:
            (row,) = stats_with(mock, {"items": [item(rfc(DAY), **metrics)]})
        except ProtocolError:
            event("refused")
            return
    event("read")
    for field, name in METRICS.items():
        got, given_ = getattr(row, field), metrics.get(name)
        if given_ is None:
            assert got is None
        else:
            assert isinstance(got, int)
            assert not isinstance(got, bool)
            assert 0 <= got <= BIG
            assert got == given_


@FUZZ
@given(fields=st.dictionaries(
    st.sampled_from(["stage", "stage_number", "total_stages", "stage_limit",
                     "stage_volume_limit", "hourly_limit", "plan_started_at",
                     "stage_history", "ip", "throttle"]), FIGURE, max_size=6))
def test_fuzzed_details_are_warmups_or_protocol_errors(sleeps: list[float],
                                                       fields: dict[str, Any]) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        try:
            w = status_with(mock, {"details": fields})
        except ProtocolError:
            event("refused")
            return
    event(f"read: {w.state}")
    assert w.ip == IP
    for figure in (w.stage, w.stages, w.daily_cap, w.hourly_cap):
        assert figure is None or (type(figure) is int and 0 <= figure <= BIG)
    assert w.progress is None or 0.0 <= w.progress <= 1.0
    assert w.started is None or w.started.utcoffset() == dt.timedelta(0)


@FUZZ
@given(nxt=st.text(max_size=40) | st.builds(
    lambda base, path, pairs: f"{base}{path}?{urllib.parse.urlencode(pairs)}",
    st.sampled_from([US, "https://collector.attacker.example", "http://127.0.0.1:9", "//x",
                     ""]),
    st.sampled_from(["/v3/ip_warmups", "/v3/ips", "/../steal", ""]),
    st.lists(st.tuples(st.sampled_from(["page", "limit", "ip", "url"]), st.text(max_size=12)),
             max_size=4)))
def test_fuzzed_next_links_stay_on_mailgun(sleeps: list[float], nxt: str) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add("GET", f"{US}/v3/ips", json={"items": [IP, "203.0.113.11"]})
        mock.add("GET", f"{US}/v3/ip_warmups", json={"items": [{"ip": IP}],
                                                     "paging": {"next": nxt}})
        mock.add("GET", f"{US}/v3/ip_warmups", json={"items": None})
        try:
            list(connect().ips.warmups())
        except ProtocolError:
            event("refused")
            return
        event(f"read in {len(mock.calls)} requests")
        for call in mock.calls:
            parts = urllib.parse.urlsplit(str(call.request.url))
            assert f"{parts.scheme}://{parts.netloc}" == US
            assert parts.path in ("/v3/ips", "/v3/ip_warmups")
