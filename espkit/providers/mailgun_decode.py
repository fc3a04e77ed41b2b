"""Mailgun's domain and subaccount answers read into espkit's models (``Domain`` with its
``DnsRecord``s, ``Subaccount``). ``MailgunProvider`` decodes its domain and subaccount calls'
answers here.

Kept apart from ``mailgun.py`` so that module stays the mapping of Mailgun's calls; what an
answer's fields mean (domain states, record validity, which record serves which purpose,
RFC 1123 timestamps) is read here. An answer about another domain or subaccount than the one
asked for is refused (``espkit.providers.payload.Malformed``).
"""

from __future__ import annotations

import email.utils
from datetime import datetime
from typing import TYPE_CHECKING, Any

from espkit.models import (
    DnsRecord,
    Domain,
    DomainState,
    RecordPurpose,
    RecordStatus,
    Subaccount,
)
from espkit.providers import payload as pl

if TYPE_CHECKING:
    from espkit.providers.mailgun import MailgunProvider

Json = dict[str, Any]

_STATES = {
    "active": DomainState.VERIFIED,
    "unverified": DomainState.UNVERIFIED,
    "disabled": DomainState.DISABLED,
}
_VALIDITY = {
    "valid": RecordStatus.VALID,
    "invalid": RecordStatus.INVALID,
    "unknown": RecordStatus.UNKNOWN,
}


def domain(p: MailgunProvider, body: Any, asked: str | None, raw: Json | None = None) -> Domain:
    """A Domain from a create/get/verify body (or a list item wrapped as {"domain": ...}).
    ``asked``: the name the call was about; an answer about no or another domain is
    refused. ``raw`` defaults to the whole body."""
    body = pl.need_obj(body, "the answer")
    info = pl.need_obj(body.get("domain"), "the answer's domain")
    name = pl.domain(info.get("name"), "domain.name")
    if asked is not None:
        if not pl.same_domain(name, asked):
            raise pl.Malformed("the answer names another domain than the one asked for")
        name = asked
    records = [
        record(r, name, receiving=False)
        for r in pl.objects(body.get("sending_dns_records"), "sending_dns_records")
    ] + [
        record(r, name, receiving=True)
        for r in pl.objects(body.get("receiving_dns_records"), "receiving_dns_records")
    ]
    state = _STATES.get((pl.str_or_none(info.get("state")) or "").lower(),
                        DomainState.UNVERIFIED)
    if info.get("is_disabled") is True:
        state = DomainState.DISABLED
    return Domain(
        name=name,
        provider=p.name,
        state=state,
        id=pl.opt_ident(info.get("id"), "domain.id"),
        dns_records=tuple(records),
        subaccount=pl.str_or_none(info.get("subaccount_id")) or p.subaccount,
        created_at=http_date(info.get("created_at")),
        raw=body if raw is None else raw,
    )


def subaccount_body(p: MailgunProvider, body: Any, asked: str | None = None) -> Subaccount:
    """{"subaccount": {...}}; ``asked``: the id the call was about."""
    sub = subaccount(p, pl.need_obj(pl.need_obj(body, "the answer").get("subaccount"),
                                    "the answer's subaccount"))
    if asked is not None and sub.id != asked:
        raise pl.Malformed("the answer is about another subaccount than the one asked for")
    return sub


def subaccount(p: MailgunProvider, raw: Json) -> Subaccount:
    return Subaccount(
        id=pl.ident(raw.get("id"), "subaccount id"),
        name=pl.opt_text(raw.get("name"), "subaccount name"),
        provider=p.name,
        enabled=(pl.str_or_none(raw.get("status")) or "open").lower() == "open",
        created_at=http_date(raw.get("created_at")),
        raw=raw,
    )


def record(raw: Json, domain: str, *, receiving: bool) -> DnsRecord:
    rtype = pl.opt_text(raw.get("record_type"), "record_type").upper()
    # MX records often come without a name: they belong to the domain itself.
    host = (pl.opt_text(raw.get("name"), "record name") or domain).rstrip(".").lower()
    value = pl.opt_text(raw.get("value"), "record value")
    return DnsRecord(
        purpose=_purpose(rtype, host, value, receiving),
        type=rtype,
        host=host,
        value=value,
        priority=_priority(raw.get("priority")),
        status=_VALIDITY.get((pl.str_or_none(raw.get("valid")) or "").lower(),
                             RecordStatus.UNKNOWN),
        raw=raw,
    )


def _priority(value: Any) -> int | None:
    """An MX priority: a string in Mailgun's payload ("10"), 0-65535, else none."""
    text = pl.str_or_none(value) or ""
    text = text.strip()
    # isascii: str.isdigit() is also true of "²" and other digits int() refuses
    if text.isascii() and text.isdigit() and len(text) <= 5 and int(text) <= 65535:
        return int(text)
    return None


def _purpose(rtype: str, host: str, value: str, receiving: bool) -> RecordPurpose:
    text = value.strip().lower()
    if rtype == "MX":
        return RecordPurpose.MX
    if receiving:
        return RecordPurpose.OTHER
    if rtype == "TXT" and text.startswith("v=spf1"):
        return RecordPurpose.SPF
    if "._domainkey." in f".{host}" or text.startswith(("k=rsa", "v=dkim1")):
        return RecordPurpose.DKIM  # TXT keys, or CNAMEs with automatic sender security
    if rtype == "TXT" and text.startswith("v=dmarc1"):
        return RecordPurpose.DMARC
    if rtype == "CNAME":
        return RecordPurpose.TRACKING  # <web_prefix>.<domain> -> mailgun.org
    return RecordPurpose.OTHER


def http_date(value: Any) -> datetime | None:
    """Mailgun timestamps are RFC 1123 ("Thu, 13 Oct 2011 18:02:00 GMT")."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


__all__ = ["domain", "http_date", "record", "subaccount", "subaccount_body"]
