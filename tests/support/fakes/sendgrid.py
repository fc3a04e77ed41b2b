"""A stateful fake of SendGrid's management API (global host; the EU host rejects the key),
answering with the shapes of Twilio's official OpenAPI files
(``../shared/specs/sendgrid/tsg_*_v3.yaml``): authenticated domains, legacy IPs and pools,
IP warmup, subusers, and the Stats API (``GET /v3/stats`` of
https://github.com/twilio/sendgrid-oai ``spec/yaml/tsg_stats_v3.yaml``, and
``GET /v3/subusers/stats``). Every response carries SendGrid's ``X-RateLimit-*`` headers and a
``Date`` from the fake's clock (``now``, Unix seconds; the real clock when None), which is
also the clock warmups start and end on: an IP leaves warmup after warmup age 41, as
SendGrid's published schedule ends there.

Besides the ``EspFake`` interface, ``requests`` keeps every request that reached the fake
(``test_sendgrid_spec.py`` validates them against the spec), ``record`` notes what was sent
(the stats answer from it), and the state dictionaries are open for tests to arrange and
inspect.
"""

from __future__ import annotations

import datetime
import email.utils
import itertools
import json
import time
from collections import Counter
from typing import Any

import requests

import espkit

from .base import Call, HttpFake, Reply

GLOBAL = "https://api.sendgrid.com"
EU = "https://api.eu.sendgrid.com"
KEY = "SG.suite-key.0123456789abcdefghijklmnopqrstuvwxyz"
PARENT = "parent_user"
#: every metric of a stats row (``StatsAdvancedGlobalStats``), in the spec example's order
METRICS = ("blocks", "bounce_drops", "bounces", "clicks", "deferred", "delivered",
           "invalid_emails", "opens", "processed", "requests", "spam_report_drops",
           "spam_reports", "unique_clicks", "unique_opens", "unsubscribe_drops", "unsubscribes")
#: the last warmup age of SendGrid's hourly table: the day after, the IP leaves warmup
LAST_WARMUP_AGE = 41


def _reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
    limits = {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "599",
              "X-RateLimit-Reset": str(int(time.time()) + 60)}
    if body is None:
        return status, {**limits, **(headers or {})}, ""
    return (status, {"Content-Type": "application/json", **limits, **(headers or {})},
            json.dumps(body))


def _error(status: int, message: str, field: str | None = None,
           headers: dict[str, str] | None = None) -> Reply:
    return _reply(status, {"errors": [{"field": field, "message": message}]}, headers)


class SendGridFake(HttpFake):
    provider = "sendgrid"
    ips = ("203.0.113.20", "203.0.113.21", "203.0.113.22", "203.0.113.23")
    create_domain_path = "/v3/whitelabel/domains"
    # a name is read through the list's domain= filter
    get_domain_path = "/v3/whitelabel/domains"
    base = GLOBAL
    foreign_hosts = (EU,)

    def __init__(self, key: str = KEY) -> None:
        super().__init__()
        self.key = key
        self.domains: dict[int, dict[str, Any]] = {}
        self.pools: dict[str, list[str]] = {}
        #: IP -> the Unix time its warmup started
        self.warmups: dict[str, int] = {}
        #: the fake's clock (Unix seconds) for ``Date`` and warmups; None: the real clock
        self.now: float | None = None
        #: True: a second ``POST /v3/ips/warmup`` for a warming IP is refused with a 400
        #: (SendGrid documents neither answer); False: answered with its warmup, unchanged
        self.refuse_rewarm = False
        #: (owner, day) -> metric -> count: what ``record`` noted (owner: a subuser, or PARENT)
        self.sent_log: dict[tuple[str, datetime.date], Counter[str]] = {}
        self.subusers: dict[str, dict[str, Any]] = {}
        self.subuser_ips: dict[str, list[str]] = {}
        #: every request that reached the fake (``test_sendgrid_spec.py`` checks them)
        self.requests: list[requests.PreparedRequest] = []
        self._ids = itertools.count(1001)

    def connect(self, **options: Any) -> espkit.Account:
        return espkit.connect("sendgrid", api_key=self.key, region="global", **options)

    def clock(self) -> float:
        return time.time() if self.now is None else self.now

    def record(self, day: datetime.date | str, subuser: str | None = None,
               **metrics: int) -> None:
        """Note what was sent on ``day`` (by ``subuser``, else the parent): SendGrid metric
        names and counts (``requests=100, delivered=97, bounces=1, blocks=2``)."""
        when = datetime.date.fromisoformat(day) if isinstance(day, str) else day
        unknown = set(metrics) - set(METRICS)
        assert not unknown, f"not SendGrid metrics: {unknown}"
        self.sent_log.setdefault((subuser or PARENT, when), Counter()).update(metrics)

    # -- the wire ------------------------------------------------------------------------

    def _keep(self, call: Call) -> None:
        self.requests.append(call.request)

    def _rate_limited(self, retry_after: str) -> Reply:
        return _error(429, "too many requests",
                      headers={"Retry-After": retry_after, "X-RateLimit-Remaining": "0"})

    def _unavailable(self) -> Reply:
        return _error(503, "service unavailable")

    def _unauthorized(self) -> Reply:
        return _error(401, "authorization required")

    def _route(self, call: Call) -> Reply:
        status, headers, body = self._answer(call)
        return status, {**headers, "Date": email.utils.formatdate(self.clock(), usegmt=True)}, \
            body

    def _answer(self, call: Call) -> Reply:
        if call.headers.get("Authorization") != f"Bearer {self.key}":
            return self._unauthorized()
        self._expire_warmups()
        method, path, q, body = call.method, call.path, call.args, call.json()
        owner = call.headers.get("on-behalf-of") or PARENT
        parts = path.strip("/").split("/")
        match method, parts:
            case "POST", ["v3", "whitelabel", "domains"]:
                return self._create_domain(body, owner)
            case "GET", ["v3", "whitelabel", "domains"]:
                found = [d for d in self.domains.values() if d["username"] == owner
                         and q.get("domain", "") in d["domain"]]
                return _reply(200, self._page(found, q))
            case "GET", ["v3", "whitelabel", "domains", domain_id]:
                domain = self._own(domain_id, owner)
                return _reply(200, domain) if domain else _error(404, "resource not found")
            case "POST", ["v3", "whitelabel", "domains", domain_id, "validate"]:
                domain = self._own(domain_id, owner)
                if domain is None:
                    return _error(404, "resource not found")
                return _reply(200, self._validate(domain))
            case "DELETE", ["v3", "whitelabel", "domains", domain_id]:
                domain = self._own(domain_id, owner)
                if domain is None:
                    return _error(404, "resource not found")
                del self.domains[domain["id"]]
                return _reply(204)
            case "GET", ["v3", "ips"]:
                return _reply(200, self._page([self._ip(ip) for ip in self.ips], q))
            case "GET", ["v3", "ips", ip] if ip in self.ips:
                return _reply(200, self._ip(ip))
            case "GET", ["v3", "ips", "pools"]:
                return _reply(200, [{"name": n} for n in self.pools])
            case "POST", ["v3", "ips", "pools"]:
                name = body["name"]
                if name in self.pools:
                    return _error(400, "pool name already exists", "name")
                self.pools[name] = []
                return _reply(200, {"name": name})
            case "GET", ["v3", "ips", "pools", name] if name in self.pools:
                # what SendGrid really sends: objects; the spec says strings
                return _reply(200, {"pool_name": name, "ips": [
                    {"ip": ip, "start_date": None, "warmup": ip in self.warmups}
                    for ip in self.pools[name]]})
            case "DELETE", ["v3", "ips", "pools", name] if name in self.pools:
                del self.pools[name]
                return _reply(204)
            case "POST", ["v3", "ips", "pools", name, "ips"] if name in self.pools:
                ip = body["ip"]
                if ip not in self.ips:
                    return _error(404, "resource not found")
                if ip not in self.pools[name]:
                    self.pools[name].append(ip)
                info = self._ip(ip)
                return _reply(201, {k: info[k] for k in ("ip", "pools", "start_date",
                                                          "warmup")})
            case "DELETE", ["v3", "ips", "pools", name, "ips", ip] if name in self.pools:
                if ip not in self.pools[name]:
                    return _reply(404, {"error": "Unable to locate specified IPs Pool"})
                self.pools[name].remove(ip)
                return _reply(204)
            case "POST", ["v3", "ips", "warmup"]:
                ip = body["ip"]
                if ip not in self.ips:
                    return _error(404, "resource not found")
                if ip in self.warmups and self.refuse_rewarm:
                    return _error(400, "IP is already in warmup", "ip")
                self.warmups.setdefault(ip, int(self.clock()))
                return _reply(200, [{"ip": ip, "start_date": self.warmups[ip]}])
            case "GET", ["v3", "ips", "warmup"]:
                return _reply(200, [{"ip": i, "start_date": s} for i, s in self.warmups.items()])
            case "GET", ["v3", "ips", "warmup", ip] if ip in self.warmups:
                return _reply(200, [{"ip": ip, "start_date": self.warmups[ip]}])
            case "DELETE", ["v3", "ips", "warmup", ip] if ip in self.warmups:
                del self.warmups[ip]
                return _reply(204)
            case "GET", ["v3", "stats"]:
                return self._stats(q, owner, None)
            case "GET", ["v3", "subusers", "stats"]:
                if "subusers" not in q:
                    return _error(400, "subusers is required", "subusers")
                if q["subusers"] not in self.subusers:
                    return _error(404, "subuser not found", "subusers")
                return self._stats(q, q["subusers"], q["subusers"])
            case "POST", ["v3", "subusers"]:
                return self._create_subuser(body)
            case "GET", ["v3", "subusers"]:
                wanted = q.get("username")
                found = [s for s in self.subusers.values()
                         if wanted is None or s["username"] == wanted]
                return _reply(200, self._page(found, q))
            case "PATCH", ["v3", "subusers", name] if name in self.subusers:
                self.subusers[name]["disabled"] = bool(body["disabled"])
                return _reply(204)
            case "PUT", ["v3", "subusers", name, "ips"] if name in self.subusers:
                bad = [ip for ip in body if ip not in self.ips]
                if bad:
                    return _error(400, f"invalid ips: {', '.join(bad)}", "ips")
                self.subuser_ips[name] = list(body)
                return _reply(200, {"ips": list(body)})
        return _error(404, "resource not found")

    def _expire_warmups(self) -> None:
        """SendGrid's table ends at warmup age 41: after it the IP leaves warmup."""
        now = self.clock()
        for ip, start in list(self.warmups.items()):
            if (now - start) // 86400 > LAST_WARMUP_AGE:
                del self.warmups[ip]

    def _stats(self, q: dict[str, str], owner: str, subuser: str | None) -> Reply:
        """Rows of ``{date, stats: [{metrics}]}`` (a subuser's: ``{type, name, metrics}``)
        for every day, or month, from start_date to end_date, from what ``record`` noted.
        The parent's own rows add up everything sent on the account; a month row is named
        by the first day asked for in that month."""
        try:
            first = datetime.date.fromisoformat(q["start_date"])
            last = datetime.date.fromisoformat(q["end_date"]) if "end_date" in q else \
                datetime.datetime.fromtimestamp(self.clock(), datetime.timezone.utc).date()
            limit, offset = int(q.get("limit", "500")), int(q.get("offset", "0"))
        except (KeyError, ValueError):
            return _error(400, "start_date is required, as YYYY-MM-DD", "start_date")
        by = q.get("aggregated_by", "day")
        if by not in ("day", "month"):  # "week" is SendGrid's too, not modelled here
            return _error(400, "aggregated_by must be day or month in this fake",
                          "aggregated_by")
        totals: dict[datetime.date, Counter[str]] = {}
        day = first
        while day <= last:
            key = day if by == "day" else max(first, day.replace(day=1))
            total = totals.setdefault(key, Counter())
            for (who, when), counts in self.sent_log.items():
                if when == day and (who == owner or owner == PARENT):
                    total.update(counts)
            day += datetime.timedelta(days=1)
        rows = []
        for key, counts in totals.items():
            entry: dict[str, Any] = {"metrics": {m: counts[m] for m in METRICS}}
            if subuser is not None:
                entry = {"type": "subuser", "name": subuser, **entry}
            rows.append({"date": key.isoformat(), "stats": [entry]})
        return _reply(200, rows[offset:offset + limit])

    @staticmethod
    def _page(items: list[Any], q: dict[str, str]) -> list[Any]:
        offset = int(q.get("offset", "0"))
        limit = int(q.get("limit", "10"))
        return items[offset:offset + limit]

    def _own(self, domain_id: str, owner: str) -> dict[str, Any] | None:
        domain = self.domains.get(int(domain_id)) if domain_id.isdigit() else None
        return domain if domain is not None and domain["username"] == owner else None

    def _create_domain(self, body: dict[str, Any], owner: str) -> Reply:
        name = body["domain"]
        domain_id = next(self._ids)
        user = f"u{domain_id}.wl.sendgrid.net"
        # SendGrid's own selectors are s1/s2; a custom one gives <sel>/<sel>2
        custom = body.get("custom_dkim_selector")
        s1, s2 = (custom, f"{custom}2") if custom else ("s1", "s2")
        sub = "em" + str(domain_id)[-4:]
        self.domains[domain_id] = {
            "id": domain_id, "user_id": 7, "subdomain": sub, "domain": name,
            "username": owner, "ips": body.get("ips", []), "custom_spf": False,
            "default": False, "legacy": False,
            "automatic_security": body.get("automatic_security", True), "valid": False,
            "dns": {
                "mail_cname": {"valid": False, "type": "cname", "host": f"{sub}.{name}",
                               "data": user},
                "dkim1": {"valid": False, "type": "cname", "host": f"{s1}._domainkey.{name}",
                          "data": f"{s1}.domainkey.{user}"},
                "dkim2": {"valid": False, "type": "cname", "host": f"{s2}._domainkey.{name}",
                          "data": f"{s2}.domainkey.{user}"},
            },
        }
        return _reply(201, self.domains[domain_id])

    def _validate(self, domain: dict[str, Any]) -> dict[str, Any]:
        ok = domain["domain"] in self.published
        for record in domain["dns"].values():
            record["valid"] = ok
        domain["valid"] = ok
        reason = None if ok else "Expected CNAME to match but found none."
        return {"id": domain["id"], "valid": ok, "validation_results": {
            key: {"valid": ok, "reason": reason} for key in domain["dns"]}}

    def _ip(self, ip: str) -> dict[str, Any]:
        return {"ip": ip, "subusers": [n for n, ips in self.subuser_ips.items() if ip in ips],
                "rdns": f"o{self.ips.index(ip) + 1}.em.example.com",
                "pools": [n for n, members in self.pools.items() if ip in members],
                "warmup": ip in self.warmups, "start_date": self.warmups.get(ip),
                "whitelabeled": True, "assigned_at": 1482883200}

    def _create_subuser(self, body: dict[str, Any]) -> Reply:
        missing = [k for k in ("username", "email", "password", "ips") if k not in body]
        if missing:
            return _error(400, f"{missing[0]} is required", missing[0])
        name = body["username"]
        if name in self.subusers:
            return _error(400, "username exists")
        self.subusers[name] = {"id": next(self._ids), "username": name,
                               "email": body["email"], "disabled": False}
        self.subuser_ips[name] = list(body["ips"])
        return _reply(200, {"username": name, "user_id": self.subusers[name]["id"],
                            "email": body["email"], "credit_allocation": {"type": "unlimited"}})


FAKE = SendGridFake
