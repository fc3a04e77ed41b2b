"""Mailgun: domains, dedicated IPs, DIPPs (dedicated IP pools) and subaccounts.

Reference: the official OpenAPI description (``../shared/specs/mailgun/openapi.yaml``) and,
for the two legacy calls it lacks (``GET``/``POST /v3/domains/{name}/ips``), Mailgun's docs and
SDKs. Writes are sent form-encoded (Mailgun accepts ``application/x-www-form-urlencoded`` as
well as the ``multipart/form-data`` the spec lists; its Go and Python SDKs send the former):
booleans as ``"true"``/``"false"``, lists as repeated keys.

Mailgun keys domains by name, DIPPs by an opaque ``pool_id``; users always pass pool *names*,
resolved here. An IP is in at most one DIPP, so adding it to a pool moves it.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import requests

from espkit.credentials import BasicAuth, Secret
from espkit.errors import (
    AlreadyExists,
    AuthError,
    ConflictingState,
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
    DnsRecord,
    Domain,
    DomainSpec,
    DomainState,
    IpPool,
    RecordPurpose,
    RecordStatus,
    Subaccount,
)
from espkit.providers import paging
from espkit.providers import payload as pl
from espkit.providers.base import HttpProvider
from espkit.transport import NO_RETRY, ErrorDetail, Transport, default_error_parser

Json = dict[str, Any]
T = TypeVar("T")
Form = list[tuple[str, str]]

#: Mailgun answers a duplicate create with a 400 in prose, not a 409
_EXISTS = re.compile(r"already (exists|taken|registered|in use)|is (already )?taken", re.I)
_STATES = {
    "active": DomainState.VERIFIED,
    "unverified": DomainState.UNVERIFIED,
    "disabled": DomainState.DISABLED,
}
_VALIDITY = {
    "valid": RecordStatus.VALID,
    "invalid": RecordStatus.INVALID,
    "unknown": RecordStatus.UNKNOWN,
}
#: /v4/domains and /v5/accounts/subaccounts both cap ``limit`` at 1000
_MAX_PAGE = 1000
ON_BEHALF_OF = "X-Mailgun-On-Behalf-Of"


class MailgunProvider(HttpProvider):
    name = "mailgun"
    REGIONS: ClassVar[dict[str, str]] = {
        "us": "https://api.mailgun.net",
        "eu": "https://api.eu.mailgun.net",
    }
    ENV_KEYS = ("MAILGUN_API_KEY",)
    RATE_LIMIT = 5.0  # documented: 300 requests/minute per account for the domains API
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
    })
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

    @classmethod
    def make_auth(cls, secret: Secret) -> requests.auth.AuthBase:
        return BasicAuth("api", secret)

    def on_behalf_of(self, subaccount_id: str) -> MailgunProvider:
        scoped = self.transport.scoped({ON_BEHALF_OF: subaccount_id})
        return MailgunProvider(scoped, self.region, subaccount=subaccount_id)

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

    def _call(
        self,
        method: str,
        path: str,
        decode: Callable[[Any], T],
        *,
        params: Sequence[tuple[str, Any]] | None = None,
        data: Form | None = None,
        idempotent: bool | None = None,
    ) -> T:
        """One request, its answer read by ``decode`` (``ProtocolError`` if unreadable)."""
        try:
            response = self.transport.request(
                method, path, params=params, data=data, idempotent=idempotent)
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
            lambda limit, skip: self._call("GET", path, page, params=[("limit", limit),
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
        if spec.pool is not None:
            form.append(("pool_id", self._find_pool(spec.pool).id or ""))
        return self._call("POST", "/v4/domains", lambda b: self._domain(b, spec.name),
                          data=form)

    def get_domain(self, name: str) -> Domain:
        return self._call("GET", f"/v4/domains/{self.seg(name)}",
                          lambda b: self._domain(b, name))

    def list_domains(self, page_size: int | None = None) -> Iterator[Domain]:
        # Default order is newest first: a domain created while we page shifts the rest back,
        # so we may see an item again (dropped by the paging loop) but never skip one.
        return self._pages("/v4/domains", "items",
                           lambda item: self._domain({"domain": item}, None, raw=item),
                           lambda d: d.name, page_size)

    def verify_domain(self, name: str) -> Domain:
        return self._call("PUT", f"/v4/domains/{self.seg(name)}/verify",
                          lambda b: self._domain(b, name))

    def delete_domain(self, name: str) -> None:
        self._call("DELETE", f"/v3/domains/{self.seg(name)}", pl.ignored)

    def _domain(self, body: Any, asked: str | None, raw: Json | None = None) -> Domain:
        """A Domain from a create/get/verify body (or a list item wrapped as {"domain": ...}).
        ``asked``: the name the call was about; an answer about no or another domain is
        refused. ``raw`` defaults to the whole body."""
        body = pl.need_obj(body, "the answer")
        info = pl.need_obj(body.get("domain"), "the answer's domain")
        name = pl.domain(info.get("name"), "domain.name")
        if asked is not None:
            if not pl.same_domain(name, asked):
                raise pl.Malformed("the answer names another domain than the one asked for")
            name = asked
        records = [
            _record(r, name, receiving=False)
            for r in pl.objects(body.get("sending_dns_records"), "sending_dns_records")
        ] + [
            _record(r, name, receiving=True)
            for r in pl.objects(body.get("receiving_dns_records"), "receiving_dns_records")
        ]
        state = _STATES.get((pl.str_or_none(info.get("state")) or "").lower(),
                            DomainState.UNVERIFIED)
        if info.get("is_disabled") is True:
            state = DomainState.DISABLED
        return Domain(
            name=name,
            provider=self.name,
            state=state,
            id=pl.opt_ident(info.get("id"), "domain.id"),
            dns_records=tuple(records),
            subaccount=pl.str_or_none(info.get("subaccount_id")) or self.subaccount,
            created_at=_http_date(info.get("created_at")),
            raw=body if raw is None else raw,
        )

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

        found = self._call("GET", "/v3/ips", decode, params=[("dedicated", "true")])
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

        found = self._call("GET", f"/v3/ips/{self.seg(address)}", decode)
        return DedicatedIp(address=found.address, provider=self.name,
                           pool=self._pool_of_ips().get(address), rdns=found.rdns,
                           raw=found.raw)

    def _pool_of_ips(self) -> dict[str, str]:
        """IP -> the name of the DIPP it is in."""
        return {member: p.name for p in self._pools_if_enabled() for member in p.ips}

    # -- IP pools (DIPPs) ---------------------------------------------------------------

    def _pools(self) -> list[IpPool]:
        def decode(body: Any) -> list[IpPool]:
            body = pl.need_obj(body, "the answer")
            if "ip_pools" not in body:
                raise pl.Malformed("the answer has no 'ip_pools' list")
            return [self._pool(p) for p in pl.objects(body["ip_pools"], "ip_pools")]

        return self._call("GET", "/v3/ip_pools", decode)  # unpaginated

    def _pools_if_enabled(self) -> list[IpPool]:
        """The DIPPs, or none when the account lacks the DIPPs feature (a 403), so that
        listing IPs or a domain's assignments does not fail for want of it."""
        try:
            return self._pools()
        except AuthError as exc:
            if exc.status != 403:  # 401 (bad key) and RegionMismatch still surface
                raise
            return []

    def _find_pool(self, name: str, pools: list[IpPool] | None = None) -> IpPool:
        """The DIPP called ``name``. Mailgun does not keep names unique, and allows names
        espkit will not take (spaces), so a pool_id is accepted as well."""
        pools = self._pools() if pools is None else pools
        found = [p for p in pools if p.name == name]
        if not found:
            found = [p for p in pools if p.id == name]
        if not found:
            raise NotFound(f"no IP pool named {name!r}", provider=self.name)
        if len(found) > 1:
            ids = ", ".join(str(p.id) for p in found)
            raise ConflictingState(
                f"{len(found)} IP pools are named {name!r} (pool ids {ids}); "
                "rename one or pass a pool id", provider=self.name,
            )
        return found[0]

    def _pool(self, raw: Json, known_id: str | None = None) -> IpPool:
        """A DIPP from a list item or a details answer (``known_id``: the pool asked for)."""
        pool_id = pl.opt_ident(raw.get("pool_id"), "pool_id")
        if known_id is not None and pool_id not in (None, known_id):
            raise pl.Malformed("the answer is about another pool than the one asked for")
        pool_id = pool_id or known_id
        if pool_id is None:
            raise pl.Malformed("a pool has no pool_id")
        return IpPool(
            name=pl.opt_text(raw.get("name"), "pool name") or pool_id,
            provider=self.name,
            id=pool_id,
            ips=tuple(pl.ips(raw.get("ips"), "pool ips")),
            description=pl.str_or_none(raw.get("description")),
            raw=raw,
        )

    def create_pool(
        self, name: str, ips: tuple[str, ...], description: str | None = None
    ) -> IpPool:
        # Mailgun would happily create a second pool with the same name, which would make the
        # name (espkit's key) ambiguous; refuse up front.
        if any(p.name == name for p in self._pools()):
            raise AlreadyExists(f"an IP pool named {name!r} already exists", provider=self.name)
        # The spec marks description as required; an empty one is what "none" means.
        form: Form = [("name", name), ("description", description or "")]
        form += [("ip", address) for address in ips]

        def decode(body: Any) -> IpPool:
            body = pl.need_obj(body, "the answer")  # {"message", "pool_id"}: the id matters
            return IpPool(name=name, provider=self.name,
                          id=pl.ident(body.get("pool_id"), "pool_id"),
                          ips=ips, description=description, raw=body)

        return self._call("POST", "/v3/ip_pools", decode, data=form)

    def list_pools(self) -> Iterator[IpPool]:
        # one unpaginated request, made now so that errors surface at the call
        return iter(self._pools())

    def get_pool(self, name: str) -> IpPool:
        pool_id = self._find_pool(name).id or ""
        return self._details(pool_id)[0]

    def add_ip_to_pool(self, pool: str, ip: str) -> IpPool:
        pools = self._pools()
        target = self._find_pool(pool, pools)
        if ip in target.ips:
            return target  # Mailgun refuses a PATCH that changes nothing
        # An IP is in at most one DIPP: take it out of its current one first (the move the
        # Pools.add_ip contract promises).
        for other in pools:
            if other is not target and ip in other.ips:
                self._patch_pool(other, [("remove_ip", ip)])
        self._patch_pool(target, [("add_ip", ip)])
        # PATCH answers only {"message"}; the membership is what we just set.
        return _with_ips(target, (*target.ips, ip))

    def remove_ip_from_pool(self, pool: str, ip: str) -> IpPool:
        target = self._find_pool(pool)
        if ip not in target.ips:
            return target
        self._patch_pool(target, [("remove_ip", ip)])
        return _with_ips(target, tuple(i for i in target.ips if i != ip))

    def _patch_pool(self, pool: IpPool, form: Form) -> None:
        self._call("PATCH", f"/v3/ip_pools/{self.seg(pool.id or '')}", pl.ignored, data=form)

    def delete_pool(self, name: str, replacement: str | None = None) -> None:
        pools = self._pools()
        target = self._find_pool(name, pools)
        if replacement is None and target.ips:
            raise ValidationError(
                "replacement", None, "Mailgun deletes a pool that still has IPs only with a "
                "replacement for its domains: an IP, another pool's name, or 'shared'",
            )
        params = self._replacement(replacement, pools)
        self._call("DELETE", f"/v3/ip_pools/{self.seg(target.id or '')}", pl.ignored,
                   params=params)

    def _replacement(self, replacement: str | None, pools: list[IpPool]
                     ) -> list[tuple[str, str]]:
        """Mailgun's replacement query: ``ip=<ip|shared>`` or ``pool_id=<id>``, never both."""
        if replacement is None:
            return []
        if replacement == "shared" or pl.is_ip(replacement):
            return [("ip", replacement)]
        return [("pool_id", self._find_pool(replacement, pools).id or "")]

    # -- assignment ---------------------------------------------------------------------

    def assign(self, domain: str, kind: AssignmentKind, target: str) -> Assignment:
        if kind is AssignmentKind.IP:
            # Legacy call, absent from the spec but documented and used by Mailgun's SDKs;
            # there is no other way to add a single IP to a domain.
            self._call("POST", f"/v3/domains/{self.seg(domain)}/ips", pl.ignored,
                       data=[("ip", target)])
            return Assignment(domain, kind, target, self.name)
        # The spec's way: PATCH the DIPP with link_domain=<domain id>. Skipped when already
        # linked, because Mailgun rejects a PATCH that changes nothing and re-runs must work.
        pool = self._find_pool(target)
        details, linked = self._details(pool.id or "")
        if domain not in linked:
            domain_id = self.get_domain(domain).id
            if domain_id is None:
                raise NotFound(f"Mailgun returned no id for domain {domain}", provider=self.name)
            self._patch_pool(pool, [("link_domain", domain_id)])
        return Assignment(domain, kind, pool.name, self.name, raw=details.raw)

    def unassign(
        self, domain: str, kind: AssignmentKind, target: str, replacement: str | None = None
    ) -> None:
        path = f"/v3/domains/{self.seg(domain)}/ips"
        if kind is AssignmentKind.IP:
            if replacement is not None:
                raise ValidationError("replacement", replacement,
                                      "Mailgun takes a replacement only when unlinking a pool")
            self._call("DELETE", f"{path}/{self.seg(target)}", pl.ignored)
            return
        # Unlinking a DIPP: DELETE .../ips/ip_pool with a replacement rather than PATCH
        # unlink_domain, because only the former lets us say what the domain sends from next
        # (the spec requires ip=<ip|shared> or pool_id=); Mailgun relinks it in one step.
        if replacement is None:
            raise ValidationError(
                "replacement", None, "Mailgun unlinks a pool from a domain only with a "
                "replacement: an IP, another pool's name, or 'shared'",
            )
        pools = self._pools()
        pool = self._find_pool(target, pools)
        # The call unlinks whatever pool is linked; make sure it is the one we were asked to.
        if domain not in self._details(pool.id or "")[1]:
            raise NotFound(f"{domain} is not linked to IP pool {target!r}", provider=self.name)
        self._call("DELETE", f"{path}/ip_pool", pl.ignored,
                   params=self._replacement(replacement, pools))

    def list_assignments(self, domain: str) -> list[Assignment]:
        # A domain sends from a linked DIPP or from its own list of IPs. Mailgun's domain
        # object does not say which pool is linked; the pools' details do.
        def decode(body: Any) -> tuple[list[str], Json]:
            body = pl.need_obj(body, "the answer")
            if "items" not in body:
                raise pl.Malformed("the answer has no 'items' list")
            return pl.ips(body["items"], "items"), body

        own, body = self._call("GET", f"/v3/domains/{self.seg(domain)}/ips", decode)
        for pool in self._pools_if_enabled():
            if pool.raw.get("is_linked"):
                details, linked = self._details(pool.id or "")
                if domain in linked:
                    return [Assignment(domain, AssignmentKind.POOL, pool.name, self.name,
                                       raw=details.raw)]
        return [Assignment(domain, AssignmentKind.IP, address, self.name, raw=body)
                for address in own]

    def pool_links(self) -> dict[str, str]:
        # one list of DIPPs plus one detail read per linked DIPP, for the whole account
        links: dict[str, str] = {}
        for pool in self._pools_if_enabled():
            if pl.opt_bool(pool.raw.get("is_linked")):
                for name in self._details(pool.id or "")[1]:
                    links.setdefault(name, pool.name)
        return links

    def _details(self, pool_id: str) -> tuple[IpPool, list[str]]:
        """A DIPP as its details answer has it, and the domains linked to it."""
        def decode(body: Any) -> tuple[IpPool, list[str]]:
            details = pl.need_obj(pl.need_obj(body, "the answer").get("details"), "details")
            # The spec's example says linked_domains; its prose says linked_domain.
            key = "linked_domains" if "linked_domains" in details else "linked_domain"
            linked = [pl.domain(n, key) for n in pl.strings(details.get(key), key)]
            return self._pool(details, pool_id), linked

        return self._call("GET", f"/v3/ip_pools/{self.seg(pool_id)}", decode)

    # -- subaccounts --------------------------------------------------------------------

    def create_subaccount(self, name: str) -> Subaccount:
        # The spec takes the name as a query parameter, not a form field.
        return self._call("POST", "/v5/accounts/subaccounts", self._subaccount_body,
                          params=[("name", name)])

    def list_subaccounts(self) -> Iterator[Subaccount]:
        return self._pages("/v5/accounts/subaccounts", "subaccounts", self._subaccount,
                           lambda s: s.id, None)

    def get_subaccount(self, subaccount_id: str) -> Subaccount:
        return self._call("GET", f"/v5/accounts/subaccounts/{self.seg(subaccount_id)}",
                          lambda b: self._subaccount_body(b, subaccount_id))

    def set_subaccount_enabled(self, subaccount_id: str, enabled: bool) -> Subaccount:
        action = "enable" if enabled else "disable"
        path = f"/v5/accounts/subaccounts/{self.seg(subaccount_id)}/{action}"
        try:
            # Setting a state is safe to repeat, so let the transport retry it on a 5xx.
            return self._call("POST", path, lambda b: self._subaccount_body(b, subaccount_id),
                              idempotent=True)
        except Rejected as exc:
            # "subaccount is already disabled": the state we want; report it as it stands.
            if f"already {action}d" not in exc.message.lower():
                raise
            return self.get_subaccount(subaccount_id)

    def _subaccount_body(self, body: Any, asked: str | None = None) -> Subaccount:
        """{"subaccount": {...}}; ``asked``: the id the call was about."""
        sub = self._subaccount(pl.need_obj(pl.need_obj(body, "the answer").get("subaccount"),
                                        "the answer's subaccount"))
        if asked is not None and sub.id != asked:
            raise pl.Malformed("the answer is about another subaccount than the one asked for")
        return sub

    def _subaccount(self, raw: Json) -> Subaccount:
        return Subaccount(
            id=pl.ident(raw.get("id"), "subaccount id"),
            name=pl.opt_text(raw.get("name"), "subaccount name"),
            provider=self.name,
            enabled=(pl.str_or_none(raw.get("status")) or "open").lower() == "open",
            created_at=_http_date(raw.get("created_at")),
            raw=raw,
        )


# -- payload helpers ----------------------------------------------------------------------


def _record(raw: Json, domain: str, *, receiving: bool) -> DnsRecord:
    rtype = pl.opt_text(raw.get("record_type"), "record_type").upper()
    # MX records often come without a name: they belong to the domain itself.
    host = (pl.opt_text(raw.get("name"), "record name") or domain).rstrip(".").lower()
    value = pl.opt_text(raw.get("value"), "record value")
    return DnsRecord(
        purpose=_purpose(rtype, host, value, receiving),
        type=rtype,
        host=host,
        value=value,
        priority=_priority(raw.get("priority")),
        status=_VALIDITY.get((pl.str_or_none(raw.get("valid")) or "").lower(),
                             RecordStatus.UNKNOWN),
        raw=raw,
    )


def _priority(value: Any) -> int | None:
    """An MX priority: a string in Mailgun's payload ("10"), 0-65535, else none."""
    text = pl.str_or_none(value) or ""
    text = text.strip()
    # isascii: str.isdigit() is also true of "²" and other digits int() refuses
    if text.isascii() and text.isdigit() and len(text) <= 5 and int(text) <= 65535:
        return int(text)
    return None


def _purpose(rtype: str, host: str, value: str, receiving: bool) -> RecordPurpose:
    text = value.strip().lower()
    if rtype == "MX":
        return RecordPurpose.MX
    if receiving:
        return RecordPurpose.OTHER
    if rtype == "TXT" and text.startswith("v=spf1"):
        return RecordPurpose.SPF
    if "._domainkey." in f".{host}" or text.startswith(("k=rsa", "v=dkim1")):
        return RecordPurpose.DKIM  # TXT keys, or CNAMEs with automatic sender security
    if rtype == "TXT" and text.startswith("v=dmarc1"):
        return RecordPurpose.DMARC
    if rtype == "CNAME":
        return RecordPurpose.TRACKING  # <web_prefix>.<domain> -> mailgun.org
    return RecordPurpose.OTHER


def _with_ips(pool: IpPool, members: tuple[str, ...]) -> IpPool:
    return IpPool(name=pool.name, provider=pool.provider, id=pool.id, ips=members,
                  description=pool.description, raw={**pool.raw, "ips": list(members)})


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _http_date(value: Any) -> datetime | None:
    """Mailgun timestamps are RFC 1123 ("Thu, 13 Oct 2011 18:02:00 GMT")."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


__all__ = ["MailgunProvider"]
