"""A real DNS server on 127.0.0.1 for tests: dnslib's ``DNSServer`` with a resolver serving
records you add, over UDP *and* TCP on one port.

    from dnsserver import LocalDns

    with LocalDns() as server:                       # or the `dns_server` fixture
        server.add_domain(domain)                    # every DnsRecord of an espkit Domain
        server.add("acme.example", "TXT", "v=spf1 include:x -all")
        server.load_zone(zone_text, origin="acme.example")   # or zone-file text
        server.remove("acme.example", "MX")
        server.fail("broken.example")                # answers SERVFAIL
        server.drop("slow.example")                  # never answers (a timeout)
        dns.check([domain], nameservers=[server.nameserver])

It behaves like a recursive resolver that is authoritative for everything it holds: a name
with records of the asked type gets them; a CNAME is returned and followed for other types;
a name that exists (or has names below it) without that type gets an empty NOERROR answer;
any other name gets NXDOMAIN. TXT values longer than 255 octets are served as several
character-strings, the way real servers hold them. UDP answers over 512 octets (or over the
client's EDNS0 size) come back truncated, so a client retries over TCP, as with real servers.

The ``dns_server`` fixture (a running, empty server) is made available to a test module by
``dns_server = dnsserver.dns_server`` at its top (or ``pytest_plugins = ["dnsserver"]`` in a
module that imports nothing else from here).
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import dns.name
import dns.rdata
import dns.rdatatype
import dns.zone
import pytest
from dnslib import CNAME, MX, QTYPE, RCODE, RD, RDMAP, RR, TXT, DNSBuffer, DNSError
from dnslib import DNSRecord as Message
from dnslib.server import DNSHandler, DNSServer

from espkit.models import DnsRecord, Domain

ADDRESS = "127.0.0.1"
DEFAULT_TTL = 300
_MAX_CNAME_CHAIN = 8


def _key(name: str) -> str:
    return name.rstrip(".").lower() + "."


def txt_chunks(value: str | bytes) -> list[bytes]:
    """A TXT value as character-strings of at most 255 octets."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]


class _Quiet:
    """dnslib's logger interface, saying nothing (tests read ``LocalDns.queries``)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("log_"):
            return lambda *args: None
        raise AttributeError(name)


class _Dropped(DNSError):
    """The resolver wants no answer sent (dnslib's handler swallows a DNSError)."""


class _Handler(DNSHandler):
    def get_reply(self, data: bytes) -> bytes:
        request = Message.parse(data)
        reply = self.server.resolver.resolve(request, self)
        if reply is None:
            raise _Dropped("dropped")
        packed: bytes = reply.pack()
        if self.protocol == "udp":
            limit = 512
            for rr in request.ar:
                if rr.rtype == QTYPE.OPT:
                    limit = max(limit, rr.rclass)  # OPT's CLASS is the client's UDP size
            if len(packed) > limit:
                # the question, no records, TC set (dnslib's own truncate() drops the
                # question, which clients reject as an answer to something else)
                truncated = request.reply()
                truncated.header.rcode = reply.header.rcode
                truncated.header.tc = 1
                packed = truncated.pack()
        return packed


class _UDPServer(socketserver.UDPServer):
    """One thread answers every datagram: answering is quick and never blocks, and a
    thread per datagram (dnslib's default) would cost more than the answer."""

    allow_reuse_address = True


class LocalDns:
    """A DNS server on 127.0.0.1 (``port`` 0: a free one) whose records tests change while
    it runs. ``queries`` lists ``(name, type, protocol)`` of every question received."""

    def __init__(self, records: Iterable[DnsRecord | Domain] = (), *,
                 zone_text: str | None = None, origin: str | None = None,
                 ttl: int = DEFAULT_TTL, port: int = 0) -> None:
        self.ttl = ttl
        self.address = ADDRESS
        self.port = port
        self.queries: list[tuple[str, str, str]] = []
        self._rrs: dict[str, list[RR]] = {}
        self._faults: dict[str, str] = {}
        self._lock = threading.Lock()
        self._servers: list[DNSServer] = []
        for item in records:
            if isinstance(item, Domain):
                self.add_domain(item)
            else:
                self.add_record(item)
        if zone_text is not None:
            self.load_zone(zone_text, origin=origin)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def nameserver(self) -> str:
        """``127.0.0.1:PORT``, the form ``espkit.dns.check(nameservers=...)`` takes."""
        return f"{self.address}:{self.port}"

    def start(self) -> LocalDns:
        last: OSError | None = None
        for _ in range(50):
            try:
                udp = DNSServer(self, address=self.address, port=self.port, logger=_Quiet(),
                                handler=_Handler, server=_UDPServer)
            except OSError as exc:  # a fixed port in use
                last = exc
                break
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(self, address=self.address, port=port, tcp=True,
                                logger=_Quiet(), handler=_Handler)
            except OSError as exc:  # the TCP side of that port is taken: pick another
                last = exc
                udp.server.server_close()
                if self.port:
                    break
                continue
            self.port = port
            self._servers = [udp, tcp]
            for server in self._servers:
                server.server.daemon_threads = True
                # a short poll interval: stop() returns at once rather than in 0.5 s
                server.thread = threading.Thread(target=server.server.serve_forever,
                                                 kwargs={"poll_interval": 0.02}, daemon=True,
                                                 name=f"LocalDns:{port}")
                server.thread.start()
            return self
        raise OSError(f"no free port for UDP and TCP on {self.address}: {last}")

    def stop(self) -> None:
        for server in self._servers:
            server.server.shutdown()
            server.server.server_close()
        self._servers = []

    def __enter__(self) -> LocalDns:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- content -----------------------------------------------------------------------------

    def add(self, host: str, rtype: str, value: str, *, priority: int | None = None,
            ttl: int | None = None) -> None:
        """One record. ``value``: a TXT value as it is meant (split here into 255-octet
        strings), a CNAME / MX target name, or the rdata in zone-file syntax for other
        types (``192.0.2.1``)."""
        rtype = rtype.upper()
        name = _key(host)
        rdata: RD
        if rtype == "TXT":
            rdata = TXT(txt_chunks(value))
        elif rtype == "CNAME":
            rdata = CNAME(_key(value))
        elif rtype == "MX":
            rdata = MX(_key(value), 10 if priority is None else priority)
        else:
            rdata = _from_text(name, rtype, value)
        self._put(RR(name, getattr(QTYPE, rtype), ttl=self.ttl if ttl is None else ttl,
                     rdata=rdata))

    def add_record(self, record: DnsRecord) -> None:
        self.add(record.host, record.type, record.value, priority=record.priority)

    def add_domain(self, domain: Domain) -> None:
        for record in domain.dns_records:
            self.add_record(record)

    def load_zone(self, text: str, *, origin: str | None = None) -> int:
        """Every record of zone-file text (parsed by dnspython: parentheses, several
        character-strings, ``$TTL``, relative names under ``origin``). Returns the count."""
        zone = dns.zone.from_text(text, origin=_key(origin or "."), relativize=False,
                                  check_origin=False)
        count = 0
        for name, rdataset in zone.iterate_rdatasets():
            for rdata in rdataset:
                self._put(RR(_key(name.to_text()), rdataset.rdtype, ttl=rdataset.ttl,
                             rdata=_from_wire(int(rdataset.rdtype), rdata)))
                count += 1
        return count

    def remove(self, host: str, rtype: str | None = None, value: str | None = None) -> int:
        """Remove the records at ``host`` (of ``rtype``; whose value is ``value``: for TXT
        the joined text, for names without the trailing dot). Returns how many."""
        name = _key(host)
        with self._lock:
            kept, removed = [], 0
            for rr in self._rrs.get(name, []):
                if (rtype is None or rr.rtype == getattr(QTYPE, rtype.upper())) and (
                        value is None or _value(rr) == value.rstrip(".")):
                    removed += 1
                else:
                    kept.append(rr)
            if kept:
                self._rrs[name] = kept
            else:
                self._rrs.pop(name, None)
        return removed

    def remove_record(self, record: DnsRecord) -> int:
        return self.remove(record.host, record.type, record.value)

    def replace(self, host: str, rtype: str, *values: str, priority: int | None = None) -> None:
        """Make ``values`` the only records of ``rtype`` at ``host``."""
        self.remove(host, rtype)
        for value in values:
            self.add(host, rtype, value, priority=priority)

    def clear(self) -> None:
        with self._lock:
            self._rrs.clear()
            self._faults.clear()

    def values(self, host: str, rtype: str) -> list[str]:
        """What the server holds at ``host`` for ``rtype`` (TXT joined)."""
        with self._lock:
            return [_value(rr) for rr in self._rrs.get(_key(host), [])
                    if rr.rtype == getattr(QTYPE, rtype.upper())]

    # -- faults ------------------------------------------------------------------------------

    def fail(self, host: str, rcode: str = "SERVFAIL") -> None:
        """Questions about ``host`` get this error code (SERVFAIL, REFUSED ...)."""
        self._faults[_key(host)] = rcode.upper()

    def drop(self, host: str) -> None:
        """Questions about ``host`` get no answer at all: the client times out."""
        self._faults[_key(host)] = "DROP"

    def heal(self, host: str | None = None) -> None:
        if host is None:
            self._faults.clear()
        else:
            self._faults.pop(_key(host), None)

    # -- dnslib resolver interface -----------------------------------------------------------

    def _put(self, rr: RR) -> None:
        with self._lock:
            existing = self._rrs.setdefault(_key(str(rr.rname)), [])
            if not any(e.rtype == rr.rtype and _wire(e.rdata) == _wire(rr.rdata)
                       for e in existing):
                existing.append(rr)

    def resolve(self, request: Message, handler: DNSHandler) -> Message | None:
        qname = _key(str(request.q.qname))
        qtype = request.q.qtype
        self.queries.append((qname, QTYPE[qtype], handler.protocol))
        fault = self._faults.get(qname)
        if fault == "DROP":
            return None
        reply = request.reply()
        if fault:
            reply.header.rcode = getattr(RCODE, fault)
            return reply
        with self._lock:
            name = qname
            for _ in range(_MAX_CNAME_CHAIN):
                rrs = self._rrs.get(name, [])
                wanted = [rr for rr in rrs if rr.rtype == qtype or qtype == QTYPE.ANY]
                if wanted:
                    reply.rr.extend(wanted)
                    break
                cnames = [rr for rr in rrs if rr.rtype == QTYPE.CNAME]
                if not cnames:
                    if name == qname and not rrs and not self._has_below(name):
                        reply.header.rcode = RCODE.NXDOMAIN
                    break
                reply.rr.append(cnames[0])
                name = _key(str(cnames[0].rdata.label))
        return reply

    def _has_below(self, name: str) -> bool:
        # an empty non-terminal (_domainkey.acme.example. when only s1._domainkey... exists)
        return any(key.endswith("." + name) for key in self._rrs)


def _value(rr: RR) -> str:
    if rr.rtype == QTYPE.TXT:
        return b"".join(rr.rdata.data).decode("utf-8", "backslashreplace")
    if rr.rtype in (QTYPE.CNAME, QTYPE.NS, QTYPE.PTR):
        return str(rr.rdata.label).rstrip(".")
    if rr.rtype == QTYPE.MX:
        return str(rr.rdata.label).rstrip(".")
    return str(rr.rdata)


def _wire(rdata: RD) -> bytes:
    buffer = DNSBuffer()
    rdata.pack(buffer)
    return bytes(buffer.data)


def _from_wire(rdtype: int, rdata: dns.rdata.Rdata) -> RD:
    wire = rdata.to_wire()
    cls = RDMAP.get(QTYPE[rdtype], RD)
    return cls.parse(DNSBuffer(wire), len(wire))


def _from_text(name: str, rtype: str, text: str) -> RD:
    return _from_wire(int(dns.rdatatype.from_text(rtype)),
                      dns.rdata.from_text("IN", rtype, text, origin=dns.name.root))


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (UDP): asking it times out."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as sock:
        sock.bind((ADDRESS, 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def dns_server() -> Iterator[LocalDns]:
    """A running ``LocalDns`` with no records, stopped after the test."""
    with LocalDns() as server:
        yield server


__all__ = ["ADDRESS", "LocalDns", "closed_port", "dns_server", "txt_chunks"]
