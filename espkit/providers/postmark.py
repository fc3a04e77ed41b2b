"""Postmark: domains, servers (as subaccounts), message streams and delivery stats.

Reference: Postmark's API docs (https://postmarkapp.com/developer/api/overview, ``domains-api``,
``servers-api``, ``message-streams-api``) and the official SDK ``ActiveCampaign/postmark.js``
(``src/client/models/domains/DomainDetails.ts``, ``models/server/Server.ts``,
``models/streams/MessageStream.ts``, ``errors/ErrorHandler.ts``). Everything is JSON, with
``Accept: application/json`` on every request (Postmark answers ErrorCode 409 "JSON required"
otherwise).

Two credentials: the *account* token (``X-Postmark-Account-Token``) manages domains and servers;
a *server* token (``X-Postmark-Server-Token``, one of the server's ``ApiTokens``) manages that
server's message streams. ``on_behalf_of(server_id)`` reads the server with the account token
and keeps its token as a ``Secret``.

Postmark keys domains by integer ``ID`` and cannot filter its domain list by name, so names are
resolved by paging ``count``/``offset`` and cached. There is no dedicated-IP API at all (nor
warmup). Delivery stats, a server-token call, are in ``postmark_stats``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import requests

from espkit import validate
from espkit.credentials import HeaderAuth, Secret
from espkit.errors import AlreadyExists, AuthError, ConfigError, EspError, NotFound, ServerError
from espkit.models import (
    Capability,
    DeliveryStats,
    DnsRecord,
    Domain,
    DomainSpec,
    DomainState,
    RecordPurpose,
    RecordStatus,
    StatsQuery,
    StatsScope,
    Stream,
    StreamKind,
    Subaccount,
)
from espkit.providers import paging
from espkit.providers import payload as pl
from espkit.providers.base import HttpProvider, remember_auth
from espkit.providers.postmark_stats import PostmarkStats
from espkit.transport import ErrorDetail, Transport, default_error_parser

log = logging.getLogger("espkit")
Json = dict[str, Any]
T = TypeVar("T")

ACCOUNT_TOKEN_HEADER = "X-Postmark-Account-Token"  # noqa: S105 - a header name
SERVER_TOKEN_HEADER = "X-Postmark-Server-Token"  # noqa: S105 - a header name
ACCEPT_JSON = {"Accept": "application/json"}
#: GET /domains and GET /servers cap ``count`` at 500 (both are required parameters)
_MAX_PAGE = 500
#: The custom Return-Path espkit asks for when creating a domain: ``pm-bounces.<domain>``,
#: the prefix Postmark suggests; it must be a CNAME to ``ReturnPathDomainCNAMEValue``.
RETURN_PATH_PREFIX = "pm-bounces"

# Postmark API error codes espkit relies on (``ErrorCode`` in the 422 body). Source: the
# "API error codes" table of https://postmarkapp.com/developer/api/overview#error-codes.
_AUTH_CODES = frozenset({10})                       # Bad or missing API token
_NOT_FOUND_CODES = frozenset({
    12,     # Resource not found
    501,    # Sender Signature not found by ID
    510,    # This domain was not found
    513,    # You do not own this Domain (another account's ID: not found for us)
    601,    # Server does not exist
    1226,   # Message Stream not found
    1235,   # Message Stream not found on this server
})
_EXISTS_CODES = frozenset({
    504,    # Sender Signature already exists
    512,    # Domain already exists
    603,    # Server name already exists
    1230,   # Duplicate Message Stream ID
})
_MAINTENANCE = 100                                  # API offline for maintenance: retry later
_DKIM_ROTATION_PENDING = 505                        # DKIM already scheduled for renewal

#: MessageStreamType (message-streams API) <-> StreamKind
_KINDS = {
    "transactional": StreamKind.TRANSACTIONAL,
    "broadcasts": StreamKind.BROADCAST,
    "inbound": StreamKind.INBOUND,
}
_TYPES = {
    StreamKind.TRANSACTIONAL: "Transactional",
    StreamKind.BROADCAST: "Broadcasts",
    StreamKind.INBOUND: "Inbound",
}

#: the DomainDetails strings the records are built from
_TEXT_KEYS = ("DKIMHost", "DKIMTextValue", "DKIMPendingHost", "DKIMPendingTextValue",
              "ReturnPathDomain", "ReturnPathDomainCNAMEValue")

_NO_IPS = (
    "Postmark has no dedicated-IP API: it sends from shared IP pools it manages itself, "
    "kept separate per stream type (transactional vs broadcast); dedicated IPs exist only by "
    "arrangement with Postmark support for very high volumes. To separate traffic, use message "
    "streams (acct.on_behalf_of(server).streams) or one server per sender"
)


class PostmarkProvider(HttpProvider):
    name = "postmark"
    REGIONS: ClassVar[dict[str, str]] = {"global": "https://api.postmarkapp.com"}
    ENV_KEYS = ("POSTMARK_ACCOUNT_TOKEN",)
    HEADERS = ACCEPT_JSON
    RATE_LIMIT = None  # none documented: learn from 429s
    SUPPORTS = frozenset({
        Capability.DOMAINS,
        Capability.DOMAIN_VERIFY,
        Capability.DOMAIN_DNS_RECORDS,
        Capability.SUBACCOUNTS,
        Capability.SUBACCOUNT_SCOPE,
        Capability.STREAMS,
        Capability.DELIVERY_STATS,
    })
    #: a server's own figures, or the account's (every server summed): postmark_stats
    STATS_SCOPES = frozenset({StatsScope.ACCOUNT, StatsScope.SUBACCOUNT})
    HINTS: ClassVar[dict[Capability, str]] = {
        Capability.DEDICATED_IPS: _NO_IPS,
        Capability.IP_POOLS: _NO_IPS,
        Capability.ASSIGN_DOMAIN_IP: "Postmark does not bind domains to IPs: any server or "
        "stream may send from any verified domain; " + _NO_IPS,
        Capability.ASSIGN_DOMAIN_POOL: "Postmark does not bind domains to pools: any server or "
        "stream may send from any verified domain; " + _NO_IPS,
        Capability.ASSIGN_SUBACCOUNT_POOL: "Postmark servers all send from its managed pools; "
        + _NO_IPS,
        Capability.SUBACCOUNT_DISABLE: "Postmark servers cannot be disabled through the API; "
        "pause sending per stream in the Postmark UI, or delete the server",
        Capability.STREAMS: "message streams belong to a server: use "
        "acct.on_behalf_of(server_id).streams",
        Capability.IP_WARMUP: "Postmark manages and warms its own IPs; it has no warmup API. "
        + _NO_IPS,
    }
    DOMAIN_OPTIONS = frozenset()
    EXCLUSIVE_POOLS = True

    def __init__(
        self,
        transport: Transport,
        region: str | None = None,
        server: str | None = None,
        ids: dict[str, int] | None = None,
    ) -> None:
        super().__init__(transport, region)
        #: the server (subaccount) this copy acts for, if any
        self.server = server
        self._server_transport: Transport | None = None
        self._lock = threading.Lock()
        #: domain name -> Postmark domain ID, shared with scoped copies (domains are account-wide)
        self._ids: dict[str, int] = {} if ids is None else ids
        self.stats = PostmarkStats(self)

    def __repr__(self) -> str:
        scope = f", server={self.server!r}" if self.server else ""
        return (f"{type(self).__name__}(region={self.region!r}, "
                f"transport={self.transport!r}{scope})")

    @classmethod
    def make_auth(cls, secret: Secret) -> requests.auth.AuthBase:
        return HeaderAuth(ACCOUNT_TOKEN_HEADER, secret)

    def on_behalf_of(self, subaccount_id: str) -> PostmarkProvider:
        """A copy acting for server ``subaccount_id``: stream calls use that server's token,
        fetched (with the account token) on first use."""
        if not subaccount_id.isdigit():
            raise ConfigError(f"Postmark server ids are numbers, got {subaccount_id!r}")
        return self.run_scoped(PostmarkProvider(self.transport, self.region,
                                                server=subaccount_id, ids=self._ids))

    # -- requests and errors --------------------------------------------------------------

    @staticmethod
    def parse_error(response: requests.Response, body: Any) -> ErrorDetail:
        # Postmark errors are {"ErrorCode": n, "Message": "..."}, mostly with HTTP 422
        # (postmark.js ErrorHandler.ts maps 401/404/422/429/500/503 by status, then by code).
        detail = default_error_parser(response, body)
        if not isinstance(body, dict):
            return detail
        message = body.get("Message")
        text = message if isinstance(message, str) and message else detail.message
        raw_code = body.get("ErrorCode")
        code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
        status = response.status_code
        cls: type[EspError] | None = None
        if code in _AUTH_CODES:
            cls = AuthError
        elif status == 429 or status >= 500:
            cls = None  # the status decides (RateLimited / ServerError): both are retried
        elif code in _NOT_FOUND_CODES:
            cls = NotFound
        elif code in _EXISTS_CODES:
            cls = AlreadyExists
        elif code == _MAINTENANCE:
            cls = ServerError
        return ErrorDetail(text, None if code is None else str(code), cls)

    def call(
        self,
        method: str,
        path: str,
        decode: Callable[[Any], T],
        *,
        params: list[tuple[str, Any]] | None = None,
        json: Json | None = None,
        server: bool = False,
    ) -> T:
        """One request, its answer read by ``decode`` (``ProtocolError`` if unreadable)."""
        transport = self.server_api() if server else self.transport
        response = transport.request(method, path, params=params, json=json)
        return self.read(response, decode, method, path, transport=transport)

    def pages(self, path: str, key: str, item: Callable[[Json], T],
               mark: Callable[[T], Any], page_size: int | None) -> Iterator[T]:
        """count/offset paging, one page at a time, until a short page or TotalCount."""
        def page(body: Any) -> paging.Page[T]:
            body = pl.need_obj(body, "the answer")
            if key not in body:
                raise pl.Malformed(f"the answer has no {key!r} list")
            return paging.Page([item(i) for i in pl.objects(body[key], key)],
                               pl.opt_whole(body.get("TotalCount"), "TotalCount"))

        return paging.offset_pages(
            lambda count, offset: self.call("GET", path, page, params=[("count", count),
                                                                        ("offset", offset)]),
            min(page_size or _MAX_PAGE, _MAX_PAGE), mark, self.source("GET", path))

    # -- domains ----------------------------------------------------------------------------

    def create_domain(self, spec: DomainSpec) -> Domain:
        return self.call("POST", "/domains", lambda b: self._domain(b, spec.name), json={
            "Name": spec.name, "ReturnPathDomain": f"{RETURN_PATH_PREFIX}.{spec.name}",
        })

    def get_domain(self, name: str) -> Domain:
        return self._with_id(name, lambda i: self._read_domain(i, name))

    def _read_domain(self, ident: int, name: str) -> Domain:
        return self.call("GET", f"/domains/{ident}", lambda b: self._domain(b, name, ident))

    def list_domains(self, page_size: int | None = None) -> Iterator[Domain]:
        # List items carry only ID, Name and the *Verified flags (postmark.js Domain.ts): no
        # DNS records, which need a GET per domain. IDs seen twice are dropped by the paging.
        return self.pages("/domains", "Domains", lambda i: self._domain(i, None),
                           lambda d: d.id, page_size)

    def verify_domain(self, name: str) -> Domain:
        # Both checks answer with DomainDetails. In a run (Account.batch) the last answer is
        # the domain; an ad-hoc verify reads it back once more, as it always has.
        in_run = self.lookups.active

        def verify(ident: int) -> Domain:
            def checked(body: Any) -> tuple[str, Domain | None]:
                return_path = pl.opt_text(
                    pl.need_obj(body, "the answer").get("ReturnPathDomain"), "ReturnPathDomain")
                return return_path, self._domain(body, name, ident) if in_run else None

            return_path, domain = self.call("PUT", f"/domains/{ident}/verifyDkim", checked)
            if return_path:
                domain = self.call("PUT", f"/domains/{ident}/verifyReturnPath",
                                    lambda b: self._domain(b, name, ident) if in_run else None)
            return domain if domain is not None else self._read_domain(ident, name)

        return self._with_id(name, verify)

    def delete_domain(self, name: str) -> None:
        def delete(ident: int) -> None:
            self.call("DELETE", f"/domains/{ident}", pl.ignored)
            self._ids.pop(name, None)

        self._with_id(name, delete)

    def rotate_dkim(self, name: str) -> Domain:
        """Ask Postmark for a new DKIM key (``POST /domains/{id}/rotatedkim``). The new key is
        a PENDING DKIM record until it is published and verified; the old one keeps signing
        meanwhile. Asking again while a rotation is pending returns the domain as it stands."""
        name = validate.domain_name(name)

        def rotate(ident: int) -> Domain:
            try:
                return self.call("POST", f"/domains/{ident}/rotatedkim",
                                  lambda b: self._domain(b, name, ident))
            except EspError as exc:
                if exc.code != str(_DKIM_ROTATION_PENDING):
                    raise
                return self._read_domain(ident, name)

        return self._with_id(name, rotate)

    def _with_id(self, name: str, action: Callable[[int], T]) -> T:
        """Run ``action`` with the domain's ID. A cached ID that turns out stale (the domain
        was deleted, perhaps re-created, elsewhere) is dropped and resolved afresh, once."""
        cached = self._ids.get(name)
        if cached is not None:
            try:
                return action(cached)
            except NotFound:
                self._ids.pop(name, None)
        return action(self._resolve(name))

    def _resolve(self, name: str) -> int:
        # the domain list (decoded, so every item has a name and an ID) fills the cache
        for domain in self.pages("/domains", "Domains", lambda i: self._domain(i, None),
                                  lambda d: d.id, None):
            if domain.name == name:
                return int(str(domain.id))
        raise NotFound(f"no domain named {name!r}", provider=self.name)

    def _domain(self, body: Any, asked: str | None, ident: int | None = None) -> Domain:
        """A Domain from DomainDetails (create/get/verify/rotate) or a list item. ``asked``
        and ``ident``: the name and ID the call was about; an answer about another domain
        (or about none) is refused."""
        body = pl.need_obj(body, "the answer")
        name = pl.domain(body.get("Name"), "Name")
        if asked is not None:
            name = pl.named(name, asked, "Name")
        answered = pl.whole(body.get("ID"), "ID")
        if ident is not None and answered != ident:
            raise pl.Malformed("the answer is about another domain ID than the one asked for")
        self._ids[name] = answered
        text = {k: pl.opt_text(body.get(k), k) for k in _TEXT_KEYS}
        records: list[DnsRecord] = []
        dkim_ok = body.get("DKIMVerified") is True
        if text["DKIMHost"] and text["DKIMTextValue"]:
            records.append(_txt(text["DKIMHost"], text["DKIMTextValue"], name,
                                RecordStatus.VALID if dkim_ok else RecordStatus.PENDING, body))
        if text["DKIMPendingHost"] and text["DKIMPendingTextValue"]:
            # a new key (fresh domain or rotation) not verified yet
            records.append(_txt(text["DKIMPendingHost"], text["DKIMPendingTextValue"], name,
                                RecordStatus.PENDING, body))
        return_path = text["ReturnPathDomain"]
        rp_ok = body.get("ReturnPathDomainVerified") is True
        if return_path and text["ReturnPathDomainCNAMEValue"]:
            records.append(DnsRecord(
                purpose=RecordPurpose.RETURN_PATH, type="CNAME", host=_host(return_path, name),
                value=text["ReturnPathDomainCNAMEValue"],
                status=RecordStatus.VALID if rp_ok else RecordStatus.PENDING,
                raw={k: body.get(k) for k in ("ReturnPathDomain", "ReturnPathDomainCNAMEValue",
                                              "ReturnPathDomainVerified")},
            ))
        # Verified when DKIM is and, if the domain has a custom Return-Path, that is too.
        # List items do not say whether a Return-Path is set: to never claim a verified domain
        # wrongly they need it verified too (a get tells the whole story).
        needs_rp = bool(return_path) if "ReturnPathDomain" in body else True
        verified = dkim_ok and (rp_ok or not needs_rp)
        return Domain(
            name=name,
            provider=self.name,
            state=DomainState.VERIFIED if verified else DomainState.UNVERIFIED,
            id=str(answered),
            dns_records=tuple(records),
            raw=body,
        )

    # -- servers (subaccounts) --------------------------------------------------------------

    def create_subaccount(self, name: str) -> Subaccount:
        return self.call("POST", "/servers", self._subaccount, json={"Name": name})

    def list_subaccounts(self) -> Iterator[Subaccount]:
        return self.pages("/servers", "Servers", self._subaccount, lambda s: s.id, None)

    def get_subaccount(self, subaccount_id: str) -> Subaccount:
        return self.call("GET", f"/servers/{self.seg(subaccount_id)}",
                          lambda b: self._subaccount(b, subaccount_id))

    def _subaccount(self, raw: Any, asked: str | None = None) -> Subaccount:
        # ApiTokens are credentials: never kept in a model (raw is public), only as a Secret.
        raw = pl.need_obj(raw, "the answer")
        ident = str(pl.whole(raw.get("ID"), "ID"))
        if asked is not None and ident != asked:
            raise pl.Malformed("the answer is about another server than the one asked for")
        return Subaccount(
            id=ident,
            name=pl.opt_text(raw.get("Name"), "Name"),
            provider=self.name,
            enabled=True,
            raw=_redacted(raw),
        )

    def server_api(self) -> Transport:
        """The transport signed with the scoped server's token (read once, then kept)."""
        if self.server is None:
            raise ConfigError(
                "Postmark message streams belong to a server: use "
                "acct.on_behalf_of(<server id>).streams"
            )
        with self._lock:
            if self._server_transport is None:
                tokens = self.call(
                    "GET", f"/servers/{self.seg(self.server)}",
                    lambda b: pl.strings(pl.need_obj(b, "the answer").get("ApiTokens"),
                                         "ApiTokens"))
                if not tokens:
                    raise AuthError(f"Postmark returned no API token for server {self.server}",
                                    provider=self.name)
                self._server_transport = self.server_transport(tokens[0])
            return self._server_transport

    def server_transport(self, token: str) -> Transport:
        """A transport signed with server token ``token`` (streams and stats take one)."""
        t = self.transport
        auth = HeaderAuth(SERVER_TOKEN_HEADER, Secret(token))
        server = Transport(
            self.name, t.base_url, auth=auth, headers=ACCEPT_JSON, timeout=t.timeout,
            retry=t.retry,
            # one Postmark account: the server token shares its pacing and budget
            limiter=t.limiter, budget=t.budget, session=t.session,
            parse_error=self.parse_error, request_id_headers=t.request_id_headers,
        )
        remember_auth(t.session, auth)
        return server

    def delivery_stats(self, query: StatsQuery) -> Iterator[DeliveryStats]:
        return self.stats.rows(query)

    # -- message streams (server token) -----------------------------------------------------

    def list_streams(self) -> Iterator[Stream]:
        # unpaginated; archived streams are left out (IncludeArchivedStreams=false)
        def decode(body: Any) -> list[Stream]:
            body = pl.need_obj(body, "the answer")
            if "MessageStreams" not in body:
                raise pl.Malformed("the answer has no 'MessageStreams' list")
            streams = []
            for item in pl.objects(body["MessageStreams"], "MessageStreams"):
                kind = pl.str_or_none(item.get("MessageStreamType")) or ""
                if _KINDS.get(kind.lower()) is None:
                    log.warning("postmark: skipping stream %r of unknown type %r",
                                pl.str_or_none(item.get("ID")), kind[:40])
                    continue
                streams.append(self._stream(item))
            return streams

        return iter(self.call("GET", "/message-streams", decode, server=True, params=[
            ("MessageStreamType", "All"), ("IncludeArchivedStreams", "false")]))

    def get_stream(self, stream_id: str) -> Stream:
        return self.call("GET", f"/message-streams/{self.seg(stream_id)}",
                          lambda b: self._stream(b, stream_id), server=True)

    def create_stream(self, stream_id: str, name: str, kind: StreamKind) -> Stream:
        return self.call("POST", "/message-streams", lambda b: self._stream(b, stream_id),
                          server=True, json={
                              "ID": stream_id, "Name": name, "MessageStreamType": _TYPES[kind],
                          })

    def _stream(self, raw: Any, asked: str | None = None) -> Stream:
        raw = pl.need_obj(raw, "the answer")
        ident = pl.need_str(raw.get("ID"), "ID")
        if asked is not None and ident != asked:
            raise pl.Malformed("the answer is about another stream than the one asked for")
        kind = _KINDS.get((pl.str_or_none(raw.get("MessageStreamType")) or "").lower())
        if kind is None:
            raise pl.Malformed("MessageStreamType is not one espkit knows")
        return Stream(
            id=ident,
            name=pl.opt_text(raw.get("Name"), "Name"),
            kind=kind,
            provider=self.name,
            subaccount=pl.opt_ident(raw.get("ServerID"), "ServerID") or self.server,
            raw=raw,
        )


# -- payload helpers ----------------------------------------------------------------------


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _host(host: str, domain: str) -> str:
    """A fully qualified host: Postmark gives FQDNs, but a relative one is completed."""
    host = _norm(host)
    return host if host == domain or host.endswith("." + domain) else f"{host}.{domain}"


def _txt(host: str, value: str, domain: str, status: RecordStatus, body: Json) -> DnsRecord:
    keys = ("DKIMHost", "DKIMTextValue", "DKIMPendingHost", "DKIMPendingTextValue",
            "DKIMVerified", "DKIMUpdateStatus")
    return DnsRecord(purpose=RecordPurpose.DKIM, type="TXT", host=_host(host, domain),
                     value=value, status=status, raw={k: body.get(k) for k in keys})


def _redacted(raw: Mapping[str, Any]) -> Json:
    return {k: ("<redacted>" if k == "ApiTokens" else v) for k, v in raw.items()}


__all__ = ["PostmarkProvider"]
