"""Exporting the DNS records customers must publish: BIND zone-file lines, CSV, JSON and
octoDNS zone files, so they can be handed to whoever runs the customer's DNS.

    from espkit import dns

    text = dns.export(domains, "bind")                      # or "csv", "json", "octodns"
    text = dns.export([(d, "acme") for d in domains], "csv")  # labelled by customer
    docs = dns.to_octodns(domains, zones={"acme": "acme.com"})  # zone -> YAML document

Needs nothing beyond espkit; octoDNS also needs PyYAML (``pip install 'espkit[fleet]'``),
imported only when that format is asked for. Checking the records in live DNS is
``espkit.dns.live``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeAlias

from espkit.dns.names import FLEET_EXTRA, fqdn, plain
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


# -- export: BIND -----------------------------------------------------------------------------


def txt_strings(value: str) -> list[bytes]:
    """``value`` as the character-strings of a TXT record: UTF-8, at most 255 octets each
    (one empty string for an empty value). Joined, they are the value again."""
    raw = value.encode("utf-8")
    return [raw[i:i + _TXT_CHUNK] for i in range(0, len(raw), _TXT_CHUNK)] or [b""]


def quote_character_string(chunk: bytes) -> str:
    """One character-string in zone-file syntax: quoted, ``"`` and ``\\`` escaped with a
    backslash, bytes outside printable ASCII as ``\\DDD`` (RFC 1035 5.1)."""
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


def _zone_name(host: str) -> str:
    """An owner or target name for a zone file, absolute, odd characters ``\\DDD``."""
    out = []
    for ch in fqdn(host):
        if ch.isascii() and (ch.isalnum() or ch in "-_.*"):
            out.append(ch)
        else:
            out.extend(f"\\{b:03d}" for b in ch.encode("utf-8"))
    return "".join(out)


def _bind_rdata(record: DnsRecord) -> str:
    rtype = record.type.upper()
    if rtype == "TXT":
        strings = [quote_character_string(s) for s in txt_strings(record.value)]
        if len(strings) == 1:
            return strings[0]
        # a value over 255 octets (a 2048-bit DKIM key) is several character-strings,
        # which a resolver joins back into one; parentheses let them span lines
        return "(\n\t" + "\n\t".join(strings) + " )"
    if rtype == "CNAME":
        return _zone_name(record.value)
    if rtype == "MX":
        # every adapter gives MX a priority; 10 is what the ESPs document when one is absent
        priority = 10 if record.priority is None else record.priority
        return f"{priority} {_zone_name(record.value)}"
    return record.value


def to_bind(domains: Iterable[DomainItem], *, customers: Mapping[str, str] | None = None,
            ttl: int = DEFAULT_TTL) -> str:
    """Zone-file fragments, one block per domain, ``$ORIGIN``-free: every owner name and
    target is absolute (trailing dot), so the lines paste into any zone."""
    lines: list[str] = []
    current: object = object()
    for domain, customer in labelled(domains, customers):
        if customer != current and customer is not None:
            lines += ["", f"; ==== customer: {customer}"]
        current = customer
        lines += ["", f"; {domain.name} ({domain.provider}, {len(domain.dns_records)} records)"]
        for r in domain.dns_records:
            lines.append(f"{_zone_name(r.host)}\t{ttl}\tIN\t{r.type.upper()}\t{_bind_rdata(r)}"
                         f"\t; {r.purpose}")
    return "\n".join(lines).lstrip("\n") + "\n"


# -- export: CSV and JSON ---------------------------------------------------------------------


def to_csv(domains: Iterable[DomainItem], *, customers: Mapping[str, str] | None = None) -> str:
    """One row per record, columns ``CSV_COLUMNS``; values whole (never split)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for domain, customer in labelled(domains, customers):
        for r in domain.dns_records:
            writer.writerow([customer or "", domain.name, str(r.purpose), r.type.upper(),
                             r.host, r.value, "" if r.priority is None else r.priority])
    return buffer.getvalue()


def _record_json(r: DnsRecord) -> dict[str, Any]:
    return {"purpose": str(r.purpose), "type": r.type.upper(), "host": r.host,
            "value": r.value, "priority": r.priority, "status": str(r.status)}


def to_json(domains: Iterable[DomainItem], *, customers: Mapping[str, str] | None = None) -> str:
    """A list of ``{customer, domain, provider, state, records: [{purpose, type, host,
    value, priority, status}]}``; keys always present, in this order."""
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
    else the sending domain itself (a delegated subdomain)."""
    zone = None
    if zones:
        zone = zones.get(domain) or (zones.get(customer) if customer is not None else None)
    zone = plain(zone or domain)
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
    for domain, customer in labelled(domains, customers):
        zone = zone_of(domain.name, customer, zones)
        for r in domain.dns_records:
            name = _relative(r.host, zone)
            rtype = r.type.upper()
            value: Any
            if rtype == "TXT":
                value = _octodns_txt(r.value)
            elif rtype == "MX":
                value = (10 if r.priority is None else r.priority, fqdn(r.value.lower()))
            elif rtype == "CNAME":
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
    "DomainItem",
    "Format",
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
