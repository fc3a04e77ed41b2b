"""How espkit reads SES's email identities: a DOMAIN identity's answer decoded into a ``Domain``
with the DNS records SES expects.

SES returns no record list: the three Easy DKIM CNAMEs are built from
``DkimAttributes.Tokens``, and the custom MAIL FROM domain's MX and SPF TXT from the region.
Kept apart from ``ses.py`` so that module stays the calls SES is asked; these functions only
read answers, and send nothing.
"""

from __future__ import annotations

from typing import Any

from espkit.models import DnsRecord, Domain, DomainState, RecordPurpose, RecordStatus
from espkit.providers import payload as pl

Json = dict[str, Any]
PROVIDER = "ses"

_RECORD_STATUS = {
    "SUCCESS": RecordStatus.VALID,
    "FAILED": RecordStatus.INVALID,
    "PENDING": RecordStatus.PENDING,
    "TEMPORARY_FAILURE": RecordStatus.PENDING,
    "NOT_STARTED": RecordStatus.PENDING,
}
_DOMAIN_STATE = {
    "SUCCESS": DomainState.VERIFIED,
    "FAILED": DomainState.FAILED,
    "PENDING": DomainState.PENDING,
    "TEMPORARY_FAILURE": DomainState.PENDING,
    "NOT_STARTED": DomainState.PENDING,
}
#: the subdomain espkit sets as custom MAIL FROM on new identities
MAIL_FROM_LABEL = "mail"
SPF_VALUE = "v=spf1 include:amazonses.com ~all"


def identity_domain(name: str, body: Json, region: str) -> Domain:
    """A ``Domain`` from a Create/GetEmailIdentity answer, its DKIM and MAIL FROM records
    included (the MX names ``region``'s feedback endpoint)."""
    name = name.rstrip(".").lower()
    dkim = pl.opt_obj(body.get("DkimAttributes"), "DkimAttributes")
    dkim_status = _RECORD_STATUS.get(str(dkim.get("Status")), RecordStatus.UNKNOWN)
    tokens = pl.strings(dkim.get("Tokens"), "DkimAttributes.Tokens")
    if not all(pl.LABEL.fullmatch(t) for t in tokens):  # <token>._domainkey.<domain>
        raise pl.Malformed("a DKIM token is not a DNS label")
    records = [
        DnsRecord(
            purpose=RecordPurpose.DKIM, type="CNAME",
            host=f"{token}._domainkey.{name}", value=f"{token}.dkim.amazonses.com",
            status=dkim_status, raw={"Token": token, "Status": dkim.get("Status")},
        )
        for token in tokens
    ]
    mail_from = pl.opt_obj(body.get("MailFromAttributes"), "MailFromAttributes")
    mf_domain = pl.opt_text(mail_from.get("MailFromDomain"), "MailFromDomain")
    if mf_domain:
        mf_domain = pl.domain(mf_domain, "MailFromDomain")
        mf_status = _RECORD_STATUS.get(str(mail_from.get("MailFromDomainStatus")),
                                       RecordStatus.UNKNOWN)
        records += [
            DnsRecord(RecordPurpose.MX, "MX", mf_domain,
                      f"feedback-smtp.{region}.amazonses.com", priority=10,
                      status=mf_status, raw=mail_from),
            DnsRecord(RecordPurpose.SPF, "TXT", mf_domain, SPF_VALUE,
                      status=mf_status, raw=mail_from),
        ]
    status = body.get("VerificationStatus") or dkim.get("Status")
    return Domain(
        name=name,
        provider=PROVIDER,
        state=domain_state(body.get("VerifiedForSendingStatus"), status),
        dns_records=tuple(records),
        raw=body,
    )


def identity_config_set(identity: Json) -> str | None:
    """An identity's default configuration set (GetEmailIdentity), if any."""
    return pl.opt_text(identity.get("ConfigurationSetName"), "ConfigurationSetName") or None


def domain_state(verified_for_sending: object, status: object) -> DomainState:
    """``VerifiedForSendingStatus`` decides when SES gives it (Create/Get); list items carry
    only ``VerificationStatus``."""
    if verified_for_sending is True:
        return DomainState.VERIFIED
    state = _DOMAIN_STATE.get(str(status), DomainState.UNVERIFIED)
    if verified_for_sending is False and state is DomainState.VERIFIED:
        return DomainState.PENDING  # DNS checks passed, not yet cleared for sending
    return state


__all__ = ["MAIL_FROM_LABEL", "SPF_VALUE", "domain_state", "identity_config_set",
           "identity_domain"]
