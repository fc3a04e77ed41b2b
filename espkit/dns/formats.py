"""The DNS records customers must publish: exported for them, and checked in live DNS.

    from espkit.dns import formats as dns

    text = dns.export(domains, "bind")                      # or "csv", "json", "octodns"
    text = dns.export([(d, "acme") for d in domains], "csv")  # labelled by customer
    docs = dns.to_octodns(domains, zones={"acme": "acme.com"})  # zone -> YAML document

    for c in dns.check(domains, nameservers=["192.0.2.53"]):
        print(c.domain, c.record.host, c.status, c.found, c.reason)

Exports need nothing beyond espkit (octoDNS also needs PyYAML); ``check`` needs dnspython.
Both come with ``pip install 'espkit[fleet]'``.
"""

from __future__ import annotations

import csv
import enum
import io
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs

from espkit.errors import ConfigError, DnsExportError
from espkit.models import DnsRecord, Domain, RecordPurpose

if TYPE_CHECKING:  # pragma: no cover
    import dns.resolver

DEFAULT_TTL = 3600
DEFAULT_CONCURRENCY = 32
FORMATS = ("bind", "csv", "json", "octodns")
Format = Literal["bind", "csv", "json", "octodns"]
CSV_COLUMNS = ("customer", "domain", "purpose", "type", "host", "value", "priority")
#: one item of an export: a domain, or a domain and the customer it belongs to
DomainItem: TypeAlias = "Domain | tuple[Domain, str | None]"

_FLEET_EXTRA = "pip install 'espkit[fleet]'"
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


def _fqdn(name: str) -> str:
    """``name`` absolute, with one trailing dot."""
    return name.rstrip(".") + "."


def _plain(name: str) -> str:
    """``name`` compared the way DNS compares names: lower case, no trailing dot."""
    return name.rstrip(".").lower()


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
    for ch in _fqdn(host):
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
    zone = _plain(zone or domain)
    if domain != zone and not domain.endswith("." + zone):
        raise DnsExportError(f"{domain} is not inside the zone {zone}")
    return zone


def _relative(host: str, zone: str) -> str:
    host = _plain(host)
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
                value = (10 if r.priority is None else r.priority, _fqdn(r.value.lower()))
            elif rtype == "CNAME":
                value = _fqdn(r.value.lower())
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
        raise ConfigError(f"the octoDNS export needs PyYAML: {_FLEET_EXTRA}") from None
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


# -- check ------------------------------------------------------------------------------------


class CheckStatus(str, enum.Enum):
    PRESENT = "present"  # the expected value is among the answers
    MISSING = "missing"  # no such name (NXDOMAIN) or no record of the type (NoAnswer)
    WRONG = "wrong"      # records of the type exist but none is the expected one
    ERROR = "error"      # no answer: timeout, SERVFAIL, refused

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class RecordCheck:
    """What live DNS says about one required record. ``found`` holds the values of the type
    at the host, as DNS means them (TXT strings joined, names without the trailing dot, MX
    as ``"10 mx.example.com"``)."""

    domain: str
    record: DnsRecord
    status: CheckStatus
    found: tuple[str, ...] = ()
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status is CheckStatus.PRESENT


@attrs.frozen
class _Lookup:
    """The answer to one (host, type) question, shared by every record that asks it."""

    rdatas: tuple[Any, ...] = ()
    status: CheckStatus | None = None  # MISSING or ERROR when there is no answer
    reason: str = ""
    via: str | None = None  # the canonical name when a CNAME was followed
    timed_out: bool = False


def parse_nameserver(text: str, port: int = 53) -> tuple[str, int]:
    """``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address -> (address, port)."""
    text = text.strip()
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            return address, _port(rest[1:], text)
        return address, port
    if text.count(":") == 1:
        address, _, rest = text.partition(":")
        return address, _port(rest, text)
    return text, port


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"invalid nameserver {whole!r}: the port must be 1-65535")
    return int(text)


def _resolver(nameservers: Sequence[str] | None, port: int, timeout: float
              ) -> dns.resolver.Resolver:
    try:
        import dns.nameserver
        import dns.resolver
    except ImportError:
        raise ConfigError(f"checking DNS needs dnspython: {_FLEET_EXTRA}") from None
    if nameservers:
        resolver = dns.resolver.Resolver(configure=False)
        servers: list[str | dns.nameserver.Nameserver] = []
        for text in nameservers:
            address, server_port = parse_nameserver(text, port)
            servers.append(dns.nameserver.Do53Nameserver(address, server_port))
        resolver.nameservers = servers
    else:
        try:
            resolver = dns.resolver.Resolver()  # the system's (/etc/resolv.conf)
        except dns.resolver.NoResolverConfiguration:
            raise ConfigError("no system resolver is configured: name the nameservers "
                              "to ask") from None
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.cache = None
    # EDNS0 with the 2020 DNS flag day buffer: a DKIM TXT answer fits one UDP datagram; a
    # larger answer comes back truncated and dnspython asks again over TCP
    resolver.use_edns(0, 0, 1232)
    return resolver


def _lookup(resolver: dns.resolver.Resolver, host: str, rtype: str, timeout: float) -> _Lookup:
    import dns.exception
    import dns.rdatatype
    import dns.resolver

    try:
        rdtype = dns.rdatatype.from_text(rtype)
    except dns.exception.DNSException:
        return _Lookup(status=CheckStatus.ERROR, reason=f"unknown record type {rtype}")
    try:
        answer = resolver.resolve(_fqdn(host), rdtype, search=False)
    except dns.resolver.NXDOMAIN:
        return _Lookup(status=CheckStatus.MISSING, reason="no such name (NXDOMAIN)")
    except dns.resolver.NoAnswer:
        return _Lookup(status=CheckStatus.MISSING, reason=f"no {rtype} record at this name")
    except dns.exception.Timeout:
        return _Lookup(status=CheckStatus.ERROR, timed_out=True,
                       reason=f"timed out after {timeout:g}s ({_servers(resolver)})")
    except dns.resolver.NoNameservers as exc:
        return _Lookup(status=CheckStatus.ERROR, reason=_no_nameservers(exc))
    except dns.exception.DNSException as exc:
        return _Lookup(status=CheckStatus.ERROR, reason=f"{type(exc).__name__}: {exc}")
    via = None
    if _plain(answer.canonical_name.to_text()) != _plain(host):
        via = _plain(answer.canonical_name.to_text())
    return _Lookup(rdatas=tuple(answer), via=via)


def _servers(resolver: dns.resolver.Resolver) -> str:
    servers: list[Any] = list(resolver.nameservers)
    return ", ".join(f"{getattr(ns, 'address', ns)}:{getattr(ns, 'port', resolver.port)}"
                     for ns in servers)


def _no_nameservers(exc: Exception) -> str:
    # dnspython: kwargs["errors"] is [(server, tcp, port, error or rcode text, response)]
    errors = getattr(exc, "kwargs", {}).get("errors") or []
    said = []
    for error in errors:
        server, _tcp, port, what = error[0], error[1], error[2], error[3]
        said.append(f"{server}:{port} answered {what}")
    return "; ".join(dict.fromkeys(said)) or "no nameserver answered"


# -- comparing values the way DNS means them --


def _txt_text(rdata: Any) -> str:
    return b"".join(rdata.strings).decode("utf-8", "backslashreplace")


def _found(rtype: str, rdatas: Iterable[Any]) -> tuple[str, ...]:
    if rtype == "TXT":
        return tuple(_txt_text(r) for r in rdatas)
    if rtype == "CNAME":
        return tuple(r.target.to_text(omit_final_dot=True) for r in rdatas)
    if rtype == "MX":
        return tuple(f"{r.preference} {r.exchange.to_text(omit_final_dot=True)}" for r in rdatas)
    return tuple(r.to_text() for r in rdatas)


def is_spf(text: str) -> bool:
    """A TXT value is an SPF record: ``v=spf1`` then a space or nothing (RFC 7208 4.5)."""
    return text[:6].lower() == "v=spf1" and (len(text) == 6 or text[6] == " ")


def spf_terms(text: str) -> list[str]:
    """The mechanisms and modifiers after ``v=spf1``, lower case, ``+`` (the default
    qualifier) dropped."""
    return [t[1:] if t.startswith("+") else t for t in text.lower().split()[1:]]


def spf_required(expected: str) -> list[str]:
    """What a customer's SPF record must keep of the ESP's: its ``include:`` mechanisms, or,
    when it has none, every mechanism but ``all``."""
    terms = spf_terms(expected)
    includes = [t for t in terms if t.startswith("include:")]
    return includes or [t for t in terms if "=" not in t and t.lstrip("~-?") != "all"]


def _check_spf(domain: str, record: DnsRecord, found: tuple[str, ...]) -> RecordCheck:
    # Customers *merge* the ESP's SPF into the one they have (one SPF record per name:
    # RFC 7208 4.5; two are a permerror and break SPF for all their mail). So the record
    # counts as present when the name's single SPF record keeps the ESP's include: whatever
    # else it holds ("v=spf1 include:_spf.google.com include:mailgun.org -all"), and as wrong
    # when it lacks it or when there are several SPF records.
    spf = tuple(t for t in found if is_spf(t))
    if not spf:
        # other TXT at the name (site verifications ...) is normal: the SPF record is missing
        return RecordCheck(domain, record, CheckStatus.MISSING, found,
                           f"no SPF record among the {len(found)} TXT record(s)")
    if len(spf) > 1:
        count = "two" if len(spf) == 2 else str(len(spf))
        return RecordCheck(domain, record, CheckStatus.WRONG, spf,
                           f"{count} SPF records: a name may have only one; merge them")
    terms = spf_terms(spf[0])
    if terms == spf_terms(record.value):
        return RecordCheck(domain, record, CheckStatus.PRESENT, spf)
    lacking = [t for t in spf_required(record.value) if t not in terms]
    if lacking:
        return RecordCheck(domain, record, CheckStatus.WRONG, spf,
                           f"the SPF record lacks {' '.join(lacking)}")
    return RecordCheck(domain, record, CheckStatus.PRESENT, spf,
                       f"merged SPF record has {' '.join(spf_required(record.value))}")


def _no_space(text: str) -> str:
    return "".join(text.split())


def evaluate(domain: str, record: DnsRecord, rdatas: Sequence[Any]) -> RecordCheck:
    """Compare one required record with the dnspython rdatas found at its host and type."""
    rtype = record.type.upper()
    found = _found(rtype, rdatas)
    if rtype == "TXT" and is_spf(record.value):
        return _check_spf(domain, record, found)
    if rtype == "TXT":
        if record.value in found:
            return RecordCheck(domain, record, CheckStatus.PRESENT, found)
        # DKIM key records are tag lists where whitespace is not significant (RFC 6376
        # 3.6.1/3.2), and DNS consoles that split a long value sometimes add a space
        if record.purpose is RecordPurpose.DKIM and _no_space(record.value) in {
                _no_space(f) for f in found}:
            return RecordCheck(domain, record, CheckStatus.PRESENT, found,
                               "equal but for whitespace")
        return RecordCheck(domain, record, CheckStatus.WRONG, found,
                           "no TXT value matches")
    if rtype == "CNAME":
        if _plain(record.value) in {_plain(f) for f in found}:
            return RecordCheck(domain, record, CheckStatus.PRESENT, found)
        return RecordCheck(domain, record, CheckStatus.WRONG, found,
                           f"points to {', '.join(found)}, not {_plain(record.value)}")
    if rtype == "MX":
        want = _plain(record.value)
        priorities = [r.preference for r in rdatas if _plain(r.exchange.to_text()) == want]
        if priorities and (record.priority is None or record.priority in priorities):
            return RecordCheck(domain, record, CheckStatus.PRESENT, found)
        if priorities:
            return RecordCheck(domain, record, CheckStatus.WRONG, found,
                               f"MX {want} has priority {priorities[0]}, not "
                               f"{record.priority}")
        return RecordCheck(domain, record, CheckStatus.WRONG, found, f"no MX to {want}")
    if _plain(record.value) in {_plain(f) for f in found}:
        return RecordCheck(domain, record, CheckStatus.PRESENT, found)
    return RecordCheck(domain, record, CheckStatus.WRONG, found,
                       f"none of the {rtype} records is {record.value}")


def check(domains: Iterable[Domain], *, nameservers: Sequence[str] | None = None,
          port: int = 53, timeout: float = 2.0, concurrency: int = DEFAULT_CONCURRENCY
          ) -> list[RecordCheck]:
    """Look every record of ``domains`` up in live DNS; one ``RecordCheck`` per record, in
    input order.

    ``nameservers``: ask these (``IP``, ``IP:PORT`` or ``[IPv6]:PORT``; ``port`` for those
    without one) instead of the system's resolver. ``timeout``: seconds one lookup may take
    in all. ``concurrency``: lookups in flight. Each (host, type) is asked once, however many
    records share it (SPF and another TXT at the apex, two MX).

    A nameserver that does not answer at all would make a large check wait ``timeout`` for
    every lookup (minutes for thousands of domains): once ``max(16, 2 * concurrency)`` lookups
    in a row have timed out, the rest are not asked and come back as errors saying so.
    """
    if concurrency < 1:
        raise ConfigError("concurrency must be at least 1")
    if timeout <= 0:
        raise ConfigError("timeout must be positive")
    items = [(d.name, r) for d in domains for r in d.dns_records]
    if not items:
        return []
    resolver = _resolver(nameservers, port, timeout)
    questions = list(dict.fromkeys((_plain(r.host), r.type.upper()) for _, r in items))
    answers: dict[tuple[str, str], _Lookup] = {}
    lock = threading.Lock()
    give_up = max(16, 2 * concurrency)
    timeouts_in_a_row = [0]
    not_asked = _Lookup(status=CheckStatus.ERROR,
                        reason=f"not asked: {give_up} lookups in a row timed out")

    def ask(question: tuple[str, str]) -> None:
        if timeouts_in_a_row[0] >= give_up:
            result = not_asked
        else:
            result = _lookup(resolver, question[0], question[1], timeout)
        with lock:
            answers[question] = result
            if result.timed_out:
                timeouts_in_a_row[0] += 1
            elif result is not not_asked:
                timeouts_in_a_row[0] = 0

    with ThreadPoolExecutor(max_workers=min(concurrency, len(questions)),
                            thread_name_prefix="espkit-dns") as pool:
        for _ in pool.map(ask, questions):
            pass
    return list(_results(items, answers))


def _results(items: list[tuple[str, DnsRecord]], answers: Mapping[tuple[str, str], _Lookup]
             ) -> Iterator[RecordCheck]:
    for domain, record in items:
        lookup = answers[(_plain(record.host), record.type.upper())]
        if lookup.status is not None:
            yield RecordCheck(domain, record, lookup.status, (), lookup.reason)
            continue
        result = evaluate(domain, record, lookup.rdatas)
        if lookup.via:
            note = f"via CNAME to {lookup.via}"
            result = attrs.evolve(result, reason=f"{result.reason}; {note}" if result.reason
                                  else note)
        yield result


def summary(checks: Iterable[RecordCheck]) -> dict[str, int]:
    """Records per status, every status present (``{"present": 9, "missing": 1, ...}``)."""
    counts = {str(s): 0 for s in CheckStatus}
    for c in checks:
        counts[str(c.status)] += 1
    return counts


__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_TTL",
    "FORMATS",
    "CheckStatus",
    "DnsExportError",
    "DomainItem",
    "Format",
    "RecordCheck",
    "check",
    "evaluate",
    "export",
    "is_spf",
    "labelled",
    "octodns_data",
    "parse_nameserver",
    "quote_character_string",
    "spf_required",
    "spf_terms",
    "summary",
    "to_bind",
    "to_csv",
    "to_json",
    "to_octodns",
    "txt_strings",
    "zone_of",
]
