"""SparkPost: sending domains, sending IPs, IP pools and subaccounts.

Reference: SparkPost's API Blueprint files (``../shared/specs/sparkpost/*.apib``, the source of
developers.sparkpost.com/api; SparkPost publishes no OpenAPI description). Requests and
responses are JSON; every success body wraps its payload in ``{"results": ...}``.

The documented base URL already ends in ``/api/v1`` (``index.apib``), so paths here are the
blueprint's paths without their ``/v1`` prefix; an Enterprise host is a ``base_url``.

SparkPost returns no DNS record list: a sending domain carries its DKIM public key and
selector, from which the TXT record is built (``sparkpost_decode``), plus the bounce CNAME
the blueprint describes (the domain -> ``sparkpostmail.com``, ``eu.sparkpostmail.com`` in the
EU). SPF has no record of its own: the blueprint marks ``spf_status`` deprecated, and a
CNAME-verified bounce domain gives SPF alignment through SparkPost's own SPF.

Pools are keyed by an ``id`` SparkPost derives from the name; users pass the *name* (an id is
accepted too), resolved from the pool listing (``sparkpost_pools``). Every sending IP is in
exactly one pool (``default`` always exists), so adding an IP to a pool moves it, and
removing it moves it back to ``default``. SparkPost does not bind pools to domains: a pool is
chosen per transmission (``options.ip_pool``) or fixed per subaccount (its ``ip_pool``).

The IP and pool calls are ``espkit.providers.sparkpost_pools``; the answers (domains and
their records, IPs, pools) are decoded in ``espkit.providers.sparkpost_decode``. Auto IP
warmup is ``espkit.providers.sparkpost_warmup``; delivery figures (the Metrics API's time
series) are ``espkit.providers.sparkpost_stats``.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar

import requests

from espkit.credentials import HeaderAuth, Secret
from espkit.errors import AlreadyExists, NotFound, ValidationError
from espkit.models import (
    Assignment,
    AssignmentKind,
    Capability,
    DedicatedIp,
    Domain,
    DomainSpec,
    IpPool,
    StatsScope,
    Subaccount,
)
from espkit.providers import paging
from espkit.providers import payload as pl
from espkit.providers.base import HttpProvider
from espkit.providers.delegates import Delegates
from espkit.providers.sparkpost_decode import PROVIDER, _iso, _items, _results
from espkit.providers.sparkpost_decode import _domain as _decode_domain
from espkit.providers.sparkpost_pools import SparkPostPools
from espkit.providers.sparkpost_stats import SparkPostMetrics
from espkit.providers.sparkpost_warmup import SparkPostWarmups
from espkit.transport import (
    ErrorDetail,
    RetryPolicy,
    Transport,
    default_error_parser,
)

Json = dict[str, Any]
T = TypeVar("T")

SUBACCOUNT_HEADER = "X-MSYS-SUBACCOUNT"
#: GET /subaccounts caps per_page at 100 (subaccounts.apib, "Pagination")
_MAX_PAGE = 100
#: index.apib: "wait 1 to 5 seconds after receiving a 429 ... heavier usage patterns may
#: require a more sophisticated and incremental backoff strategy", and SparkPost sends no
#: Retry-After. Full-jitter backoff from a 2 s base waits ~1 s, ~2 s, ~4 s, ... on average.
SPARKPOST_RETRY = RetryPolicy(base_delay=2.0)

_EXISTS = re.compile(r"already exists|already (in use|registered|taken)", re.I)
_MISSING = re.compile(r"does not exist|not found", re.I)
_STATUS_KEYS = (
    "ownership_verified", "dkim_status", "cname_status", "mx_status", "spf_status",
    "abuse_at_status", "postmaster_at_status", "verification_mailbox_status",
    "verification_mailbox", "compliance_status",
)


class SparkPostProvider(Delegates, HttpProvider):
    name = PROVIDER
    REGIONS: ClassVar[dict[str, str]] = {
        "us": "https://api.sparkpost.com/api/v1",
        "eu": "https://api.eu.sparkpost.com/api/v1",
    }
    ENV_KEYS = ("SPARKPOST_API_KEY",)
    # index.apib documents no number: limits are "dynamic", signalled only by 429s without
    # a Retry-After. So no fixed ceiling; the shared limiter slows down on each 429 and the
    # retry policy above waits the 1-5 s SparkPost asks for.
    RATE_LIMIT = None
    REQUEST_ID_HEADERS = ("X-SparkPost-Request-Id", "X-Request-Id")
    RETRY = SPARKPOST_RETRY
    SUPPORTS = frozenset({
        Capability.DOMAINS,
        Capability.DOMAIN_VERIFY,
        Capability.DOMAIN_DNS_RECORDS,
        Capability.DEDICATED_IPS,
        Capability.IP_POOLS,
        Capability.SUBACCOUNTS,
        Capability.SUBACCOUNT_SCOPE,
        Capability.SUBACCOUNT_DISABLE,
        Capability.ASSIGN_SUBACCOUNT_POOL,
        Capability.IP_WARMUP,
        Capability.DELIVERY_STATS,
    })
    #: the Metrics API filters by each (espkit.providers.sparkpost_stats)
    STATS_SCOPES = frozenset(StatsScope)
    _POOL_CHOICE = (
        "SparkPost picks the pool per transmission (options.ip_pool) or per subaccount: "
        "acct.subaccounts.assign(sub, pool=...)"
    )
    HINTS: ClassVar[dict[Capability, str]] = {
        Capability.ASSIGN_DOMAIN_POOL: _POOL_CHOICE,
        Capability.ASSIGN_DOMAIN_IP: "SparkPost sends from pools, never from one IP per "
        "domain: put the IP in a pool of its own; " + _POOL_CHOICE,
        Capability.STREAMS: "SparkPost has no stream object: use one subaccount per stream, "
        "each restricted to its own pool with acct.subaccounts.assign(sub, pool=...), or "
        "choose options.ip_pool per transmission",
        # supported, with conditions worth knowing:
        Capability.DEDICATED_IPS: "there is no API to buy IPs: order them in the app or "
        "through support (Enterprise: through your TAM)",
        Capability.SUBACCOUNTS: "subaccounts cannot be deleted, only terminated (in the app "
        "or PUT status=terminated); disable() suspends",
        Capability.IP_WARMUP: "SparkPost's auto warmup: a stage can only be moved back; mail "
        "over a stage's volume goes to the pool's auto_warmup_overflow_pool "
        "(acct.provider.update_pool)",
    }
    DOMAIN_OPTIONS = frozenset({"dkim_key_size"})
    SEND_TIME_POOLS = True  # the pool is chosen per message
    EXCLUSIVE_POOLS = True

    def __init__(
        self, transport: Transport, region: str | None = None, subaccount: str | None = None
    ) -> None:
        super().__init__(transport, region)
        self.subaccount = subaccount
        self.pools = SparkPostPools(self)
        self.warmups = SparkPostWarmups(self)
        self.metrics = SparkPostMetrics(self)

    @classmethod
    def make_auth(cls, secret: Secret) -> requests.auth.AuthBase:
        # index.apib: "We accept just the API key" as the Authorization header
        return HeaderAuth("Authorization", secret)

    def on_behalf_of(self, subaccount_id: str) -> SparkPostProvider:
        # subaccounts.apib: "X-MSYS-SUBACCOUNT is not required, but if provided, must be a
        # number"; refuse anything else before it is sent.
        if not subaccount_id.isascii() or not subaccount_id.isdigit():
            raise ValidationError("subaccount", subaccount_id,
                                  "SparkPost subaccount ids are numbers")
        scoped = self.transport.scoped({SUBACCOUNT_HEADER: subaccount_id})
        return self.run_scoped(SparkPostProvider(scoped, self.region, subaccount=subaccount_id))

    # -- requests and errors ------------------------------------------------------------

    @staticmethod
    def parse_error(response: requests.Response, body: Any) -> ErrorDetail:
        # {"errors": [{"message", "description", "code"}]}; some errors carry only a message
        # (IP pools, sending IPs), some add "param"/"value" (subaccounts).
        detail = default_error_parser(response, body)
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors:
            texts = []
            for err in errors:
                if not isinstance(err, dict):
                    continue
                message = str(err.get("message") or "").strip()
                description = str(err.get("description") or "").strip()
                texts.append(": ".join(t for t in (message, description) if t))
            text = "; ".join(t for t in texts if t)
            if text:
                detail = ErrorDetail(text, detail.code)
        status = response.status_code
        if status in (400, 409, 422) and _EXISTS.search(detail.message):
            return ErrorDetail(detail.message, detail.code, AlreadyExists)
        if status == 400 and _MISSING.search(detail.message):
            # e.g. PUT /sending-ips/{ip} naming a pool that does not exist
            return ErrorDetail(detail.message, detail.code, NotFound)
        return detail

    def _call(
        self,
        method: str,
        path: str,
        decode: Callable[[Any], T],
        *,
        params: list[tuple[str, Any]] | None = None,
        json: Json | None = None,
        idempotent: bool | None = None,
    ) -> T:
        """One request; ``decode`` reads the ``results`` of its answer (``ProtocolError`` if
        unreadable). ``pl.ignored`` reads nothing (a 204, or an answer espkit has no use for)."""
        response = self.transport.request(
            method, path, params=params, json=json, idempotent=idempotent)
        if decode is pl.ignored:
            return decode(None)
        return self.read(response, lambda body: decode(_results(body)), method, path,
                         idempotent=idempotent)

    # -- sending domains ----------------------------------------------------------------

    def create_domain(self, spec: DomainSpec) -> Domain:
        # SparkPost generates the DKIM key pair (generate_dkim defaults to true; sent anyway
        # so the intent is explicit) and picks the selector itself.
        payload: Json = {"domain": spec.name, "generate_dkim": True}
        if spec.dkim_key_size is not None:
            payload["dkim_key_length"] = spec.dkim_key_size
        # The answer is {message, domain, dkim}: no status yet, so nothing is verified. It
        # must name the domain: a create answered without one is not trusted to be it.
        return self._call("POST", "/sending-domains",
                          lambda r: self._domain(r, spec.name, named=True), json=payload)

    def get_domain(self, name: str) -> Domain:
        # The object comes back without its "domain" field (sending-domains.apib).
        return self._call("GET", f"/sending-domains/{self.seg(name)}",
                          lambda r: self._domain(r, name))

    def list_domains(self, page_size: int | None = None) -> Iterator[Domain]:
        # Unpaginated: one request, made now so errors surface at the call. List items have
        # no DKIM key, so (like Mailgun's) they carry no DNS records: get() one for those.
        return iter(self._call("GET", "/sending-domains", lambda r: [
            self._domain(i, None, records=False) for i in _items(r)]))

    def verify_domain(self, name: str) -> Domain:
        # Ask for the DNS checks only: the mailbox checks would send e-mail. The answer is the
        # status alone; the DKIM key (needed for the records) comes from a read-back, whose
        # status the verify answer then overrides as the fresher of the two. A check is safe
        # to repeat, so let the transport retry it like a read.
        path = f"/sending-domains/{self.seg(name)}"
        verified = self._call("POST", f"{path}/verify",
                              lambda r: pl.need_obj(r, "results"),
                              json={"dkim_verify": True, "cname_verify": True},
                              idempotent=True)

        def merge(results: Any) -> Domain:
            current = pl.need_obj(results, "results")
            status = {**pl.obj(current.get("status")),
                      **{k: v for k, v in verified.items() if k in _STATUS_KEYS}}
            merged = {**current, "status": status}
            if "dns" in verified:
                merged["dns"] = verified["dns"]
            return self._domain(merged, name)

        if not self.lookups.active:
            return self._call("GET", path, merge)
        # In a run (a wait's rounds) the domain is read once: its DKIM key does not change
        # between checks, and each check's answer brings the status.
        read = self.lookups.read(f"domain:{name}", lambda: self._call("GET", path, _kept))
        return pl.decoded(merge, read.value, lambda: self.source("GET", path))

    def delete_domain(self, name: str) -> None:
        self._call("DELETE", f"/sending-domains/{self.seg(name)}", pl.ignored)

    def _domain(self, raw: Any, asked: str | None, *, records: bool = True,
                named: bool = False) -> Domain:
        """A Domain from a sending-domain object (``sparkpost_decode._domain``)."""
        return _decode_domain(self, raw, asked, records=records, named=named)

    # -- sending IPs and IP pools (sparkpost_pools) -------------------------------------

    def list_ips(self) -> Iterator[DedicatedIp]:
        return self.pools.list_ips()

    def get_ip(self, address: str) -> DedicatedIp:
        return self.pools.get_ip(address)

    def create_pool(
        self, name: str, ips: tuple[str, ...], description: str | None = None
    ) -> IpPool:
        return self.pools.create(name, ips, description)

    def list_pools(self) -> Iterator[IpPool]:
        return iter(self.pools.table())

    def get_pool(self, name: str) -> IpPool:
        return self.pools.find(name)

    def update_pool(
        self,
        name: str,
        *,
        new_name: str | None = None,
        signing_domain: str | None = None,
        fbl_signing_domain: str | None = None,
        auto_warmup_overflow_pool: str | None = None,
    ) -> IpPool:
        """SparkPost-only: PUT a pool's settings (``""`` removes a domain setting);
        ``acct.provider.update_pool(...)``. The overflow pool takes a pool name, or
        ``"shared pool"`` (SparkPost's shared pool)."""
        return self.pools.update(name, new_name=new_name, signing_domain=signing_domain,
                                 fbl_signing_domain=fbl_signing_domain,
                                 auto_warmup_overflow_pool=auto_warmup_overflow_pool)

    def add_ip_to_pool(self, pool: str, ip: str) -> IpPool:
        return self.pools.add_ip(pool, ip)

    def remove_ip_from_pool(self, pool: str, ip: str) -> IpPool:
        return self.pools.remove_ip(pool, ip)

    def delete_pool(self, name: str, replacement: str | None = None) -> None:
        """SparkPost moves a deleted pool's IPs to ``default``; with another pool's name as
        ``replacement`` they are moved there first."""
        self.pools.delete(name, replacement)

    # -- IP warmup and delivery figures (sparkpost_warmup, sparkpost_stats) -------------

    # -- subaccounts --------------------------------------------------------------------

    def create_subaccount(self, name: str) -> Subaccount:
        # setup_api_key=false: otherwise SparkPost requires key_label/key_grants and answers
        # with a new API key, a secret espkit has no business receiving.
        payload: Json = {"name": name, "setup_api_key": False}

        def decode(results: Any) -> Subaccount:
            results = pl.need_obj(results, "results")
            # the id is what the create is for: an answer without one is refused
            return self._subaccount({"id": results.get("subaccount_id"), "name": name,
                                     "status": "active", **results})

        return self._call("POST", "/subaccounts", decode, json=payload)

    def list_subaccounts(self) -> Iterator[Subaccount]:
        # Cursor paging is opt-in: asking for cursor=initial turns it on.
        def fetch(cursor: str | None) -> paging.Page[Subaccount]:
            params = [("cursor", cursor or "initial"), ("per_page", _MAX_PAGE)]
            response = self.transport.request("GET", "/subaccounts", params=params)
            return self.read(response, _subaccount_page(self._subaccount), "GET",
                             "/subaccounts")

        return paging.cursor_pages(fetch, self.source("GET", "/subaccounts"))

    def get_subaccount(self, subaccount_id: str) -> Subaccount:
        _check_sub_id(subaccount_id)
        return self._call("GET", f"/subaccounts/{subaccount_id}",
                          lambda r: self._subaccount(r, subaccount_id))

    def set_subaccount_enabled(self, subaccount_id: str, enabled: bool) -> Subaccount:
        _check_sub_id(subaccount_id)
        # active <-> suspended; "terminated" is final and left to the app.
        self._call("PUT", f"/subaccounts/{subaccount_id}", pl.ignored,
                   json={"status": "active" if enabled else "suspended"})
        return self.get_subaccount(subaccount_id)

    def assign_subaccount_pool(self, subaccount_id: str, pool: str) -> Assignment:
        _check_sub_id(subaccount_id)
        target = self.pools.find(pool)
        pool_id = str(target.id)
        self._call("PUT", f"/subaccounts/{subaccount_id}", pl.ignored,
                   json={"ip_pool": pool_id})
        return Assignment("", AssignmentKind.POOL, target.name, self.name,
                          raw={"subaccount": subaccount_id, "ip_pool": pool_id})

    def _subaccount(self, raw: Any, asked: str | None = None) -> Subaccount:
        raw = pl.need_obj(raw, "results")
        ident = pl.ident(raw.get("id"), "id")
        if asked is not None and ident != asked:
            raise pl.Malformed("the answer is about another subaccount than the one asked for")
        return Subaccount(
            id=ident,
            name=pl.opt_text(raw.get("name"), "name"),
            provider=self.name,
            enabled=(pl.str_or_none(raw.get("status")) or "active").lower() == "active",
            created_at=_iso(raw.get("created_at")),
            raw=raw,
        )


# -- payload helpers ----------------------------------------------------------------------


def _kept(results: Any) -> Json:
    """A read's results as the run keeps them (checked to be an object now)."""
    return pl.need_obj(results, "results")


def _check_sub_id(value: str) -> None:
    if not value.isascii() or not value.isdigit():
        raise ValidationError("subaccount", value, "SparkPost subaccount ids are numbers")


def _subaccount_page(item: Callable[[Any], Subaccount]) -> Callable[[Any], paging.Page[Subaccount]]:
    """A page of ``GET /subaccounts``: its results and the cursor in ``links.next``."""
    def page(body: Any) -> paging.Page[Subaccount]:
        body = pl.need_obj(body, "the answer")
        items = [item(i) for i in pl.objects(body.get("results"), "results", required=True)]
        link = pl.opt_text(pl.opt_obj(body.get("links"), "links").get("next"), "links.next")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
        return paging.Page(items, cursor=(query.get("cursor") or [""])[0] or None)

    return page


__all__ = ["SparkPostProvider"]
