"""What the sandbox is told was sent (``record_sends``) and the delivery statistics it answers
from it: every scope and resolution, zeros for periods with nothing recorded, paging, the
checks on every argument, and the rows kept in a sandbox file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import espkit
from espkit import Resolution, StatsScope
from espkit.account.stats import MAX_SPAN_DAYS, query
from espkit.errors import ConfigError, NotFound, ProtocolError, Unsupported, ValidationError
from espkit.providers.sandbox import SandboxProvider
from espkit.sandbox import MAX_PAGE, Emulator, FakeClock, Reply, calls, sends
from espkit.testing import emulator

DAY = 86400.0
MAIN, SUBDOM = "news.acme.example", "shop.customer.example"
IP1, IP2 = "198.51.100.1", "198.51.100.2"
POOL = "marketing"
D1, D2, D3 = date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)
UTC = timezone.utc


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def acct(clock: FakeClock) -> Iterator[espkit.Account]:
    with espkit.connect("sandbox", path=":memory:", clock=clock) as a:
        a.domains.create(MAIN)
        a.pools.create(POOL, ips=[IP1])
        yield a


def sandbox(acct: espkit.Account) -> SandboxProvider:
    assert isinstance(acct.provider, SandboxProvider)
    return acct.provider


def requests_made(acct: espkit.Account) -> int:
    return len(sandbox(acct).emulator.history)


def at(day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def world(acct: espkit.Account, clock: FakeClock) -> str:
    """Jan 1: MAIN sent 100 through IP1 (in POOL); Jan 2: the subaccount's domain 50 through
    IP2, and MAIN 10 through the shared IPs at 13:30; Jan 3: nothing. Returns the
    subaccount's id."""
    sub = acct.subaccounts.create("customer-1").id
    acct.on_behalf_of(sub).domains.create(SUBDOM)
    clock.advance(3 * DAY)  # Jan 4: every record is in the past
    p = sandbox(acct)
    p.record_sends(MAIN, 100, at=D1, ip=IP1, bounced_hard=5, bounced_soft=3, complained=1,
                   deferred=7)
    p.record_sends(SUBDOM, 50, at=D2, ip=IP2)
    p.record_sends(MAIN, 10, at=at(D2, 13, 30))
    return sub


def sent(rows: list[espkit.DeliveryStats]) -> list[int | None]:
    return [r.sent for r in rows]


# -- every scope --------------------------------------------------------------------------------


def test_the_account_sees_every_record_and_zeros_where_nothing_was_sent(
        acct: espkit.Account, world: str) -> None:
    before = requests_made(acct)
    rows = acct.stats.delivery(D1, D3)
    assert requests_made(acct) == before + 1
    assert [r.period for r in rows] == [at(D1), at(D2), at(D3)]
    assert sent(rows) == [100, 60, 0]
    first = rows[0]
    assert (first.delivered, first.bounced_hard, first.bounced_soft, first.complained,
            first.deferred) == (92, 5, 3, 1, 7)  # delivered: what did not bounce
    assert first.bounce_rate == pytest.approx(0.08)
    empty = rows[2]  # nothing recorded: nothing sent, so zeros, not "unknown"
    assert (empty.sent, empty.delivered, empty.bounced_hard, empty.bounced_soft,
            empty.complained, empty.deferred) == (0, 0, 0, 0, 0, 0)
    assert all((r.provider, r.scope, r.target, r.resolution)
               == ("sandbox", StatsScope.ACCOUNT, None, Resolution.DAY) for r in rows)


@pytest.mark.parametrize(("scope", "target", "expected"), [
    ("domain", MAIN, [100, 10, 0]),
    ("domain", SUBDOM, [0, 50, 0]),
    ("ip", IP1, [100, 0, 0]),
    ("ip", IP2, [0, 50, 0]),
    ("pool", POOL, [100, 0, 0]),
])
def test_each_scope_filters_its_records(acct: espkit.Account, world: str, scope: str,
                                        target: str, expected: list[int]) -> None:
    rows = acct.stats.delivery(D1, D3, **{scope: target})
    assert sent(rows) == expected
    assert all((r.scope, r.target) == (StatsScope(scope), target) for r in rows)


def test_a_subaccount_sees_its_own_records(acct: espkit.Account, world: str) -> None:
    assert sent(acct.stats.delivery(D1, D3, subaccount=world)) == [0, 50, 0]
    scoped = acct.on_behalf_of(world)
    assert sent(scoped.stats.delivery(D1, D3)) == [0, 50, 0]
    assert sent(scoped.stats.delivery(D1, D3, subaccount=world)) == [0, 50, 0]
    with pytest.raises(NotFound):  # the main account's domain, unseen from here
        scoped.stats.delivery(D1, D3, domain=MAIN)
    other = acct.subaccounts.create("customer-2").id
    with pytest.raises(espkit.AuthError):
        scoped.stats.delivery(D1, D3, subaccount=other)


@pytest.mark.parametrize(("scope", "target"), [
    ("domain", "unknown.example"), ("pool", "nobody"), ("ip", "192.0.2.1"),
    ("subaccount", "sub_0000"),
])
def test_a_target_the_sandbox_never_heard_of_is_not_found(acct: espkit.Account, world: str,
                                                          scope: str, target: str) -> None:
    with pytest.raises(NotFound):
        acct.stats.delivery(D1, D3, **{scope: target})


def test_figures_outlive_their_domain(acct: espkit.Account, world: str) -> None:
    acct.domains.delete(MAIN)
    assert sent(acct.stats.delivery(D1, D3, domain=MAIN)) == [100, 10, 0]


# -- every resolution ---------------------------------------------------------------------------


def test_hours(acct: espkit.Account, world: str) -> None:
    rows = acct.stats.delivery(D2, D3, resolution="hour")
    assert len(rows) == 48
    assert [r.period for r in rows] == [at(D2) + timedelta(hours=h) for h in range(48)]
    by_hour = {r.period: r.sent for r in rows if r.sent}
    assert by_hour == {at(D2): 50, at(D2, 13): 10}  # a day is counted at its 00:00


def test_months_sum_only_the_days_in_the_range(acct: espkit.Account,
                                               clock: FakeClock) -> None:
    clock.advance(45 * DAY)  # Feb 15
    p = sandbox(acct)
    p.record_sends(MAIN, 1, at=at(date(2025, 12, 14), 23, 59, 59))  # before since
    p.record_sends(MAIN, 2, at=date(2025, 12, 15))  # since's first second
    p.record_sends(MAIN, 4, at=date(2026, 1, 9))
    p.record_sends(MAIN, 8, at=at(date(2026, 1, 10), 23, 59, 59))  # until's last second
    p.record_sends(MAIN, 16, at=date(2026, 1, 11))  # after until
    rows = acct.stats.delivery("2025-12-15", "2026-01-10", resolution="month")
    assert [r.period for r in rows] == [at(date(2025, 12, 1)), at(date(2026, 1, 1))]
    assert sent(rows) == [2, 12]
    days = acct.stats.delivery("2025-12-14", "2026-01-11")
    assert sum(r.sent or 0 for r in days) == 31
    assert (days[0].sent, days[-1].sent) == (1, 16)


def test_a_long_range_pages_lazily(acct: espkit.Account, clock: FakeClock) -> None:
    clock.advance(40 * DAY)
    sandbox(acct).record_sends(MAIN, 3, at=at(date(2026, 1, 31), 23))
    span = MAX_SPAN_DAYS[Resolution.HOUR]
    q = query(D1, D1 + timedelta(days=span - 1), resolution="hour")
    before = requests_made(acct)
    rows = acct.provider.delivery_stats(q)
    assert requests_made(acct) == before  # nothing asked until read
    assert next(rows).period == at(D1)
    assert requests_made(acct) == before + 1
    rest = list(rows)
    assert len(rest) + 1 == span * 24 == 744
    assert requests_made(acct) == before + math.ceil(744 / MAX_PAGE)
    assert (rest[-1].period, rest[-1].sent) == (at(date(2026, 1, 31), 23), 3)
    periods = [r.period for r in rest]
    assert periods == sorted(set(periods))


# -- the server's own checks ----------------------------------------------------------------------


def get_stats(em: Emulator, q: str) -> tuple[int, Any]:
    reply = em.exchange("GET", "/v1/stats", q, {"Authorization": "Bearer k"}, None)
    return reply.status, json.loads(reply.body)


@pytest.mark.parametrize(("resolution", "days"), [("hour", 31), ("day", 366),
                                                  ("month", 3660)])
def test_the_span_limit_is_the_account_layers(acct: espkit.Account, resolution: str,
                                              days: int) -> None:
    assert sends.MAX_SPAN_DAYS[resolution] == MAX_SPAN_DAYS[Resolution(resolution)] == days
    em = sandbox(acct).emulator
    until = D1 + timedelta(days=days - 1)
    ok = f"since=2026-01-01&until={until}&resolution={resolution}&limit=1"
    assert get_stats(em, ok)[0] == 200
    over = f"since=2025-12-31&until={until}&resolution={resolution}&limit=1"
    assert get_stats(em, over)[0] == 400


@pytest.mark.parametrize("q", [
    "until=2026-01-02", "since=2026-01-01", "since=2026-1-1&until=2026-01-02",
    "since=2026-01-02&until=2026-01-01", "since=2026-01-01&until=2026-01-02&resolution=week",
    "since=2026-01-01&until=2026-01-02&scope=country&target=fr",
    "since=2026-01-01&until=2026-01-02&scope=domain",
    "since=2026-01-01&until=2026-01-02&target=news.acme.example",
    "since=2026-01-01&until=2026-01-02&scope=ip&target=nope",
    "since=2026-01-01&until=2026-01-02&scope=domain&target=bad..name",
    "since=2026-01-01&until=2026-01-02&domain=news.acme.example",
    "since=2026-01-01&until=2026-01-02&limit=0", "since=2026-01-01&until=2026-01-02&limit=101",
    "since=2026-01-01&until=2026-01-02&cursor=%%%",
])
def test_a_bad_query_is_a_400(acct: espkit.Account, q: str) -> None:
    status, body = get_stats(sandbox(acct).emulator, q)
    assert (status, body["error"]["code"]) == (400, "invalid_request")


def test_the_server_pages_by_cursor(acct: espkit.Account) -> None:
    em = sandbox(acct).emulator
    assert calls.MAX_PAGE == MAX_PAGE  # app's listings and these page alike
    _, body = get_stats(em, "since=2026-01-01&until=2026-01-05&limit=2")
    assert [r["period"][:10] for r in body["items"]] == ["2026-01-01", "2026-01-02"]
    cursor = body["next_cursor"]
    _, body = get_stats(em, f"since=2026-01-01&until=2026-01-05&limit=3&cursor={cursor}")
    assert [r["period"][:10] for r in body["items"]] == ["2026-01-03", "2026-01-04",
                                                         "2026-01-05"]
    assert body["next_cursor"] is None


# -- narrowed like= an ESP ------------------------------------------------------------------------


@pytest.mark.parametrize("like", [n for n in espkit.providers.names() if n != "sandbox"])
def test_a_like_sandbox_filters_by_the_models_scopes_only(clock: FakeClock, like: str) -> None:
    model = espkit.providers.get(like)
    narrowed = SandboxProvider.narrowed(like)
    assert narrowed.STATS_SCOPES == model.STATS_SCOPES  # the sandbox has all five
    with espkit.connect("sandbox", path=":memory:", clock=clock, like=like) as a:
        if espkit.Capability.DELIVERY_STATS not in model.SUPPORTS:
            with pytest.raises(Unsupported) as info:
                a.stats.delivery(D1, D1)
            assert info.value.hint == model.HINTS[espkit.Capability.DELIVERY_STATS]
            return
        for scope in StatsScope:
            target = {"account": {}, "domain": {"domain": MAIN}, "ip": {"ip": IP1},
                      "pool": {"pool": POOL}, "subaccount": {"subaccount": "sub_1"}}[scope]
            if scope in model.STATS_SCOPES:
                continue  # reaching the sandbox is test_supports_truth's
            before = len(sandbox(a).emulator.history)
            with pytest.raises(Unsupported):
                a.stats.delivery(D1, D1, **target)
            assert len(sandbox(a).emulator.history) == before


# -- record_sends: every bound, both sides ------------------------------------------------------


def record(acct: espkit.Account, sent_: Any = 10, **kw: Any) -> dict[str, Any]:
    return sandbox(acct).record_sends(MAIN, sent_, **kw)


@pytest.mark.parametrize(("sent_", "ok"), [
    (-1, False), (0, True), (sends.MAX_SENT, True), (sends.MAX_SENT + 1, False),
    (True, False), (1.0, False), ("1", False), (None, False),
])
def test_sent_is_a_whole_number_within_bounds(acct: espkit.Account, sent_: Any,
                                              ok: bool) -> None:
    if ok:
        assert record(acct, sent_)["sent"] == sent_
    else:
        with pytest.raises(ValidationError, match="sent"):
            record(acct, sent_)


@pytest.mark.parametrize(("figures", "ok"), [
    ({"delivered": 10}, True), ({"delivered": 11}, False), ({"delivered": -1}, False),
    ({"bounced_hard": 10, "delivered": 0}, True), ({"bounced_hard": 11}, False),
    ({"bounced_hard": 4, "delivered": 6}, True), ({"bounced_hard": 4, "delivered": 7}, False),
    ({"bounced_soft": 3, "bounced_hard": 7}, True),
    ({"bounced_soft": 4, "bounced_hard": 7}, False),
    ({"complained": 10}, True), ({"complained": 11}, False),
    ({"delivered": 5, "complained": 5}, True), ({"delivered": 5, "complained": 6}, False),
    ({"deferred": 10}, True), ({"deferred": 11}, False), ({"deferred": True}, False),
    ({"complained": 1.0}, False),
])
def test_figures_fit_what_was_sent(acct: espkit.Account, figures: dict[str, Any],
                                   ok: bool) -> None:
    if ok:
        got = record(acct, 10, **figures)
        assert all(got[k] == v for k, v in figures.items())
    else:
        with pytest.raises(ValidationError):
            record(acct, 10, **figures)


@pytest.mark.parametrize(("rates", "expected"), [
    ({"bounced_hard": 0}, 0), ({"bounced_hard": 1}, 10), ({"bounced_hard": 0.25}, 3),
    ({"bounced_hard": 0.24}, 2), ({"bounced_hard": 1.0000001}, None),
    ({"bounced_hard": -0.0001}, None), ({"bounced_hard": math.nan}, None),
    ({"bounced_hard": True}, None), ({"bounced_hard": "0.1"}, None), ({"speed": 0.1}, None),
])
def test_rates_are_shares_of_sent_rounded_half_up(acct: espkit.Account,
                                                  rates: dict[str, Any],
                                                  expected: int | None) -> None:
    if expected is None:
        with pytest.raises(ValidationError):
            record(acct, 10, rates=rates)
        return
    got = record(acct, 10, rates=rates)
    assert (got["bounced_hard"], got["delivered"]) == (expected, 10 - expected)


def test_a_figure_is_a_count_or_a_rate_not_both(acct: espkit.Account) -> None:
    with pytest.raises(ValidationError, match="both"):
        record(acct, 10, bounced_hard=1, rates={"bounced_hard": 0.1})
    with pytest.raises(ValidationError, match="rates"):
        record(acct, 10, rates=[("bounced_hard", 0.1)])


def test_a_moment_is_never_after_now(acct: espkit.Account, clock: FakeClock) -> None:
    clock.advance(DAY + 3600)  # Jan 2, 01:00
    now = datetime.fromtimestamp(clock.time(), UTC)
    assert record(acct, at=now)["at"] == now.isoformat()
    with pytest.raises(ValidationError, match="after now"):
        record(acct, at=now + timedelta(milliseconds=1))
    assert record(acct, at=D2)["at"] == "2026-01-02T00:00:00+00:00"
    with pytest.raises(ValidationError, match="after now"):
        record(acct, at=D3)
    assert record(acct)["at"] == now.isoformat()  # None: now
    assert record(acct, at="2026-01-01")["at"] == "2026-01-01T00:00:00+00:00"
    assert record(acct, at="2026-01-01T12:00:00+02:00")["at"] == "2026-01-01T10:00:00+00:00"
    for bad in (datetime(2026, 1, 1, 12), "2026-01-01T12:00:00", "yesterday", 1767225600):
        with pytest.raises(ValidationError, match="at"):
            record(acct, at=bad)


def test_where_it_was_sent_from_must_exist(acct: espkit.Account) -> None:
    sub = acct.subaccounts.create("customer-1").id
    with pytest.raises(ValidationError, match="domain"):
        sandbox(acct).record_sends("unknown.example", 1)
    with pytest.raises(ValidationError, match="domain"):
        sandbox(acct).record_sends("not a domain", 1)
    with pytest.raises(ValidationError, match="subaccount"):
        record(acct, subaccount=sub)  # MAIN is the main account's
    with pytest.raises(ValidationError, match="ip"):
        record(acct, ip="192.0.2.1")
    with pytest.raises(ValidationError, match="ip"):
        record(acct, ip="nope")
    with pytest.raises(ValidationError, match="pool"):
        record(acct, pool="nobody")
    with pytest.raises(ValidationError, match="pool"):
        record(acct, ip=IP2, pool=POOL)  # IP2 is in no pool
    assert record(acct, ip=IP1)["pool"] == POOL  # the IP's pool, by default
    assert record(acct, ip=IP1, pool=POOL)["pool"] == POOL
    assert record(acct, pool=POOL)["ip"] is None
    assert record(acct)["subaccount"] is None


def test_a_refused_record_leaves_nothing_and_no_record_is_a_request(
        acct: espkit.Account) -> None:
    before = requests_made(acct)
    record(acct, 5)
    with pytest.raises(ValidationError):
        record(acct, 5, ip="192.0.2.1")
    assert requests_made(acct) == before
    assert sent(acct.stats.delivery(D1, D1)) == [5]


def test_a_scoped_provider_records_for_its_subaccount(acct: espkit.Account) -> None:
    sub = acct.subaccounts.create("customer-1").id
    scoped = acct.on_behalf_of(sub)
    scoped.domains.create(SUBDOM)
    assert isinstance(scoped.provider, SandboxProvider)
    assert scoped.provider.record_sends(SUBDOM, 4)["subaccount"] == sub
    with pytest.raises(ValidationError, match="subaccount"):
        scoped.provider.record_sends(MAIN, 4)
    assert emulator(acct).record_sends(SUBDOM, 1, subaccount=sub)["sent"] == 1


def test_a_closed_sandbox_records_nothing(clock: FakeClock) -> None:
    acct = espkit.connect("sandbox", path=":memory:", clock=clock)
    em = sandbox(acct).emulator
    acct.close()
    with pytest.raises(ConfigError, match="closed"):
        em.record_sends(MAIN, 1)


COUNT = st.one_of(st.none(), st.integers(-2, 14), st.booleans(), st.floats(0, 14))


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(total=st.integers(-2, 12), delivered=COUNT, hard=COUNT, soft=COUNT, complained=COUNT,
       deferred=COUNT)
def test_any_figures_are_recorded_consistent_or_refused(
        acct: espkit.Account, total: int, delivered: Any, hard: Any, soft: Any,
        complained: Any, deferred: Any) -> None:
    try:
        got = record(acct, total, delivered=delivered, bounced_hard=hard, bounced_soft=soft,
                     complained=complained, deferred=deferred)
    except ValidationError:
        return
    assert all(type(got[f]) is int and got[f] >= 0 for f in ("sent", *sends.FIGURES))
    assert got["delivered"] + got["bounced_hard"] + got["bounced_soft"] <= got["sent"]
    assert got["complained"] <= got["delivered"]
    assert got["deferred"] <= got["sent"]
    for name, given_ in (("delivered", delivered), ("bounced_hard", hard),
                         ("bounced_soft", soft), ("complained", complained),
                         ("deferred", deferred)):
        if given_ is not None:
            assert got[name] == given_


# -- kept in the file, read like any ESP's answer -------------------------------------------------


def test_records_survive_reopening_the_file(tmp_path: Path, clock: FakeClock) -> None:
    path = str(tmp_path / "sandbox.db")
    with espkit.connect("sandbox", path=path, clock=clock) as a:
        a.domains.create(MAIN)
        clock.advance(DAY)
        sandbox(a).record_sends(MAIN, 7, at=D1, ip=IP1, bounced_soft=2)
    with espkit.connect("sandbox", path=path, clock=clock) as b:
        rows = b.stats.delivery(D1, D2, ip=IP1)
        assert [(r.sent, r.delivered, r.bounced_soft) for r in rows] == [(7, 5, 2), (0, 0, 0)]


def _answering(monkeypatch: pytest.MonkeyPatch, em: Emulator, items: list[Any]) -> None:
    body = json.dumps({"items": items, "next_cursor": None}).encode()

    def exchange(method: str, path: str, query: str, headers: Any, data: Any) -> Reply:
        return Reply(200, {"Content-Type": "application/json"}, body)

    monkeypatch.setattr(em, "exchange", exchange)


ROW = {"period": "2026-01-01T00:00:00+00:00", "sent": 3, "delivered": 2, "bounced_hard": 1,
       "bounced_soft": 0, "complained": 0, "deferred": 0}


@pytest.mark.parametrize("items", [
    [{**ROW, "sent": -1}], [{**ROW, "sent": True}], [{**ROW, "sent": "3"}],
    [{**ROW, "sent": 2**63}], [{**ROW, "delivered": None}],
    [{k: v for k, v in ROW.items() if k != "deferred"}],
    [{**ROW, "period": "2026-01-01T00:00:00"}], [{**ROW, "period": "2025-12-31T23:00:00Z"}],
    [{**ROW, "period": "2026-01-03T00:00:00+00:00"}], [{**ROW, "period": 1767225600}],
    [ROW, ROW], [{**ROW, "period": "2026-01-02T00:00:00+00:00"}, ROW], ["row"],
], ids=str)
def test_a_malformed_row_is_a_protocol_error(acct: espkit.Account, items: list[Any],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _answering(monkeypatch, sandbox(acct).emulator, items)
    with pytest.raises(ProtocolError):
        acct.stats.delivery(D1, D2)


def test_a_well_formed_answer_reads_back(acct: espkit.Account,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    late = {**ROW, "period": "2026-01-02T23:00:00+00:00", "sent": 2**63 - 1}
    _answering(monkeypatch, sandbox(acct).emulator, [ROW, late])
    rows = acct.stats.delivery(D1, D2)
    assert [r.period for r in rows] == [at(D1), at(D2, 23)]
    assert rows[1].sent == 2**63 - 1
