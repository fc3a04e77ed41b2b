"""``acct.stats.delivery``: every argument checked before a request is sent (counted at the
sandbox), the span limits on both sides, and a scope the ESP cannot filter by refused."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

import espkit
from espkit.account.stats import MAX_SPAN_DAYS, query
from espkit.errors import Unsupported, ValidationError
from espkit.models import Resolution, StatsScope

D = date(2026, 3, 1)


def sent(acct: espkit.Account) -> int:
    return len(acct.provider.emulator.history)  # type: ignore[attr-defined]


@pytest.mark.parametrize("res", list(Resolution))
def test_the_longest_span_is_allowed_and_one_day_more_is_not(res: Resolution) -> None:
    longest = MAX_SPAN_DAYS[res]
    assert query(D, D + timedelta(days=longest - 1), resolution=res).until == \
        D + timedelta(days=longest - 1)
    with pytest.raises(ValidationError, match=f"more than {longest}"):
        query(D, D + timedelta(days=longest), resolution=res)


def test_days_as_text_and_as_dates_and_one_day() -> None:
    q = query("2026-03-01", date(2026, 3, 1))
    assert (q.since, q.until, q.scope, q.target) == (D, D, StatsScope.ACCOUNT, None)


@pytest.mark.parametrize(("since", "until", "field"), [
    (D, D - timedelta(days=1), "until"),
    (datetime(2026, 3, 1, 12), D, "since"),
    (D, "2026-02-30", "until"),
    ("yesterday", D, "since"),
    (20260301, D, "since"),
])
def test_bad_days_are_refused_naming_the_field(since: object, until: object,
                                               field: str) -> None:
    with pytest.raises(ValidationError) as info:
        query(since, until)
    assert info.value.field == field


def test_one_scope_at_most_and_each_is_checked() -> None:
    with pytest.raises(ValidationError, match="one of"):
        query(D, D, domain="a.example", ip="192.0.2.1")
    with pytest.raises(ValidationError):
        query(D, D, domain="not a domain")
    with pytest.raises(ValidationError):
        query(D, D, ip="999.0.0.1")
    with pytest.raises(ValidationError):
        query(D, D, resolution="week")
    assert query(D, D, ip="192.0.2.1").target == "192.0.2.1"
    assert query(D, D, domain="News.Example").target == "news.example"
    assert query(D, D, pool="mkt").scope is StatsScope.POOL
    assert query(D, D, subaccount="sub-1").scope is StatsScope.SUBACCOUNT


def test_mistakes_and_unsupported_scopes_send_nothing() -> None:
    with espkit.connect("sandbox", path=":memory:", like="sendgrid") as acct:
        before = sent(acct)
        with pytest.raises(ValidationError):
            acct.stats.delivery(D, D - timedelta(days=1))
        with pytest.raises(Unsupported, match="by ip") as info:
            acct.stats.delivery(D, D, ip="192.0.2.1")  # SendGrid reports by subuser only
        assert "account" in info.value.hint
        assert sent(acct) == before
        rows = acct.stats.delivery(D, D + timedelta(days=1))
        assert sent(acct) == before + 1
        assert [r.period.date() for r in rows] == [D, D + timedelta(days=1)]


def test_an_esp_without_stats_says_so_before_sending() -> None:
    with espkit.connect("sandbox", path=":memory:", like="postmark") as acct:
        before = sent(acct)
        with pytest.raises(Unsupported):
            acct.stats.delivery(D, D, ip="192.0.2.1")
        assert sent(acct) == before
