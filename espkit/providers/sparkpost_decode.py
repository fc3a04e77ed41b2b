"""SparkPost's answers read into espkit's models: the ``{"results": ...}`` envelope, sending
domains with the DNS records built for them, sending IPs and IP pools. ``SparkPostProvider``
(``espkit.providers.sparkpost``) and its pool calls (``espkit.providers.sparkpost_pools``)
decode through these.

Kept apart from the provider's requests because SparkPost returns no DNS record list: the
records are built here from a sending domain's DKIM key and selector plus the bounce CNAME
the blueprint describes (``sending-domains.apib``, "DNS notes"), and its statuses mapped to
espkit's. Subaccounts are read beside their paging, in ``sparkpost.py``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from espkit.models import (
    DedicatedIp,
    DnsRecord,
    Domain,
    DomainState,
    IpPool,
    RecordPurpose,
    RecordStatus,
)
from espkit.providers import payload as pl

if TYPE_CHECKING:
    from espkit.providers.sparkpost import SparkPostProvider

Json = dict[str, Any]

#: ``SparkPostProvider.name``, for decoders that have no provider at hand
PROVIDER = "sparkpost"
#: the bounce CNAME target per region (sending-domains.apib, "DNS notes")
BOUNCE_CNAME = {"us": "sparkpostmail.com", "eu": "eu.sparkpostmail.com"}

_RECORD_STATUS = {
    "valid": RecordStatus.VALID,
    "invalid": RecordStatus.INVALID,
    "pending": RecordStatus.PENDING,
    "unverified": RecordStatus.UNKNOWN,
}


def _results(body: Any) -> Any:
    """Every SparkPost success wraps its payload in ``{"results": ...}``."""
    body = pl.need_obj(body, "the answer")
    if "results" not in body:
        raise pl.Malformed("the answer has no 'results'")
    return body["results"]


def _items(results: Any) -> list[Json]:
    """The ``results`` of a listing: a list of objects (missing or null is no listing)."""
    return pl.objects(results, "results", required=True)


# -- sending domains ----------------------------------------------------------------------


def _domain(p: SparkPostProvider, raw: Any, asked: str | None, *, records: bool = True,
            named: bool = False) -> Domain:
    """A Domain from a sending-domain object. ``asked``: the name the call was about (a
    read answers without a name, a create with one; ``named``: it must); an answer about
    another domain is refused."""
    raw = pl.need_obj(raw, "results")
    if "domain" in raw or named or asked is None:
        name = pl.domain(raw.get("domain"), "domain")
        if asked is not None:
            name = pl.named(name, asked, "domain")
    else:
        name = asked
    return Domain(
        name=name,
        provider=p.name,
        state=_state(pl.obj(raw.get("status"))),
        dns_records=_records(p, raw, name) if records else (),
        subaccount=pl.opt_ident(raw.get("subaccount_id"), "subaccount_id")
        or p.subaccount,
        created_at=_iso(raw.get("creation_time")),
        raw=raw,
    )


def _records(p: SparkPostProvider, raw: Json, domain: str) -> tuple[DnsRecord, ...]:
    """The records SparkPost checks, built from the DKIM key and the documented CNAME."""
    status = pl.obj(raw.get("status"))
    dns = pl.obj(raw.get("dns"))
    dkim = pl.opt_obj(raw.get("dkim"), "dkim")
    out: list[DnsRecord] = []
    public = pl.opt_text(dkim.get("public"), "dkim.public")
    selector = pl.opt_text(dkim.get("selector"), "dkim.selector")
    if public and selector:
        signing = pl.domain(dkim.get("signing_domain") or domain, "dkim.signing_domain")
        out.append(DnsRecord(
            purpose=RecordPurpose.DKIM,
            type="TXT",
            host=f"{selector.lower()}._domainkey.{signing}",
            value=f"v=DKIM1; k=rsa; h=sha256; p={public}",
            status=_record_status(status.get("dkim_status")),
            raw={"dkim": dkim, **({"error": dns["dkim_error"]}
                                  if "dkim_error" in dns else {})},
        ))
    out.append(DnsRecord(
        purpose=RecordPurpose.RETURN_PATH,
        type="CNAME",
        host=domain,
        value=_bounce_target(p),
        status=_record_status(status.get("cname_status")),
        raw={"cname_status": status.get("cname_status"),
             **({"error": dns["cname_error"]} if "cname_error" in dns else {})},
    ))
    return tuple(out)


def _bounce_target(p: SparkPostProvider) -> str:
    if p.region in BOUNCE_CNAME:
        return BOUNCE_CNAME[p.region]
    host = urllib.parse.urlsplit(p.transport.base_url).hostname or ""
    # a custom base_url: an EU host is recognisable; Enterprise tenants have their own
    # target (<public_tenant_id>.mail.e.sparkpost.com) that the API does not report
    return BOUNCE_CNAME["eu" if ".eu." in f".{host}" else "us"]


def _state(status: Json) -> DomainState:
    if str(status.get("compliance_status", "")).lower() == "blocked":
        return DomainState.DISABLED
    if status.get("ownership_verified") is True:
        return DomainState.VERIFIED
    checks = {str(status.get(k, "")).lower() for k in ("dkim_status", "cname_status")}
    if "pending" in checks:
        return DomainState.PENDING
    return DomainState.UNVERIFIED


def _record_status(value: Any) -> RecordStatus:
    return _RECORD_STATUS.get(str(value or "").lower(), RecordStatus.UNKNOWN)


# -- sending IPs and IP pools -------------------------------------------------------------


def _ip(raw: Any, asked: str | None = None) -> DedicatedIp:
    """A sending IP; ``pool`` holds the pool's id (``_named_pool`` gives its name)."""
    raw = pl.need_obj(raw, "results")
    address = pl.ip(raw.get("external_ip"), "external_ip")
    if asked is not None and address != asked:
        raise pl.Malformed("the answer is about another IP than the one asked for")
    return DedicatedIp(
        address=address,
        provider=PROVIDER,
        pool=pl.opt_ident(raw.get("ip_pool"), "ip_pool"),
        warming_up=pl.opt_bool(raw.get("auto_warmup_enabled")),
        rdns=pl.str_or_none(raw.get("hostname")),
        raw=raw,
    )


def _named_pool(ip: DedicatedIp, names: Mapping[str, str]) -> DedicatedIp:
    pool = None if ip.pool is None else names.get(ip.pool, ip.pool)
    return DedicatedIp(address=ip.address, provider=ip.provider, pool=pool,
                       warming_up=ip.warming_up, rdns=ip.rdns, raw=ip.raw)


def _pool(raw: Any, asked: str | None = None) -> IpPool:
    """A pool from the pool list or a read of one (``asked``: the id read)."""
    raw = pl.need_obj(raw, "results")
    pool_id = pl.ident(raw.get("id"), "id")  # the key of every later call
    if asked is not None and pool_id != asked:
        raise pl.Malformed("the answer is about another pool than the one asked for")
    members = [pl.ip(i.get("external_ip"), "ips[].external_ip")
               for i in pl.objects(raw.get("ips"), "ips")]
    return IpPool(name=pl.opt_text(raw.get("name"), "name") or pool_id,
                  provider=PROVIDER, id=pool_id, ips=tuple(members), raw=raw)


def _iso(value: Any) -> datetime | None:
    """SparkPost timestamps are ISO 8601 ("2025-01-25T14:00:00Z", "...+00:00")."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


__all__ = ["BOUNCE_CNAME", "PROVIDER"]
