"""A stateful fake of Mailgun's management API (US region; the EU host rejects the key),
answering with the shapes of Mailgun's OpenAPI description as
``tests/support/mailgun_mocks.py`` does: domains, IPs, DIPPs (linking domains by id, one
DIPP per domain, refusing a PATCH that changes nothing, as the spec says), the legacy
``/v3/domains/{name}/ips`` calls and subaccounts (``/v5/accounts/subaccounts``); IP warmup
plans (``/v3/ip_warmups``, paged by a token in ``paging.next``) and the analytics metrics
API (``POST /v1/analytics/metrics``), answering from the sends a test records
(``record_sends``) per hour, domain, IP, DIPP and subaccount.
"""

from __future__ import annotations

import base64
import email.utils
import itertools
import json
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import espkit

from .base import Call, HttpFake, Reply

US = "https://api.mailgun.net"
EU = "https://api.eu.mailgun.net"
KEY = "key-suite-0123456789abcdef"


def _reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


#: what record_sends counts, as the analytics metrics are named (openapi.yaml, Metric enum)
TRACKED = ("sent_count", "delivered_count", "hard_bounces_count", "soft_bounces_count",
           "complained_count", "temporary_failed_count")
#: the fake's warmup plan: stage limits per day, doubling as the spec's stage_history does
#: (1000, 2000, 4000...); the hourly limit is the spec example's share (4000 -> 100)
STAGE_LIMITS = tuple(1000 * 2 ** i for i in range(15))


class MailgunFake(HttpFake):
    provider = "mailgun"
    ips: tuple[str, ...] = ("203.0.113.10", "203.0.113.11", "203.0.113.12", "203.0.113.13")
    create_domain_path = "/v4/domains"
    get_domain_path = "/v4/domains/"
    base = US
    foreign_hosts = (EU,)

    def __init__(self) -> None:
        super().__init__()
        self.domains: dict[str, dict[str, Any]] = {}
        self.pools: dict[str, dict[str, Any]] = {}
        self.domain_ips: dict[str, list[str]] = {}
        self.subaccounts: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        #: IP -> its in-flight plan: stage (1-based), when the plan and the stage began
        self.warmups: dict[str, dict[str, Any]] = {}
        #: what "now" is for warmup plans (a test moves it)
        self.now = datetime(2026, 12, 1, tzinfo=timezone.utc)
        #: the most IPs a warmup page holds, whatever limit is asked (Mailgun's is unstated)
        self.warmup_page_max = 100
        #: the host ``paging.next`` links name (a test makes it hostile)
        self.next_base = US
        #: every recorded send: when (hour), domain, ip, pool_id, subaccount, and counts
        self.sends: list[dict[str, Any]] = []
        #: the most rows a metrics page holds, whatever limit is asked
        self.metrics_page_max = 1000

    def connect(self, **options: Any) -> espkit.Account:
        return espkit.connect("mailgun", api_key=KEY, region="us", **options)

    # -- the wire ------------------------------------------------------------------------

    def _rate_limited(self, retry_after: str) -> Reply:
        return _reply(429, {"message": "Too many requests"}, {"Retry-After": retry_after})

    def _unavailable(self) -> Reply:
        return _reply(503, {"message": "Service Unavailable"})

    def _unauthorized(self) -> Reply:
        return _reply(401, {"message": "Invalid private key"})

    def _route(self, call: Call) -> Reply:
        method, path, q, f = call.method, call.path, call.args, call.form()
        parts = path.strip("/").split("/")
        match method, parts:
            case "POST", ["v4", "domains"]:
                return self._create_domain(f)
            case "GET", ["v4", "domains"]:
                names = list(self.domains)
                skip = int(q.get("skip", "0"))
                limit = int(q.get("limit", "100"))
                items = [self.domains[n] for n in names[skip:skip + limit]]
                return _reply(200, {"total_count": len(names), "items": items})
            case "GET", ["v4", "domains", name]:
                return self._domain_reply(name)
            case "PUT", ["v4", "domains", name, "verify"]:
                if name in self.domains and name in self.published:
                    self.domains[name]["state"] = "active"
                return self._domain_reply(name, message="Domain DNS records have been updated")
            case "DELETE", ["v3", "domains", name]:
                if self.domains.pop(name, None) is None:
                    return _reply(404, {"message": "Domain not found"})
                for p in self.pools.values():
                    p["linked"] = [n for n in p["linked"] if n != name]
                return _reply(200, {"message": "Domain has been deleted"})
            case "GET", ["v3", "ips"]:
                # is_on_warmup is omitted when false, as in the spec's example
                flags = [{"ip": ip, **({"is_on_warmup": True} if ip in self.warmups else {})}
                         for ip in self.ips]
                return _reply(200, {"items": list(self.ips), "total_count": len(self.ips),
                                    "details": flags, "assignable_to_pools": list(self.ips)})
            case "GET", ["v3", "ips", ip]:
                if ip not in self.ips:
                    return _reply(404, {"message": "IP not found"})
                return _reply(200, {"ip": ip, "dedicated": True, "rdns": f"mta.{ip}.example"})
            case (_, ["v3", "ip_warmups", *rest]):
                return self._warmup_route(method, rest, q)
            case "POST", ["v1", "analytics", "metrics"]:
                return self._metrics(call.json(), call.headers.get("X-Mailgun-On-Behalf-Of"))
            case "GET", ["v3", "ip_pools"]:
                return _reply(200, {"ip_pools": [self._pool_view(p)
                                                 for p in self.pools.values()],
                                    "message": "success"})
            case "POST", ["v3", "ip_pools"]:
                pool_id = f"pool{next(self._ids):020d}"
                self.pools[pool_id] = {"pool_id": pool_id, "name": f["name"][0],
                                       "description": f.get("description", [""])[0],
                                       "ips": f.get("ip", []), "linked": []}
                return _reply(200, {"message": "success", "pool_id": pool_id})
            case "GET", ["v3", "ip_pools", pool_id] if pool_id in self.pools:
                p = self.pools[pool_id]
                details = {**self._pool_view(p), "linked_domains": list(p["linked"])}
                return _reply(200, {"details": details, "message": "success"})
            case "PATCH", ["v3", "ip_pools", pool_id] if pool_id in self.pools:
                return self._edit_pool(self.pools[pool_id], f)
            case "DELETE", ["v3", "ip_pools", pool_id] if pool_id in self.pools:
                del self.pools[pool_id]
                return _reply(200, {"message": "started"})
            case _, ["v3", "ip_pools", _, *_]:
                return _reply(404, {"message": "DIPP not found"})
            case "GET", ["v3", "domains", name, "ips"]:
                return _reply(200, {"items": self.domain_ips.get(name, []),
                                    "total_count": len(self.domain_ips.get(name, []))})
            case "POST", ["v3", "domains", name, "ips"] if name in self.domains:
                # legacy, absent from the spec (Mailgun's docs and SDKs): ip= adds one IP
                ip = f.get("ip", [""])[0]
                if ip not in self.ips:
                    return _reply(400, {"message": f"IP {ip} is not a dedicated IP"})
                own = self.domain_ips.setdefault(name, [])
                own += [] if ip in own else [ip]
                return _reply(200, {"message": "success"})
            case "DELETE", ["v3", "domains", name, "ips", "ip_pool"]:
                for p in self.pools.values():
                    if name in p["linked"]:
                        p["linked"].remove(name)
                return _reply(200, {"message": "success"})
            case "DELETE", ["v3", "domains", name, "ips", ip] if name in self.domains:
                if ip not in self.domain_ips.get(name, []):
                    return _reply(404, {"message": "IP not found"})
                self.domain_ips[name].remove(ip)
                return _reply(200, {"message": "success"})
            case (_, ["v5", "accounts", "subaccounts", *rest]):
                return self._subaccounts(method, rest, q)
        return _reply(404, {"message": f"no route for {method} {path}"})

    # -- IP warmup ---------------------------------------------------------------------------

    def start_plan(self, ip: str, stage: int = 1, total: int = len(STAGE_LIMITS)) -> None:
        """Put ``ip`` on a plan at ``stage`` (of ``total``), begun ``stage - 1`` days ago."""
        begun = self.now - timedelta(days=stage - 1)
        self.warmups[ip] = {"stage": stage, "total": total, "plan_started_at": begun,
                            "stage_started_at": self.now}

    def advance(self, ip: str, stages: int = 1) -> None:
        """``ip``'s plan moves on; past its last stage it is over and leaves the list."""
        plan = self.warmups[ip]
        self.now += timedelta(days=stages)
        plan["stage"] += stages
        plan["stage_started_at"] = self.now
        if plan["stage"] > plan["total"]:
            del self.warmups[ip]

    def _plan_view(self, ip: str, detailed: bool) -> dict[str, Any]:
        plan = self.warmups[ip]
        stage = plan["stage"]
        limit = STAGE_LIMITS[min(stage, len(STAGE_LIMITS)) - 1]
        if not detailed:  # the listing's shape (spec: GET /v3/ip_warmups example)
            return {"ip": ip, "sent_within_stage": "0%", "throttle": limit // 40,
                    "stage_number": stage, "stage_start_volume": limit // 2,
                    "stage_start_time": _iso(plan["stage_started_at"]),
                    "stage_volume_limit": limit}
        begun = plan["plan_started_at"]
        history = [{"first_updated_at": "0001-01-01T00:00:00Z",
                    "completed_at": _iso(begun + timedelta(days=i + 1)),
                    "limit": STAGE_LIMITS[i]} for i in range(stage - 1)]
        # the details' shape (spec: GET /v3/ip_warmups/{addr} example)
        return {"details": {
            "sent_within_stage": "0%", "throttle": limit // 40, "start_volume": limit // 2,
            "stage": stage, "stage_limit": limit, "hourly_limit": limit // 40,
            "stage_started_at": _iso(plan["stage_started_at"]),
            "hour_started_at": _iso(self.now), "plan_started_at": _iso(begun),
            "plan_last_updated_at": _iso(self.now), "total_stages": plan["total"],
            "stage_history": history}}

    def _warmup_route(self, method: str, rest: list[str], q: dict[str, str]) -> Reply:
        match method, rest:
            case "GET", []:
                return self._warmup_page(q)
            case _, [ip] if ip not in self.ips:
                return _reply(404, {"message": "IP not found"})
            case "GET", [ip]:
                if ip not in self.warmups:
                    return _reply(404, {"message": "IP warmup not found"})
                return _reply(200, self._plan_view(ip, detailed=True))
            case "POST", [ip]:
                if ip in self.warmups:
                    return _reply(400, {"message": "IP warmup already in progress"})
                self.start_plan(ip)
                return _reply(200, {"message": "success"})
            case "DELETE", [ip]:
                if self.warmups.pop(ip, None) is None:
                    return _reply(404, {"message": "IP warmup not found"})
                return _reply(200, {"message": "success"})
        return _reply(404, {"message": "no route for ip_warmups"})

    def _warmup_page(self, q: dict[str, str]) -> Reply:
        """``page`` is an opaque token (the offset, encoded); ``paging.next`` always names
        the following page, which is empty after the last (as Mailgun's SDKs expect)."""
        limit = min(int(q.get("limit", "10")), self.warmup_page_max)
        token = q.get("page", "")
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        ips = sorted(self.warmups)
        items = [self._plan_view(ip, detailed=False) for ip in ips[start:start + limit]]
        nxt = base64.urlsafe_b64encode(str(start + len(items)).encode()).decode()
        link = f"{self.next_base}/v3/ip_warmups?limit={limit}&page="
        return _reply(200, {"items": items or None,  # Go's encoder writes null for none
                            "paging": {"first": f"{link}", "next": f"{link}{nxt}"}})

    # -- delivery figures ------------------------------------------------------------------

    def record_sends(self, when: datetime | date, *, domain: str, ip: str | None = None,
                     subaccount: str | None = None, sent: int = 0,
                     delivered: int | None = None, hard: int = 0, soft: int = 0,
                     complained: int = 0, deferred: int = 0) -> None:
        """``sent`` messages from ``domain`` (through ``ip``, by ``subaccount``) at ``when``
        (a day is its first hour); ``delivered`` defaults to those that did not bounce."""
        if not isinstance(when, datetime):
            when = datetime.combine(when, time(), timezone.utc)
        pool = next((p["pool_id"] for p in self.pools.values() if ip in p["ips"]), None)
        got = sent - hard - soft if delivered is None else delivered
        counts = dict(zip(TRACKED, (sent, got, hard, soft, complained, deferred), strict=True))
        self.sends.append({"at": when.replace(minute=0, second=0, microsecond=0),
                           "domain": domain, "ip": ip, "ip_pool": pool,
                           "subaccount": subaccount, "counts": counts})

    def _metrics(self, body: Any, on_behalf_of: str | None) -> Reply:
        """POST /v1/analytics/metrics over the recorded sends, one item per period from
        ``start`` to ``end`` (periods without sends are zeros), oldest first."""
        try:
            start = email.utils.parsedate_to_datetime(body["start"])
            end = email.utils.parsedate_to_datetime(body["end"])
        except (KeyError, TypeError, ValueError):
            return _reply(400, {"message": "start and end must be RFC 2822 dates"})
        res = body.get("resolution", "day")
        if res not in ("hour", "day", "month") or body.get("dimensions") != ["time"]:
            return _reply(400, {"message": "the fake answers resolution hour/day/month "
                                           "by the time dimension only"})
        page = body.get("pagination") or {}
        skip, limit = int(page.get("skip", 0)), min(int(page.get("limit", 10)),
                                                    self.metrics_page_max)
        sends = [s for s in self.sends if start <= s["at"] <= end]
        if on_behalf_of is not None:
            sends = [s for s in sends if s["subaccount"] == on_behalf_of]
        elif not body.get("include_subaccounts"):
            sends = [s for s in sends if s["subaccount"] is None]
        for predicate in (body.get("filter") or {}).get("AND", []):
            values = {v["value"] for v in predicate["values"]}
            sends = [s for s in sends if s[predicate["attribute"]] in values]
        periods = _periods(start, end, res)
        totals = {p: dict.fromkeys(TRACKED, 0) for p in periods}
        for s in sends:
            for metric, n in s["counts"].items():
                totals[_floor(s["at"], res)][metric] += n
        items = [{"dimensions": [{"dimension": "time", "value": _rfc(p),
                                  "display_value": _rfc(p)}],
                  "metrics": {m: totals[p].get(m) for m in body.get("metrics", [])}}
                 for p in periods]
        return _reply(200, {
            "start": body["start"], "end": body["end"], "resolution": res, "duration": "",
            "dimensions": ["time"], "items": items[skip:skip + limit],
            "pagination": {"sort": "timestamp:asc", "skip": skip, "limit": limit,
                           "total": len(items)},
            "aggregates": {"metrics": {}}})

    def _edit_pool(self, p: dict[str, Any], f: dict[str, list[str]]) -> Reply:
        """PATCH /v3/ip_pools/{id}: add_ip, remove_ip, link_domain (domain ids), each may
        come many times; an unknown domain id, or nothing to change, is an error."""
        by_id = {d["id"]: n for n, d in self.domains.items()}
        unknown = [i for i in f.get("link_domain", []) if i not in by_id]
        if unknown:
            return _reply(400, {"message": f"unknown domain id {unknown[0]}"})
        ips = [ip for ip in p["ips"] if ip not in f.get("remove_ip", [])]
        ips += [ip for ip in f.get("add_ip", []) if ip not in ips]
        link = [by_id[i] for i in f.get("link_domain", []) if by_id[i] not in p["linked"]]
        if ips == p["ips"] and not link:
            return _reply(400, {"message": "the request does not change the DIPP"})
        p["ips"] = ips
        for other in self.pools.values():  # a domain is linked to one DIPP at a time
            other["linked"] = [n for n in other["linked"] if n not in link]
        p["linked"] += link
        return _reply(200, {"message": "success"})

    def _subaccounts(self, method: str, rest: list[str], q: dict[str, str]) -> Reply:
        match method, rest:
            case "POST", []:
                sub_id = f"{next(self._ids):024x}"
                self.subaccounts[sub_id] = {
                    "id": sub_id, "name": q.get("name", ""), "status": "open",
                    "created_at": email.utils.formatdate(usegmt=True)}
                return _reply(200, {"subaccount": self.subaccounts[sub_id]})
            case "GET", []:
                subs = list(self.subaccounts.values())
                skip, limit = int(q.get("skip", "0")), int(q.get("limit", "10"))
                return _reply(200, {"subaccounts": subs[skip:skip + limit],
                                    "total": len(subs)})
            case "GET", [sub_id] if sub_id in self.subaccounts:
                return _reply(200, {"subaccount": self.subaccounts[sub_id]})
            case "POST", [sub_id, ("enable" | "disable") as action] \
                    if sub_id in self.subaccounts:
                sub = self.subaccounts[sub_id]
                wanted = "open" if action == "enable" else "disabled"
                if sub["status"] == wanted:
                    return _reply(400, {"message": f"subaccount is already {action}d"})
                sub["status"] = wanted
                return _reply(200, {"subaccount": sub})
        return _reply(404, {"message": "Subaccount not found"})

    def _create_domain(self, f: dict[str, list[str]]) -> Reply:
        name = f["name"][0]
        if name in self.domains:
            return _reply(400, {"message": "This domain name is already taken"})
        unknown = [p for p in f.get("pool_id", []) if p not in self.pools]
        if unknown:  # "a 400 will be returned" when the request cannot be fulfilled
            return _reply(400, {"message": f"IP pool {unknown[0]} not found"})
        self.domains[name] = {
            "id": f"{next(self._ids):024x}", "name": name, "state": "unverified",
            "created_at": email.utils.formatdate(usegmt=True), "type": "custom",
            "spam_action": "disabled", "web_prefix": "email", "web_scheme": "https",
        }
        # `pool_id` on create links the domain to that DIPP (shared/notes/esp-apis.md)
        for pool_id in f.get("pool_id", []):
            if pool_id in self.pools:
                self.pools[pool_id]["linked"].append(name)
        return self._domain_reply(name, message="Domain DNS records have been created")

    def _domain_reply(self, name: str, message: str | None = None) -> Reply:
        domain = self.domains.get(name)
        if domain is None:
            return _reply(404, {"message": "Domain not found"})
        valid = "valid" if domain["state"] == "active" else "unknown"
        body: dict[str, Any] = {
            "domain": domain,
            "receiving_dns_records": [
                {"record_type": "MX", "priority": "10", "value": v, "valid": valid,
                 "is_active": True, "cached": []}
                for v in ("mxa.mailgun.org", "mxb.mailgun.org")],
            "sending_dns_records": [
                {"record_type": "TXT", "name": name, "value": "v=spf1 include:mailgun.org ~all",
                 "valid": valid, "is_active": True, "cached": []},
                {"record_type": "TXT", "name": f"mx._domainkey.{name}",
                 "value": "k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQ", "valid": valid,
                 "is_active": True, "cached": []},
                {"record_type": "CNAME", "name": f"email.{name}", "value": "mailgun.org",
                 "valid": valid, "is_active": True, "cached": []},
            ],
        }
        if message:
            body["message"] = message
        return _reply(200, body)

    @staticmethod
    def _pool_view(p: dict[str, Any]) -> dict[str, Any]:
        return {"pool_id": p["pool_id"], "name": p["name"], "description": p["description"],
                "ips": list(p["ips"]), "is_linked": bool(p["linked"]), "is_inherited": False}


def _floor(moment: datetime, res: str) -> datetime:
    moment = moment.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    if res != "hour":
        moment = moment.replace(hour=0)
    return moment.replace(day=1) if res == "month" else moment


def _periods(start: datetime, end: datetime, res: str) -> list[datetime]:
    out, at = [], _floor(start, res)
    while at <= end:
        out.append(at)
        if res == "month":
            at = at.replace(year=at.year + at.month // 12, month=at.month % 12 + 1)
        else:
            at += timedelta(hours=1) if res == "hour" else timedelta(days=1)
    return out


def _rfc(moment: datetime) -> str:
    return email.utils.format_datetime(moment)


FAKE = MailgunFake
