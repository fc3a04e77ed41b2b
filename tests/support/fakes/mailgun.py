"""A stateful fake of Mailgun's management API (US region; the EU host rejects the key),
answering with the shapes of Mailgun's OpenAPI description as
``tests/support/mailgun_mocks.py`` does: domains, IPs, DIPPs (linking domains by id, one
DIPP per domain, refusing a PATCH that changes nothing, as the spec says), the legacy
``/v3/domains/{name}/ips`` calls and subaccounts (``/v5/accounts/subaccounts``).
"""

from __future__ import annotations

import email.utils
import itertools
import json
from typing import Any

import espkit

from .base import Call, HttpFake, Reply

US = "https://api.mailgun.net"
EU = "https://api.eu.mailgun.net"
KEY = "key-suite-0123456789abcdef"


def _reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body)


class MailgunFake(HttpFake):
    provider = "mailgun"
    ips = ("203.0.113.10", "203.0.113.11", "203.0.113.12", "203.0.113.13")
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
                return _reply(200, {"items": list(self.ips), "total_count": len(self.ips),
                                    "details": [{"ip": ip} for ip in self.ips],
                                    "assignable_to_pools": list(self.ips)})
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


FAKE = MailgunFake
