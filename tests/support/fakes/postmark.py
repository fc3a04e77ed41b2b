"""A stateful fake of Postmark's account and server APIs on ``responses``.

Shapes follow Postmark's API docs and the official SDK ``ActiveCampaign/postmark.js``
(``models/domains/{Domain,DomainDetails}.ts``, ``models/server/Server.ts``,
``models/streams/MessageStream.ts``); errors are ``{"ErrorCode", "Message"}`` with the codes of
https://postmarkapp.com/developer/api/overview#error-codes. Paths are matched case-insensitively,
as Postmark does (its docs write ``/verifyDkim``, older SDKs ``/verifydkim``).

The outbound stats (https://postmarkapp.com/developer/api/stats-api: ``/stats/outbound/sends``,
``/bounces``, ``/spam`` with ``fromdate``/``todate``, server token) answer from what ``record``
noted per server and day, the way Postmark's docs show them: ``Days`` lists only days with
traffic, and a day leaves out the figures that are 0. ``stats_queries`` keeps each stats
request's query for tests to inspect.
"""

from __future__ import annotations

import datetime
import itertools
import json
import re
from collections import Counter
from typing import Any

import requests

import espkit

from .base import Call, HttpFake, Reply

BASE = "https://api.postmarkapp.com"
ACCOUNT_TOKEN = "pm-account-7d2f4c1e-5b8a-4f3e-9c6d-0a1b2c3d4e5f"
Json = dict[str, Any]

_STREAM_TYPES = ("Transactional", "Broadcasts", "Inbound")
#: each stats endpoint and the figures its days carry (postmark.js models/stats/Stats.ts)
STATS = {"sends": ("Sent",), "bounces": ("HardBounce", "SMTPApiError", "SoftBounce", "Transient"),
         "spam": ("SpamComplaint",)}


def _err(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return status, headers or {}, json.dumps({"ErrorCode": code, "Message": message})


def _ok(body: Any) -> Reply:
    return 200, {}, json.dumps(body)


class PostmarkFake(HttpFake):
    provider = "postmark"
    ips: tuple[str, ...] = ()
    create_domain_path = "/domains"
    get_domain_path = "/domains"
    base = BASE
    fold_case = True  # Postmark's paths are case-insensitive

    def __init__(self) -> None:
        super().__init__()
        self.domains: dict[int, Json] = {}
        self.servers: dict[int, Json] = {}
        self.streams: dict[int, dict[str, Json]] = {}
        self._ids = itertools.count(36000)
        self._server_ids = itertools.count(1)
        #: (server id, day) -> figure -> count, as ``record`` noted
        self.sent_log: dict[tuple[int, datetime.date], Counter[str]] = {}
        #: the query of every stats request, in order
        self.stats_queries: list[dict[str, str]] = []
        #: every request that reached the fake (its headers, for the stats tests)
        self.requests: list[requests.PreparedRequest] = []

    def connect(self, **options: Any) -> espkit.Account:
        return espkit.connect("postmark", api_key=ACCOUNT_TOKEN, **options)

    def publish_dns(self, domain: str) -> None:
        """Publish the hosts the domain asks for now (a DKIM key rotated later is not)."""
        for d in self.domains.values():
            if d["Name"] == domain:
                self.published.update(h for h in (d["DKIMPendingHost"], d["DKIMHost"],
                                                  d["ReturnPathDomain"]) if h)

    # -- helpers for tests ----------------------------------------------------------------

    def add_server(self, name: str) -> Json:
        """A server as if made in the UI (with its default streams)."""
        return self._create_server(name)

    def token_of(self, server_id: int) -> str:
        return str(self.servers[server_id]["ApiTokens"][0])

    def record(self, server_id: int, day: datetime.date | str, **figures: int) -> None:
        """Note what server ``server_id`` sent on ``day``, in Postmark's names
        (``Sent=100, HardBounce=2, SoftBounce=1, Transient=3, SpamComplaint=1``)."""
        when = datetime.date.fromisoformat(day) if isinstance(day, str) else day
        known = {name for names in STATS.values() for name in names}
        assert set(figures) <= known, f"not Postmark stats figures: {set(figures) - known}"
        assert server_id in self.servers
        self.sent_log.setdefault((server_id, when), Counter()).update(figures)

    # -- the wire ---------------------------------------------------------------------------

    def _keep(self, call: Call) -> None:
        self.requests.append(call.request)

    def _rate_limited(self, retry_after: str) -> Reply:
        return _err(429, 429, "Slow down", {"Retry-After": retry_after})

    def _unavailable(self) -> Reply:
        return _err(503, 100, "Service unavailable")

    def _route(self, call: Call) -> Reply:
        method = call.method
        if call.headers.get("Accept") != "application/json":
            return _err(422, 409, "JSON required: set Accept and Content-Type")
        query, body = call.args, call.json() or {}
        parts = call.path.strip("/").split("/")
        head = parts[0].lower()
        if head in ("message-streams", "stats"):
            server = self._server_for(call.headers.get("X-Postmark-Server-Token"))
            if server is None:
                return _err(401, 10, "Request does not contain a valid Server token.")
            if head == "stats":
                return self._stats(method, [p.lower() for p in parts[1:]], query, server)
            return self._streams(method, parts[1:], query, body, server)
        if call.headers.get("X-Postmark-Account-Token") != ACCOUNT_TOKEN:
            return _err(401, 10, "Request does not contain a valid Account token.")
        if head == "domains":
            return self._domains(method, parts[1:], query, body)
        if head == "servers":
            return self._servers(method, parts[1:], query, body)
        return _err(404, 12, "Resource not found")

    # -- /domains ---------------------------------------------------------------------------

    def _domains(self, method: str, rest: list[str], query: dict[str, str], body: Json) -> Reply:
        if not rest:
            if method == "GET":
                items = [_summary(d) for d in sorted(self.domains.values(),
                                                     key=lambda d: int(d["ID"]))]
                return _listing(query, "Domains", items, code=403)
            if method == "POST":
                return self._create_domain(body)
            return _err(405, 0, "Method not allowed")
        if not rest[0].isdigit() or int(rest[0]) not in self.domains:
            return _err(422, 510, "This domain was not found.")
        d = self.domains[int(rest[0])]
        action = rest[1].lower() if len(rest) > 1 else ""
        if method == "GET" and not action:
            return _ok(d)
        if method == "DELETE" and not action:
            del self.domains[int(d["ID"])]
            return _ok({"ErrorCode": 0, "Message": f"Domain {d['Name']} removed."})
        if method == "PUT" and action == "verifydkim":
            if d["DKIMPendingHost"] and d["DKIMPendingHost"] in self.published:
                d.update(DKIMHost=d["DKIMPendingHost"], DKIMTextValue=d["DKIMPendingTextValue"],
                         DKIMPendingHost="", DKIMPendingTextValue="", DKIMVerified=True,
                         DKIMUpdateStatus="Verified")
            return _ok(d)
        if method == "PUT" and action == "verifyreturnpath":
            if d["ReturnPathDomain"] and d["ReturnPathDomain"] in self.published:
                d["ReturnPathDomainVerified"] = True
            return _ok(d)
        if method == "POST" and action == "rotatedkim":
            if d["DKIMPendingHost"] and d["DKIMVerified"]:
                return _err(422, 505, "DKIM already scheduled for renewal.")
            d.update(DKIMPendingHost=f"{next(self._ids)}pm._domainkey.{d['Name']}",
                     DKIMPendingTextValue="k=rsa;p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBrotated",
                     DKIMUpdateStatus="Pending")
            return _ok(d)
        return _err(404, 12, "Resource not found")

    def _create_domain(self, body: Json) -> Reply:
        name = str(body.get("Name") or "").lower()
        if not name:
            return _err(422, 514, "Name is a required field to create a Domain.")
        if any(d["Name"] == name for d in self.domains.values()):
            return _err(422, 512, "Domain already exists.")
        ident = next(self._ids)
        return_path = str(body.get("ReturnPathDomain") or "")
        # DomainDetails (postmark.js models/domains/DomainDetails.ts)
        d = {
            "ID": ident, "Name": name, "SPFVerified": False,
            "SPFHost": name, "SPFTextValue": "v=spf1 a mx include:spf.mtasv.net ~all",
            "DKIMVerified": False, "WeakDKIM": False, "DKIMHost": "", "DKIMTextValue": "",
            "DKIMPendingHost": f"{ident}pm._domainkey.{name}",
            "DKIMPendingTextValue": "k=rsa;p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCFn",
            "DKIMRevokedHost": "", "DKIMRevokedTextValue": "",
            "SafeToRemoveRevokedKeyFromDNS": False, "DKIMUpdateStatus": "Pending",
            "ReturnPathDomain": return_path, "ReturnPathDomainCNAMEValue": "pm.mtasv.net",
            "ReturnPathDomainVerified": False,
        }
        self.domains[ident] = d
        return _ok(d)

    # -- /servers ---------------------------------------------------------------------------

    def _servers(self, method: str, rest: list[str], query: dict[str, str], body: Json) -> Reply:
        if not rest:
            if method == "GET":
                items = sorted(self.servers.values(), key=lambda s: int(s["ID"]))
                if query.get("name"):
                    items = [s for s in items if query["name"].lower() in s["Name"].lower()]
                return _listing(query, "Servers", items, code=600)
            if method == "POST":
                name = str(body.get("Name") or "")
                if not name:
                    return _err(422, 608, "Server name missing or invalid.")
                if any(s["Name"] == name for s in self.servers.values()):
                    return _err(422, 603, "Server name already exists.")
                return _ok(self._create_server(name))
            return _err(405, 0, "Method not allowed")
        if not rest[0].isdigit() or int(rest[0]) not in self.servers:
            return _err(422, 601, "Server does not exist.")
        if method == "GET" and len(rest) == 1:
            return _ok(self.servers[int(rest[0])])
        return _err(404, 12, "Resource not found")

    def _create_server(self, name: str) -> Json:
        ident = next(self._server_ids)
        # Server (postmark.js models/server/Server.ts)
        server = {
            "ID": ident, "Name": name,
            "ApiTokens": [f"pm-server-{ident:04d}-3f9b2a7c-61d4-4e8a-b0c5-9d7e1f2a3b4c"],
            "ServerLink": f"https://postmarkapp.com/servers/{ident}/overview",
            "Color": "Purple", "SmtpApiActivated": True, "RawEmailEnabled": False,
            "DeliveryType": "Live", "InboundAddress": f"abc{ident}@inbound.postmarkapp.com",
            "InboundHookUrl": "", "BounceHookUrl": "", "OpenHookUrl": "", "DeliveryHookUrl": "",
            "PostFirstOpenOnly": False, "InboundDomain": "", "InboundHash": f"abc{ident}",
            "InboundSpamThreshold": 0, "TrackOpens": False, "TrackLinks": "None",
            "IncludeBounceContentInHook": True, "ClickHookUrl": "",
            "EnableSmtpApiErrorHooks": False,
        }
        self.servers[ident] = server
        self.streams[ident] = {}
        for sid, sname, stype in (("outbound", "Default Transactional Stream", "Transactional"),
                                  ("inbound", "Default Inbound Stream", "Inbound")):
            self.streams[ident][sid] = _stream(ident, sid, sname, stype)
        return server

    def _server_for(self, token: str | None) -> int | None:
        for ident, s in self.servers.items():
            if token and token in s["ApiTokens"]:
                return ident
        return None

    # -- /stats/outbound (server token) -------------------------------------------------------

    def _stats(self, method: str, rest: list[str], query: dict[str, str], server: int) -> Reply:
        self.stats_queries.append(dict(query))
        if method != "GET" or len(rest) != 2 or rest[0] != "outbound" or rest[1] not in STATS:
            return _err(404, 12, "Resource not found")
        try:
            first = datetime.date.fromisoformat(query.get("fromdate", "0001-01-01"))
            last = datetime.date.fromisoformat(query.get("todate", "9999-12-31"))
        except ValueError:
            return _err(422, 0, "fromdate and todate must be dates, e.g. 2014-01-01")
        names = STATS[rest[1]]
        days = []
        totals: Counter[str] = Counter()
        for (who, when), counts in sorted(self.sent_log.items(), key=lambda kv: kv[0][1]):
            figures = {n: counts[n] for n in names if counts[n]}
            if who == server and first <= when <= last and figures:
                days.append({"Date": when.isoformat(), **figures})
                totals.update(figures)
        return _ok({**{n: totals[n] for n in names}, "Days": days})

    # -- /message-streams (server token) ------------------------------------------------------

    def _streams(self, method: str, rest: list[str], query: dict[str, str], body: Json,
                 server: int) -> Reply:
        streams = self.streams[server]
        if not rest:
            if method == "GET":
                wanted = query.get("MessageStreamType", "All")
                items = [s for s in streams.values()
                         if wanted == "All" or s["MessageStreamType"] == wanted]
                return _ok({"MessageStreams": items, "TotalCount": len(items)})
            if method == "POST":
                sid, stype = str(body.get("ID") or ""), body.get("MessageStreamType")
                if stype not in _STREAM_TYPES:
                    return _err(422, 1221, "Invalid MessageStreamType.")
                if not re.fullmatch(r"[a-z][a-z0-9_-]{0,29}", sid):
                    return _err(422, 1227, "Invalid Message Stream ID format.")
                if sid in streams:
                    return _err(422, 1230, "Duplicate Message Stream ID.")
                if len(streams) >= 10:
                    return _err(422, 1225, "Max Message Streams reached.")
                if stype == "Inbound" and any(s["MessageStreamType"] == "Inbound"
                                              for s in streams.values()):
                    return _err(422, 1228, "Only one inbound stream allowed per server.")
                streams[sid] = _stream(server, sid, str(body.get("Name") or sid), str(stype))
                return _ok(streams[sid])
            return _err(405, 0, "Method not allowed")
        stream = streams.get(rest[0])
        if stream is None:
            return _err(422, 1226, "Message Stream not found.")
        if method == "GET" and len(rest) == 1:
            return _ok(stream)
        return _err(404, 12, "Resource not found")


def _stream(server: int, sid: str, name: str, stype: str) -> Json:
    # MessageStream (postmark.js models/streams/MessageStream.ts)
    return {"ID": sid, "ServerID": server, "Name": name, "Description": "",
            "MessageStreamType": stype, "CreatedAt": "2024-05-01T10:00:00-04:00",
            "UpdatedAt": None, "ArchivedAt": None, "ExpectedPurgeDate": None,
            "SubscriptionManagementConfiguration": {"UnsubscribeHandlingType": "None"}}


def _summary(d: Json) -> Json:
    # list item (postmark.js models/domains/Domain.ts)
    return {k: d[k] for k in ("ID", "Name", "SPFVerified", "DKIMVerified", "WeakDKIM",
                              "ReturnPathDomainVerified")}


def _listing(query: dict[str, str], key: str, items: list[Json], code: int) -> Reply:
    """One page of ``items``, as Postmark lists: ``count`` (at most 500) and ``offset`` are
    required, else error ``code``."""
    try:
        count, offset = int(query["count"]), int(query["offset"])
    except (KeyError, ValueError):
        count = offset = -1
    if not 0 < count <= 500 or offset < 0:
        return _err(422, code, "count and offset are required; count <= 500")
    return _ok({"TotalCount": len(items), key: items[offset:offset + count]})


FAKE = PostmarkFake
