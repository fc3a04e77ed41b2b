"""Mailgun delivery figures from its analytics metrics API, for one scope of an account.
``MailgunProvider`` delegates ``delivery_stats`` here.

Source: the official OpenAPI description (``../shared/specs/mailgun/openapi.yaml``):
``POST /v1/analytics/metrics`` with a JSON ``Query`` (schema
``github.com-mailgun-analytics-client-golang-Query``): ``start``/``end`` in RFC 2822,
``resolution`` (hour, day, month), ``dimensions``, ``metrics``, ``filter`` (``AND`` of
``{attribute, comparator, values: [{label, value}]}``; attributes ``FilterAttribute``),
``include_subaccounts``. The answer (``RegularMetricsResponse``) has one item per period:
its ``time`` dimension and its ``metrics``. ``duration`` is never sent: it would replace
``start``. Budget: 500 requests per 10 s (tag Metrics), declared in ``mailgun.py``.

Paging: the spec's ``Pagination`` schema (``skip``, ``limit``, ``total``) says "to get the
first page of data set skip to zero. Then increment the skip by the limit"; the request
schema omits ``pagination``, which Mailgun's own SDKs send (mailgun-go
``mtypes.MetricsRequest.Pagination``; mailgun-python's examples), so it is sent too. No sort
is sent: the spec's example answer shows the default, ``timestamp:asc``, and every row is
checked to come after the one before.

Scopes (``SCOPES``): the whole account, or a filter on ``domain``, ``ip``, ``ip_pool`` or
``subaccount``, the four ``FilterAttribute`` values espkit has a scope for. A subaccount is a
filter, not a request made on its behalf (``X-Mailgun-On-Behalf-Of``): the filter is in the
spec for this call, the header is not; it keeps the parent's key, limiter and budget; and it
is one request either way. ``include_subaccounts`` is always true: without it the parent
sees only its own mail, so a subaccount filter would find nothing and an IP or pool the
parent shares with its subaccounts would look emptier than it is; the account's figures
therefore include its subaccounts' mail.
"""

from __future__ import annotations

import email.utils
import functools
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

from espkit.models import DeliveryStats, Resolution, StatsQuery, StatsScope
from espkit.providers import payload as pl
from espkit.providers.mailgun_warmup import when

if TYPE_CHECKING:
    from espkit.providers.mailgun import MailgunProvider

Json = dict[str, Any]

PATH = "/v1/analytics/metrics"

#: DeliveryStats field <- Mailgun metric; the quotes are the spec's definitions
#: (schema ``github.com-mailgun-analytics-client-golang-Metric``, ``x-enumDescriptions``)
METRICS = {
    # "A count of all sent messages. This includes delivered and failed messages, but does
    # not include suppressed messages." Not accepted_outgoing_count: "Accepted events are
    # not associated to IP addresses", so it could not be read per IP or pool; not
    # processed_count, which counts suppressed messages Mailgun never tried to send.
    "sent": "sent_count",
    # "Mailgun sent the email and it was accepted by the recipient email server."
    "delivered": "delivered_count",
    # "a message that cannot be delivered ... due to an invalid recipient address or
    # non-existent mailbox"
    "bounced_hard": "hard_bounces_count",
    # "cannot be delivered ... due to a temporary delivery issue ... Mailgun treats soft
    # bounces as permanent failures" (not retried). Hard + soft is Mailgun's bounced_count.
    "bounced_soft": "soft_bounces_count",
    # "The email recipient clicked on the spam complaint button" (where the mailbox
    # provider sends feedback loops: Gmail does not)
    "complained": "complained_count",
    # "Mailgun could not deliver the email to the recipient email server, but will retry":
    # a deferral. It counts failed attempts, not messages.
    "deferred": "temporary_failed_count",
}

#: the filter attribute of each scope espkit can ask Mailgun for
FILTERS = {
    StatsScope.DOMAIN: "domain",
    StatsScope.IP: "ip",
    StatsScope.POOL: "ip_pool",
    StatsScope.SUBACCOUNT: "subaccount",
}
SCOPES = frozenset({StatsScope.ACCOUNT, *FILTERS})

_HOUR = timedelta(hours=1)


class Metrics:
    """Delivery figures of one ``MailgunProvider`` (one scope of the account)."""

    name = "mailgun"

    def __init__(self, provider: MailgunProvider) -> None:
        self.p = provider

    def rows(self, query: StatsQuery) -> Iterator[DeliveryStats]:
        """One row per period Mailgun reports, oldest first. A page asks for as many rows
        as the range has periods (at most 744: 31 days of hours), so one request reads
        it unless Mailgun pages shorter; then the next page starts where this one ended
        (``skip``), until the answer's ``total``, an empty page, or the last period. Each
        row comes after the one before and lies in the range, so however a server answers,
        there are at most as many pages as periods."""
        first, last = span(query)
        limit = periods(query.resolution, first, last)
        body: Json = {
            "start": email.utils.format_datetime(
                datetime.combine(query.since, time(), timezone.utc)),
            # the last second of the last day: whatever Mailgun does with the bound, the
            # day (or hour, or month) it is in is included, and the next is not
            "end": email.utils.format_datetime(
                datetime.combine(query.until, time(23, 59, 59), timezone.utc)),
            "resolution": query.resolution.value,
            "dimensions": ["time"],
            "metrics": list(METRICS.values()),
            "include_subaccounts": True,
        }
        scoped = self._filter(query)
        if scoped is not None:
            body["filter"] = scoped
        skip = 0
        previous: datetime | None = None
        while True:
            body["pagination"] = {"skip": skip, "limit": limit}
            decode = functools.partial(_page, query=query, first=first, last=last,
                                       previous=previous)
            # a read, though a POST: safe to send again
            items, total = self.p.call("POST", PATH, decode, json=dict(body), idempotent=True)
            yield from items
            skip += len(items)
            if items:
                previous = items[-1].period
            # Without a total (the spec requires one) a short page may still be Mailgun
            # paging shorter than asked: read on to an empty page rather than guess
            if not items or previous == last or (total is not None and skip >= total):
                return

    def _filter(self, query: StatsQuery) -> Json | None:
        attribute = FILTERS.get(query.scope)
        if attribute is None or query.target is None:
            return None
        value = label = query.target
        if query.scope is StatsScope.POOL:
            # Mailgun keys a DIPP by its pool_id everywhere and labels it with its name;
            # users name pools (read from the run's listing, or one request)
            value = self.p.dipps.find(query.target).id or query.target
        return {"AND": [{"attribute": attribute, "comparator": "=",
                         "values": [{"label": label, "value": value}]}]}


# -- periods --------------------------------------------------------------------------------


def span(query: StatsQuery) -> tuple[datetime, datetime]:
    """The start of the first and of the last period of ``query`` (UTC)."""
    res = query.resolution
    first = _start(query.since, res)
    last = _start(query.until, res)
    if res is Resolution.HOUR:
        last += 23 * _HOUR
    return first, last


def _start(day: date, res: Resolution) -> datetime:
    if res is Resolution.MONTH:
        day = day.replace(day=1)
    return datetime.combine(day, time(), timezone.utc)


def periods(res: Resolution, first: datetime, last: datetime) -> int:
    """How many periods of ``res`` from ``first`` to ``last``, both included."""
    if res is Resolution.MONTH:
        return (last.year - first.year) * 12 + last.month - first.month + 1
    step = _HOUR if res is Resolution.HOUR else timedelta(days=1)
    return (last - first) // step + 1


def _aligned(moment: datetime, res: Resolution) -> bool:
    if moment.minute or moment.second or moment.microsecond:
        return False
    if res is Resolution.HOUR:
        return True
    return moment.hour == 0 and (res is Resolution.DAY or moment.day == 1)


# -- answers --------------------------------------------------------------------------------


def _page(body: Any, query: StatsQuery, first: datetime, last: datetime,
          previous: datetime | None) -> tuple[list[DeliveryStats], int | None]:
    """The rows of one answer and its ``pagination.total``. Each row must be for a period
    of the query, at its start, and after the row before (the last page's included): a
    server repeating or reordering pages is refused rather than read twice."""
    body = pl.need_obj(body, "the answer")
    answered = body.get("resolution")
    if answered is not None and answered != query.resolution.value:
        raise pl.Malformed("the answer is at another resolution than the one asked for")
    total = pl.opt_whole(pl.opt_obj(body.get("pagination"), "pagination").get("total"),
                         "pagination.total")
    rows = []
    for item in pl.objects(body.get("items"), "items", required=True):
        row = _row(item, query)
        if not first <= row.period <= last:
            raise pl.Malformed("an item is for a period outside the one asked for")
        if previous is not None and row.period <= previous:
            raise pl.Malformed("the items are out of order, or repeat an earlier period")
        previous = row.period
        rows.append(row)
    return rows, total


def _row(item: Json, query: StatsQuery) -> DeliveryStats:
    times = [d for d in pl.objects(item.get("dimensions"), "items[].dimensions",
                                   required=True) if d.get("dimension") == "time"]
    if len(times) != 1:
        raise pl.Malformed("an item does not have exactly one time dimension")
    raw_time = pl.need_str(times[0].get("value"), "items[].dimensions[time].value")
    period = when(raw_time)
    if period is None:
        raise pl.Malformed("an item's time is not an RFC 2822 date")
    if not _aligned(period, query.resolution):
        raise pl.Malformed(f"an item's time is not the start of a UTC {query.resolution}")
    metrics = pl.opt_obj(item.get("metrics"), "items[].metrics")
    # a metric missing (or null: the spec types each as integer or null) is not reported
    figures = {field: pl.opt_whole(metrics.get(name), f"items[].metrics.{name}")
               for field, name in METRICS.items()}
    return DeliveryStats(period=period, resolution=query.resolution, provider=Metrics.name,
                         scope=query.scope, target=query.target, raw=item, **figures)


__all__ = ["FILTERS", "METRICS", "SCOPES", "Metrics", "periods", "span"]
