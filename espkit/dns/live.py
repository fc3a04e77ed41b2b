"""Checking the DNS records customers must publish in live DNS (dnspython): each record
present, missing, wrong or unanswered, SPF judged the way customers merge it into theirs.

    from espkit import dns

    for c in dns.check(domains, nameservers=["192.0.2.53"]):
        print(c.domain, c.record.host, c.status, c.found, c.reason)
    print(dns.summary(checks))                              # {"present": 9, "missing": 1, ...}

dnspython (``pip install -e '.[fleet]'``) is imported when ``check`` runs, not with this
module. Exporting the records for the customer is ``espkit.dns.formats``.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs

from espkit.dns.names import FLEET_EXTRA, fqdn, plain
from espkit.errors import ConfigError
from espkit.models import DnsRecord, Domain, RecordPurpose

if TYPE_CHECKING:  # pragma: no cover
    import dns.resolver

DEFAULT_CONCURRENCY = 32


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
        raise ConfigError(f"checking DNS needs dnspython: {FLEET_EXTRA}") from None
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
        answer = resolver.resolve(fqdn(host), rdtype, search=False)
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
    if plain(answer.canonical_name.to_text()) != plain(host):
        via = plain(answer.canonical_name.to_text())
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
        if plain(record.value) in {plain(f) for f in found}:
            return RecordCheck(domain, record, CheckStatus.PRESENT, found)
        return RecordCheck(domain, record, CheckStatus.WRONG, found,
                           f"points to {', '.join(found)}, not {plain(record.value)}")
    if rtype == "MX":
        want = plain(record.value)
        priorities = [r.preference for r in rdatas if plain(r.exchange.to_text()) == want]
        if priorities and (record.priority is None or record.priority in priorities):
            return RecordCheck(domain, record, CheckStatus.PRESENT, found)
        if priorities:
            return RecordCheck(domain, record, CheckStatus.WRONG, found,
                               f"MX {want} has priority {priorities[0]}, not "
                               f"{record.priority}")
        return RecordCheck(domain, record, CheckStatus.WRONG, found, f"no MX to {want}")
    if plain(record.value) in {plain(f) for f in found}:
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
    questions = list(dict.fromkeys((plain(r.host), r.type.upper()) for _, r in items))
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
        lookup = answers[(plain(record.host), record.type.upper())]
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
    "DEFAULT_CONCURRENCY",
    "CheckStatus",
    "RecordCheck",
    "check",
    "evaluate",
    "is_spf",
    "parse_nameserver",
    "spf_required",
    "spf_terms",
    "summary",
]
