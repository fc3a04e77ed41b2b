"""The common account model every provider normalises into.

All models are frozen ``attrs`` classes. ``raw`` keeps the ESP's own payload for power users;
it is excluded from equality, hashing and ``repr`` so two reads of the same object compare
equal and logs stay short.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import attrs


def _raw() -> Any:
    return attrs.field(factory=dict, eq=False, hash=False, repr=False, kw_only=True)


class RecordPurpose(str, enum.Enum):
    SPF = "spf"
    DKIM = "dkim"
    MX = "mx"
    TRACKING = "tracking"
    RETURN_PATH = "return_path"
    DMARC = "dmarc"
    VERIFICATION = "verification"
    OTHER = "other"

    def __str__(self) -> str:
        return self.value


class RecordStatus(str, enum.Enum):
    VALID = "valid"
    INVALID = "invalid"
    PENDING = "pending"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


class DomainState(str, enum.Enum):
    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    PENDING = "pending"
    FAILED = "failed"
    DISABLED = "disabled"

    def __str__(self) -> str:
        return self.value


class AssignmentKind(str, enum.Enum):
    IP = "ip"
    POOL = "pool"

    def __str__(self) -> str:
        return self.value


class Capability(str, enum.Enum):
    """What a provider can do natively. Declared per provider in ``SUPPORTS``."""

    DOMAINS = "domains"
    DOMAIN_VERIFY = "domains.verify"
    DOMAIN_DNS_RECORDS = "domains.dns_records"
    DEDICATED_IPS = "ips"
    IP_POOLS = "pools"
    ASSIGN_DOMAIN_IP = "assign.domain_ip"
    ASSIGN_DOMAIN_POOL = "assign.domain_pool"
    SUBACCOUNTS = "subaccounts"
    SUBACCOUNT_SCOPE = "subaccounts.on_behalf_of"
    SUBACCOUNT_DISABLE = "subaccounts.disable"
    ASSIGN_SUBACCOUNT_POOL = "assign.subaccount_pool"
    STREAMS = "streams"
    IP_WARMUP = "ips.warmup"
    DELIVERY_STATS = "stats.delivery"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class DnsRecord:
    """A DNS record the ESP requires. ``host`` is always a fully qualified name, no dot."""

    purpose: RecordPurpose
    type: str
    host: str
    value: str
    priority: int | None = None
    status: RecordStatus = RecordStatus.UNKNOWN
    raw: Mapping[str, Any] = _raw()

    @property
    def valid(self) -> bool:
        return self.status is RecordStatus.VALID


@attrs.frozen
class Domain:
    """A sending domain. ``name`` (punycode, lower case) is the canonical key; ``id`` is the
    ESP's own identifier where it has one."""

    name: str
    provider: str
    state: DomainState = DomainState.UNVERIFIED
    id: str | None = None
    dns_records: tuple[DnsRecord, ...] = ()
    subaccount: str | None = None
    created_at: datetime | None = None
    raw: Mapping[str, Any] = _raw()

    @property
    def verified(self) -> bool:
        return self.state is DomainState.VERIFIED

    def records(self, purpose: RecordPurpose | str) -> tuple[DnsRecord, ...]:
        """Records with the given purpose, e.g. ``d.records("dkim")``."""
        wanted = RecordPurpose(purpose)
        return tuple(r for r in self.dns_records if r.purpose is wanted)


@attrs.frozen
class DedicatedIp:
    address: str
    provider: str
    pool: str | None = None
    warming_up: bool | None = None
    rdns: str | None = None
    enabled: bool = True
    raw: Mapping[str, Any] = _raw()


@attrs.frozen
class IpPool:
    """A named group of dedicated IPs. ``name`` is what users pass; ``id`` is the ESP's key."""

    name: str
    provider: str
    id: str | None = None
    ips: tuple[str, ...] = ()
    description: str | None = None
    raw: Mapping[str, Any] = _raw()


@attrs.frozen
class Subaccount:
    id: str
    name: str
    provider: str
    enabled: bool = True
    created_at: datetime | None = None
    raw: Mapping[str, Any] = _raw()


class StreamKind(str, enum.Enum):
    TRANSACTIONAL = "transactional"
    BROADCAST = "broadcast"
    INBOUND = "inbound"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class Stream:
    """A message stream as the ESP models it (Postmark: transactional / broadcast streams
    of a server). ``subaccount`` is the server or subaccount it belongs to."""

    id: str
    name: str
    kind: StreamKind
    provider: str
    subaccount: str | None = None
    raw: Mapping[str, Any] = _raw()


@attrs.frozen
class Assignment:
    """What a domain sends from: one dedicated IP or one pool."""

    domain: str
    kind: AssignmentKind
    target: str
    provider: str
    raw: Mapping[str, Any] = _raw()


@attrs.frozen
class DomainSpec:
    """What to create. Options a provider cannot honour raise ``Unsupported`` before sending.

    ``dkim_key_size``: 1024 or 2048; ``spam_action``: ``disabled``, ``block`` or ``tag``;
    ``web_scheme``: ``http`` or ``https``; ``ips`` / ``pool``: what the domain sends from.
    """

    name: str
    dkim_key_size: int | None = None
    dkim_selector: str | None = None
    spam_action: str | None = None
    wildcard: bool | None = None
    web_scheme: str | None = None
    web_prefix: str | None = None
    ips: tuple[str, ...] = ()
    pool: str | None = None


class WarmupState(str, enum.Enum):
    """Where a dedicated IP is in its warmup. ``NOT_APPLICABLE``: the ESP warms it itself
    and says nothing more (an IP of an SES managed pool)."""

    NOT_STARTED = "not_started"
    WARMING = "warming"
    WARM = "warm"
    NOT_APPLICABLE = "not_applicable"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class Warmup:
    """One dedicated IP's warmup as the ESP reports it. A figure the ESP does not report is
    ``None``, never 0.

    ``stage``: the ESP's stage or day number (1-based) while warming; ``stages``: how many
    there are; ``progress``: the share done (0.0 - 1.0); ``daily_cap`` / ``hourly_cap``: what
    the IP may send today or this hour; ``overflow``: where mail over the cap goes, in the
    ESP's words (``"shared"``, a pool's name, ``"other dedicated IPs"``); ``started``: when
    the warmup began (UTC).
    """

    ip: str
    state: WarmupState
    provider: str
    stage: int | None = None
    stages: int | None = None
    progress: float | None = None
    daily_cap: int | None = None
    hourly_cap: int | None = None
    overflow: str | None = None
    started: datetime | None = None
    raw: Mapping[str, Any] = _raw()

    @property
    def warming(self) -> bool:
        return self.state is WarmupState.WARMING


class StatsScope(str, enum.Enum):
    """What delivery figures are filtered by."""

    ACCOUNT = "account"
    DOMAIN = "domain"
    SUBACCOUNT = "subaccount"
    IP = "ip"
    POOL = "pool"

    def __str__(self) -> str:
        return self.value


class Resolution(str, enum.Enum):
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class StatsQuery:
    """A validated request for delivery figures: ``since`` to ``until`` inclusive (UTC
    days), one scope (``target`` is the domain, subaccount id, IP or pool; None for the
    whole account), per ``resolution``. Built by ``acct.stats.delivery``."""

    since: date
    until: date
    scope: StatsScope = StatsScope.ACCOUNT
    target: str | None = None
    resolution: Resolution = Resolution.DAY

    def periods(self) -> list[datetime]:
        """The start (UTC) of every period from ``since`` to ``until``, oldest first: what
        a complete answer has one row for."""
        first = datetime.combine(self.since, time(), timezone.utc)
        days = (self.until - self.since).days + 1
        if self.resolution is Resolution.HOUR:
            return [first + timedelta(hours=n) for n in range(days * 24)]
        if self.resolution is Resolution.DAY:
            return [first + timedelta(days=n) for n in range(days)]
        out = []
        year, month = self.since.year, self.since.month
        while (year, month) <= (self.until.year, self.until.month):
            out.append(datetime(year, month, 1, tzinfo=timezone.utc))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out


def _rate(part: int | None, whole: int | None) -> float | None:
    if part is None or whole is None or whole <= 0:
        return None
    return part / whole


@attrs.frozen
class DeliveryStats:
    """Delivery figures for one period (``period``: its start, UTC). Figures the ESP does
    not report are ``None``, never 0; rates are None when either side is unknown or
    nothing was sent."""

    period: datetime
    resolution: Resolution
    provider: str
    scope: StatsScope = StatsScope.ACCOUNT
    target: str | None = None
    sent: int | None = None
    delivered: int | None = None
    bounced_hard: int | None = None
    bounced_soft: int | None = None
    complained: int | None = None
    deferred: int | None = None
    raw: Mapping[str, Any] = _raw()

    @property
    def bounced(self) -> int | None:
        """Hard plus soft bounces; None unless both are known."""
        if self.bounced_hard is None or self.bounced_soft is None:
            return None
        return self.bounced_hard + self.bounced_soft

    @property
    def bounce_rate(self) -> float | None:
        return _rate(self.bounced, self.sent)

    @property
    def hard_bounce_rate(self) -> float | None:
        return _rate(self.bounced_hard, self.sent)

    @property
    def complaint_rate(self) -> float | None:
        return _rate(self.complained, self.sent)

    @property
    def delivery_rate(self) -> float | None:
        return _rate(self.delivered, self.sent)


__all__ = [
    "Assignment",
    "AssignmentKind",
    "Capability",
    "DedicatedIp",
    "DeliveryStats",
    "DnsRecord",
    "Domain",
    "DomainSpec",
    "DomainState",
    "IpPool",
    "RecordPurpose",
    "RecordStatus",
    "Resolution",
    "StatsQuery",
    "StatsScope",
    "Stream",
    "StreamKind",
    "Subaccount",
    "Warmup",
    "WarmupState",
]
