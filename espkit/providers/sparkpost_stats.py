"""SparkPost delivery figures from the Metrics API's time series. ``SparkPostProvider``
delegates ``delivery_stats`` here.

Source: "Time-Series Metrics" ``GET /v1/metrics/deliverability/time-series``,
https://developers.sparkpost.com/api/metrics/#metrics-get-time-series-metrics (the blueprint
``content/api/metrics.apib`` of github.com/SparkPost/developers.sparkpost.com at 88f24dc, the
commit ``../shared/specs/sparkpost`` was copied from; ``metrics.apib`` itself is not stored
there). What it says and what espkit does with it:

* ``from`` / ``to`` are ``YYYY-MM-DDTHH:MM``; ``to`` is the last day's 23:59, which the
  ``hour`` and ``day`` precisions round to 23:59:59 ("Precision Parameter"), so both asked
  days are whole. ``timezone=UTC`` is sent; ``day``, ``week`` and ``month`` are UTC anyway.
* ``precision`` ``hour`` / ``day`` / ``month`` is the period; ``hour`` allows a window of at
  most 31 days, which ``acct.stats`` already enforces (``MAX_SPAN_DAYS``).
* The filters are simple ones: a sending domain is ``sending_domains`` (``domains`` is the
  *recipient* domain), an IP ``sending_ips``, a pool ``ip_pools`` (the pool's id, resolved
  from its name through the pool listing), a subaccount ``subaccounts``.
* Subaccount scope: the ``subaccounts`` filter, not the ``X-MSYS-SUBACCOUNT`` header. The
  filter is what the endpoint documents for "metrics about individual subaccounts" ("Use the
  subaccount field ... or set it to 0 to get only the primary account's data"), it reads any
  subaccount with the primary account's key in one request, and ``0`` (the primary account
  alone) is a filter value with no header equivalent. A provider already acting for a
  subaccount (``acct.on_behalf_of``) sends its header on every request, so its account-scope
  figures are that subaccount's; asking it about another subaccount is refused before sending.
* The answer is ``{"results": [{"ts": ..., "count_...": n}]}``, one object per period, not
  paged. ``ts`` carries an offset ("2020-10-04T00:00:00-04:00" in the blueprint's example):
  a ``day`` or ``month`` period is the calendar day (month) the ``ts`` names, an ``hour`` the
  UTC hour it falls in.

Figures: ``sent`` is ``count_sent`` ("attempted to deliver, ... both Deliveries and Bounces"),
``delivered`` ``count_delivered``, ``bounced_hard`` / ``bounced_soft`` ``count_hard_bounce`` /
``count_soft_bounce``, ``complained`` ``count_spam_complaint``, ``deferred`` ``count_delayed``
("delays due to any temporary failure": attempts, not messages). SparkPost also classes
bounces as block, admin and undetermined: those (and the total, ``count_bounce``) are asked
for too and kept in ``raw``, so hard + soft may be less than SparkPost's total. A figure
missing from a period's object is None; a period SparkPost returns no object for is a row of
None figures (it reported nothing for it, which espkit does not read as 0).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timezone
from typing import TYPE_CHECKING, Any

from espkit.errors import ValidationError
from espkit.models import DeliveryStats, Resolution, StatsQuery, StatsScope
from espkit.providers import payload as pl

if TYPE_CHECKING:
    from espkit.providers.sparkpost import SparkPostProvider

Json = dict[str, Any]
PATH = "/metrics/deliverability/time-series"
PRECISION = {Resolution.HOUR: "hour", Resolution.DAY: "day", Resolution.MONTH: "month"}
#: DeliveryStats field -> SparkPost metric
FIGURES = {
    "sent": "count_sent",
    "delivered": "count_delivered",
    "bounced_hard": "count_hard_bounce",
    "bounced_soft": "count_soft_bounce",
    "complained": "count_spam_complaint",
    "deferred": "count_delayed",
}
#: asked for only to be kept in ``raw``: the bounces hard and soft do not cover
EXTRA = ("count_bounce", "count_block_bounce", "count_admin_bounce",
         "count_undetermined_bounce")
METRICS = (*FIGURES.values(), *EXTRA)
#: StatsScope -> the simple filter that selects it
FILTERS = {StatsScope.DOMAIN: "sending_domains", StatsScope.IP: "sending_ips",
           StatsScope.POOL: "ip_pools", StatsScope.SUBACCOUNT: "subaccounts"}


class SparkPostMetrics:
    """Delivery figures of one ``SparkPostProvider`` (one scope of the account)."""

    def __init__(self, provider: SparkPostProvider) -> None:
        self.p = provider

    def params(self, q: StatsQuery) -> list[tuple[str, Any]]:
        """The query of one time-series request for ``q`` (a pool is resolved to its id
        here, with the pool listing; every check is made before anything is sent)."""
        params: list[tuple[str, Any]] = [
            ("from", f"{q.since.isoformat()}T00:00"), ("to", f"{q.until.isoformat()}T23:59"),
            ("precision", PRECISION[q.resolution]), ("metrics", ",".join(METRICS)),
            ("timezone", "UTC"),
        ]
        if q.scope is StatsScope.ACCOUNT or q.target is None:
            return params
        value = q.target
        if q.scope is StatsScope.SUBACCOUNT:
            if not value.isascii() or not value.isdigit():
                raise ValidationError("subaccount", value, "SparkPost subaccount ids are "
                                                           "numbers")
            if self.p.subaccount is not None and value != self.p.subaccount:
                raise ValidationError("subaccount", value, f"this account handle acts for "
                                      f"subaccount {self.p.subaccount}; ask the primary "
                                      "account's handle about another one")
        elif q.scope is StatsScope.POOL:
            value = str(self.p.pools.find(value).id)
        if "," in value:  # the lists' delimiter: a pool id from an answer could hold one
            raise ValidationError(str(q.scope), value, "contains ',', the Metrics API's "
                                                       "list delimiter")
        return [*params, (FILTERS[q.scope], value)]

    def rows(self, q: StatsQuery) -> Iterator[DeliveryStats]:
        """One row per period from ``q.since`` to ``q.until``, oldest first, from one
        request (made now, so its errors surface at the call)."""
        params = self.params(q)
        response = self.p.transport.request("GET", PATH, params=params)
        found = self.p.read(response, lambda body: _periods(body, q), "GET", PATH)
        return iter([
            DeliveryStats(period, q.resolution, self.p.name, q.scope, q.target,
                          raw=found.get(period, {}),
                          **_figures(found.get(period, {})))
            for period in q.periods()
        ])


# -- periods ----------------------------------------------------------------------------------


def period_of(ts: Any, resolution: Resolution) -> datetime:
    """The period a ``ts`` belongs to: for ``hour`` the UTC hour it falls in; for ``day`` and
    ``month`` the day (month) it names, whatever its offset (SparkPost labels a period with
    its start in the zone it grouped by)."""
    text = pl.need_str(ts, "results[].ts")
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise pl.Malformed("results[].ts is not an ISO 8601 time") from None
    if resolution is Resolution.HOUR:
        try:
            stamp = stamp.astimezone(timezone.utc) if stamp.tzinfo is not None else stamp
        except OverflowError:  # an offset that moves it out of the years Python has
            raise pl.Malformed("results[].ts is out of range") from None
        return datetime(stamp.year, stamp.month, stamp.day, stamp.hour, tzinfo=timezone.utc)
    day = stamp.date()
    if resolution is Resolution.MONTH:
        day = date(day.year, day.month, 1)
    return datetime.combine(day, time(), timezone.utc)


def _periods(body: Any, q: StatsQuery) -> dict[datetime, Json]:
    """Period start -> its results object (one outside the asked periods is never read);
    two objects for one period make the answer ambiguous, so it is refused."""
    body = pl.need_obj(body, "the answer")
    found: dict[datetime, Json] = {}
    for index, row in enumerate(pl.objects(body.get("results"), "results", required=True)):
        period = period_of(row.get("ts"), q.resolution)
        if period in found:
            raise pl.Malformed(f"results[{index}] is a second object for the period of "
                               f"{period.isoformat()}")
        _figures(row)  # a figure of the wrong type is refused now, not when it is read
        for name in EXTRA:
            pl.opt_whole(row.get(name), f"results[].{name}")
        found[period] = row
    return found


def _figures(row: Json) -> dict[str, int | None]:
    return {field: pl.opt_whole(row.get(metric), f"results[].{metric}")
            for field, metric in FIGURES.items()}


__all__ = ["FIGURES", "FILTERS", "METRICS", "PATH", "SparkPostMetrics", "period_of"]
