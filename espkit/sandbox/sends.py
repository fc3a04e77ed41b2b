"""What the sandbox was told was sent, and the delivery statistics it answers from that.

The sandbox sends no mail, so its figures come from ``Emulator.record_sends``: a test, the
cookbook or ``espkit stats`` says "on this day (or at this time) domain D sent N messages
through IP I, of which so many bounced". Each record is a row of ``sends``; a record on an IP
is also that IP's day of traffic for its simulated warmup (``warmup``).

``GET /v1/stats?since=&until=&resolution=&scope=&target=&limit=&cursor=`` answers one row per
period (hour, day or month, starting at 00:00 UTC of ``since``) up to the end of ``until``,
oldest first, paged like every listing. A period in which nothing was recorded has zeros:
the sandbox knows every message it was told about, so "nothing recorded" is "nothing sent",
not "not reported". A month row sums only the days of the month inside the range, and its
``period`` is the first of the month (which may be before ``since``).

Who sees what: the main account every record (its own and its subaccounts'), a subaccount
only those of its own domains. ``scope``: ``account`` (everything visible), ``domain``,
``subaccount``, ``ip`` or ``pool`` (the pool the IP was in when the sends were recorded).
"""

from __future__ import annotations

import bisect
import math
import sqlite3
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from espkit import validate
from espkit.errors import ValidationError
from espkit.sandbox import calls
from espkit.sandbox.clock import Clock
from espkit.sandbox.store import ApiError, Store, canonical_ip, not_found

#: the most one record may say was sent: a billion messages (a day of a very large sender
#: is a few hundred million); sums of records stay far inside SQLite's 64-bit integers
MAX_SENT = 10**9
#: the figures a record may give besides ``sent``, in the order the API answers them
FIGURES = ("delivered", "bounced_hard", "bounced_soft", "complained", "deferred")
RESOLUTIONS = {"hour": 3600, "day": 86400, "month": 86400}
SCOPES = ("account", "domain", "subaccount", "ip", "pool")
#: the longest range one request reads, in days, per resolution (the account layer's bounds:
#: a month of hours, a year of days, ten years of months)
MAX_SPAN_DAYS = {"hour": 31, "day": 366, "month": 3660}
_DAY = 86400


def _whole(field: str, value: object, maximum: int, bound: str) -> int:
    # bool is an int subclass: True messages is a mistake, not 1
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValidationError(field, value, f"must be a whole number from 0 to {bound}")
    return value


def _share(field: str, rate: object, sent: int) -> int:
    """A rate (a share of ``sent``, 0 to 1) as a count, rounded half up."""
    if (isinstance(rate, bool) or not isinstance(rate, (int, float))
            or not math.isfinite(rate) or not 0 <= rate <= 1):
        raise ValidationError(f"rates[{field!r}]", rate,
                              "must be a share of sent: a number from 0 to 1")
    return math.floor(rate * sent + 0.5)


def _epoch(day: date) -> int:
    return (day - date(1970, 1, 1)).days * _DAY


def _moment(at: object, now: float) -> int:
    """``at`` (a day: its 00:00 UTC; a zone-aware datetime; an ISO string of either; None:
    now) as epoch seconds, refusing a moment after ``now``."""
    value = at
    if isinstance(at, str):
        try:
            value = (date.fromisoformat(at) if len(at) == 10
                     else datetime.fromisoformat(at))
        except ValueError:
            raise ValidationError("at", at, "must be a day (YYYY-MM-DD) or an ISO 8601 "
                                            "time with its zone") from None
    if value is None:
        moment: float = now
    elif isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValidationError("at", at, "has no time zone: say which instant it is "
                                            "(e.g. tzinfo=timezone.utc)")
        moment = value.timestamp()
    elif isinstance(value, date):
        moment = _epoch(value)
    else:
        raise ValidationError("at", at, "must be a datetime.date, a zone-aware "
                                        "datetime.datetime, an ISO string of either, or None")
    if moment > now:
        shown = datetime.fromtimestamp(now, timezone.utc).isoformat()
        raise ValidationError("at", at, f"is after now on the sandbox clock ({shown}): "
                                        "nothing can have been sent then yet")
    return math.floor(moment)


def figures(sent: object, counts: Mapping[str, object],
            rates: Mapping[str, object] | None) -> dict[str, int]:
    """``sent`` and the five figures, checked: each a whole number, given as a count or as a
    rate of ``sent`` (not both). Bounces, complaints and deferrals default to 0, ``delivered``
    to what did not bounce. A message ends delivered, bounced hard or bounced soft (at most one
    of them); a complaint comes from a delivered message; a deferral is counted once per
    message deferred, which may still be delivered."""
    total = _whole("sent", sent, MAX_SENT, f"{MAX_SENT:,}")
    if rates is not None and not isinstance(rates, Mapping):
        raise ValidationError("rates", rates, "must be a mapping of figure to share of sent")
    out: dict[str, int] = {}
    for field in FIGURES:
        count = counts.get(field)
        if count is not None:
            out[field] = _whole(field, count, total, f"sent ({total})")
    for field, rate in (rates or {}).items():
        if field not in FIGURES:
            raise ValidationError("rates", field, f"names no figure; one of: {', '.join(FIGURES)}")
        if field in out:
            raise ValidationError(field, counts[field], "is given both as a count and in rates")
        out[field] = _share(field, rate, total)
    for field in FIGURES[1:]:
        out.setdefault(field, 0)
    out.setdefault("delivered", max(0, total - out["bounced_hard"] - out["bounced_soft"]))
    ended = out["delivered"] + out["bounced_hard"] + out["bounced_soft"]
    if ended > total:
        raise ValidationError("delivered", out["delivered"],
                              f"delivered + bounced_hard + bounced_soft is {ended}, more than "
                              f"the {total} sent")
    if out["complained"] > out["delivered"]:
        raise ValidationError("complained", out["complained"],
                              f"more than the {out['delivered']} delivered")
    if out["deferred"] > total:
        raise ValidationError("deferred", out["deferred"], f"more than the {total} sent")
    return {"sent": total, **out}


def traffic_days(db: sqlite3.Connection, ip: str, since: date | None) -> list[date]:
    """The UTC days on which sends were recorded on ``ip`` (from ``since``), oldest first."""
    lo = -(2**62) if since is None else _epoch(since)
    rows = db.execute(
        "SELECT (at - ((at % 86400) + 86400) % 86400) AS day FROM sends "
        "WHERE ip = ? AND at >= ? GROUP BY day HAVING SUM(sent) > 0 ORDER BY day",
        (ip, lo)).fetchall()
    return [date(1970, 1, 1) + timedelta(days=int(r[0]) // _DAY) for r in rows]


class SendLog:
    """Records sends (``record``) and answers ``GET /v1/stats`` from them."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def routes(self) -> list[calls.Route]:
        return [("GET", "/v1/stats", self._stats)]

    def record(
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
        """See ``Emulator.record_sends``. Every argument is checked before anything is
        written; a mistake is a ``ValidationError`` naming it."""
        name = validate.domain_name(domain)
        counts = {"delivered": delivered, "bounced_hard": bounced_hard,
                  "bounced_soft": bounced_soft, "complained": complained, "deferred": deferred}
        row = figures(sent, counts, rates)
        when = _moment(at, self.clock.time())
        address = None if ip is None else validate.ip_address(ip)
        pool_name = None if pool is None else validate.pool_name(pool)
        owner_asked = None if subaccount is None else validate.identifier(subaccount,
                                                                          "subaccount")
        with self.store.transaction() as db:
            owner = _owner(db, name, owner_asked)
            pool_name = _pool_of(db, address, pool_name)
            db.execute(
                "INSERT INTO sends (at, account, domain, ip, pool, sent, delivered, "
                "bounced_hard, bounced_soft, complained, deferred) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (when, owner, name, address, pool_name, row["sent"],
                 *(row[f] for f in FIGURES)))
        return {"at": datetime.fromtimestamp(when, timezone.utc).isoformat(),
                "subaccount": owner or None, "domain": name, "ip": address,
                "pool": pool_name, **row}

    # -- GET /v1/stats --------------------------------------------------------------------------

    def _stats(self, call: calls.CallLike) -> tuple[int, Any]:
        q = calls.only_fields(call, {"since", "until", "resolution", "scope", "target",
                                     "limit", "cursor"})
        since, until = _day(q, "since"), _day(q, "until")
        if until < since:
            raise ApiError(400, "invalid_request", "until is before since")
        resolution = q.get("resolution", "day")
        if resolution not in RESOLUTIONS:
            raise ApiError(400, "invalid_request", f"resolution must be one of: "
                                                   f"{', '.join(RESOLUTIONS)}")
        span = (until - since).days + 1
        if span > MAX_SPAN_DAYS[resolution]:
            raise ApiError(400, "invalid_request", f"{span} days at resolution {resolution} "
                           f"is more than {MAX_SPAN_DAYS[resolution]}")
        scope = q.get("scope", "account")
        if scope not in SCOPES:
            raise ApiError(400, "invalid_request", f"scope must be one of: {', '.join(SCOPES)}")
        target = q.get("target")
        if (scope == "account") != (target is None):
            raise ApiError(400, "invalid_request",
                           "give a target for every scope but account, and none for account")
        after, limit = calls.window(q)
        starts = _periods(since, until, resolution)
        page = starts[after:after + limit]
        lo, hi = _epoch(since), _epoch(until) + _DAY
        sums: dict[int, tuple[int, ...]] = {}
        with self.store.reading() as db:
            where, args = _filter(db, call.account, scope, target)
            if page:
                sums = _sums(db, where, args, RESOLUTIONS[resolution],
                             max(page[0], lo), min(_end(page[-1], resolution), hi))
        items = _rows(page, sums)
        last = after + len(page) if after + len(page) < len(starts) else None
        return 200, {"items": items, "next_cursor": calls.cursor(last),
                     "resolution": resolution, "scope": scope, "target": target}


def _owner(db: sqlite3.Connection, name: str, asked: str | None) -> str:
    """The account the domain belongs to ("" main), which ``asked`` (if given) must be."""
    found = db.execute("SELECT account FROM domains WHERE name = ?", (name,)).fetchone()
    if found is None:
        raise ValidationError("domain", name, "is not a domain of this sandbox; create it "
                                              "first")
    owner = str(found[0])
    if asked is not None and asked != owner:
        raise ValidationError("subaccount", asked, f"is not the account of {name} ("
                                                   f"{owner or 'the main account'})")
    return owner


def _pool_of(db: sqlite3.Connection, ip: str | None, pool: str | None) -> str | None:
    """The pool to record: the one given (which must exist and hold ``ip``), else the pool
    ``ip`` is in now."""
    current = None
    if ip is not None:
        row = db.execute("SELECT pools.name FROM ips LEFT JOIN pools ON pools.seq = pool_seq "
                         "WHERE address = ?", (ip,)).fetchone()
        if row is None:
            raise ValidationError("ip", ip, "is not a dedicated IP of this sandbox")
        current = row[0]
    if pool is None:
        return None if current is None else str(current)
    if db.execute("SELECT 1 FROM pools WHERE name = ?", (pool,)).fetchone() is None:
        raise ValidationError("pool", pool, "is not a pool of this sandbox")
    if ip is not None and current != pool:
        raise ValidationError("pool", pool, f"does not hold {ip} (it is in "
                                            f"{current or 'no pool'})")
    return pool


def _day(query: Mapping[str, str], field: str) -> date:
    value = query.get(field)
    try:
        if value is None or len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "invalid_request", f"{field} must be a day, YYYY-MM-DD") from None


def _filter(db: sqlite3.Connection, account: str, scope: str, target: str | None
            ) -> tuple[str, list[Any]]:
    """The WHERE clause (beyond the time range) for what the caller may see in ``scope``;
    a target the sandbox has never heard of is a 404, as a typo should be."""
    where, args = ("", []) if not account else (" AND account = ?", [account])
    if scope == "account" or target is None:
        return where, args
    if scope == "subaccount":
        target = validate.identifier(target, "target")
        if account and target != account:
            raise ApiError(403, "forbidden", "a subaccount reads only its own figures")
        if db.execute("SELECT 1 FROM subaccounts WHERE id = ?", (target,)).fetchone() is None:
            raise not_found(f"subaccount {target}")
        return where + " AND account = ?", [*args, target]
    if scope == "ip":
        target = canonical_ip(target)
        if db.execute("SELECT 1 FROM ips WHERE address = ?", (target,)).fetchone() is None:
            raise not_found(f"dedicated IP {target}")
        return where + " AND ip = ?", [*args, target]
    if scope == "domain":
        target = validate.domain_name(target, "target")
        known = db.execute("SELECT 1 FROM domains WHERE name = ? AND (? = '' OR account = ?)",
                           (target, account, account)).fetchone()
    else:
        target = validate.pool_name(target)
        known = db.execute("SELECT 1 FROM pools WHERE name = ?", (target,)).fetchone()
    where, args = where + f" AND {scope} = ?", [*args, target]
    if known is None and db.execute(f"SELECT 1 FROM sends WHERE 1 = 1{where} LIMIT 1",  # noqa: S608 - fixed column names
                                    args).fetchone() is None:
        raise not_found(f"{scope} {target}")
    return where, args


def _periods(since: date, until: date, resolution: str) -> list[int]:
    """The start (epoch seconds) of every period from ``since`` to the end of ``until``."""
    if resolution == "month":
        starts, month = [], since.replace(day=1)
        while month <= until:
            starts.append(_epoch(month))
            month = (month + timedelta(days=32)).replace(day=1)
        return starts
    step = RESOLUTIONS[resolution]
    return list(range(_epoch(since), _epoch(until) + _DAY, step))


def _end(start: int, resolution: str) -> int:
    if resolution != "month":
        return start + RESOLUTIONS[resolution]
    first = date(1970, 1, 1) + timedelta(days=start // _DAY)
    return _epoch((first + timedelta(days=32)).replace(day=1))


def _sums(db: sqlite3.Connection, where: str, args: list[Any], bucket: int, lo: int,
          hi: int) -> dict[int, tuple[int, ...]]:
    """The figures summed per bucket of ``bucket`` seconds from ``lo`` to ``hi``."""
    columns = ", ".join(f"SUM({f})" for f in ("sent", *FIGURES))
    sql = (f"SELECT (at - ((at % {bucket}) + {bucket}) % {bucket}) AS bucket, {columns} "  # noqa: S608 - numbers and fixed names
           f"FROM sends WHERE at >= ? AND at < ?{where} GROUP BY bucket")
    return {int(r[0]): tuple(int(v) for v in r[1:])
            for r in db.execute(sql, [lo, hi, *args])}


def _rows(page: list[int], sums: dict[int, tuple[int, ...]]) -> list[dict[str, Any]]:
    totals = {start: [0] * (1 + len(FIGURES)) for start in page}
    for bucket, values in sums.items():
        # the period a bucket falls in: itself, or (months) the last start not after it
        start = page[bisect.bisect_right(page, bucket) - 1]
        totals[start] = [a + b for a, b in zip(totals[start], values, strict=True)]
    return [{"period": datetime.fromtimestamp(start, timezone.utc).isoformat(),
             **dict(zip(("sent", *FIGURES), totals[start], strict=True))} for start in page]


__all__ = ["FIGURES", "MAX_SENT", "MAX_SPAN_DAYS", "SendLog", "figures", "traffic_days"]
