"""Postmark's outbound statistics behind ``DeliveryStats``. ``PostmarkProvider`` delegates
here.

Source: Postmark's Stats API (https://postmarkapp.com/developer/api/stats-api) and the
official SDK ActiveCampaign/postmark.js (``src/client/ServerClient.ts`` getSentCounts,
getBounceCounts, getSpamComplaintsCounts; ``src/client/models/stats/Stats.ts``):

* ``GET /stats/outbound/sends`` -> ``{"Sent": n, "Days": [{"Date": "2014-01-01", "Sent": n}]}``
* ``GET /stats/outbound/bounces`` -> ``{..., "Days": [{"Date", "HardBounce", "SoftBounce",
  "SMTPApiError", "Transient"}]}``
* ``GET /stats/outbound/spam`` -> ``{"SpamComplaint": n, "Days": [{"Date", "SpamComplaint"}]}``

each with ``fromdate`` and ``todate`` (inclusive days). The stats belong to a *server* and
need its token (``X-Postmark-Server-Token``): a server's is read with the account token
(``GET /servers/{id}``: its ``ApiTokens``), as the streams calls do.

Scopes: a subaccount is a Postmark server (its figures: three requests, and one for its
token); the account is every server summed (one ``GET /servers`` page per 500 servers, then
three requests per server), or, on a provider acting for a server, that server. Postmark
cannot filter by sending domain, IP or pool (it filters by tag and message stream, which
espkit's scopes do not name).

Mapping: ``sent`` = Sent; ``bounced_hard`` = HardBounce; ``bounced_soft`` = SoftBounce;
``deferred`` = Transient (Postmark's bounce type "Message delayed": a temporary failure
reported while delivery is still tried); ``complained`` = SpamComplaint. SMTPApiError (a
message the API refused, never sent) is in ``raw`` only. ``delivered`` is None: Postmark's
stats do not count deliveries. Postmark lists only days that had traffic (its docs'
example skips a day) and leaves out a figure that is 0, so a day or figure it does not list
is 0 in an answer that was read. Days are Postmark's: "All stats use EST timezone"; the
``period`` is midnight UTC of the day Postmark names. Postmark has no hourly figures; a
month row is the sum of its days from ``since`` to ``until``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

from espkit.errors import AuthError, Unsupported, ValidationError
from espkit.models import Capability, DeliveryStats, Resolution, StatsQuery, StatsScope
from espkit.providers import payload as pl
from espkit.transport import Transport

if TYPE_CHECKING:
    from espkit.providers.postmark import PostmarkProvider

Json = dict[str, Any]
#: a day's figures as Postmark names them
Day = dict[str, int]

#: each endpoint read, and the figures taken from its days
ENDPOINTS = {
    "/stats/outbound/sends": ("Sent",),
    "/stats/outbound/bounces": ("HardBounce", "SoftBounce", "Transient", "SMTPApiError"),
    "/stats/outbound/spam": ("SpamComplaint",),
}
#: DeliveryStats field <- Postmark figure (``delivered``: not reported)
FIGURES = {"sent": "Sent", "bounced_hard": "HardBounce", "bounced_soft": "SoftBounce",
           "deferred": "Transient", "complained": "SpamComplaint"}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _days(body: Any, names: tuple[str, ...], since: date, until: date) -> dict[date, Day]:
    """An answer's ``Days``: each listed day's figures (a figure not listed is 0)."""
    body = pl.need_obj(body, "the answer")
    if "Days" not in body:
        raise pl.Malformed("the answer has no 'Days' list")
    out: dict[date, Day] = {}
    for entry in pl.objects(body["Days"], "Days"):
        text = pl.need_str(entry.get("Date"), "Days[].Date")
        try:
            day = date.fromisoformat(text) if _DAY.fullmatch(text) else None
        except ValueError:
            day = None
        if day is None:
            raise pl.Malformed("Days[].Date is not a day written YYYY-MM-DD")
        if not since <= day <= until:
            raise pl.Malformed(f"Days lists {text}, outside the days asked for")
        if day in out:
            raise pl.Malformed(f"Days lists {text} twice")
        out[day] = {name: pl.opt_whole(entry.get(name), f"Days[].{name}") or 0
                    for name in names}
    return out


class PostmarkStats:
    """The delivery figures of one ``PostmarkProvider`` (the account, or one server)."""

    def __init__(self, provider: PostmarkProvider) -> None:
        self.p = provider

    def rows(self, query: StatsQuery) -> Iterator[DeliveryStats]:
        """Checks the query now (``Unsupported`` / ``ValidationError`` before anything is
        sent); the figures are read when the first row is wanted."""
        if query.resolution is Resolution.HOUR:
            raise Unsupported(self.p.name, f"{Capability.DELIVERY_STATS} by hour",
                              "Postmark's stats API counts per day: ask for resolution='day' "
                              "or 'month'")
        if query.scope is StatsScope.SUBACCOUNT and query.target is not None:
            if not query.target.isdigit():
                raise ValidationError("subaccount", query.target,
                                      "Postmark servers (subaccounts) are numbered")
            return self._rows(query, [query.target])
        if query.scope is not StatsScope.ACCOUNT:
            raise Unsupported(self.p.name, f"{Capability.DELIVERY_STATS} by {query.scope}",
                              "Postmark reports figures per server (subaccount), filtered by "
                              "tag or message stream only")
        return self._rows(query, None if self.p.server is None else [self.p.server])

    def _transports(self, servers: list[str] | None) -> Iterator[tuple[str, Transport]]:
        """Each server asked for (None: every server of the account) and a transport
        signed with its token."""
        if servers is None:
            def item(raw: Json) -> tuple[str, list[str]]:
                return str(pl.whole(raw.get("ID"), "ID")), pl.strings(raw.get("ApiTokens"),
                                                                       "ApiTokens")

            for ident, tokens in self.p.pages("/servers", "Servers", item, lambda s: s[0],
                                              None):
                if not tokens:
                    raise AuthError(f"Postmark returned no API token for server {ident}",
                                    provider=self.p.name)
                yield ident, self.p.server_transport(tokens[0])
            return
        for ident in servers:
            # a copy acting for the server reads its token (GET /servers/{id}) and signs with it
            scoped = self.p if ident == self.p.server else self.p.on_behalf_of(ident)
            yield ident, scoped.server_api()

    def _rows(self, query: StatsQuery, servers: list[str] | None) -> Iterator[DeliveryStats]:
        totals: dict[date, Day] = {}
        read: list[str] = []
        for ident, transport in self._transports(servers):
            read.append(ident)
            for path, names in ENDPOINTS.items():
                params = [("fromdate", query.since.isoformat()),
                          ("todate", query.until.isoformat())]
                response = transport.request("GET", path, params=params)
                days = self.p.read(response, partial(_days, names=names, since=query.since,
                                                     until=query.until),
                                   "GET", path, transport=transport)
                for day, figures in days.items():
                    key = day.replace(day=1) if query.resolution is Resolution.MONTH else day
                    into = totals.setdefault(key, {})
                    for name, value in figures.items():
                        into[name] = into.get(name, 0) + value
                        if into[name] > pl.MAX_WHOLE:
                            raise self.p.source("GET", path, transport=transport).error(
                                f"{name} adds up to more than 2^63-1")
        yield from self._emit(query, totals, read)

    def _emit(self, query: StatsQuery, totals: dict[date, Day], servers: list[str]
              ) -> Iterator[DeliveryStats]:
        for period in [p.date() for p in query.periods()]:
            day = totals.get(period, {})
            figures = {field: day.get(name, 0) for field, name in FIGURES.items()}
            raw = {"Date": period.isoformat(), "servers": servers,
                   **{name: day.get(name, 0) for names in ENDPOINTS.values() for name in names}}
            yield DeliveryStats(
                datetime(period.year, period.month, period.day, tzinfo=timezone.utc),
                query.resolution, self.p.name, query.scope, query.target, delivered=None,
                raw=raw, **figures)


__all__ = ["ENDPOINTS", "FIGURES", "PostmarkStats"]
