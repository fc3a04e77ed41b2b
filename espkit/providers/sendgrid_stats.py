"""SendGrid's Stats API behind ``DeliveryStats``. ``SendGridProvider`` delegates here.

Sources (no stats spec is stored in ``../shared/specs``): Twilio's official OpenAPI files at
https://github.com/twilio/sendgrid-oai, commit dbe0e0d2e67a0c3c55b222d54df2acda2b9027a7:
``spec/yaml/tsg_stats_v3.yaml`` (``GET /v3/stats``: ``start_date`` required, ``end_date``,
``aggregated_by`` day|week|month, ``limit``, ``offset``; rows ``{date, stats: [{metrics}]}``)
and ``spec/yaml/tsg_subusers_v3.yaml`` (also stored here; ``GET /v3/subusers/stats``: the same
with ``subusers`` required, rows ``{date, stats: [{type: "subuser", name, metrics}]}``).

Scopes: the account (``GET /v3/stats``; on a provider acting for a subuser, SendGrid scopes it
to that subuser by the ``on-behalf-of`` header, as its docs say) and a subuser
(``GET /v3/subusers/stats?subusers=<name>``). SendGrid has no statistics per sending domain,
IP or pool. Resolutions: day and month (``aggregated_by``); SendGrid keeps no hourly figures.

How the metrics map (``StatsAdvancedGlobalStats`` / ``CategoryStats``):

* ``sent`` = ``requests`` ("the number of emails that were requested to be delivered");
* ``delivered`` = ``delivered``;
* ``bounced_hard`` = ``bounces``: refusals for the address, which SendGrid then suppresses;
* ``bounced_soft`` = ``blocks``: refusals for the message or the sending IP ("an issue with
  the message itself rather than an issue with the recipient's address ... Twilio SendGrid
  will not suppress future messages to blocked addresses",
  https://www.twilio.com/docs/sendgrid/api-reference/blocks-api). During a warmup, blocks
  are the reputation signal to watch;
* ``complained`` = ``spam_reports``; ``deferred`` = ``deferred``.

A metric missing from a row is None; a period with no row in the answer is a row of Nones.
Every figure must be a whole number from 0 to 2^63-1 (``ProtocolError`` otherwise). SendGrid
counts days in the time zone set in the account's settings; ``period`` is midnight UTC of the
day SendGrid names (the figures cannot be moved between zones). A month row (SendGrid may
label it with the first day asked for in that month) counts the days of that month from
``since`` to ``until``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from espkit.errors import Unsupported, ValidationError
from espkit.models import Capability, DeliveryStats, Resolution, StatsQuery, StatsScope
from espkit.providers import payload as pl

if TYPE_CHECKING:
    from espkit.providers.sendgrid import SendGridProvider

Json = dict[str, Any]
Figures = dict[str, int | None]

#: DeliveryStats field <- SendGrid metric (see the module docstring)
FIGURES = {"sent": "requests", "delivered": "delivered", "bounced_hard": "bounces",
           "bounced_soft": "blocks", "complained": "spam_reports", "deferred": "deferred"}
AGGREGATED_BY = {Resolution.DAY: "day", Resolution.MONTH: "month"}
#: rows asked for per request: a whole range in one (a year of days is 366). The spec sets
#: no maximum; a shorter page than asked is read on from where it ended, so a lower cap on
#: SendGrid's side costs requests, never rows
PAGE = 500
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _figures(metrics: Any) -> Figures:
    if metrics is None:
        return dict.fromkeys(FIGURES)
    metrics = pl.need_obj(metrics, "metrics")
    return {field: pl.opt_whole(metrics.get(key), f"metrics.{key}")
            for field, key in FIGURES.items()}


def _metrics(entries: list[Json], subuser: str | None) -> Any:
    """The metrics of a row's ``stats``: the one entry of a global row, the named subuser's
    of a subuser row (None: the row has none)."""
    if subuser is None:
        if len(entries) > 1:
            raise pl.Malformed("a row has several sets of figures for one day")
        return entries[0].get("metrics") if entries else None
    found = None
    for entry in entries:
        if pl.need_str(entry.get("name"), "stats[].name") != subuser:
            raise pl.Malformed("a row has figures for another subuser than the one asked for")
        if found is not None:
            raise pl.Malformed("a row has several sets of figures for the subuser")
        found = entry
    return None if found is None else found.get("metrics")


class Stats:
    """The delivery figures of one ``SendGridProvider`` (one scope of the account)."""

    def __init__(self, provider: SendGridProvider) -> None:
        self.p = provider

    def rows(self, query: StatsQuery) -> Iterator[DeliveryStats]:
        """Checks the query now (``Unsupported`` / ``ValidationError`` before anything is
        sent); the rows are read as they are iterated."""
        by = AGGREGATED_BY.get(query.resolution)
        if by is None:
            raise Unsupported(self.p.name, f"{Capability.DELIVERY_STATS} by {query.resolution}",
                              "SendGrid aggregates its statistics by day, week or month "
                              "(aggregated_by), never by hour: ask for resolution='day'")
        params = [("start_date", query.since.isoformat()), ("end_date", query.until.isoformat()),
                  ("aggregated_by", by)]
        if query.scope is StatsScope.ACCOUNT:
            return self._read("/v3/stats", params, query, None)
        if query.scope is not StatsScope.SUBACCOUNT or query.target is None:
            raise Unsupported(self.p.name, f"{Capability.DELIVERY_STATS} by {query.scope}",
                              "SendGrid reports figures for the account and per subuser only")
        if self.p.subaccount is None:
            return self._read("/v3/subusers/stats", [("subusers", query.target), *params],
                              query, query.target)
        if query.target == self.p.subaccount:  # on-behalf-of already scopes /v3/stats
            return self._read("/v3/stats", params, query, None)
        raise ValidationError("subaccount", query.target,
                              f"this provider acts for subuser {self.p.subaccount!r}, which "
                              "cannot read another subuser's figures; ask the parent account")

    def _read(self, path: str, params: list[tuple[str, Any]], query: StatsQuery,
              subuser: str | None) -> Iterator[DeliveryStats]:
        wanted = [p.date() for p in query.periods()]
        received = self._received(path, params, query, wanted, subuser)
        return self._merged(query, wanted, received)

    def _received(self, path: str, params: list[tuple[str, Any]], query: StatsQuery,
                  wanted: Sequence[date], subuser: str | None
                  ) -> Iterator[tuple[date, Figures, Json]]:
        """The rows SendGrid answers, page by page (``limit``/``offset``) until the last
        period has come or a page is empty. Rows must come in order of their days, each
        within the range and none twice: so every page moves on, and the paging ends."""
        known, limit = set(wanted), min(len(wanted), PAGE)
        last: date | None = None
        offset = 0
        while True:
            def decode(body: Any, after: date | None = last) -> list[tuple[date, Figures, Json]]:
                out = []
                for raw in pl.objects(body, "the answer", required=True):
                    text = pl.need_str(raw.get("date"), "date")
                    try:
                        day = date.fromisoformat(text) if _DAY.fullmatch(text) else None
                    except ValueError:
                        day = None
                    if day is None:
                        raise pl.Malformed("date is not a day written YYYY-MM-DD")
                    period = day.replace(day=1) if query.resolution is Resolution.MONTH else day
                    if period not in known:
                        raise pl.Malformed(f"a row for {text} is outside the days asked for")
                    if after is not None and period <= after:
                        raise pl.Malformed("rows are out of order, or one period comes twice")
                    after = period
                    entries = pl.objects(raw.get("stats"), "stats", required=True)
                    out.append((period, _figures(_metrics(entries, subuser)), raw))
                return out

            rows = self.p.call("GET", path, decode,
                               params=[*params, ("limit", limit), ("offset", offset)])
            yield from rows
            if not rows or rows[-1][0] == wanted[-1]:
                return
            last, offset = rows[-1][0], offset + len(rows)

    def _merged(self, query: StatsQuery, wanted: Sequence[date],
                received: Iterator[tuple[date, Figures, Json]]) -> Iterator[DeliveryStats]:
        """One row per period, oldest first: SendGrid's, or one of Nones where it sent none."""
        def row(period: date, figures: Figures | None = None, raw: Json | None = None
                ) -> DeliveryStats:
            return DeliveryStats(
                datetime(period.year, period.month, period.day, tzinfo=timezone.utc),
                query.resolution, self.p.name, query.scope, query.target,
                **(figures or dict.fromkeys(FIGURES)), raw=raw or {})

        index = 0
        for period, figures, raw in received:
            while wanted[index] < period:
                yield row(wanted[index])
                index += 1
            yield row(period, figures, raw)
            index += 1
        for period in wanted[index:]:
            yield row(period)


__all__ = ["AGGREGATED_BY", "FIGURES", "PAGE", "Stats"]
