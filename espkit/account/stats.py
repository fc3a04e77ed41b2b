"""``acct.stats``: delivery figures (sent, delivered, bounced, complained, deferred) per
period, for the account or one domain, subaccount, IP or pool, from the ESP's own statistics
API. Warming an IP up, and deciding whether to go faster or stop, reads these.

Every argument is checked here, before anything is sent: the days, the one scope, the
resolution, and that the ESP can filter by that scope (``Unsupported`` naming it if not).
"""

from __future__ import annotations

from datetime import date, datetime

from espkit import validate
from espkit.account.manager import Manager, subaccount_id
from espkit.errors import Unsupported, ValidationError
from espkit.models import Capability, DeliveryStats, Resolution, StatsQuery, StatsScope, Subaccount

#: the longest span one call reads, per resolution (days): a year of days, a month of hours
MAX_SPAN_DAYS = {Resolution.HOUR: 31, Resolution.DAY: 366, Resolution.MONTH: 3660}


def day(field: str, value: object) -> date:
    """``value`` as a UTC day: a ``datetime.date`` or ``"YYYY-MM-DD"``; anything else (a
    ``datetime`` too) is a ``ValidationError`` naming ``field``."""
    # a datetime is a date too, but which day it falls on depends on a zone the caller has
    # not said; figures are per UTC day, so ask for the day itself
    if isinstance(value, datetime):
        raise ValidationError(field, value, "must be a day (datetime.date or 'YYYY-MM-DD'), "
                                            "not a time")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationError(field, value, "must be a day (datetime.date or 'YYYY-MM-DD')")


def query(
    since: object,
    until: object,
    *,
    domain: str | None = None,
    subaccount: str | Subaccount | None = None,
    ip: str | None = None,
    pool: str | None = None,
    resolution: Resolution | str = Resolution.DAY,
) -> StatsQuery:
    """The validated ``StatsQuery`` for ``acct.stats.delivery``'s arguments."""
    first, last = day("since", since), day("until", until)
    if last < first:
        raise ValidationError("until", last, f"is before since ({first.isoformat()})")
    try:
        res = Resolution(resolution)
    except ValueError:
        known = ", ".join(r.value for r in Resolution)
        raise ValidationError("resolution", resolution, f"must be one of: {known}") from None
    span = (last - first).days + 1
    if span > MAX_SPAN_DAYS[res]:
        raise ValidationError("until", last, f"{span} days at resolution {res} is more than "
                                             f"{MAX_SPAN_DAYS[res]}; ask in parts")
    given = {name: value for name, value in (("domain", domain), ("subaccount", subaccount),
                                              ("ip", ip), ("pool", pool)) if value is not None}
    if len(given) > 1:
        raise ValidationError(", ".join(given), tuple(given.values()),
                              "figures are filtered by one of domain, subaccount, ip, pool")
    if not given:
        return StatsQuery(first, last, StatsScope.ACCOUNT, None, res)
    (name, value), = given.items()
    if name == "domain":
        target = validate.domain_name(value)
    elif name == "ip":
        target = validate.ip_address(value)
    elif name == "pool":
        target = validate.pool_name(value)
    else:
        target = subaccount_id(value)
    return StatsQuery(first, last, StatsScope(name), target, res)


class Stats(Manager):
    """``acct.stats``: delivery figures from the ESP's statistics API."""

    def delivery(
        self,
        since: date | str,
        until: date | str,
        *,
        domain: str | None = None,
        subaccount: str | Subaccount | None = None,
        ip: str | None = None,
        pool: str | None = None,
        resolution: Resolution | str = Resolution.DAY,
    ) -> list[DeliveryStats]:
        """Rows from ``since`` to ``until`` (UTC days, both included), oldest first, one per
        period of ``resolution`` (``"hour"``, ``"day"``, ``"month"``), for the account or
        the one ``domain``, ``subaccount``, ``ip`` or ``pool`` given. A figure the ESP does
        not report is ``None``, never 0.

            rows = acct.stats.delivery("2026-12-01", "2026-12-07", ip="192.0.2.10")
            print(rows[-1].sent, rows[-1].bounce_rate)
        """
        self._require(Capability.DELIVERY_STATS)
        q = query(since, until, domain=domain, subaccount=subaccount, ip=ip, pool=pool,
                  resolution=resolution)
        if q.scope not in self._provider.STATS_SCOPES:
            scopes = ", ".join(sorted(s.value for s in self._provider.STATS_SCOPES))
            raise Unsupported(self._provider.name, f"{Capability.DELIVERY_STATS} by {q.scope}",
                              f"it reports figures by: {scopes or 'nothing'}")
        return list(self._provider.delivery_stats(q))


__all__ = ["MAX_SPAN_DAYS", "Stats", "day", "query"]
