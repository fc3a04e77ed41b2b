"""A stateful fake of SparkPost's management API on ``responses``.

Shapes follow SparkPost's API Blueprint files (``../shared/specs/sparkpost``): every success
body is ``{"results": ...}``, every error ``{"errors": [{"message", "description", "code"}]}``;
domains, pools and IPs are unpaginated; subaccounts page by ``cursor``/``per_page`` with
``links.next``; ``X-MSYS-SUBACCOUNT`` scopes domains to a subaccount. Where the blueprint is
silent (a duplicate domain), the fake answers as SparkPost does: 409 "resource conflict".

Auto warmup follows ``sending-ips.apib``: a stage from 1 to 29, moved only back, and only with
auto warmup on; ``warm_up`` puts an IP where a test wants it on SparkPost's own plan (stage 30
and auto warmup off is a finished one). The Metrics API's time series
(``GET /metrics/deliverability/time-series``, developers.sparkpost.com/api/metrics; its
blueprint ``metrics.apib`` is not in ``../shared/specs``) answers from what ``record_sends``
recorded: per hour, day or month, filtered by sending domain, IP, pool and subaccount, one
object per period with traffic, each holding only the metrics asked for.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import espkit

from .base import Call, HttpFake, Reply

BASE = "https://api.sparkpost.com/api/v1"
KEY = "14ac5499cfdd2bb2859e4476d2e5b1d2bad079bf"
Json = dict[str, Any]


def _error(status: int, message: str, description: str = "", code: str = "",
           headers: dict[str, str] | None = None) -> Reply:
    err: Json = {"message": message}
    if description:
        err["description"] = description
    if code:
        err["code"] = code
    return (status, {"Content-Type": "application/json", **(headers or {})},
            json.dumps({"errors": [err]}))


def _ok(results: Any, status: int = 200, **extra: Any) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(
        {"results": results, **extra})


def public_key(domain: str) -> str:
    digest = base64.b64encode(hashlib.sha256(domain.encode()).digest()).decode()
    return "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC" + digest + "IDAQAB"


class SparkPostFake(HttpFake):
    provider = "sparkpost"
    ips = ("192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13")
    create_domain_path = "sending-domains"
    get_domain_path = "sending-domains"

    def __init__(self, base: str = BASE, key: str = KEY) -> None:
        super().__init__()
        self.base = base
        self.key = key
        self.domains: dict[str, Json] = {}
        self.pools: dict[str, Json] = {"default": {"id": "default", "name": "Default"}}
        self.sending_ips: dict[str, Json] = {
            ip: {"external_ip": ip, "hostname": f"mta{n}a.sparkpostmail.com",
                 "ip_pool": "default", "customer_provided": False,
                 "auto_warmup_enabled": False}
            for n, ip in enumerate(self.ips, start=470)
        }
        self.subaccounts: dict[int, Json] = {}
        #: (method, path below the base URL, JSON body or None, headers) per request
        self.requests: list[tuple[str, str, Any, dict[str, str]]] = []
        #: (method, path, query parameter names) per request that had a query
        self.queries: list[tuple[str, str, list[str]]] = []
        #: (method, path, the query) per request that had one, values and all
        self.query_values: list[tuple[str, str, dict[str, str]]] = []
        #: what record_sends recorded: (hour, sending domain, IP, pool id, subaccount id,
        #: counts by metric name)
        self.sends: list[tuple[datetime, str | None, str | None, str | None, int,
                               Counter[str]]] = []

    def connect(self, **options: Any) -> espkit.Account:
        return espkit.connect("sparkpost", api_key=self.key, region="us", **options)

    # -- the wire ---------------------------------------------------------------------------

    def _keep(self, call: Call) -> None:
        self.requests.append((call.method, call.path, call.json(), dict(call.headers)))
        if call.args:
            self.queries.append((call.method, call.path, sorted(call.args)))
            self.query_values.append((call.method, call.path, dict(call.args)))

    def _rate_limited(self, retry_after: str) -> Reply:
        return _error(429, "Too many requests", headers={"Retry-After": retry_after})

    def _unavailable(self) -> Reply:
        return _error(503, "Service Unavailable")

    def _unauthorized(self) -> Reply:
        return _error(401, "Unauthorized.")

    def _route(self, call: Call) -> Reply:
        if call.headers.get("Authorization") != self.key:
            return self._unauthorized()
        method, path, query = call.method, call.path, call.args
        body = call.json()
        if not isinstance(body, dict):
            body = {}
        sub = call.headers.get("X-MSYS-SUBACCOUNT")
        parts = path.strip("/").split("/")
        head, rest = parts[0], parts[1:]
        if head == "sending-domains":
            return self._domains(method, rest, body, sub)
        if head == "ip-pools":
            return self._pools_route(method, rest, body)
        if head == "sending-ips":
            return self._ips_route(method, rest, body)
        if head == "subaccounts":
            return self._subs_route(method, rest, query, body)
        if parts == ["metrics", "deliverability", "time-series"] and method == "GET":
            return self._time_series(query, sub)
        return _error(404, "resource not found", f"no route {method} {path}", "1600")

    # -- sending domains -------------------------------------------------------------------

    def _visible(self, d: Json, sub: str | None) -> bool:
        owner = d.get("subaccount_id")
        if sub is None:
            return True
        return (owner is None and sub == "0") or str(owner) == sub

    def _domains(self, method: str, rest: list[str], body: Json, sub: str | None) -> Reply:
        if not rest:
            if method == "POST":
                return self._create_domain(body, sub)
            if method == "GET":
                items = [{k: v for k, v in d.items() if k != "dkim"}
                         for d in self.domains.values() if self._visible(d, sub)]
                return _ok(items)
            return _error(405, "Method Not Allowed")
        name = rest[0]
        d = self.domains.get(name)
        if d is None or not self._visible(d, sub):
            return _error(404, "resource not found", f"Domain '{name}' does not exist", "1600")
        if len(rest) == 2 and rest[1] == "verify" and method == "POST":
            return self._verify(d, body)
        if method == "GET" and len(rest) == 1:
            return _ok({k: v for k, v in d.items() if k != "domain"})
        if method == "DELETE" and len(rest) == 1:
            del self.domains[name]
            return 204, {}, ""
        return _error(405, "Method Not Allowed")

    def _create_domain(self, body: Json, sub: str | None) -> Reply:
        name = body.get("domain")
        if not isinstance(name, str) or not name:
            return _error(422, "required field is missing", "domain is required", "1400")
        if name in self.domains:
            return _error(409, "resource conflict",
                          f"Sending Domain '{name}' already exists", "1602")
        dkim = {"public": public_key(name), "selector": "scph0125",
                "signing_domain": name, "headers": "from:to:subject:date"}
        d: Json = {
            "domain": name,
            "status": {"ownership_verified": False, "spf_status": "unverified",
                       "abuse_at_status": "unverified", "dkim_status": "unverified",
                       "cname_status": "unverified", "mx_status": "unverified",
                       "compliance_status": "valid", "postmaster_at_status": "unverified",
                       "verification_mailbox_status": "unverified"},
            "dkim": dkim,
            "shared_with_subaccounts": bool(body.get("shared_with_subaccounts", False)),
            "is_default_bounce_domain": False,
            "creation_time": "2025-01-25T14:00:00+00:00",
        }
        if sub not in (None, "0"):
            d["subaccount_id"] = int(sub)
        self.domains[name] = d
        return _ok({"message": "Successfully Created domain.", "domain": name, "dkim": dkim})

    def _verify(self, d: Json, body: Json) -> Reply:
        status = d["status"]
        result = "valid" if d["domain"] in self.published else "invalid"
        dns: Json = {}
        if body.get("dkim_verify"):
            status["dkim_status"] = result
            dns["dkim_record"] = f"k=rsa; h=sha256; p={d['dkim']['public']}"
            if result != "valid":
                dns["dkim_error"] = "DNS DKIM query error: record not found"
        if body.get("cname_verify"):
            status["cname_status"] = result
            dns["cname_record"] = "sparkpostmail.com"
            if result != "valid":
                dns["cname_error"] = "DNS CNAME query error: record not found"
        status["ownership_verified"] = any(
            status[k] == "valid" for k in ("dkim_status", "cname_status"))
        return _ok({**status, **({"dns": dns} if dns else {})})

    # -- IP pools and sending IPs ---------------------------------------------------------

    def _pool_view(self, pool: Json) -> Json:
        members = [{k: ip[k] for k in ("external_ip", "hostname", "auto_warmup_enabled",
                                       "auto_warmup_stage") if k in ip}
                   for ip in self.sending_ips.values() if ip["ip_pool"] == pool["id"]]
        return {**pool, "ips": members}

    def _pools_route(self, method: str, rest: list[str], body: Json) -> Reply:
        if not rest:
            if method == "GET":
                return _ok([self._pool_view(p) for p in self.pools.values()])
            if method == "POST":
                name = body.get("name")
                if not isinstance(name, str) or not name:
                    return _error(422, "required field is missing", "name is required")
                pool_id = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:20]
                if pool_id in self.pools:
                    return _error(409, f"IP Pool {pool_id} already exists.")
                self.pools[pool_id] = {"id": pool_id, "name": name, **{
                    k: body[k] for k in ("signing_domain", "fbl_signing_domain",
                                         "auto_warmup_overflow_pool") if k in body}}
                return _ok({"id": pool_id})
            return _error(405, "Method Not Allowed")
        pool = self.pools.get(rest[0])
        if pool is None:
            return _error(404, f"IP Pool {rest[0]} does not exist.")
        if method == "GET":
            return _ok(self._pool_view(pool))
        if method == "PUT":
            if pool["id"] == "default":
                return _error(400, "IP Pool default is reserved and cannot be updated.")
            pool.update({k: v for k, v in body.items() if k in (
                "name", "signing_domain", "fbl_signing_domain", "auto_warmup_overflow_pool")})
            return _ok(dict(pool))
        if method == "DELETE":
            if pool["id"] == "default":
                return _error(400, "IP Pool default is reserved.")
            for ip in self.sending_ips.values():
                if ip["ip_pool"] == pool["id"]:
                    ip["ip_pool"] = "default"
            del self.pools[pool["id"]]
            return 204, {}, ""
        return _error(405, "Method Not Allowed")

    def _ips_route(self, method: str, rest: list[str], body: Json) -> Reply:
        if not rest:
            if method == "GET":
                return _ok(list(self.sending_ips.values()))
            return _error(405, "Method Not Allowed")
        ip = self.sending_ips.get(rest[0])
        if ip is None:
            return _error(404, "Sending IP does not exist")
        if method == "GET":
            return _ok(ip)
        if method == "PUT":
            if "ip_pool" in body:
                if body["ip_pool"] not in self.pools:
                    return _error(400, f"IP Pool {body['ip_pool']} does not exist.")
                ip["ip_pool"] = body["ip_pool"]
            refused = self._warmup_refusal(ip, body)
            if refused:
                return _error(400, refused)
            if "auto_warmup_enabled" in body:
                ip["auto_warmup_enabled"] = bool(body["auto_warmup_enabled"])
                if ip["auto_warmup_enabled"] and ip.get("auto_warmup_stage", 30) == 30:
                    ip["auto_warmup_stage"] = 1  # a new (or finished) IP starts over
            if "auto_warmup_stage" in body:
                ip["auto_warmup_stage"] = body["auto_warmup_stage"]
            return _ok({"message": "Updated Sending IP."})
        return _error(405, "Method Not Allowed")

    @staticmethod
    def _warmup_refusal(ip: Json, body: Json) -> str:
        """The blueprint's 400 message for a warmup change it refuses, or ""."""
        if "auto_warmup_stage" not in body:
            return ""
        stage = body["auto_warmup_stage"]
        if not isinstance(stage, int) or isinstance(stage, bool) or not 1 <= stage <= 29:
            return "auto_warmup_stage must be between 1 and 29"
        if not body.get("auto_warmup_enabled", ip.get("auto_warmup_enabled")):
            return "auto_warmup_enabled must be true to update auto_warmup_stage"
        current = ip.get("auto_warmup_stage")
        if current is not None and stage > current:
            return f"auto_warmup_stage must be less than or equal to {current}"
        return ""

    def warm_up(self, ip: str, stage: int | None, enabled: bool = True) -> None:
        """Put ``ip`` at ``stage`` of SparkPost's auto warmup (None: no stage reported)."""
        entry = self.sending_ips[ip]
        entry["auto_warmup_enabled"] = enabled
        if stage is None:
            entry.pop("auto_warmup_stage", None)
        else:
            entry["auto_warmup_stage"] = stage

    # -- metrics ---------------------------------------------------------------------------

    def record_sends(self, when: date | datetime, *, domain: str | None = None,
                     ip: str | None = None, subaccount: int = 0, **counts: int) -> None:
        """Record traffic: ``counts`` by SparkPost metric name (``count_sent=10``), sent at
        ``when`` (a day is its first hour) from ``domain`` through ``ip`` (its pool is the
        one the IP is in now), by ``subaccount`` (0: the primary account)."""
        if not isinstance(when, datetime):
            when = datetime.combine(when, time(), timezone.utc)
        hour = when.replace(minute=0, second=0, microsecond=0)
        pool = None if ip is None else self.sending_ips[ip]["ip_pool"]
        self.sends.append((hour, domain, ip, pool, subaccount, Counter(counts)))

    def _time_series(self, query: dict[str, str], sub: str | None) -> Reply:
        if "from" not in query or "metrics" not in query:
            return _error(400, "from and metrics are required")
        try:
            start = datetime.fromisoformat(query["from"]).replace(tzinfo=timezone.utc)
            end = (datetime.fromisoformat(query["to"]).replace(tzinfo=timezone.utc)
                   + timedelta(minutes=1))
        except (KeyError, ValueError):
            return _error(400, "from and to must be YYYY-MM-DDTHH:MM")
        precision = query.get("precision", "1min")
        if precision not in ("hour", "day", "month"):
            return _error(400, f"the fake has no precision {precision!r}")
        if precision == "hour" and end - start > timedelta(days=31):
            return _error(400, "precision hour allows a time window of 31 days at most")
        metrics = query["metrics"].split(",")
        wanted = {key: query[key].split(",") for key in (
            "sending_domains", "sending_ips", "ip_pools", "subaccounts") if key in query}
        totals: dict[datetime, Counter[str]] = {}
        for hour, domain, ip, pool, subaccount, counts in self.sends:
            seen = {"sending_domains": domain, "sending_ips": ip, "ip_pools": pool,
                    "subaccounts": str(subaccount)}
            if not start <= hour < end or (sub is not None and str(subaccount) != sub):
                continue
            if any(seen[key] not in values for key, values in wanted.items()):
                continue
            if precision == "day":
                hour = hour.replace(hour=0)
            elif precision == "month":
                hour = hour.replace(day=1, hour=0)
            totals.setdefault(hour, Counter()).update(counts)
        return _ok([{**{m: totals[t][m] for m in metrics}, "ts": t.isoformat()}
                    for t in sorted(totals)])

    # -- subaccounts ----------------------------------------------------------------------

    def _subs_route(self, method: str, rest: list[str], query: dict[str, str],
                    body: Json) -> Reply:
        if not rest:
            if method == "POST":
                name = body.get("name")
                if not isinstance(name, str) or not name:
                    return _error(400, "`name` is a required field")
                sub_id = 100 + len(self.subaccounts)
                self.subaccounts[sub_id] = {
                    "id": sub_id, "name": name, "status": "active",
                    "compliance_status": "active", "options": {"deliverability": False},
                    **({"ip_pool": body["ip_pool"]} if body.get("ip_pool") else {}),
                }
                results: Json = {"subaccount_id": sub_id}
                if body.get("setup_api_key", True):
                    results.update(key="cf806c8c472562ab98ad5acac1d1b06cbd1fb438",
                                   label=body.get("key_label", ""), short_key="cf80")
                return _ok(results)
            if method == "GET":
                return self._list_subs(query)
            return _error(405, "Method Not Allowed")
        if not rest[0].isdigit() or int(rest[0]) not in self.subaccounts:
            return _error(404, "resource not found", f"Subaccount {rest[0]} not found", "1600")
        sub = self.subaccounts[int(rest[0])]
        if method == "GET":
            return _ok(sub)
        if method == "PUT":
            if "ip_pool" in body:
                if body["ip_pool"] and body["ip_pool"] not in self.pools:
                    return _error(400, f"IP Pool {body['ip_pool']} does not exist.")
                sub["ip_pool"] = body["ip_pool"]
            for key in ("name", "status"):
                if key in body:
                    sub[key] = body[key]
            return _ok({"message": "Successfully updated subaccount information"})
        return _error(405, "Method Not Allowed")

    def _list_subs(self, query: dict[str, str]) -> Reply:
        items = sorted(self.subaccounts.values(), key=lambda s: int(s["id"]))
        if "cursor" not in query and "per_page" not in query:
            return _ok(items)
        per_page = min(int(query.get("per_page", 25)), 100)
        cursor = query.get("cursor", "initial")
        start = 0 if cursor == "initial" else int(base64.b64decode(cursor))
        page = items[start:start + per_page]
        links: Json = {}
        if start + per_page < len(items):
            nxt = base64.b64encode(str(start + per_page).encode()).decode()
            links["next"] = f"/api/v1/subaccounts?cursor={nxt}&per_page={per_page}"
        return _ok(page, total_count=len(items), links=links)


FAKE = SparkPostFake
