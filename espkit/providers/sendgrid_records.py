"""How SendGrid's authenticated-domain DNS records become ``DnsRecord``s. ``SendGridProvider``
reads each entry of a domain's ``dns`` map (and, after a validation, its
``validation_results``) with ``record``; kept apart so ``sendgrid.py`` stays the mapping of
the API's calls, not of one answer's fields.

Source: ``../shared/specs/sendgrid/tsg_domain_authentication_v3.yaml``. SendGrid names each
record (``mail_cname``, ``dkim1``, ``dkim2`` with automatic security; ``mail_server``,
``subdomain_spf``, ``dkim`` and others with manual security) and gives its type in lower
case; a name not in ``DNS_PURPOSES`` is classified by its value.
"""

from __future__ import annotations

from typing import Any

from espkit.models import DnsRecord, RecordPurpose, RecordStatus
from espkit.providers import payload as pl

Json = dict[str, Any]

#: keys of the ``dns`` map -> what the record is for
DNS_PURPOSES = {
    # automatic security: the return-path CNAME (<subdomain>.<domain> -> u<id>.wl.sendgrid.net)
    # and two DKIM CNAMEs that SendGrid rotates
    "mail_cname": RecordPurpose.RETURN_PATH,
    "dkim1": RecordPurpose.DKIM,
    "dkim2": RecordPurpose.DKIM,
    # manual security: the return-path MX, SPF on it and (custom SPF) on the root, one DKIM TXT
    "mail_server": RecordPurpose.RETURN_PATH,
    "subdomain_spf": RecordPurpose.SPF,
    "domain_spf": RecordPurpose.SPF,
    "spf": RecordPurpose.SPF,
    "dkim": RecordPurpose.DKIM,
}


def record(key: str, raw: Json, domain: str, check: Json) -> DnsRecord:
    rtype = pl.opt_text(raw.get("type"), "record type").upper()
    host = (pl.opt_text(raw.get("host"), "record host") or domain).rstrip(".").lower()
    value = pl.opt_text(raw.get("data"), "record data")
    valid = check.get("valid", raw.get("valid"))
    status = RecordStatus.UNKNOWN
    if isinstance(valid, bool):
        status = RecordStatus.VALID if valid else RecordStatus.INVALID
    merged = {**raw, "name": key}
    if check.get("reason"):
        merged["reason"] = check["reason"]
    return DnsRecord(
        purpose=purpose(key, rtype, value),
        type=rtype,
        host=host,
        value=value,
        priority=10 if rtype == "MX" else None,  # SendGrid's MX records are all priority 10
        status=status,
        raw=merged,
    )


def purpose(key: str, rtype: str, value: str) -> RecordPurpose:
    if key in DNS_PURPOSES:
        return DNS_PURPOSES[key]
    text = value.strip().lower()
    if key.startswith("dkim") or text.startswith(("k=rsa", "v=dkim1")):
        return RecordPurpose.DKIM
    if text.startswith("v=spf1"):
        return RecordPurpose.SPF
    if text.startswith("v=dmarc1"):
        return RecordPurpose.DMARC
    return RecordPurpose.OTHER


__all__ = ["DNS_PURPOSES", "purpose", "record"]
