"""What ``SandboxProvider`` builds on: its request helpers, and its IP warmup and delivery
statistics calls (kept apart from ``sandbox`` so that each module stays short).

Warmup is simulated by the emulator (``espkit.sandbox.warmup``): stages follow an
``espkit.warmup`` schedule one sending day at a time on the sandbox clock, so a test drives a
warmup by recording sends and advancing the clock. Which schedule: ``conservative``, or the
published one of the ESP a ``like=`` sandbox plays (``LIKE_SCHEDULES``).

Delivery figures are what the sandbox was told was sent (``record_sends``)::

    acct.provider.record_sends("news.acme.example", 1000, ip="198.51.100.1", bounced_hard=12)
    acct.stats.delivery("2026-01-01", "2026-01-07", ip="198.51.100.1")

(in typed code, ``espkit.testing.emulator(acct).record_sends(...)`` is the same call with the
subaccount given explicitly).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, ClassVar, TypeVar

from espkit.errors import ValidationError
from espkit.models import DeliveryStats, Resolution, StatsQuery, StatsScope, Warmup, WarmupState
from espkit.providers import paging
from espkit.providers import payload as pl
from espkit.providers.base import HttpProvider
from espkit.providers.payload import Source
from espkit.sandbox import MAX_PAGE, Emulator
from espkit.warmup import schedule
from espkit.warmup.model import MAX_DAYS

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)
Json = dict[str, Any]

#: the published schedule a ``like=`` sandbox warms on, for the ESPs that publish one
#: (espkit/warmup/published.py names each source); the others warm on ``conservative``
LIKE_SCHEDULES: Mapping[str, str] = {"sendgrid": "sendgrid-hourly",
                                     "sparkpost": "sparkpost-auto"}
#: the ESPs that let the caller choose where a warmup starts: SparkPost (auto_warmup_stage on
#: /v1/sending-ips/{ip}). Mailgun's POST /v3/ip_warmups/{addr} and SendGrid's
#: POST /v3/ips/warmup take no stage (/work/shared/specs); so a sandbox playing them refuses
#: one before sending.
LIKE_STAGE_CHOICE = frozenset({"sparkpost"})
FIGURES = ("sent", "delivered", "bounced_hard", "bounced_soft", "complained", "deferred")


def enum_of(cls: type[E], value: Any) -> E:
    """``cls(value)``, or ``Malformed`` for a value the enum does not have."""
    try:
        return cls(value)
    except ValueError:
        raise pl.Malformed(f"{cls.__name__} has no value like the one answered") from None


def report_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp (report-only: anything else is None)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def utc_time(value: Any, what: str) -> datetime:
    """An ISO 8601 time with its zone, as UTC; anything else is malformed."""
    if not isinstance(value, str):
        raise pl.Malformed(f"{what} is {pl.kind(value)}, not an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise pl.Malformed(f"{what} is not an ISO 8601 time") from None
    if moment.utcoffset() is None:
        raise pl.Malformed(f"{what} has no time zone")
    return moment.astimezone(timezone.utc)


class SandboxBase(HttpProvider):
    #: the simulated ESP, and the subaccount this provider acts for (None: the main account)
    emulator: Emulator
    subaccount: str | None
    #: the provider whose capability set this sandbox mimics (``like=``), or None
    LIKE: ClassVar[str | None] = None
    STATS_SCOPES = frozenset(StatsScope)
    #: the ``espkit.warmup`` schedule this sandbox's warmups follow
    WARMUP_SCHEDULE: ClassVar[str] = "conservative"
    #: whether ``start_warmup`` takes a ``stage`` (as SparkPost lets the caller choose one)
    WARMUP_STAGE_CHOICE: ClassVar[bool] = True

    def _call(self, method: str, path: str, decode: Callable[[Any], T], *,
              params: dict[str, Any] | None = None, json: Any = None) -> T:
        """One request, its answer read by ``decode`` (``ProtocolError`` if unreadable): the
        emulator is espkit's own, but its answers are read like any ESP's."""
        response = self.transport.request(method, path, params=params or None, json=json)
        return self.read(response, decode, method, path)

    def _pages(self, path: str, item: Callable[[Json], T], page_size: int | None = None,
               params: Mapping[str, str] | None = None) -> Iterator[T]:
        limit = min(page_size or MAX_PAGE, MAX_PAGE)

        def page(body: Any) -> paging.Page[T]:
            body = pl.need_obj(body, "the answer")
            return paging.Page(
                [item(i) for i in pl.objects(body.get("items"), "items", required=True)],
                cursor=pl.opt_text(body.get("next_cursor"), "next_cursor") or None)

        def fetch(cursor: str | None) -> paging.Page[T]:
            query: dict[str, Any] = {**(params or {}), "limit": limit}
            if cursor is not None:
                query["cursor"] = cursor
            return self._call("GET", path, page, params=query)

        return paging.cursor_pages(fetch, self.source("GET", path))

    # -- IP warmup ---------------------------------------------------------------------------

    def _warmup(self, d: Any, asked: str | None = None) -> Warmup:
        d = pl.need_obj(d, "the answer")
        address = pl.ip(d.get("ip"), "ip")
        if asked is not None and address != asked:
            raise pl.Malformed("the answer is about another IP than the one asked for")
        state = enum_of(WarmupState, d.get("state"))
        stage = pl.opt_whole(d.get("stage"), "stage")
        stages = pl.opt_whole(d.get("stages"), "stages")
        if stages is not None and not 1 <= stages <= MAX_DAYS:
            raise pl.Malformed(f"stages is not from 1 to {MAX_DAYS}")
        progress = None
        if state is WarmupState.WARMING:
            if stage is None or stages is None or not 1 <= stage <= stages:
                raise pl.Malformed("a warming IP's stage is not from 1 to its stages")
            progress = stage / stages
        elif state is WarmupState.WARM:
            stage, progress = None, 1.0
        started = d.get("started_at")
        return Warmup(address, state, self.name, stage=stage, stages=stages, progress=progress,
                      daily_cap=pl.opt_whole(d.get("daily_cap"), "daily_cap"),
                      hourly_cap=pl.opt_whole(d.get("hourly_cap"), "hourly_cap"),
                      overflow=pl.opt_text(d.get("overflow"), "overflow") or None,
                      started=None if started is None else utc_time(started, "started_at"),
                      raw=d)

    def _warmup_path(self, ip: str) -> str:
        return f"/v1/ips/{self.seg(ip)}/warmup"

    def warmup_status(self, ip: str) -> Warmup:
        return self._call("GET", self._warmup_path(ip), lambda b: self._warmup(b, ip))

    def list_warmups(self) -> Iterator[Warmup]:
        """Every dedicated IP's warmup: one request per 100 IPs."""
        return self._pages("/v1/warmups", self._warmup)

    def start_warmup(self, ip: str, stage: int | None = None) -> Warmup:
        """Start ``ip`` on ``WARMUP_SCHEDULE`` at stage 1, or ``stage``; a warming IP is left
        as it is (one request), or moved back to a lower ``stage``. A higher one is refused
        with ``ValidationError`` as SparkPost's provider refuses it, after reading the
        status (so a ``stage`` costs one request more); should the IP move on in between,
        the sandbox refuses the write itself (``ConflictingState``)."""
        body: Json = {"schedule": self.WARMUP_SCHEDULE}
        if stage is not None:
            if not self.WARMUP_STAGE_CHOICE:
                raise ValidationError("stage", stage, f"{self.LIKE} does not let the caller "
                                                      "choose where a warmup starts")
            days = schedule(self.WARMUP_SCHEDULE).days
            if isinstance(stage, bool) or not isinstance(stage, int) or not 1 <= stage <= days:
                raise ValidationError("stage", stage, f"must be a whole number from 1 to "
                                                      f"{days} ({self.WARMUP_SCHEDULE}'s stages)")
            current = self.warmup_status(ip)
            if current.warming and current.stage == stage:
                return current
            if current.warming and current.stage is not None and stage > current.stage:
                raise ValidationError("stage", stage, f"a warming IP's stage only moves back: "
                                                      f"{ip} is at stage {current.stage}; "
                                                      f"choose 1 to {current.stage}")
            body["stage"] = stage
        return self._call("PUT", self._warmup_path(ip), lambda b: self._warmup(b, ip),
                          json=body)

    def stop_warmup(self, ip: str) -> Warmup:
        return self._call("DELETE", self._warmup_path(ip), lambda b: self._warmup(b, ip))

    # -- delivery statistics -----------------------------------------------------------------

    def delivery_stats(self, query: StatsQuery) -> Iterator[DeliveryStats]:
        """One row per period, oldest first; a period with nothing recorded has zeros (the
        sandbox knows nothing was sent then). Pages of 100 rows, read as they are used."""
        params = {"since": query.since.isoformat(), "until": query.until.isoformat(),
                  "resolution": query.resolution.value, "scope": query.scope.value}
        if query.target is not None:
            params["target"] = query.target
        first = datetime.combine(query.since, datetime.min.time(), timezone.utc)
        if query.resolution is Resolution.MONTH:
            first = first.replace(day=1)
        end = datetime.combine(query.until + timedelta(days=1), datetime.min.time(),
                               timezone.utc)

        def row(d: Json) -> DeliveryStats:
            period = utc_time(d.get("period"), "period")
            if not first <= period < end:
                raise pl.Malformed("a row's period is outside the range asked for")
            counts = {f: pl.whole(d.get(f), f) for f in FIGURES}
            return DeliveryStats(period, query.resolution, self.name, query.scope,
                                 query.target, **counts, raw=d)

        rows = self._pages("/v1/stats", row, params=params)
        return _oldest_first(rows, self.source("GET", "/v1/stats"))

    def record_sends(
        self,
        domain: str,
        sent: int,
        *,
        at: date | datetime | str | None = None,
        ip: str | None = None,
        pool: str | None = None,
        subaccount: str | None = None,
        delivered: int | None = None,
        bounced_hard: int | None = None,
        bounced_soft: int | None = None,
        complained: int | None = None,
        deferred: int | None = None,
        rates: Mapping[str, float] | None = None,
    ) -> dict[str, Any]:
        """Tell the sandbox ``domain`` sent ``sent`` messages (``Emulator.record_sends``,
        which has the rules); ``subaccount`` defaults to the one this provider acts for.
        Sends nothing: no request is made or counted."""
        return self.emulator.record_sends(
            domain, sent, at=at, ip=ip, pool=pool,
            subaccount=self.subaccount if subaccount is None else subaccount,
            delivered=delivered, bounced_hard=bounced_hard, bounced_soft=bounced_soft,
            complained=complained, deferred=deferred, rates=rates)


def _oldest_first(rows: Iterator[DeliveryStats], source: Source) -> Iterator[DeliveryStats]:
    last: datetime | None = None
    for stats in rows:
        if last is not None and stats.period <= last:
            raise source.error("the rows are not oldest first, one per period")
        last = stats.period
        yield stats


__all__ = ["FIGURES", "LIKE_SCHEDULES", "LIKE_STAGE_CHOICE", "SandboxBase", "enum_of",
           "report_time", "utc_time"]
