"""The sandbox ESP's JSON REST API: routing, auth, subaccount scope, rate limiting, errors.

Endpoints (all JSON; names, IPs and ids are single percent-encoded path segments)::

    GET    /v1/domains?limit=&cursor=                  -> {"items": [...], "next_cursor"}
    POST   /v1/domains            {"name", "dkim_key_size", "dkim_selector", "spam_action",
                                   "wildcard", "web_scheme", "web_prefix", "ips", "pool"}
    GET    /v1/domains/{name}          DELETE /v1/domains/{name}
    PUT    /v1/domains/{name}/verify
    GET    /v1/domains/{name}/assignments
    PUT    /v1/domains/{name}/assignments/{pool|ip}/{target}
    DELETE /v1/domains/{name}/assignments/{pool|ip}/{target}?replacement=
    GET    /v1/ips                     GET /v1/ips/{address}
    GET    /v1/pools                   POST /v1/pools {"name", "ips", "description"}
    GET    /v1/pools/{name}            DELETE /v1/pools/{name}?replacement=
    PUT    /v1/pools/{name}/ips/{ip}   DELETE /v1/pools/{name}/ips/{ip}
    GET    /v1/subaccounts             POST /v1/subaccounts {"name"}
    GET    /v1/subaccounts/{id}        PUT /v1/subaccounts/{id}/status {"enabled"}
    PUT    /v1/subaccounts/{id}/pool/{pool}             (everything it sends uses the pool)
    GET    /v1/streams                 POST /v1/streams {"id", "name", "kind"}
    GET    /v1/streams/{id}            (message streams of the calling account, Postmark's)
    GET    /v1/warmups                 GET|PUT|DELETE /v1/ips/{address}/warmup   (``warmup``)
    GET    /v1/stats?since=&until=&resolution=&scope=&target=                   (``sends``)

Every state change other than a create is a PUT or DELETE, so clients may retry it. Requests
carry ``Authorization: Bearer <key>`` (any key not revoked) and optionally the scope header
``X-On-Behalf-Of: <subaccount id>``. Errors are ``{"error": {"code", "message"}}`` with 400,
401, 403, 404, 405, 409, 429 or 503. With a rate limit every answer carries ``X-RateLimit-*``.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import math
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from espkit import validate
from espkit.errors import ValidationError
from espkit.sandbox.calls import cursor, main_only, window
from espkit.sandbox.clock import Clock
from espkit.sandbox.sends import SendLog
from espkit.sandbox.store import ApiError, Store, not_found
from espkit.sandbox.tables import STREAM_KINDS
from espkit.sandbox.warmup import Warmups

SCOPE_HEADER = "X-On-Behalf-Of"
DOMAIN_DEFAULTS: Mapping[str, Any] = {
    "dkim_key_size": 2048, "dkim_selector": "s1", "spam_action": "disabled",
    "wildcard": False, "web_scheme": "https", "web_prefix": "email",
}
_JSON = {"Content-Type": "application/json"}


@attrs.frozen
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


@attrs.frozen
class Call:
    """One routed request as a handler sees it."""

    account: str  # "" = main account, else the subaccount id from the scope header
    params: dict[str, str]
    query: dict[str, str]
    body: Any


Handler = Callable[[Call], tuple[int, Any]]


class TokenBucket:
    """The account's rate limit: ``rate`` requests/second, bursts of up to one second's
    worth. Runs on the sandbox clock so simulated waits refill it."""

    def __init__(self, rate: float, clock: Clock) -> None:
        self.rate = rate
        self.capacity = float(max(1, math.floor(rate)))
        self._clock = clock
        self._tokens = self.capacity
        self._last = clock.monotonic()
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, dict[str, str], float]:
        """(allowed, X-RateLimit-* headers, seconds until a request would be allowed)."""
        with self._lock:
            now = self._clock.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            allowed = self._tokens >= 1.0
            if allowed:
                self._tokens -= 1.0
            wait = 0.0 if allowed else (1.0 - self._tokens) / self.rate
            full = (self.capacity - self._tokens) / self.rate
            headers = {
                "X-RateLimit-Limit": str(int(self.capacity)),
                "X-RateLimit-Remaining": str(math.floor(self._tokens)),
                "X-RateLimit-Reset": str(math.ceil(full)),
            }
        return allowed, headers, wait


class WindowBucket:
    """The account's budget as a count per window, as ESPs document it (Mailgun: 300 a
    minute): ``count`` requests per fixed window of ``per`` seconds on the sandbox clock. Every
    answer announces it as SendGrid does (``X-RateLimit-Remaining`` left in this window,
    ``X-RateLimit-Reset`` seconds until the next, rounded up to the millisecond)."""

    def __init__(self, count: int, per: float, clock: Clock) -> None:
        self.count = count
        self.per = per
        self.rate = count / per
        self._clock = clock
        self._start = math.nan
        self._used = 0
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, dict[str, str], float]:
        """(allowed, X-RateLimit-* headers, seconds until a request would be allowed)."""
        with self._lock:
            now = self._clock.monotonic()
            start = math.floor(now / self.per) * self.per
            if start != self._start:
                self._start, self._used = start, 0
            allowed = self._used < self.count
            if allowed:
                self._used += 1
            left = max(0.0, start + self.per - now)
            headers = {
                "X-RateLimit-Limit": str(self.count),
                "X-RateLimit-Remaining": str(self.count - self._used),
                "X-RateLimit-Reset": f"{math.ceil(left * 1000) / 1000:.3f}",
            }
        return allowed, headers, 0.0 if allowed else left


def _error(status: int, code: str, message: str, headers: Mapping[str, str] = {}) -> Reply:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return Reply(status, {**_JSON, **headers}, body)


class App:
    """Answers API requests against a ``Store``. Thread-safe."""

    def __init__(self, store: Store, clock: Clock, *, rate_limit: float | None = None,
                 verify_delay: float = 0.0, verify_dns: str | None = None) -> None:
        self.store = store
        self.clock = clock
        self.verify_delay = verify_delay
        self.verify_dns = verify_dns
        self.bucket: TokenBucket | WindowBucket | None = (
            TokenBucket(rate_limit, clock) if rate_limit else None)
        self.revoked: set[str] = set()
        self._throttles = itertools.count()
        self._request_ids = itertools.count(1)
        self.warmups = Warmups(store, clock)
        self.sends = SendLog(store, clock)
        self._routes = [(m, _pattern(p), h) for m, p, h in self._table()]

    def limit_window(self, count: int, per: float) -> None:
        """Enforce (and announce) ``count`` requests per window of ``per`` seconds instead
        of a smooth rate: what ``espkit.connect("sandbox", rate_limit="300/min")`` does."""
        self.bucket = WindowBucket(count, per, self.clock)

    def _table(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/v1/domains", self._list_domains),
            ("POST", "/v1/domains", self._create_domain),
            ("GET", "/v1/domains/{domain}", self._get_domain),
            ("DELETE", "/v1/domains/{domain}", self._delete_domain),
            ("PUT", "/v1/domains/{domain}/verify", self._verify_domain),
            ("GET", "/v1/domains/{domain}/assignments", self._assignments),
            ("PUT", "/v1/domains/{domain}/assignments/{kind}/{target}", self._assign),
            ("DELETE", "/v1/domains/{domain}/assignments/{kind}/{target}", self._unassign),
            ("GET", "/v1/ips", self._list_ips),
            ("GET", "/v1/ips/{ip}", self._get_ip),
            ("GET", "/v1/pools", self._list_pools),
            ("POST", "/v1/pools", self._create_pool),
            ("GET", "/v1/pools/{pool}", self._get_pool),
            ("DELETE", "/v1/pools/{pool}", self._delete_pool),
            ("PUT", "/v1/pools/{pool}/ips/{ip}", self._add_ip),
            ("DELETE", "/v1/pools/{pool}/ips/{ip}", self._remove_ip),
            ("GET", "/v1/subaccounts", self._list_subaccounts),
            ("POST", "/v1/subaccounts", self._create_subaccount),
            ("GET", "/v1/subaccounts/{id}", self._get_subaccount),
            ("PUT", "/v1/subaccounts/{id}/status", self._set_subaccount_status),
            ("PUT", "/v1/subaccounts/{id}/pool/{pool}", self._assign_subaccount_pool),
            ("GET", "/v1/streams", self._list_streams),
            ("POST", "/v1/streams", self._create_stream),
            ("GET", "/v1/streams/{stream}", self._get_stream),
            *self.warmups.routes(),
            *self.sends.routes(),
        ]

    # -- the request cycle -------------------------------------------------------------------

    def handle(self, method: str, path: str, query: str, headers: Mapping[str, str],
               body: bytes | None) -> Reply:
        request_id = {"X-Request-Id": f"req-{next(self._request_ids):08d}"}
        lower = {k.lower(): v for k, v in headers.items()}
        key = lower.get("authorization", "").removeprefix("Bearer ").strip()
        if not key or key in self.revoked:
            return _error(401, "unauthorized", "missing or invalid API key", request_id)
        limit_headers: dict[str, str] = {}
        if self.bucket is not None:
            allowed, limit_headers, wait = self.bucket.take()
            if not allowed:
                return self.throttled(wait, limit_headers)
        extra = {**request_id, **limit_headers}
        try:
            handler, params = self._route(method.upper(), path)
            call = Call(self._scope(lower.get(SCOPE_HEADER.lower())), params,
                        {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()},
                        _json_body(body))
            status, payload = handler(call)
        except ApiError as exc:
            return _error(exc.status, exc.code, exc.message, extra)
        except ValidationError as exc:
            return _error(400, "invalid_request", str(exc), extra)
        if payload is None:
            return Reply(status, extra, b"")
        return Reply(status, {**_JSON, **extra}, json.dumps(payload).encode())

    def throttled(self, wait: float = 1.0, headers: Mapping[str, str] = {}) -> Reply:
        """A 429. ``Retry-After`` alternates between its two forms (RFC 9110: delta-seconds,
        HTTP-date) so clients are exercised on both. The date is on the real wall clock,
        whatever the sandbox clock, because that is what a client compares it with."""
        seconds = max(1, math.ceil(wait))
        if next(self._throttles) % 2:
            retry_after = email.utils.formatdate(math.ceil(time.time() + wait), usegmt=True)
        else:
            retry_after = str(seconds)
        return _error(429, "rate_limited", "too many requests", {
            "X-RateLimit-Remaining": "0", **headers, "X-RateLimit-Reset": str(seconds),
            "Retry-After": retry_after,
        })

    def unavailable(self) -> Reply:
        return _error(503, "unavailable", "the service is temporarily unavailable",
                      {"Retry-After": "1"})

    def _route(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed = []
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method == method:
                return handler, {k: urllib.parse.unquote(v)
                                 for k, v in match.groupdict().items()}
            allowed.append(route_method)
        if allowed:
            raise ApiError(405, "method_not_allowed",
                           f"{method} not allowed here; use {', '.join(allowed)}")
        raise ApiError(404, "not_found", f"no endpoint {path}")

    def _scope(self, sub_id: str | None) -> str:
        if not sub_id:
            return ""
        sub = self.store.get_subaccount(sub_id)
        if not sub["enabled"]:
            raise ApiError(403, "forbidden", f"subaccount {sub_id} is disabled")
        return sub_id

    # -- handlers ----------------------------------------------------------------------------

    def _list_domains(self, call: Call) -> tuple[int, Any]:
        return 200, _paged(lambda after, limit: self.store.list_domains(
            call.account, after, limit), call.query)

    def _create_domain(self, call: Call) -> tuple[int, Any]:
        # The server checks everything itself, as an ESP does, rather than trusting espkit's
        # client-side checks: a provider bug must show up as a 400 here, not as bad state.
        body = _object(call.body, {"name", "ips", "pool", *DOMAIN_DEFAULTS})
        name = validate.domain_name(body.get("name"), "name")
        settings = {k: body.get(k, default) for k, default in DOMAIN_DEFAULTS.items()}
        validate.choice(settings["dkim_key_size"], "dkim_key_size", (1024, 2048))
        validate.resource_name(settings["dkim_selector"], "dkim_selector")
        validate.choice(settings["spam_action"], "spam_action", ("disabled", "block", "tag"))
        if not isinstance(settings["wildcard"], bool):
            raise ApiError(400, "invalid_request", "wildcard must be true or false")
        validate.choice(settings["web_scheme"], "web_scheme", ("http", "https"))
        validate.resource_name(settings["web_prefix"], "web_prefix")
        ips = validate.ip_addresses(body.get("ips") or ())
        pool = body.get("pool")
        if pool is not None:
            validate.pool_name(pool)
            if ips:
                raise ApiError(400, "invalid_request", "give ips or pool, not both")
        return 201, self.store.create_domain(call.account, name, settings, ips, pool,
                                             self.clock.time())

    def _get_domain(self, call: Call) -> tuple[int, Any]:
        return 200, self.store.get_domain(call.account, call.params["domain"])

    def _delete_domain(self, call: Call) -> tuple[int, Any]:
        self.store.delete_domain(call.account, call.params["domain"])
        return 204, None

    def _verify_domain(self, call: Call) -> tuple[int, Any]:
        if self.verify_dns:
            return 200, self._verify_in_dns(call.account, call.params["domain"])
        return 200, self.store.verify_domain(call.account, call.params["domain"],
                                             self.clock.time(), self.verify_delay)

    def _verify_in_dns(self, account: str, name: str) -> dict[str, Any]:
        """Look the records up at ``verify_dns``, as a real ESP looks them up in public
        DNS, outside the store's transaction (a lookup can take seconds)."""
        from espkit import dns
        from espkit.models import DnsRecord, Domain, RecordPurpose

        current = self.store.get_domain(account, name)
        if current["state"] == "verified":
            return current
        records = tuple(
            DnsRecord(RecordPurpose(r["purpose"]), r["type"], r["host"], r["value"],
                      r.get("priority"))
            for r in current["records"])
        assert self.verify_dns is not None
        checks = dns.check([Domain(name, "sandbox", dns_records=records)],
                           nameservers=[self.verify_dns], timeout=2.0, concurrency=1)
        return self.store.record_dns_check(account, name, [c.ok for c in checks])

    def _assignments(self, call: Call) -> tuple[int, Any]:
        return 200, {"items": self.store.assignments(call.account, call.params["domain"])}

    def _assign(self, call: Call) -> tuple[int, Any]:
        p = call.params
        return 200, self.store.assign(call.account, p["domain"], _kind(p), p["target"])

    def _unassign(self, call: Call) -> tuple[int, Any]:
        p = call.params
        self.store.unassign(call.account, p["domain"], _kind(p), p["target"],
                            call.query.get("replacement"))
        return 204, None

    def _list_ips(self, call: Call) -> tuple[int, Any]:
        page = _paged(self.store.list_ips, call.query)
        return 200, {**page, "items": self.warmups.warming_flags(page["items"])}

    def _get_ip(self, call: Call) -> tuple[int, Any]:
        return 200, self.warmups.warming_flags([self.store.get_ip(call.params["ip"])])[0]

    def _list_pools(self, call: Call) -> tuple[int, Any]:
        return 200, _paged(self.store.list_pools, call.query)

    def _create_pool(self, call: Call) -> tuple[int, Any]:
        body = _object(call.body, {"name", "ips", "description"})
        name = validate.pool_name(body.get("name"))
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise ApiError(400, "invalid_request", "description must be a string")
        ips = validate.ip_addresses(body.get("ips") or ())
        return 201, self.store.create_pool(name, ips, description)

    def _get_pool(self, call: Call) -> tuple[int, Any]:
        return 200, self.store.get_pool(call.params["pool"])

    def _delete_pool(self, call: Call) -> tuple[int, Any]:
        self.store.delete_pool(call.params["pool"], call.query.get("replacement"))
        return 204, None

    def _add_ip(self, call: Call) -> tuple[int, Any]:
        return 200, self.store.add_ip_to_pool(call.params["pool"], call.params["ip"])

    def _remove_ip(self, call: Call) -> tuple[int, Any]:
        return 200, self.store.remove_ip_from_pool(call.params["pool"], call.params["ip"])

    def _list_subaccounts(self, call: Call) -> tuple[int, Any]:
        _main_only(call)
        return 200, _paged(self.store.list_subaccounts, call.query)

    def _create_subaccount(self, call: Call) -> tuple[int, Any]:
        _main_only(call)
        body = _object(call.body, {"name"})
        name = validate.subaccount_name(body.get("name"))
        return 201, self.store.create_subaccount(name, self.clock.time())

    def _get_subaccount(self, call: Call) -> tuple[int, Any]:
        _main_only(call)
        return 200, self.store.get_subaccount(call.params["id"])

    def _set_subaccount_status(self, call: Call) -> tuple[int, Any]:
        _main_only(call)
        enabled = _object(call.body, {"enabled"}).get("enabled")
        if not isinstance(enabled, bool):
            raise ApiError(400, "invalid_request", "enabled must be true or false")
        return 200, self.store.set_subaccount_enabled(call.params["id"], enabled)

    def _assign_subaccount_pool(self, call: Call) -> tuple[int, Any]:
        _main_only(call)
        return 200, self.store.assign_subaccount_pool(call.params["id"], call.params["pool"])

    def _list_streams(self, call: Call) -> tuple[int, Any]:
        return 200, _paged(lambda after, limit: self.store.list_streams(
            call.account, after, limit), call.query)

    def _create_stream(self, call: Call) -> tuple[int, Any]:
        body = _object(call.body, {"id", "name", "kind"})
        sid = validate.resource_name(body.get("id"), "id")
        name = body.get("name", sid)
        if not isinstance(name, str) or not name.strip() or any(c in name for c in "\r\n"):
            raise ApiError(400, "invalid_request", "name must be one non-empty line")
        kind = body.get("kind")
        validate.choice(kind, "kind", STREAM_KINDS)
        assert isinstance(kind, str)  # one of STREAM_KINDS
        return 201, self.store.create_stream(call.account, sid, name, kind, self.clock.time())

    def _get_stream(self, call: Call) -> tuple[int, Any]:
        return 200, self.store.get_stream(call.account, call.params["stream"])


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template))


def _json_body(body: bytes | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(400, "invalid_request", "the body is not valid JSON") from None


def _object(body: Any, fields: set[str]) -> dict[str, Any]:
    """The JSON object body, refusing fields the endpoint does not know (a typo in a client
    should fail loudly, not be ignored)."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "the body must be a JSON object")
    unknown = sorted(set(body) - fields)
    if unknown:
        raise ApiError(400, "invalid_request", f"unknown field(s): {', '.join(unknown)}")
    return body


def _kind(params: Mapping[str, str]) -> str:
    kind = params["kind"]
    if kind not in ("pool", "ip"):
        raise not_found(f"assignment kind {kind!r}")
    return kind


def _main_only(call: Call) -> None:
    main_only(call, "manage subaccounts")


PageFn = Callable[[int, int], tuple[list[dict[str, Any]], int | None]]


def _paged(fetch: PageFn, query: Mapping[str, str]) -> dict[str, Any]:
    """Keyset pagination: ``cursor`` is opaque to clients (the last row's sequence number)."""
    items, last = fetch(*window(query))
    return {"items": items, "next_cursor": cursor(last)}
