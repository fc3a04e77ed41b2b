"""Amazon SES v2 delivery figures from ``BatchGetMetricData`` (Virtual Deliverability Manager's
metrics). ``SesProvider`` delegates ``delivery_stats`` here.

Source: the botocore SES v2 model (``botocore/data/sesv2/2019-09-27/service-2.json``) and
https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_BatchGetMetricData.html:

* a request holds 1 to 10 ``Queries`` (``BatchGetMetricDataQueries`` min 1, max 10), each one
  ``Metric`` of namespace ``VDM`` from ``StartDate`` to ``EndDate``, optionally filtered by
  ``Dimensions`` (``EMAIL_IDENTITY``, ``CONFIGURATION_SET``, ``ISP``, ``TENANT_NAME``);
* the answer's ``Results`` give, per query ``Id``, ``Timestamps`` and ``Values`` ("cumulative /
  sum"), and its ``Errors`` the queries that failed (``ACCESS_DENIED``, ``INTERNAL_FAILURE``).

What espkit reads: ``sent`` = ``SEND``, ``delivered`` = ``DELIVERY``, ``bounced_hard`` =
``PERMANENT_BOUNCE``, ``bounced_soft`` = ``TRANSIENT_BOUNCE``, ``complained`` = ``COMPLAINT``;
the model has no delay metric, so ``deferred`` is None. The metrics count what VDM tracks
(not mail to the mailbox simulator, nor messages to more than one recipient), and VDM must be
on for the account (``PutAccountVdmAttributes``).

Decisions, where neither the model nor the reference says:

* **Per day.** VDM's metrics are daily; nothing offers hours, so ``hour`` is ``Unsupported``
  before anything is sent, and a ``month`` row is the sum of its days (None for a figure SES
  reported on no day of it).
* **At most 30 days a query.** The reference gives ``BatchGetMetricData`` no limit on the
  span; SES's other deliverability statistics (``GetDomainStatisticsReport``,
  ``ListDomainDeliverabilityCampaigns``) take "less than or equal to 30 days". Longer spans
  are split into 30-day parts, and two parts share one request (2 x 5 metrics = the 10
  queries a request may hold): 60 days a request, so a year is 7 requests. Requests are made
  one at a time as the rows are read.
* **Scopes: the account and a domain.** A domain is its ``EMAIL_IDENTITY`` (mail sent through
  an address identity at that domain is not counted). Not by pool: a configuration set is
  not a pool (a pool may be reached through several sets, and a set's pool may change within
  the days asked), so the figures of espkit's ``<prefix><pool>`` set would look like the
  pool's without being them. Not by IP or subaccount: there is no such dimension (tenants are
  not in espkit yet).

A day SES returns no value for is None, never 0, and a value for a day its query did not ask
about is left out. Two values of a metric for one day, a result for a query that was not sent,
or lists of different lengths make the answer ambiguous: refused.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

from espkit.errors import AuthError, EspError, ServerError, Unsupported
from espkit.models import Capability, DeliveryStats, Resolution, StatsQuery, StatsScope
from espkit.providers import payload as pl
from espkit.transport import scrub_text

if TYPE_CHECKING:
    from espkit.providers.ses import SesProvider

Json = dict[str, Any]
OPERATION = "BatchGetMetricData"
#: DeliveryStats field -> VDM metric
FIGURES = {"sent": "SEND", "delivered": "DELIVERY", "bounced_hard": "PERMANENT_BOUNCE",
           "bounced_soft": "TRANSIENT_BOUNCE", "complained": "COMPLAINT"}
#: the most queries one request holds (BatchGetMetricDataQueries max)
MAX_QUERIES = 10
#: the longest span one query covers (see the module's docstring)
SPAN_DAYS = 30
#: spans per request
PARTS_PER_REQUEST = MAX_QUERIES // len(FIGURES)
SCOPES = frozenset({StatsScope.ACCOUNT, StatsScope.DOMAIN})

Part = tuple[date, date]


def parts(since: date, until: date) -> list[Part]:
    """``since`` to ``until`` (inclusive) in spans of at most ``SPAN_DAYS`` days."""
    out = []
    start = since
    while start <= until:
        end = min(start + timedelta(days=SPAN_DAYS - 1), until)
        out.append((start, end))
        start = end + timedelta(days=1)
    return out


def requests(since: date, until: date) -> list[list[Part]]:
    """The parts each request asks for, in order."""
    spans = parts(since, until)
    return [spans[i:i + PARTS_PER_REQUEST] for i in range(0, len(spans), PARTS_PER_REQUEST)]


class SesMetrics:
    """Delivery figures of one ``SesProvider``."""

    def __init__(self, provider: SesProvider) -> None:
        self.p = provider

    def rows(self, q: StatsQuery) -> Iterator[DeliveryStats]:
        """Rows oldest first; checked now, read lazily (one request per 60 days)."""
        if q.resolution is Resolution.HOUR:
            raise Unsupported(self.p.name, f"{Capability.DELIVERY_STATS} per hour",
                              "SES's BatchGetMetricData reports whole days: ask for "
                              "resolution='day' or 'month'")
        if q.scope not in SCOPES:  # the account layer checks STATS_SCOPES first
            raise self.p.unsupported(Capability.DELIVERY_STATS)
        days = self._days(q)
        if q.resolution is Resolution.DAY:
            return (self._row(q, datetime.combine(day, time(), timezone.utc), figures)
                    for day, figures in days)
        return (self._row(q, datetime(year, month, 1, tzinfo=timezone.utc), _sum(group))
                for (year, month), group in itertools.groupby(
                    days, key=lambda d: (d[0].year, d[0].month)))

    def _row(self, q: StatsQuery, period: datetime, figures: Json) -> DeliveryStats:
        return DeliveryStats(period, q.resolution, self.p.name, q.scope, q.target,
                             raw=figures, deferred=None,
                             **{field: figures.get(metric) for field, metric in FIGURES.items()})

    def _days(self, q: StatsQuery) -> Iterator[tuple[date, Json]]:
        """Every day from ``q.since`` to ``q.until`` with what SES reported for it (metric ->
        value), one request per ``PARTS_PER_REQUEST`` parts."""
        dimensions = ({"EMAIL_IDENTITY": q.target}
                      if q.scope is StatsScope.DOMAIN and q.target else None)
        for group in requests(q.since, q.until):
            queries = _queries(group, dimensions)
            found = self.p._call(OPERATION, _reader(queries), idempotent=True,
                                 Queries=list(queries.values()))
            for start, end in group:
                for n in range((end - start).days + 1):
                    day = start + timedelta(days=n)
                    yield day, found.get(day, {})


def _queries(group: list[Part], dimensions: dict[str, str] | None) -> dict[str, Json]:
    """Query id -> query, for every metric over every part of one request."""
    out: dict[str, Json] = {}
    for index, (start, end) in enumerate(group):
        for metric in FIGURES.values():
            query: Json = {
                "Id": f"{metric.lower()}_{index}", "Namespace": "VDM", "Metric": metric,
                "StartDate": datetime.combine(start, time(), timezone.utc),
                # the last second of the last day: whole days however SES reads the bound
                "EndDate": datetime.combine(end, time(23, 59, 59), timezone.utc),
            }
            if dimensions:
                query["Dimensions"] = dict(dimensions)
            out[query["Id"]] = query
    return out


def _day(value: Any, what: str) -> date:
    """The UTC day of a timestamp botocore parsed (an aware datetime; naive is UTC)."""
    if not isinstance(value, datetime):
        raise pl.Malformed(f"{what} is {pl.kind(value)}, not a time")
    try:
        return (value.astimezone(timezone.utc) if value.tzinfo else value).date()
    except OverflowError:
        raise pl.Malformed(f"{what} is out of range") from None


def _reader(queries: dict[str, Json]) -> Callable[[Json], dict[date, Json]]:
    return lambda body: _read(body, queries)


def _read(body: Json, queries: dict[str, Json]) -> dict[date, Json]:
    """Day -> metric -> value, from one answer; a query SES failed is raised."""
    errors = pl.objects(body.get("Errors"), "Errors")
    if errors:  # a figure SES failed to read is an error, not a None that looks reported
        raise _query_error(errors[0], queries)
    found: dict[date, Json] = {}
    for index, result in enumerate(pl.objects(body.get("Results"), "Results")):
        where = f"Results[{index}]"
        qid = pl.need_str(result.get("Id"), f"{where}.Id")
        if qid not in queries:
            raise pl.Malformed(f"{where}.Id names no query that was sent")
        stamps = result.get("Timestamps")
        values = result.get("Values")
        stamps = [] if stamps is None else stamps
        values = [] if values is None else values
        if not isinstance(stamps, list) or not isinstance(values, list):
            raise pl.Malformed(f"{where}.Timestamps and .Values are not lists")
        if len(stamps) != len(values):
            raise pl.Malformed(f"{where} has {len(stamps)} timestamps and {len(values)} values")
        metric = str(queries[qid]["Metric"])
        first = queries[qid]["StartDate"].date()
        last = queries[qid]["EndDate"].date()
        for n, (stamp, value) in enumerate(zip(stamps, values, strict=True)):
            day = _day(stamp, f"{where}.Timestamps[{n}]")
            count = pl.whole(value, f"{where}.Values[{n}]")
            if not first <= day <= last:
                continue  # a day this query did not ask about
            figures = found.setdefault(day, {})
            if metric in figures:
                raise pl.Malformed(f"{where} has two values for {day.isoformat()}")
            figures[metric] = count
    return found


def _query_error(err: Json, queries: dict[str, Json]) -> EspError:
    code = pl.str_or_none(err.get("Code")) or "unknown"
    qid = pl.str_or_none(err.get("Id"))
    metric = queries[qid]["Metric"] if qid in queries else "a metric"
    message = scrub_text(pl.str_or_none(err.get("Message")) or "", (), 300)
    text = f"SES could not read {metric} ({code}): {message}".rstrip(": ")
    cls: type[EspError] = {"ACCESS_DENIED": AuthError,
                           "INTERNAL_FAILURE": ServerError}.get(code, EspError)
    return cls(text, provider="ses", code=scrub_text(code, (), 64), method=OPERATION)


def _sum(days: Iterable[tuple[date, Json]]) -> Json:
    """A month's figures: per metric, the sum of the days SES reported it on (None if none)."""
    total: Json = {}
    for _, figures in days:
        for metric, value in figures.items():
            total[metric] = total.get(metric, 0) + value
    return total


__all__ = ["FIGURES", "MAX_QUERIES", "PARTS_PER_REQUEST", "SCOPES", "SPAN_DAYS", "SesMetrics",
           "parts", "requests"]
