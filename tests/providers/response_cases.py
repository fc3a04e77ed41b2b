"""What the response fuzz suite (``test_response_fuzz.py``) serves, and how.

For each provider: a *world* of good answers to every call its public operations make (shapes
from the official specs and docs, as in the providers' own tests), and the *cases* to fuzz:
one public call and the one request whose answer is replaced by a generated body. The other
requests of the call keep getting good answers, so the generated body is what the call has
to cope with. Bodies are served over ``responses`` (HTTP providers), a mounted adapter (the
sandbox) or a botocore ``before-send`` hook (SES), so every byte goes through the real
transport or botocore parser.

``Raw(bytes)`` is served as is (not JSON, empty, too deep for Python's parser); anything else
is JSON-encoded.
"""

from __future__ import annotations

import copy
import json
import re
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.awsrequest
import requests
import responses
from support.mailgun_mocks import (
    IP,
    IPS,
    MARKETING,
    MARKETING_ID,
    POOLS,
    SUB_ID,
    TRANSACTIONAL,
    TRANSACTIONAL_ID,
    domain_body,
    domain_page,
    pool_details,
    subaccount,
)

import espkit
from espkit.models import StreamKind
from espkit.sandbox import BASE_URL as SANDBOX_URL

Json = dict[str, Any]
MG_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
SG_KEY = "SG.fuzz-key.0123456789abcdefghijklmnopqrstuvwxyzABCDEF"
SP_KEY = "14ac5499cfdd2bb2859e4476d2e5b1d2bad079bf"
PM_KEY = "b7c1a2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"
PM_SERVER_TOKEN = "f0e1d2c3-b4a5-4968-8776-554433221100"
SB_KEY = "sandbox-fuzz-key-0123456789"
#: every credential the suite's accounts send: none may show in an error
KEYS = (MG_KEY, SG_KEY, SP_KEY, PM_KEY, PM_SERVER_TOKEN, SB_KEY)

DOMAIN = "mg.example.com"


@dataclass(frozen=True)
class Raw:
    """A body served byte for byte."""

    data: bytes


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # Raw, or a JSON value

    def encoded(self) -> bytes:
        if isinstance(self.body, Raw):
            return self.body.data
        return json.dumps(self.body).encode()


@dataclass(frozen=True)
class Case:
    """One public call, and the request (``method``, path regex) whose answer is fuzzed."""

    name: str
    call: Callable[[espkit.Account], Any]
    method: str
    path: str
    seed: Any
    #: the spec response to generate from: (file, path, method, status)
    spec: tuple[str, str, str, str] | None = None
    #: makes a generated body be about the object asked for, so decoding goes deeper
    aim: Callable[[Any], Any] | None = None
    #: answers that differ from the world's for this case
    routes: tuple[tuple[str, str, Answer], ...] = ()
    #: the name the call asks about, which a returned Domain must carry
    asked: str | None = None
    #: the credentials the fuzzed request carries, when not the account's key (Postmark's
    #: stream calls send the server's token)
    sent: tuple[str, ...] = ()


@dataclass
class World:
    """One provider: how to connect, its good answers, its cases."""

    provider: str
    connect: Callable[[], espkit.Account]
    routes: list[tuple[str, str, Answer]]
    cases: list[Case]
    base: str = ""
    #: the credentials the account sends, which no error may show
    secrets: tuple[str, ...] = ()
    requests: list[tuple[str, str]] = field(default_factory=list)

    def answer(self, case: Case, fuzzed: Answer, method: str, path: str) -> Answer:
        self.requests.append((method, path))
        if method == case.method and re.fullmatch(case.path, path):
            return fuzzed
        for m, pattern, answer in (*case.routes, *self.routes):
            if m == method and re.fullmatch(pattern, path):
                return answer
        return Answer(404, {"message": "not found"})


def ok(body: Any, status: int = 200) -> Answer:
    return Answer(status, body)


def aim_at(*path: Any, value: Any) -> Callable[[Any], Any]:
    """Set ``value`` at ``path`` in a generated body where the body has room for it."""
    def room(node: Any, key: Any) -> bool:
        if isinstance(node, dict):
            return True
        return isinstance(node, list) and isinstance(key, int) and len(node) > key

    def aim(body: Any) -> Any:
        body = copy.deepcopy(body)
        node = body
        for key in path[:-1]:
            inside = node.get(key) if isinstance(node, dict) else \
                node[key] if room(node, key) else None
            if not isinstance(inside, (dict, list)):
                return body
            node = inside
        if room(node, path[-1]):
            node[path[-1]] = value
        return body
    return aim


def each_item(key: str | None, field_: str, value: Any) -> Callable[[Any], Any]:
    """Set ``field_`` of every object in the list at ``key`` (the body itself if None)."""
    def aim(body: Any) -> Any:
        body = copy.deepcopy(body)
        items = body if key is None else (body.get(key) if isinstance(body, dict) else None)
        if isinstance(items, list):
            for n, item in enumerate(items):
                if isinstance(item, dict):
                    item[field_] = value(n) if callable(value) else value
        return body
    return aim


# -- Mailgun ------------------------------------------------------------------------------------

MG = "https://api.mailgun.net"


def mailgun_world() -> World:
    d = DOMAIN
    routes = [
        ("GET", "/v4/domains", ok(domain_page([d, "news.example.com"], 2))),
        ("GET", f"/v4/domains/{d}", ok(domain_body())),
        ("GET", "/v3/ips", ok(IPS)),
        ("GET", "/v3/ip_pools", ok(POOLS)),
        ("GET", f"/v3/ip_pools/{MARKETING_ID}", ok(pool_details(MARKETING, [d]))),
        ("GET", f"/v3/ip_pools/{TRANSACTIONAL_ID}", ok(pool_details(TRANSACTIONAL, []))),
        ("PATCH", "/v3/ip_pools/.*", ok({"message": "success"})),
        ("GET", f"/v3/domains/{d}/ips", ok({"items": ["1.2.3.4"], "total_count": 1})),
        ("GET", f"/v5/accounts/subaccounts/{SUB_ID}", ok({"subaccount": subaccount()})),
    ]
    gone = (("GET", f"/v4/domains/{d}", Answer(404, {"message": "Domain not found"})),
            ("GET", "/v4/domains", ok({"items": [], "total_count": 0})))
    spec = "mailgun/openapi.yaml"
    named = aim_at("domain", "name", value=d)
    cases = [
        Case("get domain", lambda a: a.domains.get(d), "GET", f"/v4/domains/{d}",
             domain_body(), (spec, "/v4/domains/{name}", "get", "200"), named, asked=d),
        Case("list domains", lambda a: list(a.domains.list()), "GET", "/v4/domains",
             domain_page([d, "news.example.com"], 2), (spec, "/v4/domains", "get", "200"),
             each_item("items", "name", lambda n: f"d{n}.example.com")),
        Case("create domain", lambda a: a.domains.create(d), "POST", "/v4/domains",
             domain_body(message="created"), (spec, "/v4/domains", "post", "200"), named,
             routes=gone, asked=d),
        Case("verify domain", lambda a: a.domains.verify(d), "PUT", f"/v4/domains/{d}/verify",
             domain_body(state="active"), (spec, "/v4/domains/{name}/verify", "put", "200"),
             named, asked=d),
        Case("delete domain", lambda a: a.domains.delete(d), "DELETE", f"/v3/domains/{d}",
             {"message": "deleted"}, (spec, "/v3/domains/{name}", "delete", "200")),
        Case("list IPs", lambda a: list(a.ips.list()), "GET", "/v3/ips", IPS),
        Case("get IP", lambda a: a.ips.get("1.2.3.4"), "GET", "/v3/ips/1.2.3.4", IP),
        Case("list pools", lambda a: list(a.pools.list()), "GET", "/v3/ip_pools", POOLS),
        Case("get pool", lambda a: a.pools.get("marketing"), "GET",
             f"/v3/ip_pools/{MARKETING_ID}", pool_details(MARKETING, [d])),
        Case("create pool", lambda a: a.pools.create("fresh", ips=["9.9.9.9"]), "POST",
             "/v3/ip_pools", {"message": "success", "pool_id": "65804c0ffee"}),
        Case("add IP to pool (pools read)", lambda a: a.pools.add_ip("marketing", "5.6.7.8"),
             "GET", "/v3/ip_pools", POOLS),
        Case("assignments", lambda a: a.domains.assignments(d), "GET", f"/v3/domains/{d}/ips",
             {"items": ["1.2.3.4"], "total_count": 1}),
        Case("pool links", lambda a: a.provider.pool_links(), "GET",
             f"/v3/ip_pools/{MARKETING_ID}", pool_details(MARKETING, [d])),
        Case("list subaccounts", lambda a: list(a.subaccounts.list()), "GET",
             "/v5/accounts/subaccounts", {"subaccounts": [subaccount()], "total": 1},
             (spec, "/v5/accounts/subaccounts", "get", "200"),
             each_item("subaccounts", "id", lambda n: f"sub{n}")),
        Case("get subaccount", lambda a: a.subaccounts.get(SUB_ID), "GET",
             f"/v5/accounts/subaccounts/{SUB_ID}", {"subaccount": subaccount()},
             (spec, "/v5/accounts/subaccounts/{subaccount_id}", "get", "200"),
             aim_at("subaccount", "id", value=SUB_ID)),
        Case("create subaccount", lambda a: a.subaccounts.create("customer-1"), "POST",
             "/v5/accounts/subaccounts", {"subaccount": subaccount()},
             (spec, "/v5/accounts/subaccounts", "post", "200")),
        Case("disable subaccount", lambda a: a.subaccounts.disable(SUB_ID), "POST",
             f"/v5/accounts/subaccounts/{SUB_ID}/disable",
             {"subaccount": subaccount(status="disabled")},
             (spec, "/v5/accounts/subaccounts/{subaccount_id}/disable", "post", "200"),
             aim_at("subaccount", "id", value=SUB_ID)),
    ]
    return World("mailgun", lambda: espkit.connect("mailgun", api_key=MG_KEY, region="us"),
                 routes, cases, MG, (MG_KEY,))


# -- SendGrid -----------------------------------------------------------------------------------

SG = "https://api.sendgrid.com"


def sg_domain(name: str = DOMAIN, ident: int = 302183) -> Json:
    return {
        "automatic_security": True, "custom_spf": False, "default": False,
        "dns": {
            "dkim1": {"data": "s1.domainkey.u1.wl.sendgrid.net", "host": f"s1._domainkey.{name}",
                      "type": "cname", "valid": False},
            "mail_cname": {"data": "u1.wl.sendgrid.net", "host": f"em123.{name}",
                           "type": "cname", "valid": False},
        },
        "domain": name, "id": ident, "ips": [], "legacy": False, "subdomain": "em123",
        "user_id": 1, "username": "someone", "valid": False,
    }


def sg_ip(address: str = "1.2.3.4", pools: tuple[str, ...] = ("marketing",)) -> Json:
    return {"ip": address, "pools": list(pools), "warmup": False, "rdns": "o1.example.com",
            "subusers": [], "whitelabeled": True, "start_date": None}


def sendgrid_world() -> World:
    d = DOMAIN
    routes = [
        ("GET", "/v3/whitelabel/domains", ok([sg_domain()])),
        ("GET", r"/v3/whitelabel/domains/\d+", ok(sg_domain())),
        ("POST", r"/v3/whitelabel/domains/\d+/validate", ok({"id": 302183, "valid": False})),
        ("GET", "/v3/ips", ok([sg_ip(), sg_ip("5.6.7.8", ())])),
        ("GET", "/v3/ips/pools", ok([{"name": "marketing"}])),
        ("GET", "/v3/ips/pools/marketing", ok({"pool_name": "marketing", "ips": ["1.2.3.4"]})),
        ("GET", "/v3/subusers", ok([{"username": "customer-1", "disabled": False, "id": 1,
                                     "email": "x@example.com"}])),
    ]
    none = (("GET", "/v3/whitelabel/domains", ok([])),)
    files = {"d": "sendgrid/tsg_domain_authentication_v3.yaml", "i": "sendgrid/tsg_ips_v3.yaml",
             "w": "sendgrid/tsg_ip_warmup_v3.yaml", "s": "sendgrid/tsg_subusers_v3.yaml"}
    named = aim_at("domain", value=d)
    cases = [
        Case("list domains", lambda a: list(a.domains.list()), "GET", "/v3/whitelabel/domains",
             [sg_domain(), sg_domain("news.example.com", 2)],
             (files["d"], "/v3/whitelabel/domains", "get", "200"),
             each_item(None, "id", lambda n: n + 1)),
        Case("get domain", lambda a: a.domains.get(d), "GET", "/v3/whitelabel/domains",
             [sg_domain()], (files["d"], "/v3/whitelabel/domains", "get", "200"),
             aim_at(0, "domain", value=d), asked=d),
        Case("create domain", lambda a: a.domains.create(d), "POST", "/v3/whitelabel/domains",
             sg_domain(), (files["d"], "/v3/whitelabel/domains", "post", "201"), named,
             routes=none, asked=d),
        Case("verify domain (re-read)", lambda a: a.domains.verify(d), "GET",
             r"/v3/whitelabel/domains/\d+", sg_domain(),
             (files["d"], "/v3/whitelabel/domains/{domain_id}", "get", "200"),
             lambda b: aim_at("id", value=302183)(named(b)), asked=d),
        Case("verify domain (validate)", lambda a: a.domains.verify(d), "POST",
             r"/v3/whitelabel/domains/\d+/validate", {"id": 302183, "valid": True,
                                                      "validation_results": {}},
             (files["d"], "/v3/whitelabel/domains/{id}/validate", "post", "200"), asked=d),
        Case("list IPs", lambda a: list(a.ips.list()), "GET", "/v3/ips", [sg_ip()],
             (files["i"], "/v3/ips", "get", "200")),
        Case("get IP", lambda a: a.ips.get("1.2.3.4"), "GET", "/v3/ips/1.2.3.4", sg_ip(),
             (files["i"], "/v3/ips/{ip_address}", "get", "200"),
             aim_at("ip", value="1.2.3.4")),
        Case("list pools", lambda a: list(a.pools.list()), "GET", "/v3/ips/pools",
             [{"name": "marketing"}], (files["i"], "/v3/ips/pools", "get", "200")),
        Case("get pool", lambda a: a.pools.get("marketing"), "GET", "/v3/ips/pools/marketing",
             {"pool_name": "marketing", "ips": [{"ip": "1.2.3.4"}]},
             (files["i"], "/v3/ips/pools/{pool_name}", "get", "200")),
        Case("create pool", lambda a: a.pools.create("fresh"), "POST", "/v3/ips/pools",
             {"name": "fresh"}, (files["i"], "/v3/ips/pools", "post", "200"),
             aim_at("name", value="fresh")),
        # the Warmup values are checked here: check_model knows only the older models
        Case("warmup status", lambda a: a.ips.warmup_status("1.2.3.4"), "GET",
             "/v3/ips/warmup/1.2.3.4", [{"ip": "1.2.3.4", "start_date": 1409616000}],
             (files["w"], "/v3/ips/warmup/{ip_address}", "get", "200"),
             aim_at(0, "ip", value="1.2.3.4")),
        Case("list warmups", lambda a: list(a.ips.warmups()), "GET", "/v3/ips",
             [sg_ip(), {**sg_ip("5.6.7.8", ()), "warmup": True, "start_date": 1409616000}],
             (files["i"], "/v3/ips", "get", "200")),
        Case("list subusers", lambda a: list(a.subaccounts.list()), "GET", "/v3/subusers",
             [{"username": "customer-1", "disabled": False, "id": 1, "email": "x@example.com"}],
             (files["s"], "/v3/subusers", "get", "200")),
        Case("create subuser", lambda a: a.subaccounts.create("customer-1"), "POST",
             "/v3/subusers", {"username": "customer-1", "user_id": 1, "email": "x@example.com"},
             (files["s"], "/v3/subusers", "post", "200"), aim_at("username", value="customer-1")),
        Case("assign subuser pool", lambda a: a.subaccounts.assign("customer-1",
                                                                   pool="marketing"),
             "PUT", "/v3/subusers/customer-1/ips", {"ips": ["1.2.3.4"]},
             (files["s"], "/v3/subusers/{subuser_name}/ips", "put", "200")),
    ]
    return World("sendgrid", lambda: espkit.connect("sendgrid", api_key=SG_KEY), routes,
                 cases, SG, (SG_KEY,))


# -- SparkPost ----------------------------------------------------------------------------------

SP = "https://api.sparkpost.com/api/v1"


def sp_domain(name: str | None = None) -> Json:
    body: Json = {
        "status": {"ownership_verified": False, "dkim_status": "pending",
                   "cname_status": "unverified", "compliance_status": "valid"},
        "dkim": {"public": "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC", "selector": "scph0118",
                 "headers": "from:to:subject:date"},
        "creation_time": "2025-01-25T14:00:00Z",
    }
    return {**body, "domain": name} if name else body


def sp_pool(pool_id: str, ips: tuple[str, ...]) -> Json:
    return {"id": pool_id, "name": pool_id.title(),
            "ips": [{"external_ip": ip, "hostname": "mta1.example.com"} for ip in ips]}


def sparkpost_world() -> World:
    d = DOMAIN
    pools = {"results": [sp_pool("default", ("5.6.7.8",)), sp_pool("marketing", ("1.2.3.4",))]}
    ips = {"results": [{"external_ip": "1.2.3.4", "ip_pool": "marketing",
                        "hostname": "mta1.example.com", "auto_warmup_enabled": False}]}
    sub = {"id": 123, "name": "customer-1", "status": "active", "ip_pool": "marketing"}
    routes = [
        ("GET", f"/sending-domains/{d}", ok({"results": sp_domain()})),
        ("POST", f"/sending-domains/{d}/verify", ok({"results": {"dkim_status": "valid"}})),
        ("GET", "/ip-pools", ok(pools)),
        ("GET", "/sending-ips", ok(ips)),
        ("GET", "/subaccounts/123", ok({"results": sub})),
    ]
    gone = (("GET", f"/sending-domains/{d}", Answer(404, {"errors": [{"message": "no"}]})),)
    cases = [
        Case("list domains", lambda a: list(a.domains.list()), "GET", "/sending-domains",
             {"results": [sp_domain(d), sp_domain("news.example.com")]}),
        Case("get domain", lambda a: a.domains.get(d), "GET", f"/sending-domains/{d}",
             {"results": sp_domain()}, asked=d),
        Case("create domain", lambda a: a.domains.create(d), "POST", "/sending-domains",
             {"results": {"message": "Successfully Created domain.", "domain": d,
                          "dkim": sp_domain()["dkim"]}}, routes=gone, asked=d),
        Case("verify domain", lambda a: a.domains.verify(d), "POST",
             f"/sending-domains/{d}/verify", {"results": {"dkim_status": "valid",
                                                          "ownership_verified": True}},
             asked=d),
        Case("verify domain (re-read)", lambda a: a.domains.verify(d), "GET",
             f"/sending-domains/{d}", {"results": sp_domain()}, asked=d),
        Case("list IPs", lambda a: list(a.ips.list()), "GET", "/sending-ips", ips),
        Case("get IP", lambda a: a.ips.get("1.2.3.4"), "GET", "/sending-ips/1.2.3.4",
             {"results": ips["results"][0]}),
        Case("list pools", lambda a: list(a.pools.list()), "GET", "/ip-pools", pools),
        Case("add IP to pool (re-read)", lambda a: a.pools.add_ip("marketing", "5.6.7.8"),
             "GET", "/ip-pools/marketing", {"results": sp_pool("marketing", ("1.2.3.4",))},
             routes=(("PUT", "/sending-ips/5.6.7.8", ok({"results": {}})),)),
        Case("create pool", lambda a: a.pools.create("fresh"), "POST", "/ip-pools",
             {"results": {"id": "fresh"}}),
        Case("list subaccounts", lambda a: list(a.subaccounts.list()), "GET", "/subaccounts",
             {"results": [sub], "links": {}}),
        Case("get subaccount", lambda a: a.subaccounts.get("123"), "GET", "/subaccounts/123",
             {"results": sub}),
        Case("create subaccount", lambda a: a.subaccounts.create("customer-1"), "POST",
             "/subaccounts", {"results": {"subaccount_id": 123, "label": "customer-1"}}),
    ]
    return World("sparkpost", lambda: espkit.connect("sparkpost", api_key=SP_KEY, region="us"),
                 routes, cases, SP, (SP_KEY,))


# -- Postmark -----------------------------------------------------------------------------------

PM = "https://api.postmarkapp.com"


def pm_domain(name: str = DOMAIN, ident: int = 36735) -> Json:
    return {"ID": ident, "Name": name, "DKIMVerified": False, "DKIMHost": "",
            "DKIMTextValue": "", "DKIMPendingHost": f"2013pm._domainkey.{name}",
            "DKIMPendingTextValue": "k=rsa;p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCFn",
            "ReturnPathDomain": f"pm-bounces.{name}",
            "ReturnPathDomainCNAMEValue": "pm.mtasv.net", "ReturnPathDomainVerified": False}


def pm_server(ident: int = 1) -> Json:
    return {"ID": ident, "Name": "customer-1", "ApiTokens": [PM_SERVER_TOKEN],
            "Color": "Purple"}


def pm_stream(sid: str = "outbound") -> Json:
    return {"ID": sid, "ServerID": 1, "Name": f"{sid} stream",
            "MessageStreamType": "Transactional"}


def postmark_world() -> World:
    d = DOMAIN
    listing = {"TotalCount": 1, "Domains": [{"ID": 36735, "Name": d, "DKIMVerified": False}]}
    routes = [
        ("GET", "/domains", ok(listing)),
        ("GET", "/domains/36735", ok(pm_domain())),
        ("PUT", "/domains/36735/verifyDkim", ok(pm_domain())),
        ("PUT", "/domains/36735/verifyReturnPath", ok(pm_domain())),
        ("GET", "/servers/1", ok(pm_server())),
        ("GET", "/message-streams/outbound", ok(pm_stream())),
    ]
    scoped: Callable[[espkit.Account], Any] = lambda a: a.on_behalf_of("1")  # noqa: E731
    server_token = (PM_SERVER_TOKEN,)
    cases = [
        Case("list domains", lambda a: list(a.domains.list()), "GET", "/domains", listing),
        Case("get domain (by id)", lambda a: a.domains.get(d), "GET", "/domains/36735",
             pm_domain(), asked=d),
        Case("get domain (resolve)", lambda a: a.domains.get(d), "GET", "/domains", listing,
             asked=d),
        Case("create domain", lambda a: a.domains.create(d), "POST", "/domains", pm_domain(),
             routes=(("GET", "/domains", ok({"TotalCount": 0, "Domains": []})),), asked=d),
        Case("verify domain", lambda a: a.domains.verify(d), "PUT",
             "/domains/36735/verifyDkim", pm_domain(), asked=d),
        Case("list servers", lambda a: list(a.subaccounts.list()), "GET", "/servers",
             {"TotalCount": 1, "Servers": [pm_server()]}),
        Case("get server", lambda a: a.subaccounts.get("1"), "GET", "/servers/1", pm_server()),
        Case("create server", lambda a: a.subaccounts.create("customer-1"), "POST",
             "/servers", pm_server()),
        Case("list streams", lambda a: list(scoped(a).streams.list()), "GET",
             "/message-streams", {"MessageStreams": [pm_stream()], "TotalCount": 1},
             sent=server_token),
        Case("get stream", lambda a: scoped(a).streams.get("outbound"), "GET",
             "/message-streams/outbound", pm_stream(), sent=server_token),
        Case("create stream", lambda a: scoped(a).streams.create(
            "outbound", name="outbound stream", kind=StreamKind.TRANSACTIONAL), "POST",
             "/message-streams", pm_stream(), sent=server_token),
        Case("server token (scoped)", lambda a: list(scoped(a).streams.list()), "GET",
             "/servers/1", pm_server(),
             routes=(("GET", "/message-streams", ok({"MessageStreams": []})),)),
    ]
    return World("postmark", lambda: espkit.connect("postmark", api_key=PM_KEY), routes,
                 cases, PM, (PM_KEY,))


# -- the sandbox --------------------------------------------------------------------------------


def sb_domain(name: str = DOMAIN) -> Json:
    return {"name": name, "id": "d1", "state": "unverified", "subaccount": None,
            "created_at": "2025-01-01T00:00:00+00:00",
            "records": [{"purpose": "dkim", "type": "TXT", "host": f"s1._domainkey.{name}",
                         "value": "v=DKIM1; p=abc", "priority": None, "status": "pending"}]}


def sb_pool(name: str = "marketing") -> Json:
    return {"name": name, "id": "p1", "ips": ["1.2.3.4"], "description": None}


def sandbox_world() -> World:
    d = DOMAIN
    ip = {"address": "1.2.3.4", "pool": "marketing", "warming_up": False, "rdns": None,
          "enabled": True}
    sub = {"id": "s1", "name": "customer-1", "enabled": True,
           "created_at": "2025-01-01T00:00:00+00:00"}
    assignment = {"domain": d, "kind": "pool", "target": "marketing"}
    gone = (("GET", f"/v1/domains/{d}", Answer(404, {"error": {"code": "not_found",
                                                               "message": "no"}})),)
    cases = [
        Case("get domain", lambda a: a.domains.get(d), "GET", f"/v1/domains/{d}",
             sb_domain(), asked=d),
        Case("list domains", lambda a: list(a.domains.list()), "GET", "/v1/domains",
             {"items": [sb_domain()], "next_cursor": None}),
        Case("create domain", lambda a: a.domains.create(d), "POST", "/v1/domains",
             sb_domain(), routes=gone, asked=d),
        Case("verify domain", lambda a: a.domains.verify(d), "PUT", f"/v1/domains/{d}/verify",
             sb_domain(), asked=d),
        Case("list IPs", lambda a: list(a.ips.list()), "GET", "/v1/ips",
             {"items": [ip], "next_cursor": None}),
        Case("get IP", lambda a: a.ips.get("1.2.3.4"), "GET", "/v1/ips/1.2.3.4", ip),
        Case("list pools", lambda a: list(a.pools.list()), "GET", "/v1/pools",
             {"items": [sb_pool()]}),
        Case("get pool", lambda a: a.pools.get("marketing"), "GET", "/v1/pools/marketing",
             sb_pool()),
        Case("add IP to pool", lambda a: a.pools.add_ip("marketing", "5.6.7.8"), "PUT",
             "/v1/pools/marketing/ips/5.6.7.8", sb_pool()),
        Case("assign", lambda a: a.domains.assign(d, pool="marketing"), "PUT",
             f"/v1/domains/{d}/assignments/pool/marketing", assignment),
        Case("assignments", lambda a: a.domains.assignments(d), "GET",
             f"/v1/domains/{d}/assignments", {"items": [assignment]}),
        Case("list subaccounts", lambda a: list(a.subaccounts.list()), "GET",
             "/v1/subaccounts", {"items": [sub]}),
        Case("get subaccount", lambda a: a.subaccounts.get("s1"), "GET", "/v1/subaccounts/s1",
             sub),
        Case("disable subaccount", lambda a: a.subaccounts.disable("s1"), "PUT",
             "/v1/subaccounts/s1/status", sub),
    ]
    return World("sandbox", lambda: espkit.connect("sandbox", path=":memory:",
                                                   api_key=SB_KEY),
                 [], cases, SANDBOX_URL, (SB_KEY,))


# -- SES ----------------------------------------------------------------------------------------


def ses_identity() -> Json:
    return {"IdentityType": "DOMAIN", "VerifiedForSendingStatus": False,
            "VerificationStatus": "PENDING",
            "DkimAttributes": {"SigningEnabled": True, "Status": "PENDING",
                               "Tokens": ["a" * 32, "b" * 32, "c" * 32]},
            "MailFromAttributes": {"MailFromDomain": f"mail.{DOMAIN}",
                                   "MailFromDomainStatus": "PENDING",
                                   "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"},
            "ConfigurationSetName": "espkit-marketing"}


def ses_ip(address: str = "198.51.100.10", pool: str = "marketing") -> Json:
    return {"Ip": address, "WarmupStatus": "DONE", "WarmupPercentage": 100, "PoolName": pool}


def ses_world() -> World:
    d = DOMAIN
    routes = [
        ("POST", "PutEmailIdentityMailFromAttributes", ok({})),
        ("GET", "GetEmailIdentity", ok(ses_identity())),
        ("GET", "GetDedicatedIps", ok({"DedicatedIps": [ses_ip()]})),
        ("GET", "GetDedicatedIpPool", ok({"DedicatedIpPool": {"PoolName": "marketing",
                                                              "ScalingMode": "STANDARD"}})),
        ("GET", "GetConfigurationSet", ok({"ConfigurationSetName": "espkit-marketing",
                                           "DeliveryOptions": {"SendingPoolName": "marketing"}})),
    ]
    cases = [
        Case("get domain", lambda a: a.domains.get(d), "GET", "GetEmailIdentity",
             ses_identity(), asked=d),
        Case("list domains", lambda a: list(a.domains.list()), "GET", "ListEmailIdentities",
             {"EmailIdentities": [{"IdentityType": "DOMAIN", "IdentityName": d,
                                   "SendingEnabled": True, "VerificationStatus": "PENDING"}]}),
        Case("create domain", lambda a: a.domains.create(d), "POST", "CreateEmailIdentity",
             {k: v for k, v in ses_identity().items() if k in ("IdentityType",
                                                                "VerifiedForSendingStatus",
                                                                "DkimAttributes")},
             routes=(("GET", "GetEmailIdentity", Answer(404, {
                 "__type": "NotFoundException", "message": "no"})),), asked=d),
        Case("list IPs", lambda a: list(a.ips.list()), "GET", "GetDedicatedIps",
             {"DedicatedIps": [ses_ip()]}),
        Case("get IP", lambda a: a.ips.get("198.51.100.10"), "GET", "GetDedicatedIp",
             {"DedicatedIp": ses_ip()}),
        Case("list pools", lambda a: list(a.pools.list()), "GET", "ListDedicatedIpPools",
             {"DedicatedIpPools": ["marketing"]}),
        Case("get pool", lambda a: a.pools.get("marketing"), "GET", "GetDedicatedIpPool",
             {"DedicatedIpPool": {"PoolName": "marketing", "ScalingMode": "STANDARD"}}),
        Case("assignments", lambda a: a.domains.assignments(d), "GET", "GetConfigurationSet",
             {"ConfigurationSetName": "espkit-marketing",
              "DeliveryOptions": {"SendingPoolName": "marketing"}}),
        Case("assign (identity read)", lambda a: a.domains.assign(d, pool="marketing"), "GET",
             "GetEmailIdentity", ses_identity(),
             routes=(("POST", "PutEmailIdentityConfigurationSetAttributes", ok({})),)),
    ]

    def connect() -> espkit.Account:
        session = boto3.Session(aws_access_key_id="AKIAFUZZ000000000000",
                                aws_secret_access_key="fuzz-secret-DO-NOT-LOG",
                                region_name="eu-west-1")
        return espkit.connect("ses", session=session)

    return World("ses", connect, routes, cases, secrets=("fuzz-secret-DO-NOT-LOG",))


WORLDS: dict[str, Callable[[], World]] = {
    "mailgun": mailgun_world, "sendgrid": sendgrid_world, "sparkpost": sparkpost_world,
    "postmark": postmark_world, "sandbox": sandbox_world, "ses": ses_world,
}


# -- serving ------------------------------------------------------------------------------------


@dataclass
class _RawStream:
    data: bytes

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data

    def read(self, *_: Any, **__: Any) -> bytes:
        data, self.data = self.data, b""
        return data


class _FuzzAdapter(requests.adapters.BaseAdapter):
    """Answers the sandbox's requests in place of its emulator."""

    def __init__(self, serve: Callable[[str, str], Answer]) -> None:
        super().__init__()
        self.serve = serve

    def send(self, request: requests.PreparedRequest, *_: Any, **__: Any) -> requests.Response:
        path = urllib.parse.urlsplit(request.url or "").path
        answer = self.serve(str(request.method), path)
        response = requests.Response()
        response.status_code = answer.status
        response._content = answer.encoded()
        response.headers["Content-Type"] = "application/json"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def serve(world: World, case: Case, fuzzed: Answer, mock: responses.RequestsMock,
          acct: espkit.Account) -> None:
    """Route every request ``acct`` makes to ``world``'s answers, ``fuzzed`` for the case's."""
    def answer(method: str, path: str) -> Answer:
        return world.answer(case, fuzzed, method, path)

    if world.provider == "sandbox":
        acct.provider.transport.session.mount(SANDBOX_URL, _FuzzAdapter(answer))  # type: ignore[attr-defined]
        return
    if world.provider == "ses":
        def hook(request: Any, event_name: str, **_: Any) -> Any:
            operation = event_name.rsplit(".", 1)[1]  # before-send.sesv2.<Operation>
            method = "POST" if operation.startswith(("Create", "Put", "Delete")) else "GET"
            got = answer(method, operation)
            return botocore.awsrequest.AWSResponse(request.url, got.status, {},
                                                   _RawStream(got.encoded()))

        events = acct.provider.client.meta.events  # type: ignore[attr-defined]
        # one hook at a time on a shared client: this example's replaces the last one's
        events.unregister("before-send.sesv2.*", unique_id="espkit-fuzz")
        events.register_first("before-send.sesv2.*", hook, unique_id="espkit-fuzz")
        return
    prefix = urllib.parse.urlsplit(world.base).path

    home = urllib.parse.urlsplit(world.base).netloc

    def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        url = urllib.parse.urlsplit(request.url or "")
        if url.netloc != home:  # another region (Mailgun's probe): the key is not valid there
            return 401, {}, b'{"message": "Invalid private key"}'
        path = url.path[len(prefix):] if url.path.startswith(prefix) else url.path
        got = answer(str(request.method), path)
        return got.status, {"Content-Type": "application/json"}, got.encoded()

    host = re.compile(r"https://[^/]+/.*")
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        mock.add_callback(method, host, callback=callback)


__all__ = ["KEYS", "WORLDS", "Answer", "Case", "Raw", "World", "serve"]
