"""Exporting the DNS records customers must publish: BIND zone-file lines, CSV, JSON and
octoDNS zone files, so they can be handed to whoever runs the customer's DNS.

    from espkit import dns

    text = dns.export(domains, "bind")                      # or "csv", "json", "octodns"
    text = dns.export([(d, "acme") for d in domains], "csv")  # labelled by customer
    docs = dns.to_octodns(domains, zones={"acme": "acme.com"})  # zone -> YAML document

Needs nothing beyond espkit; octoDNS also needs PyYAML (``pip install -e '.[fleet]'``),
imported only when that format is asked for. Checking the records in live DNS is
``espkit.dns.live``.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeAlias

import attrs

from espkit.dns.names import FLEET_EXTRA, fqdn, plain, record_name, shown, zone_name
from espkit.errors import ConfigError, DnsExportError
from espkit.models import DnsRecord, Domain

DEFAULT_TTL = 3600
FORMATS = ("bind", "csv", "json", "octodns")
Format = Literal["bind", "csv", "json", "octodns"]
CSV_COLUMNS = ("customer", "domain", "purpose", "type", "host", "value", "priority")
#: one item of an export: a domain, or a domain and the customer it belongs to
DomainItem: TypeAlias = "Domain | tuple[Domain, str | None]"

_TXT_CHUNK = 255  # RFC 1035 3.3: a character-string is at most 255 octets


# -- input ------------------------------------------------------------------------------------


def labelled(domains: Iterable[DomainItem], customers: Mapping[str, str] | None = None
             ) -> list[tuple[Domain, str | None]]:
    """``(domain, customer)`` pairs, grouped by customer (groups in order of first
    appearance, domains in input order). ``customers`` maps a domain name to its customer
    label and wins over a label given in the pair."""
    pairs: list[tuple[Domain, str | None]] = []
    for item in domains:
        if isinstance(item, Domain):
            domain, label = item, None
        else:
            domain, label = item
        if customers is not None and domain.name in customers:
            label = customers[domain.name]
        pairs.append((domain, label))
    groups: dict[str | None, list[tuple[Domain, str | None]]] = {}
    for pair in pairs:
        groups.setdefault(pair[1], []).append(pair)
    return [pair for group in groups.values() for pair in group]


# -- what every zone format checks first ------------------------------------------------------
#
# A zone file is code for a nameserver: a value with a newline, a `;` or a `$` in the wrong
# place adds records (`$INCLUDE`, another NS) the ESP never asked for. So nothing read from the
# ESP is written as it came: names must be DNS names (``record_name``), addresses must parse
# as addresses, a type must be one of ``RECORD_TYPES``, and text goes out only as quoted
# character-strings. What fails a check is refused with a DnsExportError naming the domain and
# the record; the whole export stops before anything is written.

#: the record types the BIND and octoDNS exports write: those the ESPs ask for (TXT, CNAME,
#: MX) and the plain address and delegation types. Any other is refused, never passed through.
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT")
_MAX_TTL = 2**31 - 1  # RFC 2181 8


def _ttl(ttl: object) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= _MAX_TTL:
        raise DnsExportError(f"ttl {shown(ttl)} must be a whole number of seconds, "
                             f"0-{_MAX_TTL}")
    return ttl


def checked_record(domain: str, record: DnsRecord) -> DnsRecord:
    """``record`` (of the domain ``domain``) as the zone formats write it: type upper case,
    host a DNS name (``*`` allowed as its first label), CNAME/MX/NS targets DNS names, A/AAAA
    values canonical addresses of their family, MX priority 0-65535 (10 when absent: what
    the ESPs document), TXT values any text that encodes as UTF-8. Anything else is a
    ``DnsExportError`` naming the domain and the record."""
    rtype = record.type.upper() if isinstance(record.type, str) else record.type
    where = f"{domain}: the {shown(record.type, 24)} record at {shown(record.host)}"
    if rtype not in RECORD_TYPES:
        raise DnsExportError(f"{where}: not a record type espkit writes "
                             f"({', '.join(RECORD_TYPES)})")
    host = record_name(record.host, f"{domain}: the {rtype} record host", wildcard=True)
    value = record.value
    if not isinstance(value, str):
        raise DnsExportError(f"{where}: the value {shown(value)} is not text")
    priority = record.priority
    if rtype in ("CNAME", "MX", "NS"):
        value = record_name(value, f"{where}: the target")
    if rtype == "MX":
        priority = 10 if priority is None else priority
        if isinstance(priority, bool) or not isinstance(priority, int) \
                or not 0 <= priority <= 65535:
            raise DnsExportError(f"{where}: the priority {shown(priority)} must be 0-65535")
    elif rtype in ("A", "AAAA"):
        value = _address(value, rtype, where)
    elif rtype == "TXT":
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no bytes to publish
            raise DnsExportError(f"{where}: the value {shown(value)} is not valid text"
                                 ) from None
    return attrs.evolve(record, type=rtype, host=host, value=value, priority=priority)


def _address(value: str, rtype: str, where: str) -> str:
    family = ipaddress.IPv4Address if rtype == "A" else ipaddress.IPv6Address
    try:
        address = family(value)
    except ValueError:
        raise DnsExportError(f"{where}: {shown(value)} is not an IPv{4 if rtype == 'A' else 6} "
                             "address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        # "fe80::1%eth0" parses, but a zone id means nothing in DNS
        raise DnsExportError(f"{where}: {shown(value)} has a zone id")
    return str(address)


def _checked(domains: Iterable[DomainItem], customers: Mapping[str, str] | None
             ) -> list[tuple[str, Domain, str | None, list[DnsRecord]]]:
    """Every domain of an export with its canonical name and its checked records, all
    checked before the first line is written."""
    checked = []
    for domain, customer in labelled(domains, customers):
        name = zone_name(domain.name, "domain")
        checked.append((name, domain, customer,
                        [checked_record(name, r) for r in domain.dns_records]))
    return checked


def comment(text: object) -> str:
    """``text`` for a zone-file comment: every character that is not printable (newline,
    carriage return, other C0 and C1 controls, bidi overrides, line separators) written as a
    visible ``\\uXXXX``, so a comment can never end early and start a record."""
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in str(text))


# -- export: BIND -----------------------------------------------------------------------------


def txt_strings(value: str) -> list[bytes]:
    """``value`` as the character-strings of a TXT record: UTF-8, at most 255 octets each
    (one empty string for an empty value). Joined, they are the value again."""
    raw = value.encode("utf-8")
    return [raw[i:i + _TXT_CHUNK] for i in range(0, len(raw), _TXT_CHUNK)] or [b""]


def quote_character_string(chunk: bytes) -> str:
    """One character-string in zone-file syntax: quoted, ``"`` and ``\\`` escaped with a
    backslash, bytes outside printable ASCII as ``\\DDD`` (RFC 1035 5.1). The result holds
    printable ASCII only: no newline, no byte a zone parser could read as the end of the
    string."""
    if len(chunk) > _TXT_CHUNK:
        raise DnsExportError(f"a character-string is at most {_TXT_CHUNK} octets")
    parts = []
    for byte in chunk:
        if byte in (0x22, 0x5C):
            parts.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            parts.append(chr(byte))
        else:
            parts.append(f"\\{byte:03d}")
    return '"' + "".join(parts) + '"'


def _bind_rdata(record: DnsRecord) -> str:
    # ``record`` has passed checked_record: names and addresses hold nothing to escape
    if record.type == "TXT":
        strings = [quote_character_string(s) for s in txt_strings(record.value)]
        if len(strings) == 1:
            return strings[0]
        # a value over 255 octets (a 2048-bit DKIM key) is several character-strings,
        # which a resolver joins back into one; parentheses let them span lines
        return "(\n\t" + "\n\t".join(strings) + " )"
    if record.type == "MX":
        return f"{record.priority} {fqdn(record.value)}"
    if record.type in ("CNAME", "NS"):
        return fqdn(record.value)
    return record.value  # A / AAAA: a canonical address


def to_bind(domains: Iterable[DomainItem], *, customers: Mapping[str, str] | None = None,
            ttl: int = DEFAULT_TTL) -> str:
    """Zone-file fragments, one block per domain, ``$ORIGIN``-free: every owner name and
    target is absolute (trailing dot), so the lines paste into any zone.

    Every domain and record is checked first (``checked_record``): a record that cannot be
    written safely is a ``DnsExportError`` and nothing is returned. Comments (customer,
    provider, domain) are one line each whatever they hold (``comment``)."""
    ttl = _ttl(ttl)
    lines: list[str] = []
    current: object = object()
    for name, domain, customer, recs in _checked(domains, customers):
        if customer != current and customer is not None:
            lines += ["", f"; ==== customer: {comment(customer)}"]
        current = customer
        lines += ["", f"; {name} ({comment(domain.provider)}, {len(recs)} records)"]
        for r in recs:
            lines.append(f"{fqdn(r.host)}\t{ttl}\tIN\t{r.type}\t{_bind_rdata(r)}"
                         f"\t; {comment(r.purpose)}")
    return "\n".join(lines).lstrip("\n") + "\n"


# -- export: CSV and JSON ---------------------------------------------------------------------
#
# CSV is opened in spreadsheets, and a spreadsheet runs a cell starting with `=`, `+`, `-`,
# `@`, tab or carriage return as a formula (OWASP, "CSV Injection"). Every cell espkit writes
# goes through ``csv_cell``: such a cell gets a leading `'`, which spreadsheets read as "this
# is text" and do not show. Only the first character matters, so `v=spf1 ... -all` is left
# alone; a value that really starts with `-` also gets the `'` (no DNS value an ESP asks for
# does). The full-width forms of the four signs are treated the same, as cheap insurance.
# Scripts wanting exact values read the JSON export, which is never altered.

_FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
# control characters have no place in a DNS value or a label, and in a CSV they act on the
# terminal or the spreadsheet that shows it: C0 but tab, DEL, C1, and the bidi controls that
# reorder what is shown (Trojan Source, CVE-2021-42574)
_CSV_REFUSED = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f"
                          "\u202a-\u202e\u2066-\u2069]")


def csv_cell(value: object) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text: ``str(value)``, with a leading
    ``'`` when it starts with a character that would make it a formula (OWASP)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in _FORMULA_START else text


def to_csv(domains: Iterable[DomainItem], *, customers: Mapping[str, str] | None = None) -> str:
    """One row per record, columns ``CSV_COLUMNS``; values whole (never split), every cell
    neutralised against formula injection (``csv_cell``). A cell holding a control character
    is a ``DnsExportError`` naming the domain."""
    buffer = io.StringIO()
    # quoted where the csv module must (a delimiter, quote or newline inside): quoting every
    # cell would not stop a formula, only the leading ' does
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for domain, customer in labelled(domains, customers):
        for r in domain.dns_records:
            row = [customer or "", domain.name, str(r.purpose), r.type.upper(), r.host,
                   r.value, "" if r.priority is None else r.priority]
            for cell in row:
                if isinstance(cell, str) and _CSV_REFUSED.search(cell):
                    raise DnsExportError(f"{shown(domain.name)}: the {shown(r.type, 24)} record "
                                         f"at {shown(r.host)} holds a control character: "
                                         f"{shown(cell)}")
            writer.writerow([csv_cell(cell) for cell in row])
    return buffer.getvalue()


def _record_json(r: DnsRecord) -> dict[str, Any]:
    return {"purpose": str(r.purpose), "type": r.type.upper(), "host": r.host,
            "value": r.value, "priority": r.priority, "status": str(r.status)}


def to_json(domains: Iterable[DomainItem], *, customers: Mapping[str, str] | None = None) -> str:
    """A list of ``{customer, domain, provider, state, records: [{purpose, type, host,
    value, priority, status}]}``; keys always present, in this order. Values as the ESP gave
    them: ``json.dumps`` escapes control characters (and, ASCII-only, everything else)."""
    data = [
        {"customer": customer, "domain": domain.name, "provider": domain.provider,
         "state": str(domain.state), "records": [_record_json(r) for r in domain.dns_records]}
        for domain, customer in labelled(domains, customers)
    ]
    return json.dumps(data, indent=2) + "\n"


# -- export: octoDNS --------------------------------------------------------------------------
#
# The shape follows octoDNS's YamlProvider (octodns/octodns @94bc80e, docs/records.rst,
# docs/examples/basic/config/my-domain.com.yaml, octodns/provider/yaml.py):
# - one file per zone, named `<zone>.yaml`, mapping record names relative to the zone ('' for
#   the apex) to one record `{type, ttl, value | values}` or a list of them;
# - keys sorted, at every level: YamlProvider loads with `enforce_order: true` and natural
#   ordering (natsort) by default and refuses a file out of order (octodns/yaml.py);
# - CNAME / MX targets absolute with the trailing dot; MX values `{exchange, preference}`;
# - TXT values whole (octoDNS splits them into 255-octet strings itself), ASCII only, with `;`
#   written `\;` (octodns/record/chunked.py: ChunkedValueValidator rejects an unescaped `;`
#   and a double-escaped `\\;`; `to_raw_text` turns `\;` back into `;`). `"` and `\` stay as
#   they are: octoDNS escapes them when it renders the record. A value starting with `"` or
#   holding `" "` would be altered by `_ChunkedValue.process`, so such values are refused.


def _natural_key(name: str) -> tuple[Any, ...]:
    # natsort's default key: digit runs compare as numbers; splitting on a capturing group
    # keeps strings at even and numbers at odd positions, so keys always compare
    parts = re.split(r"(\d+)", name)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def _octodns_txt(value: str) -> str:
    if not value.isascii():
        raise DnsExportError(f"octoDNS takes ASCII TXT values only: {value[:60]!r}")
    if value.startswith('"') or '" "' in value or "\\;" in value:
        raise DnsExportError(f"octoDNS would alter this TXT value: {value[:60]!r}")
    return value.replace(";", "\\;")


def zone_of(domain: str, customer: str | None, zones: Mapping[str, str] | None) -> str:
    """The zone a domain's records go into: ``zones[domain]``, else ``zones[customer]``,
    else the sending domain itself (a delegated subdomain). Checked as a domain name
    (``zone_name``): it names a file and heads a YAML document."""
    zone = None
    if zones:
        zone = zones.get(domain) or (zones.get(customer) if customer is not None else None)
    zone = zone_name(zone or domain, "zone")
    if domain != zone and not domain.endswith("." + zone):
        raise DnsExportError(f"{domain} is not inside the zone {zone}")
    return zone


def _relative(host: str, zone: str) -> str:
    host = plain(host)
    if host == zone:
        return ""
    if not host.endswith("." + zone):
        raise DnsExportError(f"the record {host} is not inside the zone {zone}")
    return host[: -len(zone) - 1]


def octodns_data(domains: Iterable[DomainItem], *, customers: Mapping[str, str] | None = None,
                 zones: Mapping[str, str] | None = None, ttl: int = DEFAULT_TTL
                 ) -> dict[str, dict[str, Any]]:
    """zone -> the octoDNS document of that zone as data (see ``to_octodns``)."""
    # zone -> name -> type -> values (insertion-ordered, duplicates dropped)
    nodes: dict[str, dict[str, dict[str, dict[Any, None]]]] = {}
    ttl = _ttl(ttl)
    for domain_name, _, customer, recs in _checked(domains, customers):
        zone = zone_of(domain_name, customer, zones)
        for r in recs:  # checked: names, addresses and types hold nothing to escape
            name = _relative(r.host, zone)
            rtype = r.type
            value: Any
            if rtype == "TXT":
                value = _octodns_txt(r.value)
            elif rtype == "MX":
                value = (r.priority, fqdn(r.value.lower()))
            elif rtype in ("CNAME", "NS"):
                value = fqdn(r.value.lower())
            else:
                value = r.value
            nodes.setdefault(zone, {}).setdefault(name, {}).setdefault(rtype, {})[value] = None
    documents: dict[str, dict[str, Any]] = {}
    for zone in sorted(nodes, key=_natural_key):
        document: dict[str, Any] = {}
        for name in sorted(nodes[zone], key=_natural_key):
            types = nodes[zone][name]
            where = f"{name}.{zone}" if name else zone
            if "CNAME" in types:
                if not name:
                    raise DnsExportError(
                        f"a CNAME at the apex of the zone {zone} is not allowed: give the "
                        "customer's registered domain as the zone (zones=...)")
                if len(types) > 1 or len(types["CNAME"]) > 1:
                    raise DnsExportError(f"{where}: a CNAME cannot share its name with other "
                                         "records")
            records = [_octodns_record(rtype, list(values), ttl)
                       for rtype, values in sorted(types.items())]
            document[name] = records[0] if len(records) == 1 else records
        documents[zone] = document
    return documents


def _octodns_record(rtype: str, values: list[Any], ttl: int) -> dict[str, Any]:
    if rtype == "MX":
        values = [{"exchange": exchange, "preference": preference}
                  for preference, exchange in sorted(values)]
    else:
        values = sorted(values)
    record: dict[str, Any] = {"ttl": ttl, "type": rtype}
    if len(values) == 1:
        record["value"] = values[0]
    else:
        record["values"] = values
    return record


def to_octodns(domains: Iterable[DomainItem], *, customers: Mapping[str, str] | None = None,
               zones: Mapping[str, str] | None = None, ttl: int = DEFAULT_TTL
               ) -> dict[str, str]:
    """zone -> an octoDNS YAML zone document (the content of ``<zone>.yaml``).

    Records of several sending domains in one zone share one document. The zone of a domain
    is ``zones[domain]`` or ``zones[customer]`` (the customer's registered domain) when
    given, else the sending domain itself, as if it were delegated to its own zone.
    """
    yaml = _yaml()
    return {
        zone: f"# octoDNS zone {zone}. (records from espkit)\n" + yaml.safe_dump(
            document, explicit_start=True, sort_keys=False, default_flow_style=False,
            width=1 << 16,
        )
        for zone, document in octodns_data(domains, customers=customers, zones=zones,
                                           ttl=ttl).items()
    }


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - only without the extra
        raise ConfigError(f"the octoDNS export needs PyYAML: {FLEET_EXTRA}") from None
    return yaml


def export(domains: Iterable[DomainItem], fmt: Format | str = "bind", *,
           customers: Mapping[str, str] | None = None, zones: Mapping[str, str] | None = None,
           ttl: int = DEFAULT_TTL) -> str:
    """Every record of ``domains`` as one text in format ``fmt`` (``FORMATS``); octoDNS as
    a multi-document YAML stream, one document per zone."""
    if fmt == "bind":
        return to_bind(domains, customers=customers, ttl=ttl)
    if fmt == "csv":
        return to_csv(domains, customers=customers)
    if fmt == "json":
        return to_json(domains, customers=customers)
    if fmt == "octodns":
        return "".join(to_octodns(domains, customers=customers, zones=zones, ttl=ttl).values())
    raise DnsExportError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")


__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_TTL",
    "FORMATS",
    "RECORD_TYPES",
    "DomainItem",
    "Format",
    "checked_record",
    "comment",
    "csv_cell",
    "export",
    "labelled",
    "octodns_data",
    "quote_character_string",
    "to_bind",
    "to_csv",
    "to_json",
    "to_octodns",
    "txt_strings",
    "zone_of",
]
