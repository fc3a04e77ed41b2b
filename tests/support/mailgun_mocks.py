"""Mailgun response bodies and a full tour of the provider, shared by the Mailgun tests.

Bodies follow the examples of Mailgun's official OpenAPI description
(``../shared/specs/mailgun/openapi.yaml``; operation ids in the comments), with names and ids
made consistent with one another. ``test_mailgun_spec.py`` checks the spec's own examples.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import responses

import espkit
from espkit.transport.ratelimit import RateLimiter

US = "https://api.mailgun.net"
EU = "https://api.eu.mailgun.net"
KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"

DOMAIN = "mg.example.com"
DOMAIN_ID = "5f8d1e2c9b1a4c0012345678"
MARKETING_ID = "658041ae44842b99ee2eaa1b"
TRANSACTIONAL_ID = "658041ae44842b99ee2eaa1c"
SUB_ID = "6fr783930fhhriu673"


def domain_info(name: str = DOMAIN, state: str = "unverified", **extra: Any) -> dict[str, Any]:
    # GET-v4-domains--name- example "domain"
    return {
        "created_at": "Thu, 13 Oct 2011 18:02:00 GMT",
        "id": DOMAIN_ID,
        "name": name,
        "require_tls": True,
        "smtp_login": f"postmaster@{name}",
        "spam_action": "disabled",
        "state": state,
        "type": "custom",
        "use_automatic_sender_security": False,
        "web_prefix": "email",
        "web_scheme": "http",
        **extra,
    }


def domain_body(
    name: str = DOMAIN, state: str = "unverified", message: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A create/get/verify body: POST-v4-domains, GET-v4-domains--name-, PUT-...-verify."""
    valid = "valid" if state == "active" else "unknown"
    body: dict[str, Any] = {
        "domain": domain_info(name, state, **extra),
        # MX records come without a name: they are for the domain itself
        "receiving_dns_records": [
            {"is_active": True, "cached": [], "priority": "10", "record_type": "MX",
             "valid": valid, "value": "mxa.mailgun.org"},
            {"is_active": True, "cached": [], "priority": "10", "record_type": "MX",
             "valid": valid, "value": "mxb.mailgun.org"},
        ],
        "sending_dns_records": [
            {"is_active": True, "cached": [], "name": name, "record_type": "TXT",
             "valid": valid, "value": "v=spf1 include:mailgun.org ~all"},
            {"is_active": True, "cached": [], "name": f"mx._domainkey.{name}",
             "record_type": "TXT", "valid": "invalid" if valid == "unknown" else valid,
             "value": "k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC"},
            {"is_active": True, "cached": [], "name": f"email.{name}",
             "record_type": "CNAME", "valid": valid, "value": "mailgun.org"},
        ],
    }
    if message is not None:
        body["message"] = message
    return body


def domain_page(names: list[str], total: int) -> dict[str, Any]:
    # GET-v4-domains example: list items carry no DNS records
    return {"total_count": total, "items": [domain_info(n) | {"id": f"id-{n}"} for n in names]}


# GET-v3-ips example
IPS = {
    "assignable_to_pools": ["5.6.7.8"],
    "details": [{"ip": "1.2.3.4", "is_on_warmup": True}, {"ip": "5.6.7.8"}],
    "items": ["1.2.3.4", "5.6.7.8"],
    "total_count": 2,
}
# GET-v3-ips--ip- example
IP = {"dedicated": True, "ip": "1.2.3.4", "rdns": "ip1-2-3-4.mailgun.net"}


def pools_body(*pools: dict[str, Any]) -> dict[str, Any]:
    # GET-v3-ip-pools example
    return {"ip_pools": list(pools), "message": "success"}


def pool(name: str, pool_id: str, ips: list[str], linked: bool = False) -> dict[str, Any]:
    return {"description": f"{name} stream", "ips": ips, "is_inherited": False,
            "is_linked": linked, "name": name, "pool_id": pool_id}


MARKETING = pool("marketing", MARKETING_ID, ["1.2.3.4"], linked=True)
TRANSACTIONAL = pool("transactional", TRANSACTIONAL_ID, ["5.6.7.8"])
POOLS = pools_body(MARKETING, TRANSACTIONAL)


def pool_details(p: dict[str, Any], linked_domains: list[str]) -> dict[str, Any]:
    # GET-v3-ip-pools--pool-id- example
    details = {k: v for k, v in p.items() if k != "is_inherited"}
    details["is_linked"] = bool(linked_domains)
    details["linked_domains"] = linked_domains
    return {"details": details, "message": "success"}


def subaccount(
    sub_id: str = SUB_ID, name: str = "customer-1", status: str = "open"
) -> dict[str, Any]:
    # get-v5-accounts-subaccounts-subaccount_id example "subaccount"
    return {"id": sub_id, "name": name, "status": status,
            "created_at": "Wed, 06 Nov 2024 19:48:29 GMT",
            "updated_at": "Wed, 28 May 2025 20:03:05 GMT"}


SUCCESS = {"message": "success"}


def form(call: Any) -> dict[str, list[str]]:
    """The form fields a recorded request sent (repeated keys keep every value)."""
    body = call.request.body or ""
    if isinstance(body, bytes):
        body = body.decode()
    return urllib.parse.parse_qs(body, keep_blank_values=True)


def query(call: Any) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(call.request.url).query,
                                 keep_blank_values=True)


class VirtualTime:
    """A clock that only the recorded sleeps move.

    conftest's ``sleeps`` fixture records sleeps instead of performing them, but the shared
    rate limiter reads the real monotonic clock, so it would spin until real time caught up
    (0.2 s per request at Mailgun's 5/s, the whole Retry-After after a 429). Tests give the
    account's limiter this clock instead: it keeps its real rate, and nothing really waits.
    """

    def __init__(self, sleeps: list[float]) -> None:
        self.now = 0.0
        self.sleeps = sleeps

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def connect(vtime: VirtualTime, region: str | None = "us", **options: Any) -> espkit.Account:
    acct = espkit.connect("mailgun", api_key=KEY, region=region, **options)
    transport = acct.provider.transport  # type: ignore[attr-defined]
    transport.limiter = RateLimiter(transport.limiter.ceiling, clock=vtime.monotonic)
    return acct


def register_tour(base: str, mock: Any = responses) -> None:
    """Happy-path answers for every call ``tour`` makes (on ``mock``, a RequestsMock)."""
    add = mock.add
    d = f"{base}/v4/domains"
    add("POST", d, json=domain_body(message="Domain DNS records have been created"))
    add("GET", d, json=domain_page([DOMAIN, "news.example.com"], 2))
    add("GET", f"{d}/{DOMAIN}", json=domain_body())
    add("PUT", f"{d}/{DOMAIN}/verify",
        json=domain_body(state="active", message="Domain DNS records have been updated"))
    add("DELETE", f"{base}/v3/domains/{DOMAIN}",
        json={"message": "Domain will be deleted in the background"})
    add("GET", f"{base}/v3/ips", json=IPS)
    add("GET", f"{base}/v3/ips/1.2.3.4", json=IP)
    add("GET", f"{base}/v3/ip_pools", json=POOLS)
    add("POST", f"{base}/v3/ip_pools", json={"message": "success", "pool_id": "65804c0ffee"})
    add("GET", f"{base}/v3/ip_pools/{MARKETING_ID}", json=pool_details(MARKETING, [DOMAIN]))
    add("GET", f"{base}/v3/ip_pools/{TRANSACTIONAL_ID}", json=pool_details(TRANSACTIONAL, []))
    for pool_id in (MARKETING_ID, TRANSACTIONAL_ID):
        add("PATCH", f"{base}/v3/ip_pools/{pool_id}", json=SUCCESS)
        add("DELETE", f"{base}/v3/ip_pools/{pool_id}", json={"message": "started"})
    add("GET", f"{base}/v3/domains/{DOMAIN}/ips", json={"items": ["1.2.3.4"], "total_count": 1})
    add("POST", f"{base}/v3/domains/{DOMAIN}/ips", json=SUCCESS)
    add("DELETE", f"{base}/v3/domains/{DOMAIN}/ips/5.6.7.8", json=SUCCESS)
    add("DELETE", f"{base}/v3/domains/{DOMAIN}/ips/ip_pool", json=SUCCESS)
    s = f"{base}/v5/accounts/subaccounts"
    add("POST", s, json={"subaccount": subaccount()})
    add("GET", s, json={"subaccounts": [subaccount()], "total": 1})
    add("GET", f"{s}/{SUB_ID}", json={"subaccount": subaccount()})
    add("POST", f"{s}/{SUB_ID}/disable", json={"subaccount": subaccount(status="disabled")})
    add("POST", f"{s}/{SUB_ID}/enable", json={"subaccount": subaccount()})


def tour(acct: espkit.Account) -> None:
    """Every operation of the provider once, through the public API."""
    acct.domains.create(DOMAIN, dkim_key_size=2048, dkim_selector="s1", spam_action="tag",
                        wildcard=True, web_scheme="https", web_prefix="track",
                        ips=["1.2.3.4", "5.6.7.8"])
    acct.domains.create(DOMAIN, pool="marketing")
    acct.domains.get(DOMAIN)
    list(acct.domains.list())
    acct.domains.verify(DOMAIN)
    list(acct.ips.list())
    acct.ips.get("1.2.3.4")
    acct.pools.create("fresh", ips=["9.9.9.9", "9.9.9.10"], description="new stream")
    list(acct.pools.list())
    acct.pools.get("marketing")
    acct.pools.add_ip("marketing", "5.6.7.8")  # moves it out of "transactional"
    acct.pools.remove_ip("marketing", "1.2.3.4")
    acct.pools.delete("transactional", replacement="shared")
    acct.pools.delete("transactional", replacement="marketing")
    acct.pools.delete("transactional", replacement="9.9.9.9")
    acct.domains.assign(DOMAIN, ip="1.2.3.4")
    acct.domains.assign(DOMAIN, pool="transactional")
    acct.domains.assignments(DOMAIN)
    acct.domains.unassign(DOMAIN, ip="5.6.7.8")
    acct.domains.unassign(DOMAIN, pool="marketing", replacement="shared")
    acct.domains.unassign(DOMAIN, pool="marketing", replacement="transactional")
    sub = acct.subaccounts.create("customer-1")
    list(acct.subaccounts.list())
    acct.subaccounts.get(sub)
    acct.subaccounts.disable(sub)
    acct.subaccounts.enable(sub)
    acct.on_behalf_of(sub).domains.get(DOMAIN)
    acct.domains.delete(DOMAIN)
