"""What the export (``espkit.dns.formats``) and the live check (``espkit.dns.live``) share:
DNS names spelt absolute, compared the way DNS compares them, and checked before they are
written anywhere; and the install hint both give when an optional dependency (PyYAML,
dnspython) is missing.

Kept apart so that neither half imports the other.

Names read from an ESP are data from outside (docs/security.md): a record host such as
``x.example.com\\n$INCLUDE /etc/passwd`` or a domain named ``../../somewhere`` must never reach
a zone file or a file name as it is. ``record_name`` and ``zone_name`` are the checks every
writer in this package runs first.
"""

from __future__ import annotations

import re

from espkit.errors import DnsExportError, ValidationError
from espkit.validate import domain_name

#: the extra that brings PyYAML (octoDNS export) and dnspython (live checks)
FLEET_EXTRA = "pip install -e '.[fleet]'"

# Letters, digits, hyphen and underscore: the host-name rule (RFC 1123 2.1) widened by the
# underscore that service labels need (_dmarc, s1._domainkey; RFC 8552). Nothing a zone file
# or a path gives a meaning to ($ @ ; ( ) " \ / whitespace, control characters) can pass.
# fullmatch, not ``$``: ``$`` also matches before a trailing newline.
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_MAX_NAME = 253  # RFC 1035 2.3.4: 255 octets on the wire, 253 characters in text


def fqdn(name: str) -> str:
    """``name`` absolute, with one trailing dot."""
    return name.rstrip(".") + "."


def plain(name: str) -> str:
    """``name`` compared the way DNS compares names: lower case, no trailing dot."""
    return name.rstrip(".").lower()


def shown(value: object, limit: int = 80) -> str:
    """``value`` for an error message: ``repr`` (so a newline or an escape character shows
    as ``\\n`` / ``\\x1b`` instead of acting), cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def record_name(value: object, what: str, *, wildcard: bool = False) -> str:
    """``value`` (a record's owner or a CNAME/MX/NS target) checked as a DNS name that is
    safe in a zone file: ASCII labels of letters, digits, ``-`` and ``_`` (``*`` as the whole
    leftmost label when ``wildcard``), at most 63 characters each and 253 in all. Returned
    without the trailing dot, its case kept. Anything else is a ``DnsExportError`` naming
    ``what`` and the value: refused, never escaped into some other name."""
    if not isinstance(value, str):
        raise DnsExportError(f"{what} {shown(value)} is not a DNS name")
    name = value[:-1] if value.endswith(".") else value
    if not name or len(name) > _MAX_NAME:
        raise DnsExportError(f"{what} {shown(value)} must be 1-{_MAX_NAME} characters")
    labels = name.split(".")
    if wildcard and labels[0] == "*" and len(labels) > 1:
        labels = labels[1:]
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise DnsExportError(
                f"{what} {shown(value)} is not a DNS name espkit writes: label "
                f"{shown(label, 40)} must be 1-63 ASCII letters, digits, '-' or '_'")
    return name


def zone_name(value: object, what: str = "zone") -> str:
    """A domain or zone name that becomes part of a file name or a comment: the canonical
    form ``espkit.validate.domain_name`` gives (lower case, punycode, no trailing dot), so
    it holds no path separator, no ``..`` and no control character. A name it refuses is a
    ``DnsExportError`` naming it."""
    try:
        return domain_name(value, what)
    except ValidationError as exc:
        raise DnsExportError(f"the {what} {shown(value)} cannot be written: {exc.reason}"
                             ) from None


__all__ = ["FLEET_EXTRA", "fqdn", "plain", "record_name", "shown", "zone_name"]
