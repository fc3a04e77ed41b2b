"""SendGrid's automated IP warmup behind the common ``Warmup`` model. ``SendGridProvider``
delegates its warmup calls here.

Sources: ``../shared/specs/sendgrid/tsg_ip_warmup_v3.yaml`` (``POST|GET /v3/ips/warmup``,
``GET|DELETE /v3/ips/warmup/{ip_address}``: lists of ``{ip, start_date}``) and
``tsg_ips_v3.yaml`` (``GET /v3/ips``, ``GET /v3/ips/{ip_address}``: each IP's ``warmup`` flag
and ``start_date``). The newer IP Address Management API's ``is_auto_warmup``
(``tsg_ip_address_management_v3.yaml``, ``/v3/send_ips/ips``) is the same switch without the
start date, so it is not read.

How SendGrid's answers map onto ``Warmup``:

* WARMING while SendGrid lists the IP as warming; NOT_STARTED otherwise. SendGrid never says
  a warmup finished (an IP leaves the list after its 41st day of warmup age, or when
  stopped, and both read the same), so WARM is never reported.
* ``stage`` is the warmup day (warmup age + 1) on the answer's own clock (its ``Date``
  header; this machine's clock when it has none), counted from ``start_date``; ``stages`` is
  the 42 days of SendGrid's published table; ``progress`` is stage / stages.
* ``hourly_cap`` is derived from ``espkit.warmup.schedule("sendgrid-hourly")`` (SendGrid's
  published hourly table) and that day: SendGrid's API does not report a cap. ``daily_cap``
  stays None: SendGrid publishes hourly limits only.
* ``start_date`` only feeds what is reported (``started``, ``stage``, ``hourly_cap``): one
  that is not a Unix time in range leaves them None rather than failing a listing.

SendGrid answers 404 for an IP that is not warming and for an IP that is not the account's
alike; where that matters the IP itself is read (``GET /v3/ips/{ip}``) to tell them apart.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from espkit.errors import AlreadyExists, NotFound, Rejected, ValidationError
from espkit.models import Warmup, WarmupState
from espkit.providers import paging
from espkit.providers import payload as pl
from espkit.transport import HttpResponse
from espkit.warmup import schedule

if TYPE_CHECKING:
    from espkit.providers.sendgrid import SendGridProvider

Json = dict[str, Any]
T = TypeVar("T")

#: the published table the hourly cap is read from (espkit/warmup/published.py)
SCHEDULE = "sendgrid-hourly"
#: where mail over a warming IP's hourly limit goes, in SendGrid's words: "The warming IP
#: stops sending when the hourly limit is reached, while the other IP addresses on the
#: account continue to send emails. If you do not have any other available IPs, Twilio
#: attempts a series of quick retries, then retries approximately every 15 minutes. Emails
#: will be retried and expire after 72 hours" (https://www.twilio.com/docs/sendgrid/ui/
#: sending-email/warming-up-an-ip-address)
OVERFLOW = "the account's other IPs; without one, held and retried for up to 72 hours"
#: page size of the IP listing, as the provider's other limit/offset listings
PAGE = 100
#: the latest Unix time a datetime can hold (9999-12-31)
MAX_EPOCH = 253402300799
_DAY = 86400


def epoch(value: Any) -> datetime | None:
    """A Unix timestamp (report-only: out of range or not a number is None, not an error)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not (isinstance(value, int) or math.isfinite(value)) or not 0 <= value <= MAX_EPOCH:
        return None
    return datetime.fromtimestamp(value, tz=timezone.utc)


def now() -> datetime:
    """This machine's clock, for an answer without a readable ``Date`` (a function, so that
    tests can stand in for it)."""
    return datetime.now(timezone.utc)


def answered_at(response: HttpResponse) -> datetime:
    """When SendGrid answered, by its own ``Date`` header (the clock its warmup days are
    counted on); this machine's clock when the header is missing or unreadable."""
    text = response.headers.get("Date")
    if isinstance(text, str) and text:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            when = None
        if when is not None:
            return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
    return now()


def _entry(body: Any, ip: str) -> Json | None:
    """The warmup answer's (a list of ``{ip, start_date}``) entry for ``ip``; None when the
    list is empty. A list about other IPs only is refused."""
    entries = pl.objects(body, "the answer", required=True)
    for item in entries:
        if pl.ip(item.get("ip"), "ip") == ip:
            return item
    if entries:
        raise pl.Malformed("the answer is about another IP than the one asked for")
    return None


def _flagged(raw: Any, asked: str | None = None) -> tuple[str, bool, Json]:
    """An IP object of ``/v3/ips``: its address and whether it is warming (``warmup`` must
    be a boolean: whether a warmup is started or stopped depends on it)."""
    raw = pl.need_obj(raw, "the answer")
    address = pl.ip(raw.get("ip"), "ip")
    if asked is not None and address != asked:
        raise pl.Malformed("the answer is about another IP than the one asked for")
    flag = raw.get("warmup")
    if not isinstance(flag, bool):
        raise pl.Malformed(f"warmup is {pl.kind(flag)}, not a boolean")
    return address, flag, raw


class Warmups:
    """The warmups of one ``SendGridProvider`` (one scope of the account)."""

    def __init__(self, provider: SendGridProvider) -> None:
        self.p = provider
        self.table = schedule(SCHEDULE)

    def _call(self, method: str, path: str, decode: Callable[[Any], T], *,
              json: Any = None, params: list[tuple[str, Any]] | None = None,
              idempotent: bool | None = None) -> tuple[T, datetime]:
        """One request: its decoded answer and when SendGrid answered."""
        response = self.p.transport.request(method, path, json=json, params=params,
                                            idempotent=idempotent)
        decoded = self.p.read(response, decode, method, path, idempotent=idempotent)
        return decoded, answered_at(response)

    def warmup(self, ip: str, warming: bool, start: Any, at: datetime, raw: Json) -> Warmup:
        """``ip``'s ``Warmup``: warming or not, its start (a Unix time, report-only) and the
        moment of the answer it came from."""
        if not warming:
            return Warmup(ip, WarmupState.NOT_STARTED, self.p.name, raw=raw)
        started = epoch(start)
        if started is None:
            return Warmup(ip, WarmupState.WARMING, self.p.name, stages=self.table.days,
                          overflow=OVERFLOW, raw=raw)
        # warmup age in whole days (0 on the first day; a start a moment ahead of the
        # answer's clock is day 1 too); day d of the table is age d - 1
        day = max(math.floor((at - started).total_seconds() / _DAY), 0) + 1
        return Warmup(ip, WarmupState.WARMING, self.p.name, stage=day,
                      stages=self.table.days, progress=min(day / self.table.days, 1.0),
                      hourly_cap=self.table.hourly_cap(day), overflow=OVERFLOW,
                      started=started, raw=raw)

    def _from_ip(self, ip: str) -> Warmup:
        """``ip`` as the IP itself says (``NotFound`` when it is not the account's)."""
        (address, flag, raw), at = self._call("GET", f"/v3/ips/{self.p.seg(ip)}",
                                               lambda b: _flagged(b, ip))
        return self.warmup(address, flag, raw.get("start_date"), at, raw)

    # -- the common interface ----------------------------------------------------------------

    def status(self, ip: str) -> Warmup:
        """``GET /v3/ips/warmup/{ip}``; on a 404 (not warming, or not the account's IP) the
        IP is read to tell which: one request for a warming IP, two otherwise."""
        try:
            entry, at = self._call("GET", f"/v3/ips/warmup/{self.p.seg(ip)}",
                                    lambda b: _entry(b, ip))
        except NotFound:
            return self._from_ip(ip)
        if entry is None:  # an empty list: SendGrid lists no warmup for the IP
            return self._from_ip(ip)
        return self.warmup(ip, True, entry.get("start_date"), at, entry)

    def listing(self) -> Iterator[Warmup]:
        """Every IP of the account with its warmup, from the IP listing (``GET /v3/ips``,
        which carries each IP's ``warmup`` flag and ``start_date``): one request per 100 IPs,
        where the warmup list (``GET /v3/ips/warmup``) would leave out the IPs not warming."""
        def fetch(limit: int, offset: int) -> paging.Page[Warmup]:
            entries, at = self._call(
                "GET", "/v3/ips", lambda b: [_flagged(i) for i in pl.objects(
                    b, "the answer", required=True)],
                params=[("limit", limit), ("offset", offset)])
            return paging.Page([self.warmup(a, flag, raw.get("start_date"), at, raw)
                                for a, flag, raw in entries])

        return paging.offset_pages(fetch, PAGE, lambda w: w.ip,
                                   self.p.source("GET", "/v3/ips"))

    def start(self, ip: str, stage: int | None) -> Warmup:
        """``POST /v3/ips/warmup``. SendGrid's automated warmup always begins at warmup age
        0: a ``stage`` is refused before sending. An IP already warming is not an error: its
        status is the answer (the POST's, or, when SendGrid refuses the POST, a status read)."""
        if stage is not None:
            raise ValidationError("stage", stage, "SendGrid's automated warmup always starts "
                                                  "at day 1 of its own schedule; start it "
                                                  "without a stage")
        try:
            # setting a state is safe to repeat: the transport may retry a 5xx
            entry, at = self._call("POST", "/v3/ips/warmup", lambda b: _entry(b, ip),
                                    json={"ip": ip}, idempotent=True)
        except (AlreadyExists, Rejected) as refused:
            current = self.status(ip)
            if current.state is WarmupState.WARMING:
                return current
            raise refused
        if entry is None:
            raise self.p.source("POST", "/v3/ips/warmup").error(
                "the answer does not list the IP put into warmup")
        return self.warmup(ip, True, entry.get("start_date"), at, entry)

    def stop(self, ip: str) -> Warmup:
        """``DELETE /v3/ips/warmup/{ip}`` (204: no longer warming). A 404 (not warming, or
        not the account's IP) reads the IP to tell which: stopping an IP that is not warming
        answers its status, one that is not the account's is ``NotFound``."""
        try:
            self._call("DELETE", f"/v3/ips/warmup/{self.p.seg(ip)}", pl.ignored)
        except NotFound:
            return self._from_ip(ip)
        return Warmup(ip, WarmupState.NOT_STARTED, self.p.name)


__all__ = ["OVERFLOW", "SCHEDULE", "Warmups", "answered_at", "epoch", "now"]
