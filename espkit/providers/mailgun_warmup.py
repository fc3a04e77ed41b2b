"""Mailgun's IP warmup plans for one scope of an account. ``MailgunProvider`` delegates its
warmup calls here.

Sources: the official OpenAPI description (``../shared/specs/mailgun/openapi.yaml``, tag
"IP Address Warmup": ``GET /v3/ip_warmups``, ``GET|POST|DELETE /v3/ip_warmups/{addr}``);
Mailgun's help article "Automatic IP Warmup"
(https://help.mailgun.com/hc/en-us/articles/8305731694747-Automatic-IP-Warmup) for the cap
and the overflow; and Mailgun's SDKs where the spec's two examples disagree: mailgun-java's
``IpWarmupDetails`` reads the details answer under its own names *and* the listing's
(``stage``/``stage_number``, ``stage_limit``/``stage_volume_limit``), and notes that
``hourly_limit`` is "omitted by some API responses"; mailgun-go and mailgun-python follow
``paging.next`` until a page comes back empty.

How an answer maps onto ``Warmup``:

* listed (Mailgun lists "in-flight" plans only) -> ``WARMING``; not listed -> ``NOT_STARTED``
  (a finished plan leaves the list and Mailgun says nothing more about it). ``WARM`` only when
  a details answer's ``stage_history`` shows every one of ``total_stages`` stages completed;
* ``stage`` <- ``stage_number`` (listing) or ``stage`` (details); ``stages`` <-
  ``total_stages`` (details only); ``progress`` <- stage / stages, the rule every ESP follows;
* ``daily_cap`` <- ``stage_volume_limit`` / ``stage_limit``: the help article calls the
  plan's limit the "daily allowed limit";
* ``hourly_cap`` <- ``hourly_limit`` (details only). ``throttle`` is documented nowhere, and
  the spec's details example gives it beside ``hourly_limit`` with another value, so it is
  no cap espkit can name: it stays in ``raw``, as do ``sent_within_stage`` ("20%") and the
  listing's ``stage_start_time`` (when the *stage* began);
* ``started`` <- ``plan_started_at`` (details only);
* ``overflow``: ``OVERFLOW``, in the help article's words.

Counts and stages are acted on (a plan compares caps with volumes), so a wrong type, a
negative or a figure past 2^63-1 refuses the answer; timestamps are only reported, and are
dropped when unreadable (``espkit.providers.payload``).
"""

from __future__ import annotations

import email.utils
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from espkit.errors import (
    AlreadyExists,
    ConflictingState,
    EspError,
    NotFound,
    Rejected,
    ValidationError,
)
from espkit.models import Warmup, WarmupState
from espkit.providers import paging
from espkit.providers import payload as pl

if TYPE_CHECKING:
    from espkit.providers.mailgun import MailgunProvider

Json = dict[str, Any]

PATH = "/v3/ip_warmups"
#: where mail over a warming IP's cap goes: "rolling over additional traffic to either your
#: other dedicated IPs on the domain or provided shared IPs" (the help article)
OVERFLOW = "other dedicated IPs of the domain, else shared IPs"
#: IPs per page of the listing. The spec gives no maximum (default 10); Mailgun's other
#: page-token listings take up to 100 (DKIM keys) or 500 (DIPP domains)
PAGE = 100
#: the most of ``paging.next``'s query we send back: it comes from the answer, so it is
#: bounded like anything else a server may inflate
MAX_NEXT_QUERY = 2048
MAX_NEXT_PARAMS = 8


class Warmups:
    """The warmup plans of one ``MailgunProvider`` (one scope of the account)."""

    name = "mailgun"

    def __init__(self, provider: MailgunProvider) -> None:
        self.p = provider

    # -- reading --------------------------------------------------------------------------

    def status(self, ip: str) -> Warmup:
        """The plan of ``ip``: one request while it warms; a 404 (no plan, or no such IP:
        Mailgun answers both alike) costs one more, reading the IP to tell them apart."""
        try:
            return self.p.call("GET", f"{PATH}/{self.p.seg(ip)}",
                               lambda body: self._details(body, ip))
        except NotFound:
            self._owned(ip)
        return self.not_started(ip)

    def _owned(self, ip: str) -> None:
        """``NotFound`` unless ``ip`` is a dedicated IP of the account."""
        def decode(body: Any) -> bool | None:
            body = pl.need_obj(body, "the answer")
            if pl.ip(body.get("ip"), "ip") != ip:
                raise pl.Malformed("the answer is about another IP than the one asked for")
            return pl.opt_bool(body.get("dedicated"))

        if self.p.call("GET", f"/v3/ips/{self.p.seg(ip)}", decode) is False:
            raise NotFound(f"{ip} is not a dedicated IP of this account", provider=self.name)

    def not_started(self, ip: str) -> Warmup:
        return Warmup(ip=ip, state=WarmupState.NOT_STARTED, provider=self.name,
                      raw={"ip": ip})

    def listing(self) -> Iterator[Warmup]:
        """Every dedicated IP's warmup: ``GET /v3/ips?dedicated=true`` (the IPs, and which
        are on warmup: ``details[].is_on_warmup``, omitted when false), then the warmup
        listing page by page (``paging.next``) until a page is empty, or every IP the first
        answer flagged has been read: with up to ``PAGE`` warming IPs, two requests."""
        dedicated, flagged = self._dedicated()
        seen: dict[str, Warmup] = {}
        source = self.p.source("GET", PATH)
        for number, page in enumerate(paging.cursor_pages(self._page, source), 1):
            fresh = [w for w in page if w.ip not in seen]
            if page and not fresh:
                raise source.error(f"page {number} brought no IP not listed before: the "
                                   "server repeats pages instead of moving on")
            for warmup in fresh:
                seen[warmup.ip] = warmup
                yield warmup
            if flagged is not None and flagged <= seen.keys():
                break  # whatever a next page holds, nothing flagged is left to read
        for ip in dedicated:
            if ip not in seen:
                yield self.not_started(ip)

    def _dedicated(self) -> tuple[list[str], set[str] | None]:
        """The account's dedicated IPs, and those it flags as warming (None when the
        answer does not say it of every IP)."""
        def decode(body: Any) -> tuple[list[str], set[str] | None]:
            body = pl.need_obj(body, "the answer")
            if "items" not in body:
                raise pl.Malformed("the answer has no 'items' list")
            ips = pl.ips(body["items"], "items")
            details = {pl.ip(d.get("ip"), "details[].ip"): d
                       for d in pl.objects(body.get("details"), "details")}
            if "details" not in body or not set(ips) <= details.keys():
                return ips, None
            return ips, {a for a, d in details.items() if d.get("is_on_warmup") is True}

        return self.p.call("GET", "/v3/ips", decode, params=[("dedicated", "true")])

    def _page(self, cursor: str | None) -> paging.Page[list[Warmup]]:
        """One page of the listing, as a single item (so the caller stops between pages);
        ``cursor``: the query of the last page's ``paging.next``."""
        params: list[tuple[str, Any]] = [("limit", PAGE)]
        params += urllib.parse.parse_qsl(cursor or "")
        return self.p.call("GET", PATH, _listing_page, params=params)

    def _details(self, body: Any, ip: str) -> Warmup:
        """``{"details": {...}}`` of ``GET /v3/ip_warmups/{ip}``."""
        d = pl.need_obj(pl.need_obj(body, "the answer").get("details"), "details")
        if d.get("ip") is not None and pl.ip(d.get("ip"), "details.ip") != ip:
            raise pl.Malformed("the answer is about another IP than the one asked for")
        stage = _first_whole(d, "stage", "stage_number")
        stages = pl.opt_whole(d.get("total_stages"), "details.total_stages")
        if stages == 0:
            raise pl.Malformed("details.total_stages is 0: a plan of no stages")
        if stage is not None and stages is not None and stage > stages:
            raise pl.Malformed("details.stage is past details.total_stages")
        history = pl.objects(d.get("stage_history"), "details.stage_history")
        done = sum(1 for h in history if when(h.get("completed_at")) is not None)
        common: Mapping[str, Any] = {
            "ip": ip, "provider": self.name, "stage": stage, "stages": stages,
            "started": when(d.get("plan_started_at")), "raw": body,
        }
        if stages is not None and done >= stages:
            return Warmup(state=WarmupState.WARM, progress=1.0, **common)
        return Warmup(
            state=WarmupState.WARMING,
            progress=None if stage is None or stages is None else stage / stages,
            daily_cap=_first_whole(d, "stage_limit", "stage_volume_limit"),
            hourly_cap=pl.opt_whole(d.get("hourly_limit"), "details.hourly_limit"),
            overflow=OVERFLOW, **common,
        )

    # -- writing --------------------------------------------------------------------------

    def start(self, ip: str, stage: int | None) -> Warmup:
        """``POST`` a plan, then read it (the answer is only ``{"message"}``): two requests.
        A refusal is checked against the IP's status: when it already warms, that is the
        answer (two requests again), so a retried or repeated start is no error."""
        if stage is not None:
            raise ValidationError("stage", stage, "Mailgun starts every warmup plan at its "
                                                  "first stage; it takes no stage")
        try:
            # safe to repeat: a second plan for the IP is refused, and the refusal is read
            # as "already warming" below
            self.p.call("POST", f"{PATH}/{self.p.seg(ip)}", pl.ignored, idempotent=True)
        except (Rejected, AlreadyExists, ConflictingState) as exc:
            try:
                now = self.status(ip)
            except EspError:
                raise exc from None
            if now.state is not WarmupState.WARMING:
                raise
            return now
        return self.status(ip)

    def stop(self, ip: str) -> Warmup:
        """``DELETE`` the plan: one request. A 404 (no plan, or no such IP) costs a read of
        the IP; another refusal, a read of the status: either way an IP that is not
        warming is no error."""
        try:
            self.p.call("DELETE", f"{PATH}/{self.p.seg(ip)}", pl.ignored)
        except NotFound:
            self._owned(ip)
        except Rejected as exc:
            try:
                now = self.status(ip)
            except EspError:
                raise exc from None
            if now.state is WarmupState.WARMING:
                raise
            return now
        return self.not_started(ip)


# -- payload helpers ----------------------------------------------------------------------


def _listing_page(body: Any) -> paging.Page[list[Warmup]]:
    body = pl.need_obj(body, "the answer")
    if "items" not in body:  # null is an empty page: what Go's encoder writes for none
        raise pl.Malformed("the answer has no 'items' list")
    items = [_listed(i) for i in pl.objects(body["items"], "items")]
    link = pl.opt_text(pl.opt_obj(body.get("paging"), "paging").get("next"), "paging.next")
    return paging.Page([items], cursor=_next_query(link) if items else None)


def _listed(raw: Json) -> Warmup:
    return Warmup(
        ip=pl.ip(raw.get("ip"), "items[].ip"), state=WarmupState.WARMING,
        provider=Warmups.name,
        stage=pl.opt_whole(raw.get("stage_number"), "items[].stage_number"),
        daily_cap=pl.opt_whole(raw.get("stage_volume_limit"), "items[].stage_volume_limit"),
        overflow=OVERFLOW, raw=raw,
    )


def _next_query(link: str) -> str | None:
    """What of ``paging.next`` is sent back: its query, minus ``limit`` (ours), to our own
    base URL and path; its scheme, host and path are never used (the link is untrusted: it
    could point anywhere, and the request carries the account's key). None when it names
    no page: nothing to follow."""
    if len(link) > MAX_NEXT_QUERY + 512:
        raise pl.Malformed("paging.next is too long")
    try:
        query = urllib.parse.urlsplit(link).query
        pairs = urllib.parse.parse_qsl(query)
    except ValueError:
        raise pl.Malformed("paging.next is not a URL") from None
    pairs = [(k, v) for k, v in pairs if k != "limit"]
    if not pairs:
        return None
    if len(pairs) > MAX_NEXT_PARAMS or len(query) > MAX_NEXT_QUERY:
        raise pl.Malformed("paging.next carries too long a query")
    for key, value in pairs:
        if not (key + value).isprintable():
            raise pl.Malformed("paging.next's query contains control characters")
    return urllib.parse.urlencode(sorted(pairs))


def _first_whole(raw: Json, *keys: str) -> int | None:
    """The first of ``keys`` present (the spec's name, then the one Mailgun's SDKs also
    read in the same answer), as a count."""
    for key in keys:
        if raw.get(key) is not None:
            return pl.whole(raw[key], f"details.{key}")
    return None


_ISO = re.compile(r"(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?P<fraction>\.\d{1,9})?"
                  r"(?P<zone>[Zz]|[+-]\d\d:\d\d)?", re.ASCII)


def when(value: Any) -> datetime | None:
    """A report-only timestamp, UTC: ISO 8601 ("2025-01-01T00:00:00Z", as the warmup
    answers write it) or RFC 2822 (as the metrics and older answers do); None when it is
    missing, unreadable, or Go's zero time ("0001-01-01T00:00:00Z": never)."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    iso = _ISO.fullmatch(value)
    try:
        if iso is not None:  # Python 3.10's fromisoformat takes no "Z", nor nanoseconds
            zone = iso["zone"] or ""
            fraction = (iso["fraction"] or ".")[1:7].ljust(6, "0")  # 3.10: 3 or 6 digits
            parsed = datetime.fromisoformat(f"{iso['time']}.{fraction}"
                                            + ("+00:00" if zone in ("Z", "z") else zone))
        else:
            parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.year <= 1:
        return None
    if parsed.tzinfo is None:  # RFC 2822's "-0000": UTC, local zone unknown
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:  # 9999-12-31 with an offset that moves it past the year
        return None


__all__ = ["OVERFLOW", "PAGE", "Warmups", "when"]
