"""A Mailgun-shaped domains API on 127.0.0.1 for the bulk-engine benchmarks.

Serves the calls espkit's Mailgun provider makes, with the shapes of Mailgun's OpenAPI spec
(``../shared/specs/mailgun/openapi.yaml``)::

    POST   /v4/domains  and  /v3/domains   form: name, ips, pool_id (others accepted, ignored)
    GET    /v4/domains?limit=&skip=        {total_count, items}, newest first, limit <= 1000
    GET    /v4/domains/{name}              {domain, sending_dns_records, receiving_dns_records}
    PUT    /v4/domains/{name}/verify       same + message; the domain becomes "active"
    DELETE /v3/domains/{name}              {message}
    GET    /v3/domains/{name}/ips          POST /v3/domains/{name}/ips (ip= or pool_id=)
    DELETE /v3/domains/{name}/ips/{ip}
    GET    /v3/ips                         GET /v3/ips/{ip}
    GET    /v3/ip_pools                    POST /v3/ip_pools   (name, description, ip...)
    GET    /v3/ip_pools/{id}               PATCH /v3/ip_pools/{id} (add_ip, remove_ip,
                                           link_domain=<domain id>, unlink_domain, name, ...)

Writes are form-encoded. A create for a name that exists is answered ``400 {"message":
"Domain already exists"}`` as Mailgun does, and counted as a duplicate create. Errors are
``{"message": ...}``; no ``Authorization: Basic`` header -> 401 "Invalid private key".

Behaviour knobs (``start()`` keywords, CLI flags, or ``POST /_bench/config`` at run time):

* ``latency`` seconds added to every API answer (429s and faults included), spent in
  ``asyncio.sleep`` so no lock is held and thousands of requests can wait at once.
* ``rate``: per-API-key token bucket, ``rate`` requests/second with a burst of ``burst``
  (default ``max(1, rate / 20)``: 5 at 100/s, 50 at 1,000/s). A request that finds the
  bucket empty costs no token and is answered ``429 {"message": "Too many requests"}``
  with ``Retry-After`` (whole seconds, rounded up, as RFC 9110 delta-seconds; the official
  SDK only reads an all-digits value) and Mailgun's ``X-RateLimit-Limit`` (the rate, i.e.
  requests per one-second window), ``X-RateLimit-Remaining: 0`` and ``X-RateLimit-Reset``
  (the epoch second, rounded up, when a token will be there). Successful answers carry no
  rate-limit headers. ``retry_after="float"`` sends the exact wait instead.
* ``faults``: probability that an API request (of ``fault_methods``, default all) fails,
  with a kind drawn uniformly from ``fault_kinds`` by an RNG seeded with ``seed``:

  - ``503-before``: answered 503, nothing applied;
  - ``500-after``: the request is applied, then answered 500;
  - ``reset-after``: applied, then the connection is reset (RST) without an answer;
  - ``reset-before``: the connection is reset, nothing applied.

Server-side counters (``GET /_bench/stats`` or ``Server.stats()``): requests, by method,
429s, creates applied, duplicate creates, faults by kind, TCP connections accepted, peak
requests in flight, domains held, and the first/last request times. ``/_bench/*`` calls
are not counted, limited, delayed or faulted.

One asyncio event loop with a small HTTP/1.1 keep-alive parser (stdlib only): it holds a few
thousand idle or sleeping connections and answers well over 1,000 requests/second on one core.

    python benchmarks/esp_server.py --port 8025 --rate 100 --latency 25ms --faults 0.1
    python benchmarks/esp_server.py --port 8025 --preload 100000   # 100,000 domains

Importable: ``server = start(port=0, rate=100, latency=0.025)`` runs it in a thread of this
process; ``start(..., process=True)`` runs it in a child process (what the benchmarks do, so
the server does not compete with the client for the GIL). Both return a ``Server`` with
``url``, ``stats()``, ``reset()``, ``configure(**knobs)``, ``preload(n)`` and ``stop()``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import email.utils
import json
import math
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

FAULT_KINDS = ("503-before", "500-after", "reset-after", "reset-before")
MAX_PAGE = 1000
DEFAULT_PAGE = 100
ACCOUNT_IPS = tuple(f"198.51.100.{i}" for i in range(1, 11))
_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
    405: "Method Not Allowed", 411: "Length Required", 429: "Too Many Requests",
    500: "Internal Server Error", 503: "Service Unavailable",
}
_RESET = object()  # answer: reset the connection instead of replying


class Domain:
    __slots__ = ("created_at", "id", "ips", "name", "pool_id", "state")

    def __init__(self, name: str, id_: str, created_at: str) -> None:
        self.name = name
        self.id = id_
        self.created_at = created_at
        self.state = "unverified"
        self.ips: list[str] = []
        self.pool_id: str | None = None

    def item(self) -> dict[str, Any]:
        """The list/``domain`` object of Mailgun's spec (the fields that matter)."""
        return {
            "created_at": self.created_at, "id": self.id, "name": self.name,
            "state": self.state, "type": "custom", "spam_action": "disabled",
            "smtp_login": f"postmaster@{self.name}", "web_prefix": "email",
            "web_scheme": "https", "wildcard": False, "require_tls": False,
            "skip_verification": False, "is_disabled": False,
        }

    def body(self, message: str | None = None) -> dict[str, Any]:
        valid = "valid" if self.state == "active" else "unknown"
        n = self.name
        body: dict[str, Any] = {
            "domain": self.item(),
            "sending_dns_records": [
                {"record_type": "TXT", "name": n, "value": "v=spf1 include:mailgun.org ~all",
                 "valid": valid, "is_active": True, "cached": []},
                {"record_type": "TXT", "name": f"smtp._domainkey.{n}",
                 "value": "k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC", "valid": valid,
                 "is_active": True, "cached": []},
                {"record_type": "CNAME", "name": f"email.{n}", "value": "mailgun.org",
                 "valid": valid, "is_active": True, "cached": []},
            ],
            "receiving_dns_records": [
                {"record_type": "MX", "value": "mxa.mailgun.org", "priority": "10",
                 "valid": valid, "is_active": True, "cached": []},
                {"record_type": "MX", "value": "mxb.mailgun.org", "priority": "10",
                 "valid": valid, "is_active": True, "cached": []},
            ],
        }
        if message:
            body["message"] = message
        return body


class Bucket:
    __slots__ = ("last", "tokens")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.last = now


class Knobs:
    """What the server does besides answering; replaced wholesale by ``configure``."""

    def __init__(
        self,
        *,
        rate: float | None = None,
        burst: float | None = None,
        latency: float = 0.0,
        faults: float = 0.0,
        fault_kinds: Iterable[str] = FAULT_KINDS,
        fault_methods: Iterable[str] | None = None,
        seed: int = 0,
        retry_after: str = "int",
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        if not 0.0 <= faults <= 1.0:
            raise ValueError("faults is a probability")
        kinds = tuple(fault_kinds)
        if unknown := set(kinds) - set(FAULT_KINDS):
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        if retry_after not in ("int", "float"):
            raise ValueError("retry_after is 'int' or 'float'")
        self.rate = rate
        self.burst = burst if burst is not None else (max(1.0, rate / 20) if rate else 1.0)
        self.latency = latency
        self.faults = faults
        self.fault_kinds = kinds
        self.fault_methods = (
            None if fault_methods is None else frozenset(m.upper() for m in fault_methods)
        )
        self.seed = seed
        self.retry_after = retry_after

    def as_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate, "burst": self.burst, "latency": self.latency,
            "faults": self.faults, "fault_kinds": list(self.fault_kinds),
            "fault_methods": None if self.fault_methods is None else sorted(self.fault_methods),
            "seed": self.seed, "retry_after": self.retry_after,
        }


class EspServer:
    """The state and the request handling. All state changes hold ``self.lock`` briefly;
    the latency is an ``asyncio.sleep`` outside it."""

    def __init__(self, knobs: Knobs) -> None:
        self.lock = threading.Lock()
        self.knobs = knobs
        self.rng = random.Random(knobs.seed)
        self.buckets: dict[str, Bucket] = {}
        self.domains: dict[str, Domain] = {}
        self.order: list[str] = []  # creation order; lists are newest first
        self.pools: dict[str, dict[str, Any]] = {}
        self.next_id = 1
        self.started = time.time()
        self.stats = self._zero()
        self.create_times: list[float] = []  # when each create was applied

    @staticmethod
    def _zero() -> dict[str, Any]:
        return {
            "requests": 0, "by_method": {}, "throttled": 0, "creates_applied": 0,
            "duplicate_creates": 0, "faults": dict.fromkeys(FAULT_KINDS, 0),
            "connections": 0, "in_flight": 0, "in_flight_max": 0,
            "first_request": None, "last_request": None,
            # the event loop's worst lateness waking from a 5 ms sleep, and how many times it
            # was over 25 ms late: a stalled server sees queued requests arrive together
            "loop_lag_max_ms": 0.0, "loop_lags_over_25ms": 0,
        }

    # -- admin ----------------------------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        with self.lock:
            merged = {**self.knobs.as_dict(), **changes}
            if "rate" in changes and "burst" not in changes:
                merged["burst"] = None
            self.knobs = Knobs(**merged)
            self.rng = random.Random(self.knobs.seed)
            self.buckets.clear()

    def reset(self, *, domains: bool = True) -> None:
        """Zero the counters (and forget the domains and buckets)."""
        with self.lock:
            connections = self.stats["connections"]
            in_flight = self.stats["in_flight"]
            self.stats = self._zero()
            self.stats["connections_before_reset"] = connections
            self.stats["in_flight"] = in_flight
            self.create_times = []
            self.buckets.clear()
            self.rng = random.Random(self.knobs.seed)
            if domains:
                self.domains.clear()
                self.order.clear()
                self.pools.clear()

    def preload(self, n: int, prefix: str = "seed") -> int:
        """Add ``n`` domains without going through the API (not counted as creates)."""
        created = _http_date(time.time())
        with self.lock:
            start = len(self.order)
            for i in range(start, start + n):
                name = f"{prefix}{i:07d}.bench.example"
                if name in self.domains:
                    continue
                self.domains[name] = Domain(name, self._new_id(), created)
                self.order.append(name)
            return len(self.domains)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            stats = json.loads(json.dumps(self.stats))
            stats["domains"] = len(self.domains)
            stats["knobs"] = self.knobs.as_dict()
            times = list(self.create_times)
        # seconds from the first request until half, 90 %, 99 % and all creates were applied
        first = stats["first_request"]
        stats["creates_by"] = {} if not times or first is None else {
            f"{q}%": round(times[min(len(times), math.ceil(len(times) * q / 100)) - 1] - first, 3)
            for q in (50, 90, 99, 100)
        }
        return stats

    def _new_id(self) -> str:
        self.next_id += 1
        return f"{self.next_id:024x}"

    # -- connections ----------------------------------------------------------------------

    async def connection(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            self.stats["connections"] += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                try:
                    method, target, version = lines[0].split(" ", 2)
                except ValueError:
                    return
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    writer.write(_response(411, {"message": "send a Content-Length"}, close=True))
                    await writer.drain()
                    return
                length = int(headers.get("content-length") or 0)
                try:
                    body = await reader.readexactly(length) if length else b""
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                keep = version.strip() == "HTTP/1.1" and (
                    headers.get("connection", "").lower() != "close")
                answer = await self.answer(method.upper(), target, headers, body, keep)
                if answer is _RESET:
                    if sock is not None:
                        # SO_LINGER 0: close() sends an RST, as a crashed proxy would
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                assert isinstance(answer, bytes)
                writer.write(answer)
                await writer.drain()
                if not keep:
                    return
        except ConnectionError:
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def answer(self, method: str, target: str, headers: dict[str, str], body: bytes,
                     keep: bool) -> bytes | object:
        path, _, query = target.partition("?")
        params = urllib.parse.parse_qsl(query, keep_blank_values=True)
        if path.startswith("/_bench/"):
            return self.admin(method, path, params, body, keep)
        now = time.time()
        knobs = self.knobs
        with self.lock:
            stats = self.stats
            stats["requests"] += 1
            stats["by_method"][method] = stats["by_method"].get(method, 0) + 1
            if stats["first_request"] is None:
                stats["first_request"] = now
            stats["last_request"] = now
            stats["in_flight"] += 1
            stats["in_flight_max"] = max(stats["in_flight_max"], stats["in_flight"])
            key = _api_key(headers.get("authorization", ""))
            wait = 0.0 if key is None else self._take(key, time.monotonic(), knobs)
            if wait > 0:
                stats["throttled"] += 1
            fault = None
            if (knobs.faults
                    and (knobs.fault_methods is None or method in knobs.fault_methods)
                    and self.rng.random() < knobs.faults):
                fault = self.rng.choice(knobs.fault_kinds)
                stats["faults"][fault] += 1
        try:
            if knobs.latency > 0:
                await asyncio.sleep(knobs.latency)
            if key is None:
                return _response(401, {"message": "Invalid private key"}, close=not keep)
            if wait > 0:
                return self._throttled(wait, knobs, keep)
            if fault == "503-before":
                return _response(503, {"message": "Service Unavailable"}, close=not keep)
            if fault == "reset-before":
                return _RESET
            form = urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                          keep_blank_values=True)
            status, payload = self.route(method, path, params, form)
            if fault == "500-after":
                return _response(500, {"message": "Internal Server Error"}, close=not keep)
            if fault == "reset-after":
                return _RESET
            return _response(status, payload, close=not keep)
        finally:
            with self.lock:
                self.stats["in_flight"] -= 1

    def _take(self, key: str, now: float, knobs: Knobs) -> float:
        """Take a token for ``key``; 0.0 if allowed, else seconds until one is available."""
        if knobs.rate is None:
            return 0.0
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = Bucket(knobs.burst, now)
        bucket.tokens = min(knobs.burst, bucket.tokens + (now - bucket.last) * knobs.rate)
        bucket.last = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return max((1.0 - bucket.tokens) / knobs.rate, 1e-6)

    @staticmethod
    def _throttled(wait: float, knobs: Knobs, keep: bool) -> bytes:
        retry_after = str(math.ceil(wait)) if knobs.retry_after == "int" else f"{wait:.3f}"
        assert knobs.rate is not None
        headers = {
            "Retry-After": retry_after,
            "X-RateLimit-Limit": str(math.floor(knobs.rate)),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(math.ceil(time.time() + wait)),
        }
        return _response(429, {"message": "Too many requests"}, headers, close=not keep)

    def admin(self, method: str, path: str, params: list[tuple[str, str]], body: bytes,
              keep: bool) -> bytes:
        args = dict(params)
        if path == "/_bench/stats":
            return _response(200, self.snapshot(), close=not keep)
        if path == "/_bench/reset" and method == "POST":
            self.reset(domains=args.get("domains", "true") != "false")
            return _response(200, self.snapshot(), close=not keep)
        if path == "/_bench/preload" and method == "POST":
            total = self.preload(int(args.get("n", "0")), args.get("prefix", "seed"))
            return _response(200, {"domains": total}, close=not keep)
        if path == "/_bench/config" and method == "POST":
            try:
                self.configure(**json.loads(body or b"{}"))
            except (TypeError, ValueError) as exc:
                return _response(400, {"message": str(exc)}, close=not keep)
            return _response(200, self.knobs.as_dict(), close=not keep)
        if path == "/_bench/names":
            with self.lock:
                return _response(200, {"names": list(self.order)}, close=not keep)
        return _response(404, {"message": "unknown admin call"}, close=not keep)

    # -- the API --------------------------------------------------------------------------

    def route(self, method: str, path: str, params: list[tuple[str, str]],
              form: list[tuple[str, str]]) -> tuple[int, Any]:
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        n = len(parts)
        if n >= 2 and parts[1] == "domains" and parts[0] in ("v3", "v4"):
            if n == 2:
                if method == "POST":
                    return self.create(form)
                if method == "GET" and parts[0] == "v4":
                    return self.list(params)
            elif n == 3:
                if method == "GET" and parts[0] == "v4":
                    return self.get(parts[2])
                if method == "DELETE":
                    return self.delete(parts[2])
            elif n == 4 and parts[3] == "verify" and method == "PUT" and parts[0] == "v4":
                return self.verify(parts[2])
            elif parts[3] == "ips" and parts[0] == "v3":
                if n == 4 and method in ("GET", "POST"):
                    return self.domain_ips(method, parts[2], form)
                if n == 5 and method == "DELETE":
                    return self.domain_ip_delete(parts[2], parts[4], params)
        elif parts[:2] == ["v3", "ips"]:
            if n == 2 and method == "GET":
                items = list(ACCOUNT_IPS)
                return 200, {"items": items, "total_count": len(items),
                             "details": [{"ip": ip} for ip in items],
                             "assignable_to_pools": items}
            if n == 3 and method == "GET":
                if parts[2] not in ACCOUNT_IPS:
                    return 404, {"message": "IP not found"}
                return 200, {"ip": parts[2], "dedicated": True, "rdns": "mail.bench.example"}
        elif parts[:2] == ["v3", "ip_pools"]:
            return self.ip_pools(method, parts[2:], form)
        return 404, {"message": "Not Found"}

    def create(self, form: list[tuple[str, str]]) -> tuple[int, Any]:
        fields = dict(form)
        name = fields.get("name", "").strip().rstrip(".").lower()
        if not name:
            return 400, {"message": "Missing mandatory parameter: name"}
        with self.lock:
            if name in self.domains:
                self.stats["duplicate_creates"] += 1
                return 400, {"message": "Domain already exists"}
            domain = Domain(name, self._new_id(), _http_date(time.time()))
            if fields.get("ips"):
                domain.ips = [ip for ip in fields["ips"].split(",") if ip]
            if fields.get("pool_id") in self.pools:
                domain.pool_id = fields["pool_id"]
                self.pools[fields["pool_id"]]["linked"].append(name)
            self.domains[name] = domain
            self.order.append(name)
            self.stats["creates_applied"] += 1
            self.create_times.append(time.time())
            return 200, domain.body("Domain DNS records have been created")

    def list(self, params: list[tuple[str, str]]) -> tuple[int, Any]:
        args = dict(params)
        try:
            limit = int(args.get("limit", DEFAULT_PAGE))
            skip = int(args.get("skip", 0))
        except ValueError:
            return 400, {"message": "limit and skip must be integers"}
        if limit < 1 or limit > MAX_PAGE or skip < 0:
            return 400, {"message": f"limit must be 1..{MAX_PAGE} and skip >= 0"}
        with self.lock:
            total = len(self.order)
            end = max(0, total - skip)
            names = self.order[max(0, end - limit):end]
            items = [self.domains[name].item() for name in reversed(names)]
        return 200, {"total_count": total, "items": items}

    def _find(self, name: str) -> Domain | None:
        return self.domains.get(name.strip().rstrip(".").lower())

    def get(self, name: str) -> tuple[int, Any]:
        with self.lock:
            domain = self._find(name)
            if domain is None:
                return 404, {"message": "Domain not found"}
            return 200, domain.body()

    def verify(self, name: str) -> tuple[int, Any]:
        with self.lock:
            domain = self._find(name)
            if domain is None:
                return 404, {"message": "Domain not found"}
            domain.state = "active"
            return 200, domain.body("Domain DNS records have been updated")

    def delete(self, name: str) -> tuple[int, Any]:
        with self.lock:
            domain = self._find(name)
            if domain is None:
                return 404, {"message": "Domain not found"}
            del self.domains[domain.name]
            self.order.remove(domain.name)  # O(n); deletes are rare here
            for pool in self.pools.values():
                if domain.name in pool["linked"]:
                    pool["linked"].remove(domain.name)
            return 200, {"message": "Domain will be deleted in the background"}

    def domain_ips(self, method: str, name: str,
                   form: list[tuple[str, str]]) -> tuple[int, Any]:
        fields = dict(form)
        with self.lock:
            domain = self._find(name)
            if domain is None:
                return 404, {"message": "Domain not found"}
            if method == "POST":
                if fields.get("ip"):
                    if fields["ip"] not in ACCOUNT_IPS:
                        return 400, {"message": "IP not found"}
                    if fields["ip"] not in domain.ips:
                        domain.ips.append(fields["ip"])
                elif fields.get("pool_id") in self.pools:
                    self._link(domain, fields["pool_id"])
                else:
                    return 400, {"message": "ip or pool_id is required"}
                return 200, {"message": "success"}
            ips = list(domain.ips)
            if domain.pool_id is not None:
                ips = list(self.pools[domain.pool_id]["ips"])
            return 200, {"items": ips, "total_count": len(ips)}

    def domain_ip_delete(self, name: str, ip: str,
                         params: list[tuple[str, str]]) -> tuple[int, Any]:
        with self.lock:
            domain = self._find(name)
            if domain is None:
                return 404, {"message": "Domain not found"}
            if ip == "ip_pool":
                if domain.pool_id is None:
                    return 400, {"message": "domain has no linked pool"}
                self.pools[domain.pool_id]["linked"].remove(domain.name)
                domain.pool_id = None
                replacement = dict(params)
                if replacement.get("pool_id") in self.pools:
                    self._link(domain, replacement["pool_id"])
                elif replacement.get("ip") in ACCOUNT_IPS:
                    domain.ips = [replacement["ip"]]
                return 200, {"message": "success"}
            if ip == "all":
                domain.ips = []
            elif ip in domain.ips:
                domain.ips.remove(ip)
            else:
                return 404, {"message": "IP not found"}
            return 200, {"message": "success"}

    def _link(self, domain: Domain, pool_id: str) -> None:
        if domain.pool_id is not None:
            self.pools[domain.pool_id]["linked"].remove(domain.name)
        domain.pool_id = pool_id
        self.pools[pool_id]["linked"].append(domain.name)

    def ip_pools(self, method: str, rest: list[str],
                 form: list[tuple[str, str]]) -> tuple[int, Any]:
        with self.lock:
            if not rest:
                if method == "GET":
                    return 200, {"ip_pools": [self._pool_out(p) for p in self.pools.values()],
                                 "message": "success"}
                if method == "POST":
                    fields = dict(form)
                    pool_id = self._new_id()
                    self.pools[pool_id] = {
                        "pool_id": pool_id, "name": fields.get("name", ""),
                        "description": fields.get("description", ""),
                        "ips": [v for k, v in form if k == "ip"], "linked": [],
                    }
                    return 200, {"message": "success", "pool_id": pool_id}
                return 405, {"message": "Method Not Allowed"}
            pool = self.pools.get(rest[0])
            if pool is None:
                return 404, {"message": "pool not found"}
            if method == "GET" and len(rest) == 1:
                return 200, {"details": {**self._pool_out(pool),
                                         "linked_domains": list(pool["linked"])}}
            if method == "PATCH" and len(rest) == 1:
                by_id = {d.id: d for d in self.domains.values()} if any(
                    k == "link_domain" for k, _ in form) else {}
                for k, v in form:
                    if k in ("name", "description"):
                        pool[k] = v
                    elif k == "add_ip" and v not in pool["ips"]:
                        pool["ips"].append(v)
                    elif k == "remove_ip" and v in pool["ips"]:
                        pool["ips"].remove(v)
                    elif k == "link_domain":
                        domain = by_id.get(v) or self._find(v)
                        if domain is None:
                            return 404, {"message": "Domain not found"}
                        self._link(domain, pool["pool_id"])
                    elif k == "unlink_domain":
                        domain = self._find(v) or {d.id: d for d in self.domains.values()}.get(v)
                        if domain is not None and domain.pool_id == pool["pool_id"]:
                            pool["linked"].remove(domain.name)
                            domain.pool_id = None
                return 200, {"message": "success"}
            if method == "DELETE" and len(rest) == 1:
                for name in pool["linked"]:
                    self.domains[name].pool_id = None
                del self.pools[rest[0]]
                return 200, {"message": "started"}
            return 405, {"message": "Method Not Allowed"}

    @staticmethod
    def _pool_out(pool: dict[str, Any]) -> dict[str, Any]:
        return {"pool_id": pool["pool_id"], "name": pool["name"],
                "description": pool["description"], "ips": list(pool["ips"]),
                "is_linked": bool(pool["linked"]), "is_inherited": False}


def _api_key(authorization: str) -> str | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        _, _, key = base64.b64decode(value).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return key or None


def _http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


_request_ids = iter(range(1, 1 << 62))


def _response(status: int, payload: Any, headers: dict[str, str] | None = None, *,
              close: bool = False) -> bytes:
    body = json.dumps(payload, separators=(",", ":")).encode()
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"X-Mailgun-Request-Id: bench-{next(_request_ids)}",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# -- running it ---------------------------------------------------------------------------


async def _serve(esp: EspServer, host: str, port: int, ready: Any) -> None:
    server = await asyncio.start_server(esp.connection, host, port, backlog=4096,
                                        limit=1 << 20)
    stop = asyncio.Event()
    lag = asyncio.create_task(_watch_lag(esp))
    ready(server.sockets[0].getsockname()[1], stop)
    async with server:
        await stop.wait()
    lag.cancel()


async def _watch_lag(esp: EspServer, tick: float = 0.005) -> None:
    while True:
        before = time.monotonic()
        await asyncio.sleep(tick)
        late = (time.monotonic() - before - tick) * 1000
        if late > 25 or late > esp.stats["loop_lag_max_ms"]:
            with esp.lock:
                stats = esp.stats
                stats["loop_lag_max_ms"] = round(max(stats["loop_lag_max_ms"], late), 1)
                stats["loop_lags_over_25ms"] += late > 25


class Server:
    """A running server: its ``url`` and the admin calls. Use ``stop()`` when done."""

    def __init__(self, url: str, *, thread: threading.Thread | None = None,
                 loop: asyncio.AbstractEventLoop | None = None, stop_event: Any = None,
                 process: subprocess.Popen[str] | None = None,
                 esp: EspServer | None = None) -> None:
        self.url = url
        self.thread = thread
        self.process = process
        self.esp = esp  # the in-process state (None when it runs in a child process)
        self._loop = loop
        self._stop_event = stop_event

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=120) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict[str, Any]:
        return self._admin("GET", "/_bench/stats")  # type: ignore[no-any-return]

    def reset(self, *, domains: bool = True) -> dict[str, Any]:
        flag = "true" if domains else "false"
        return self._admin("POST", f"/_bench/reset?domains={flag}", {})  # type: ignore[no-any-return]

    def configure(self, **knobs: Any) -> dict[str, Any]:
        return self._admin("POST", "/_bench/config", knobs)  # type: ignore[no-any-return]

    def preload(self, n: int, prefix: str = "seed") -> int:
        return int(self._admin("POST", f"/_bench/preload?n={n}&prefix={prefix}", {})["domains"])

    def names(self) -> list[str]:
        return list(self._admin("GET", "/_bench/names")["names"])

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
        if self._loop is not None and self._stop_event is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        if self.thread is not None:
            self.thread.join(10)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    rate: float | None = None,
    burst: float | None = None,
    latency: float = 0.0,
    faults: float = 0.0,
    fault_kinds: Iterable[str] = FAULT_KINDS,
    fault_methods: Iterable[str] | None = None,
    seed: int = 0,
    retry_after: str = "int",
    preload: int = 0,
    process: bool = False,
    nice: int | None = -10,
) -> Server:
    """Start a server on ``host:port`` (0: any free port); see the module docstring.

    ``latency`` is in seconds. ``process=True`` runs it in a child Python process, which
    changes its scheduling priority by ``nice`` (-10: ahead of the client) where permitted,
    so that on a 2-core machine the client does not starve it: a real ESP does not share
    the client's CPUs, and a stalled server sees queued requests arrive together, which
    its rate limit would count as a burst.
    """
    if host != "127.0.0.1":
        raise ValueError("benchmarks serve on 127.0.0.1 only")
    knobs = Knobs(rate=rate, burst=burst, latency=latency, faults=faults,
                  fault_kinds=fault_kinds, fault_methods=fault_methods, seed=seed,
                  retry_after=retry_after)
    if process:
        return _start_process(port, knobs, preload, nice)
    esp = EspServer(knobs)
    if preload:
        esp.preload(preload)
    started = threading.Event()
    box: dict[str, Any] = {}

    def ready(bound: int, stop: asyncio.Event) -> None:
        box["port"], box["stop"], box["loop"] = bound, stop, asyncio.get_running_loop()
        started.set()

    def run() -> None:
        try:  # asyncio.run cancels the open connections' tasks on the way out
            asyncio.run(_serve(esp, host, port, ready))
        except BaseException as exc:  # report a failed bind to the caller
            box["error"] = exc
            started.set()

    thread = threading.Thread(target=run, name="esp-server", daemon=True)
    thread.start()
    started.wait(30)
    if "error" in box:
        raise box["error"]
    return Server(f"http://{host}:{box['port']}", thread=thread, loop=box["loop"],
                  stop_event=box["stop"], esp=esp)


def stop(server: Server) -> None:
    server.stop()


def _start_process(port: int, knobs: Knobs, preload: int, nice: int | None) -> Server:
    args = [sys.executable, __file__, "--port", str(port), "--latency", f"{knobs.latency}s",
            "--faults", str(knobs.faults), "--fault-kinds", ",".join(knobs.fault_kinds),
            "--seed", str(knobs.seed), "--retry-after", knobs.retry_after,
            "--preload", str(preload), "--quiet"]
    if knobs.rate is not None:
        args += ["--rate", str(knobs.rate), "--burst", str(knobs.burst)]
    if knobs.fault_methods is not None:
        args += ["--fault-methods", ",".join(sorted(knobs.fault_methods))]
    if nice:
        args += ["--nice", str(nice)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"esp_server did not start: {line!r}")
    return Server(line.split()[-1], process=proc)


def machine() -> str:
    """One line naming what a figure was measured on, for the scripts' headers."""
    import platform

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{time.strftime('%Y-%m-%d %H:%M')}  {os.cpu_count()} cores (load {load})  "
            f"Python {platform.python_version()}  {platform.system()} {platform.machine()}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def add_repeat_args(parser: argparse.ArgumentParser, what: str) -> None:
    """``--repeat`` and ``--repeat-under``: a short job's wall time is at the mercy of the
    machine, so ``what`` (cells, settings) with a short bound run several times and are
    judged on the median (``repeats``)."""
    parser.add_argument("--repeat", type=int, default=3,
                        help=f"runs of each {what} with a short bound, judged on the median "
                        "(default 3)")
    parser.add_argument("--repeat-under", type=float, default=5.0,
                        help=f"a {what} with a bound under this many seconds is repeated")


def repeats(bound: float, args: argparse.Namespace, runs: int = 1) -> int:
    """How many times to run a job with this ``bound`` (seconds): at least ``--repeat``
    when it is under ``--repeat-under``, else ``runs``."""
    return max(runs, args.repeat) if bound < args.repeat_under else runs


def _seconds(text: str) -> float:
    text = text.strip().lower()
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    if text.endswith("s"):
        return float(text[:-1])
    return float(text) / 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8025, help="0 = any free port")
    parser.add_argument("--rate", type=float, default=None,
                        help="requests/second per API key (default: unlimited)")
    parser.add_argument("--burst", type=float, default=None,
                        help="token bucket size (default max(1, rate/20))")
    parser.add_argument("--latency", type=_seconds, default=0.0,
                        help="added to every answer: 25ms, 0.1s, or a number of ms")
    parser.add_argument("--faults", type=float, default=0.0, help="fault probability 0..1")
    parser.add_argument("--fault-kinds", default=",".join(FAULT_KINDS),
                        help="comma list of " + ", ".join(FAULT_KINDS))
    parser.add_argument("--fault-methods", default=None,
                        help="comma list of methods that can fault (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="fault RNG seed")
    parser.add_argument("--retry-after", choices=("int", "float"), default="int",
                        help="429 Retry-After as whole seconds (default) or exact")
    parser.add_argument("--preload", type=int, default=0, help="domains to create at start")
    parser.add_argument("--quiet", action="store_true", help="do not print the knobs")
    parser.add_argument("--nice", type=int, default=0,
                        help="change the scheduling priority by this (negative: higher)")
    args = parser.parse_args(argv)
    if args.nice:
        try:
            os.nice(args.nice)
        except OSError as exc:
            print(f"esp_server: could not renice by {args.nice}: {exc}", file=sys.stderr)
    knobs = Knobs(
        rate=args.rate, burst=args.burst, latency=args.latency, faults=args.faults,
        fault_kinds=[k for k in args.fault_kinds.split(",") if k],
        fault_methods=None if args.fault_methods is None else args.fault_methods.split(","),
        seed=args.seed, retry_after=args.retry_after,
    )
    esp = EspServer(knobs)
    if args.preload:
        esp.preload(args.preload)

    def ready(port: int, stop: asyncio.Event) -> None:
        print(f"listening on http://127.0.0.1:{port}", flush=True)
        if not args.quiet:
            print(f"knobs {json.dumps(knobs.as_dict())}", file=sys.stderr, flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(esp, "127.0.0.1", args.port, ready))


if __name__ == "__main__":
    main()
