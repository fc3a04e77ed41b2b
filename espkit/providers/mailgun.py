"""Mailgun: domains, dedicated IPs, DIPPs (dedicated IP pools), subaccounts, IP warmup and
delivery figures.

Reference: the official OpenAPI description (``../shared/specs/mailgun/openapi.yaml``) and,
for the two legacy calls it lacks (``GET``/``POST /v3/domains/{name}/ips``), Mailgun's docs and
SDKs. Writes are sent form-encoded (Mailgun accepts ``application/x-www-form-urlencoded`` as
well as the ``multipart/form-data`` the spec lists; its Go and Python SDKs send the former):
booleans as ``"true"``/``"false"``, lists as repeated keys.

Mailgun keys domains by name, DIPPs by an opaque ``pool_id``; users always pass pool *names*,
resolved in ``espkit.providers.mailgun_dipps`` (inside a run, from one listing). An IP is in at
most one DIPP, so adding it to a pool moves it. Warmup plans are read and written in
``espkit.providers.mailgun_warmup``, delivery figures in ``espkit.providers.mailgun_stats``;
domain and subaccount answers are read into models in ``espkit.providers.mailgun_decode``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, TypeVar

import requests

from espkit.credentials import BasicAuth, Secret
from espkit.errors import (
    AlreadyExists,
    AuthError,
    EspError,
    NotFound,
    RegionMismatch,
    Rejected,
    ValidationError,
)
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
from espkit.providers import mailgun_decode as _decode
from espkit.providers import paging
from espkit.providers import payload as pl
from espkit.providers.base import HttpProvider
from espkit.providers.delegates import Delegates
from espkit.providers.mailgun_dipps import Dipps
from espkit.providers.mailgun_stats import SCOPES, Metrics
from espkit.providers.mailgun_warmup import Warmups
from espkit.transport import NO_RETRY, ErrorDetail, Transport, default_error_parser
from espkit.transport.ratelimit import Budget

Json = dict[str, Any]
T = TypeVar("T")
Form = list[tuple[str, str]]

#: Mailgun answers a duplicate create with a 400 in prose, not a 409
_EXISTS = re.compile(r"already (exists|taken|registered|in use)|is (already )?taken", re.I)
#: /v4/domains and /v5/accounts/subaccounts both cap ``limit`` at 1000
_MAX_PAGE = 1000
ON_BEHALF_OF = "X-Mailgun-On-Behalf-Of"


class MailgunProvider(Delegates, HttpProvider):
    name = "mailgun"
    REGIONS: ClassVar[dict[str, str]] = {
        "us": "https://api.mailgun.net",
        "eu": "https://api.eu.mailgun.net",
    }
    ENV_KEYS = ("MAILGUN_API_KEY",)
    # Mailgun's documented budgets, per account: its domains API allows 300 requests a minute
    # (mailgun/documentation source/api-domains.rst), its metrics API 500 requests every 10
    # seconds (openapi.yaml, tag Metrics). IPs, pools and subaccounts document none: learnt
    # from 429s, and not held to the domains budget.
    RATE_LIMIT = (Budget(300, 60, "domains", paths=("/v4/domains", "/v3/domains")),
                  Budget(500, 10, "metrics", paths=("/v1/analytics",)))
    REQUEST_ID_HEADERS = ("X-Mailgun-Request-Id", "X-Request-Id")
    SUPPORTS = frozenset({
        Capability.DOMAINS,
        Capability.DOMAIN_VERIFY,
        Capability.DOMAIN_DNS_RECORDS,
        Capability.DEDICATED_IPS,
        Capability.IP_POOLS,
        Capability.ASSIGN_DOMAIN_IP,
        Capability.ASSIGN_DOMAIN_POOL,
        Capability.SUBACCOUNTS,
        Capability.SUBACCOUNT_SCOPE,
        Capability.SUBACCOUNT_DISABLE,
        Capability.IP_WARMUP,
        Capability.DELIVERY_STATS,
    })
    #: the filters of POST /v1/analytics/metrics espkit has a scope for (mailgun_stats)
    STATS_SCOPES: ClassVar[frozenset[StatsScope]] = SCOPES
    # Every capability is native, so no Unsupported ever carries these; they record the
    # conditions Mailgun itself puts on some of them, for anyone deciding what to rely on.
    HINTS: ClassVar[dict[Capability, str]] = {
        Capability.IP_POOLS: "DIPPs need the account's 'DIPPs' feature; per message, "
        "Mailgun also takes o:sending-ip-pool",
        Capability.ASSIGN_DOMAIN_IP: "a domain's IPs cannot be edited one by one while a "
        "DIPP is linked to it; unassign the pool first",
        Capability.SUBACCOUNTS: "subaccounts need a Mailgun plan that includes them",
        Capability.STREAMS: "Mailgun has no stream object: use one sending domain per stream, "
        "each assigned its own pool",
        Capability.ASSIGN_SUBACCOUNT_POOL: "not yet in espkit; Mailgun delegates a DIPP with "
        "PUT /v5/accounts/subaccounts/{id}/ip_pool",
        Capability.IP_WARMUP: "Mailgun's plan starts at its first stage (no stage= to "
        "choose); over the cap, mail goes to the domain's other dedicated IPs, else shared IPs",
        Capability.DELIVERY_STATS: "figures come from the analytics metrics API and include "
        "subaccounts' mail (include_subaccounts)",
    }
    DOMAIN_OPTIONS = frozenset({
        "dkim_key_size", "dkim_selector", "spam_action", "wildcard",
        "web_scheme", "web_prefix", "ips", "pool",
    })
    EXCLUSIVE_POOLS = True

    def __init__(
        self, transport: Transport, region: str | None = None, subaccount: str | None = None
    ) -> None:
        super().__init__(transport, region)
        self.subaccount = subaccount
        #: result of the wrong-region probe once it gave a clear answer (see _check_region)
        self._key_works_elsewhere: bool | None = None
        #: the DIPPs of this scope of the account, with their run lookups
        self.dipps = Dipps(self)
        self.warmups = Warmups(self)
        self.metrics = Metrics(self)

    @classmethod
    def make_auth(cls, secret: Secret) -> requests.auth.AuthBase:
        return BasicAuth("api", secret)

    def on_behalf_of(self, subaccount_id: str) -> MailgunProvider:
        scoped = self.transport.scoped({ON_BEHALF_OF: subaccount_id})
        return self.run_scoped(MailgunProvider(scoped, self.region, subaccount=subaccount_id))

    # -- requests, errors and the wrong-region diagnosis --------------------------------

    @staticmethod
    def parse_error(response: requests.Response, body: Any) -> ErrorDetail:
        # Mailgun error bodies are {"message": ...} (GenericResponse) or, on some 400s,
        # {"Reason": ...} (GenericAPIError); anything else falls back to the default parser.
        detail = default_error_parser(response, body)
        if isinstance(body, dict):
            text = body.get("message") or body.get("Reason")
            if isinstance(text, str) and text:
                detail = ErrorDetail(text)
        if response.status_code == 400 and _EXISTS.search(detail.message):
            return ErrorDetail(detail.message, detail.code, AlreadyExists)
        return detail

    def call(
        self,
        method: str,
        path: str,
        decode: Callable[[Any], T],
        *,
        params: Sequence[tuple[str, Any]] | None = None,
        data: Form | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> T:
        """One request, its answer read by ``decode`` (``ProtocolError`` if unreadable);
        a body is a form (``data``), or JSON (``json``: the analytics API)."""
        try:
            response = self.transport.request(
                method, path, params=params, data=data, json=json, idempotent=idempotent)
        except AuthError as exc:
            if exc.status == 401:
                self._check_region(exc)
            raise
        except NotFound as exc:
            # Domain-scoped calls resolve the domain before the key, so a key from the
            # other region gets "Domain not found" there instead of a 401.
            if "domain not found" in exc.message.lower():
                self._check_region(exc)
            raise
        return self.read(response, decode, method, path, idempotent=idempotent)

    def _other_region(self) -> str | None:
        """The other region, or None when a custom base_url was given (nothing to probe)."""
        here = self.transport.base_url.rstrip("/")
        if here not in self.REGIONS.values():
            return None
        return next(r for r, url in self.REGIONS.items() if url != here)

    def _check_region(self, exc: EspError) -> None:
        """Raise ``RegionMismatch`` if the key works in the other region.

        One probe without retries (``GET /v4/domains?limit=1`` on the other host, same key and
        headers); its clear answers are remembered so a stream of genuine 404s costs one probe.
        """
        other = self._other_region()
        if other is None:
            return
        if self._key_works_elsewhere is None:
            probe = self.transport.rebased(self.REGIONS[other], retry=NO_RETRY)
            try:
                probe.request("GET", "/v4/domains", params=[("limit", 1)])
                self._key_works_elsewhere = True
            except AuthError:
                self._key_works_elsewhere = False
            except EspError:
                return  # no clear answer (network, 5xx): report the original error
        if self._key_works_elsewhere:
            raise RegionMismatch(
                f"this key belongs to region {other!r}; connect with region={other!r}",
                provider=self.name, status=exc.status, method=exc.method, url=exc.url,
                request_id=exc.request_id, body=exc.body,
            ) from None

    def _pages(self, path: str, key: str, item: Callable[[Json], T],
               mark: Callable[[T], Any], page_size: int | None) -> Iterator[T]:
        """skip/limit paging, one page at a time, until a short page or the total."""
        def page(body: Any) -> paging.Page[T]:
            body = pl.need_obj(body, "the answer")
            totals = [pl.opt_whole(body[k], k) for k in ("total_count", "total") if k in body]
            if key not in body:
                raise pl.Malformed(f"the answer has no {key!r} list")
            return paging.Page([item(i) for i in pl.objects(body[key], key)],
                               next((t for t in totals if t is not None), None))

        return paging.offset_pages(
            lambda limit, skip: self.call("GET", path, page, params=[("limit", limit),
                                                                     ("skip", skip)]),
            min(page_size or _MAX_PAGE, _MAX_PAGE), mark, self.source("GET", path))

    # -- domains ------------------------------------------------------------------------

    def create_domain(self, spec: DomainSpec) -> Domain:
        form: Form = [("name", spec.name)]
        if spec.dkim_key_size is not None:
            form.append(("dkim_key_size", str(spec.dkim_key_size)))
        if spec.dkim_selector is not None:
            form.append(("dkim_selector", spec.dkim_selector))
        if spec.spam_action is not None:
            form.append(("spam_action", spec.spam_action))
        if spec.wildcard is not None:
            form.append(("wildcard", _bool(spec.wildcard)))
        if spec.web_scheme is not None:
            form.append(("web_scheme", spec.web_scheme))
        if spec.web_prefix is not None:
            form.append(("web_prefix", spec.web_prefix))
        if spec.ips:
            form.append(("ips", ",".join(spec.ips)))

        def create(extra: Form) -> Domain:
            return self._kept(self.call("POST", "/v4/domains",
                                        lambda b: _decode.domain(self, b, spec.name),
                                        data=form + extra))

        if spec.pool is None:
            return create([])
        # pool_id on create links the domain in the same request (the id: the run's listing)
        return self.dipps.create_in(spec.pool, lambda pool_id: create([("pool_id", pool_id)]))

    def get_domain(self, name: str) -> Domain:
        return self._kept(self.call("GET", f"/v4/domains/{self.seg(name)}",
                                    lambda b: _decode.domain(self, b, name)))

    def _kept(self, domain: Domain) -> Domain:
        """``domain``, its id kept for the run (what linking it to a DIPP needs)."""
        self.dipps.remember(domain)
        return domain

    def list_domains(self, page_size: int | None = None) -> Iterator[Domain]:
        # Default order is newest first: a domain created while we page shifts the rest back,
        # so we may see an item again (dropped by the paging loop) but never skip one.
        return self._pages("/v4/domains", "items",
                           lambda item: self._kept(_decode.domain(self, {"domain": item},
                                                                  None, raw=item)),
                           lambda d: d.name, page_size)

    def verify_domain(self, name: str) -> Domain:
        return self._kept(self.call("PUT", f"/v4/domains/{self.seg(name)}/verify",
                                    lambda b: _decode.domain(self, b, name)))

    def delete_domain(self, name: str) -> None:
        self.call("DELETE", f"/v3/domains/{self.seg(name)}", pl.ignored)
        self.dipps.forget(name)

    # -- dedicated IPs ------------------------------------------------------------------

    def list_ips(self) -> Iterator[DedicatedIp]:
        # ``details`` (when present) tells which IPs are warming up; an IP listed there
        # without ``is_on_warmup`` is not (Mailgun omits false fields).
        def decode(body: Any) -> list[tuple[str, Json | None]]:
            body = pl.need_obj(body, "the answer")
            details = {pl.ip(d.get("ip"), "details[].ip"): d
                       for d in pl.objects(body.get("details"), "details")}
            if "items" not in body:
                raise pl.Malformed("the answer has no 'items' list")
            return [(a, details.get(a)) for a in pl.ips(body["items"], "items")]

        found = self.call("GET", "/v3/ips", decode, params=[("dedicated", "true")])
        pools = self._pool_of_ips()
        return iter([DedicatedIp(
            address=address, provider=self.name, pool=pools.get(address),
            warming_up=None if detail is None else detail.get("is_on_warmup") is True,
            raw={"ip": address, **(detail or {})},
        ) for address, detail in found])  # unpaginated: read now, so errors surface here

    def get_ip(self, address: str) -> DedicatedIp:
        def decode(body: Any) -> DedicatedIp:
            body = pl.need_obj(body, "the answer")
            if pl.ip(body.get("ip"), "ip") != address:
                raise pl.Malformed("the answer is about another IP than the one asked for")
            return DedicatedIp(address=address, provider=self.name,
                               rdns=pl.str_or_none(body.get("rdns")), raw=body)

        found = self.call("GET", f"/v3/ips/{self.seg(address)}", decode)
        return DedicatedIp(address=found.address, provider=self.name,
                           pool=self._pool_of_ips().get(address), rdns=found.rdns,
                           raw=found.raw)

    def _pool_of_ips(self) -> dict[str, str]:
        return self.dipps.pool_of_ips()

    # -- IP warmup (espkit.providers.mailgun_warmup) ----------------------------------------

    # -- delivery figures (espkit.providers.mailgun_stats) ----------------------------------

    # -- IP pools (DIPPs: espkit.providers.mailgun_dipps) -----------------------------------

    def create_pool(
        self, name: str, ips: tuple[str, ...], description: str | None = None
    ) -> IpPool:
        return self.dipps.create(name, ips, description)

    def list_pools(self) -> Iterator[IpPool]:
        # one unpaginated request, made now so that errors surface at the call
        return iter(self.dipps.pools())

    def get_pool(self, name: str) -> IpPool:
        return self.dipps.get(name)

    def add_ip_to_pool(self, pool: str, ip: str) -> IpPool:
        # An IP is in at most one DIPP: it leaves its current one first (the move the
        # Pools.add_ip contract promises).
        return self.dipps.set_ips(pool, add=[ip])

    def remove_ip_from_pool(self, pool: str, ip: str) -> IpPool:
        return self.dipps.set_ips(pool, remove=[ip])

    def set_pool_ips(self, pool: str, add: Sequence[str], remove: Sequence[str]) -> IpPool:
        """Many IPs in and out of ``pool`` in one ``PATCH`` (``espkit.providers.batch``)."""
        return self.dipps.set_ips(pool, add, remove)

    def delete_pool(self, name: str, replacement: str | None = None) -> None:
        self.dipps.delete(name, replacement)

    # -- assignment ---------------------------------------------------------------------

    def assign(self, domain: str, kind: AssignmentKind, target: str) -> Assignment:
        if kind is AssignmentKind.IP:
            # Legacy call, absent from the spec but documented and used by Mailgun's SDKs;
            # there is no other way to add a single IP to a domain.
            self.call("POST", f"/v3/domains/{self.seg(domain)}/ips", pl.ignored,
                      data=[("ip", target)])
            return Assignment(domain, kind, target, self.name)
        # The spec's way: PATCH the DIPP with link_domain=<domain id>.
        return self.dipps.assign(domain, target)

    def link_domains(self, pool: str, domains: Sequence[str]) -> dict[str, EspError | None]:
        """Link many domains to ``pool``, up to 100 per ``PATCH``
        (``espkit.providers.batch``)."""
        return self.dipps.link_domains(pool, domains)

    def unassign(
        self, domain: str, kind: AssignmentKind, target: str, replacement: str | None = None
    ) -> None:
        if kind is AssignmentKind.IP:
            if replacement is not None:
                raise ValidationError("replacement", replacement,
                                      "Mailgun takes a replacement only when unlinking a pool")
            self.call("DELETE", f"/v3/domains/{self.seg(domain)}/ips/{self.seg(target)}",
                      pl.ignored)
            return
        if replacement is None:
            raise ValidationError(
                "replacement", None, "Mailgun unlinks a pool from a domain only with a "
                "replacement: an IP, another pool's name, or 'shared'",
            )
        self.dipps.unassign(domain, target, replacement)

    def list_assignments(self, domain: str) -> list[Assignment]:
        # A domain sends from a linked DIPP or from its own list of IPs.
        def decode(body: Any) -> tuple[list[str], Json]:
            body = pl.need_obj(body, "the answer")
            if "items" not in body:
                raise pl.Malformed("the answer has no 'items' list")
            return pl.ips(body["items"], "items"), body

        own, body = self.call("GET", f"/v3/domains/{self.seg(domain)}/ips", decode)
        linked = self.dipps.pool_of(domain)
        if linked is not None:
            return [Assignment(domain, AssignmentKind.POOL, linked[0].name, self.name,
                               raw=linked[1])]
        return [Assignment(domain, AssignmentKind.IP, address, self.name, raw=body)
                for address in own]

    def pool_links(self) -> dict[str, str]:
        # one list of DIPPs plus one detail read per linked DIPP, for the whole account
        return self.dipps.links()

    # -- subaccounts --------------------------------------------------------------------

    def create_subaccount(self, name: str) -> Subaccount:
        # The spec takes the name as a query parameter, not a form field.
        return self.call("POST", "/v5/accounts/subaccounts",
                         lambda b: _decode.subaccount_body(self, b), params=[("name", name)])

    def list_subaccounts(self) -> Iterator[Subaccount]:
        return self._pages("/v5/accounts/subaccounts", "subaccounts",
                           lambda raw: _decode.subaccount(self, raw),
                           lambda s: s.id, None)

    def get_subaccount(self, subaccount_id: str) -> Subaccount:
        return self.call("GET", f"/v5/accounts/subaccounts/{self.seg(subaccount_id)}",
                         lambda b: _decode.subaccount_body(self, b, subaccount_id))

    def set_subaccount_enabled(self, subaccount_id: str, enabled: bool) -> Subaccount:
        action = "enable" if enabled else "disable"
        path = f"/v5/accounts/subaccounts/{self.seg(subaccount_id)}/{action}"
        try:
            # Setting a state is safe to repeat, so let the transport retry it on a 5xx.
            return self.call("POST", path,
                             lambda b: _decode.subaccount_body(self, b, subaccount_id),
                             idempotent=True)
        except Rejected as exc:
            # "subaccount is already disabled": the state we want; report it as it stands.
            if f"already {action}d" not in exc.message.lower():
                raise
            return self.get_subaccount(subaccount_id)


# -- payload helpers ----------------------------------------------------------------------


def _bool(value: bool) -> str:
    return "true" if value else "false"


__all__ = ["MailgunProvider"]
