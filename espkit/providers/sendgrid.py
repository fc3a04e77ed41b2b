"""Twilio SendGrid: authenticated domains, dedicated IPs, IP pools, warmup, subusers, stats.

Reference: Twilio's official OpenAPI files (``../shared/specs/sendgrid/tsg_*_v3.yaml``:
domain authentication, IPs, IP warmup, subusers; the stats file is read from Twilio's
repository, see ``sendgrid_stats``). Every request and response body is JSON.

How espkit's model maps onto SendGrid:

* A *domain* is an authenticated domain (``/v3/whitelabel/domains``). SendGrid keys them by an
  integer id; users pass names, resolved here with the list's ``domain=`` filter. Its DNS
  records come as a named map (``mail_cname``, ``dkim1``, ``dkim2``, ... with lower-case
  types) and are normalised into ``DnsRecord``s.
* *Pools* are the legacy, name-keyed IP pools (``/v3/ips/pools``). An IP may be in several
  pools at once, so adding an IP never moves it (``EXCLUSIVE_POOLS = False``).
* SendGrid never binds a pool or IP to a *domain*: the pool is chosen per message
  (``ip_pool_name``) or per subuser (the subuser's IPs). ``assign_subaccount_pool`` gives a
  subuser exactly the IPs of a pool.
* *Subaccounts* are subusers, keyed by their username (the id every subuser call and the
  ``on-behalf-of`` header take); ``Subaccount.id`` is that username.
* *Warmup* is SendGrid's automated IP warmup (``acct.ips.start_warmup`` and the rest), in
  ``espkit.providers.sendgrid_warmup``; *delivery stats* are its Stats API (account and
  subuser figures per day or month), in ``espkit.providers.sendgrid_stats``.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import secrets
import string
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import requests

from espkit import validate
from espkit.credentials import HeaderAuth, Secret
from espkit.errors import (
    AlreadyExists,
    ConflictingState,
    NotFound,
    Unsupported,
    ValidationError,
)
from espkit.models import (
    Assignment,
    AssignmentKind,
    Capability,
    DedicatedIp,
    DeliveryStats,
    DnsRecord,
    Domain,
    DomainSpec,
    DomainState,
    IpPool,
    RecordPurpose,
    RecordStatus,
    StatsQuery,
    StatsScope,
    Subaccount,
    Warmup,
)
from espkit.providers import paging
from espkit.providers import payload as pl
from espkit.providers.base import HttpProvider
from espkit.providers.domain_index import DomainIndex
from espkit.providers.sendgrid_stats import Stats
from espkit.providers.sendgrid_warmup import Warmups
from espkit.transport import ErrorDetail, Transport, default_error_parser
from espkit.transport.ratelimit import Scope

Json = dict[str, Any]
T = TypeVar("T")
Params = list[tuple[str, Any]]

ON_BEHALF_OF = "on-behalf-of"
#: SendGrid answers duplicates with a 400 whose ``errors[].message`` says so in prose
_EXISTS = re.compile(r"already (exists|taken|in use|added)|\bexists\b|duplicate", re.I)
#: page size for the limit/offset lists (domains, IPs, subusers). SendGrid publishes no
#: maximum; 100 is within what its own UI and SDK examples request.
_PAGE = 100
#: ``custom_dkim_selector``: "Accepts three letters or numbers"
_DKIM_SELECTOR = re.compile(r"[A-Za-z0-9]{3}")
#: where a subuser created without an email address gets one (RFC 2606: never delivered)
PLACEHOLDER_EMAIL_DOMAIN = "subusers.espkit.invalid"

#: keys of the ``dns`` map -> what the record is for
_DNS_PURPOSES = {
    # automatic security: the return-path CNAME (<subdomain>.<domain> -> u<id>.wl.sendgrid.net)
    # and two DKIM CNAMEs that SendGrid rotates
    "mail_cname": RecordPurpose.RETURN_PATH,
    "dkim1": RecordPurpose.DKIM,
    "dkim2": RecordPurpose.DKIM,
    # manual security: the return-path MX, SPF on it and (custom SPF) on the root, one DKIM TXT
    "mail_server": RecordPurpose.RETURN_PATH,
    "subdomain_spf": RecordPurpose.SPF,
    "domain_spf": RecordPurpose.SPF,
    "spf": RecordPurpose.SPF,
    "dkim": RecordPurpose.DKIM,
}


class SendGridProvider(HttpProvider):
    name = "sendgrid"
    REGIONS: ClassVar[dict[str, str]] = {
        "global": "https://api.sendgrid.com",
        "eu": "https://api.eu.sendgrid.com",
    }
    ENV_KEYS = ("SENDGRID_API_KEY",)
    # SendGrid publishes no number: its limits are per endpoint (twilio.com/docs/sendgrid/
    # api-reference/how-to-use-the-sendgrid-v3-api/rate-limits), and every answer announces
    # what is left: X-RateLimit-Limit/-Remaining/-Reset, which the limiter of the endpoint's
    # scope spends exactly. A made-up ceiling would only slow accounts with higher limits.
    RATE_LIMIT = (Scope("domains", ("/v3/whitelabel/domains",)),
                  Scope("pools", ("/v3/ips/pools",)), Scope("warmup", ("/v3/ips/warmup",)),
                  Scope("ips", ("/v3/ips",)), Scope("subusers", ("/v3/subusers",)))
    REQUEST_ID_HEADERS = ("X-Request-Id", "X-Message-Id")
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
    HINTS: ClassVar[dict[Capability, str]] = {
        Capability.ASSIGN_DOMAIN_POOL: "SendGrid picks the pool per message (ip_pool_name "
        "on /v3/mail/send) or per subuser: acct.subaccounts.assign(subuser, pool=...)",
        Capability.ASSIGN_DOMAIN_IP: "SendGrid does not bind IPs to domains (a domain's ips "
        "only feed its SPF record); give the IP to a subuser via a pool "
        "(acct.subaccounts.assign(subuser, pool=...)) or pick a pool per message "
        "(ip_pool_name)",
        Capability.STREAMS: "SendGrid has no stream object: use one IP pool per stream, chosen "
        "per message with ip_pool_name, or one subuser per stream with its own pool",
        # native, but with conditions worth knowing
        Capability.SUBACCOUNTS: "subusers need a Pro plan or above; SendGrid requires an email "
        "and password for each (see docs/providers/sendgrid.md)",
        Capability.IP_POOLS: "IP pools need a dedicated IP; adding an IP may take up to 60 s",
    }
    DOMAIN_OPTIONS = frozenset({"dkim_selector", "ips"})
    SEND_TIME_POOLS = True  # the pool is chosen per message
    EXCLUSIVE_POOLS = False
    # /v3/stats (the account, or the subuser on-behalf-of names) and /v3/subusers/stats;
    # SendGrid keeps no figures per sending domain, IP or pool
    STATS_SCOPES = frozenset({StatsScope.ACCOUNT, StatsScope.SUBACCOUNT})

    def __init__(
        self, transport: Transport, region: str | None = None, subaccount: str | None = None
    ) -> None:
        super().__init__(transport, region)
        self.subaccount = subaccount
        #: name -> domain inside a run (espkit.providers.domain_index); asks outside one
        self.index = DomainIndex(self, self._listing, self._find_domain, _PAGE)
        self.warmups = Warmups(self)
        self.stats = Stats(self)

    @classmethod
    def make_auth(cls, secret: Secret) -> requests.auth.AuthBase:
        return HeaderAuth("Authorization", secret, scheme="Bearer")

    def on_behalf_of(self, subaccount_id: str) -> SendGridProvider:
        # A subuser's username; SendGrid's other form ("account-id <id>") is for customer
        # accounts of the partner program, which espkit does not model.
        scoped = self.transport.scoped({ON_BEHALF_OF: subaccount_id})
        return self.run_scoped(SendGridProvider(scoped, self.region, subaccount=subaccount_id))

    # -- requests and errors ------------------------------------------------------------

    @staticmethod
    def parse_error(response: requests.Response, body: Any) -> ErrorDetail:
        # {"errors": [{"field": ..., "message": ...}, ...]} (several at once on a 400), or
        # {"error": "..."} on some pool 404s; anything else falls back to the default.
        detail = default_error_parser(response, body)
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors:
            texts = [str(e.get("message")) for e in errors
                     if isinstance(e, dict) and e.get("message")]
            fields = [str(e["field"]) for e in errors if isinstance(e, dict) and e.get("field")]
            if texts:
                detail = ErrorDetail("; ".join(texts), ",".join(fields) or None)
        status = response.status_code
        if status in (400, 409) and _EXISTS.search(detail.message):
            return ErrorDetail(detail.message, detail.code, AlreadyExists)
        if status in (401, 403):
            return ErrorDetail(f"{detail.message} ({_auth_hint(status, response.url)})",
                               detail.code)
        return detail

    def call(
        self,
        method: str,
        path: str,
        decode: Callable[[Any], T],
        *,
        params: Params | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> T:
        """One request, its answer read by ``decode`` (``ProtocolError`` if unreadable)."""
        response = self.transport.request(
            method, path, params=params, json=json, idempotent=idempotent)
        return self.read(response, decode, method, path, idempotent=idempotent)

    def _pages(self, path: str, params: Params, item: Callable[[Json], T],
               mark: Callable[[T], Any], page_size: int | None) -> Iterator[T]:
        """limit/offset paging over a bare JSON array, one page at a time, until a short or
        empty page (SendGrid sends no total)."""
        def page(body: Any) -> paging.Page[T]:
            return paging.Page([item(i) for i in pl.objects(body, "the answer", required=True)])

        return paging.offset_pages(
            lambda limit, offset: self.call("GET", path, page, params=[
                *params, ("limit", limit), ("offset", offset)]),
            min(page_size or _PAGE, _PAGE), mark, self.source("GET", path))

    # -- domains ------------------------------------------------------------------------

    def create_domain(self, spec: DomainSpec) -> Domain:
        payload: Json = {"domain": spec.name, "automatic_security": True}
        if spec.dkim_selector is not None:
            if not _DKIM_SELECTOR.fullmatch(spec.dkim_selector):
                raise ValidationError("dkim_selector", spec.dkim_selector,
                                      "SendGrid takes exactly three letters or digits")
            payload["custom_dkim_selector"] = spec.dkim_selector
        if spec.ips:
            payload["ips"] = list(spec.ips)
        if self.region == "eu":
            payload["region"] = "eu"
        # SendGrid keys domains by id and would authenticate the same name twice; espkit's
        # key is the name, so refuse a second one up front (in a run: against its listing).
        if self.index.find(spec.name)[0] is not None:
            raise AlreadyExists(f"domain {spec.name} is already authenticated",
                                provider=self.name)
        return self.index.keep(self.call("POST", "/v3/whitelabel/domains",
                                          lambda b: self._domain(b, spec.name), json=payload))

    def get_domain(self, name: str) -> Domain:
        found = self._find_domain(name)  # a read asks, in a run too
        if found is None:
            raise NotFound(f"no authenticated domain {name}", provider=self.name)
        return self.index.keep(found)

    def list_domains(self, page_size: int | None = None) -> Iterator[Domain]:
        # New domains are appended (ids grow), so paging never skips one; ids seen twice
        # (a delete shifting the list back) are dropped by the paging loop.
        return self.index.listed(self._pages("/v3/whitelabel/domains",
                                             [("exclude_subusers", "true")], self._domain,
                                             lambda d: d.id, page_size))

    def _listing(self, limit: int) -> Iterator[Domain]:
        """The first ``limit`` domains of the listing, reading only the pages they take."""
        return itertools.islice(self._pages("/v3/whitelabel/domains",
                                            [("exclude_subusers", "true")], self._domain,
                                            lambda d: d.id, None), limit)

    def verify_domain(self, name: str) -> Domain:
        def results(body: Any) -> tuple[Json, Any, Any]:
            body = pl.need_obj(body, "the answer")
            return (pl.opt_obj(body.get("validation_results"), "validation_results"),
                    body.get("valid"), body.get("id"))

        def verify(domain: Domain) -> Domain:
            domain_id = self.seg(str(domain.id))
            # Validation only re-reads DNS: safe to repeat, so let the transport retry a 5xx.
            validation, valid, answered = self.call(
                "POST", f"/v3/whitelabel/domains/{domain_id}/validate", results,
                idempotent=True)
            if not self.lookups.active:
                # The answer has per-record validity and reasons but no records: an ad-hoc
                # verify re-reads the domain (also checking, by name and id, that the
                # answer is about the domain asked for).
                return self.call("GET", f"/v3/whitelabel/domains/{domain_id}",
                                  lambda b: self._domain(b, name, validation, domain_id))
            # In a run the records come from the lookup's answer (the same object); the
            # validation answer says whether the domain is valid now.
            if answered is not None and str(answered) != domain.id:
                raise self.source("POST", f"/v3/whitelabel/domains/{domain_id}/validate"
                                  ).error("the answer is about another domain id than the "
                                          "one asked")
            raw = {k: v for k, v in domain.raw.items() if k != "validation_results"}
            checked = self._domain({**raw, "valid": valid if isinstance(valid, bool)
                                    else raw.get("valid")}, name, validation, domain.id)
            return self.index.keep(checked)

        return self.index.with_domain(name, verify)

    def delete_domain(self, name: str) -> None:
        self.index.with_domain(name, lambda d: self.call(
            "DELETE", f"/v3/whitelabel/domains/{self.seg(str(d.id))}", pl.ignored))
        self.index.drop(name)

    def _find_domain(self, name: str) -> Domain | None:
        # ``domain=`` is a search, not an exact match: keep exact names only.
        params: Params = [("domain", name), ("exclude_subusers", "true")]
        found = [d for d in self._pages("/v3/whitelabel/domains", params, self._domain,
                                        lambda d: d.id, None) if d.name == name]
        if len(found) > 1:
            ids = ", ".join(str(d.id) for d in found)
            raise ConflictingState(
                f"{name} is authenticated {len(found)} times (ids {ids}); delete the extra "
                "ones in SendGrid so the name identifies one", provider=self.name,
            )
        return found[0] if found else None

    def _domain(self, raw: Any, asked: str | None = None,
                validation: Mapping[str, Any] | None = None, ident: str | None = None
                ) -> Domain:
        """A Domain from an authenticated-domain object. ``asked`` and ``ident``: the name
        and id the call was about; an answer about another domain (or none) is refused."""
        raw = pl.need_obj(raw, "the answer")
        name = pl.domain(raw.get("domain"), "domain")
        if asked is not None:
            name = pl.named(name, asked, "domain")
        answered = str(pl.whole(raw.get("id"), "id"))  # the key every later call uses
        if ident is not None and answered != ident:
            raise pl.Malformed("the answer is about another domain id than the one asked")
        dns = pl.opt_obj(raw.get("dns"), "dns")
        records = tuple(
            # the key is SendGrid's: quoted only when it prints (an error must print)
            _record(key, pl.need_obj(entry, f"dns.{key}" if key.isprintable() else "dns.*"),
                    name, pl.obj((validation or {}).get(key)))
            for key, entry in dns.items() if entry is not None
        )
        raw_out = raw if validation is None else {**raw, "validation_results": validation}
        return Domain(
            name=name,
            provider=self.name,
            state=DomainState.VERIFIED if raw.get("valid") is True else DomainState.UNVERIFIED,
            id=answered,
            dns_records=records,
            subaccount=self.subaccount,
            raw=raw_out,
        )

    # -- dedicated IPs ------------------------------------------------------------------

    def list_ips(self) -> Iterator[DedicatedIp]:
        return self._pages("/v3/ips", [], self._ip, lambda i: i.address, None)

    def get_ip(self, address: str) -> DedicatedIp:
        return self.call("GET", f"/v3/ips/{self.seg(address)}",
                          lambda b: self._ip(b, address))

    def _ip(self, raw: Any, asked: str | None = None) -> DedicatedIp:
        raw = pl.need_obj(raw, "the answer")
        address = pl.ip(raw.get("ip"), "ip")
        if asked is not None and address != asked:
            raise pl.Malformed("the answer is about another IP than the one asked for")
        pools = pl.strings(raw.get("pools"), "pools")
        return DedicatedIp(
            address=address,
            provider=self.name,
            # an IP may be in several pools; the model has room for one (all are in raw)
            pool=pools[0] if pools else None,
            warming_up=pl.opt_bool(raw.get("warmup")),
            rdns=pl.str_or_none(raw.get("rdns")),
            raw=raw,
        )

    # -- IP warmup (espkit.providers.sendgrid_warmup) -----------------------------------

    def warmup_status(self, ip: str) -> Warmup:
        return self.warmups.status(ip)

    def list_warmups(self) -> Iterator[Warmup]:
        return self.warmups.listing()

    def start_warmup(self, ip: str, stage: int | None = None) -> Warmup:
        return self.warmups.start(ip, stage)

    def stop_warmup(self, ip: str) -> Warmup:
        return self.warmups.stop(ip)

    # -- delivery statistics (espkit.providers.sendgrid_stats) ---------------------------

    def delivery_stats(self, query: StatsQuery) -> Iterator[DeliveryStats]:
        return self.stats.rows(query)

    # -- IP pools (legacy, name-keyed) ----------------------------------------------------

    def create_pool(
        self, name: str, ips: tuple[str, ...], description: str | None = None
    ) -> IpPool:
        if description is not None:
            raise Unsupported(self.name, "pool description",
                              "SendGrid IP pools have only a name; create it without one")
        # SendGrid keys pools by name; check first so a taken name is a clear AlreadyExists
        # whatever the wording of SendGrid's 400.
        if self._pool_or_none(name) is not None:
            raise AlreadyExists(f"an IP pool named {name!r} already exists", provider=self.name)

        def decode(body: Any) -> Json:
            answer = pl.need_obj(body, "the answer")
            if pl.need_str(answer.get("name"), "name") != name:
                raise pl.Malformed("the answer names another pool than the one asked for")
            return answer

        body = self.call("POST", "/v3/ips/pools", decode, json={"name": name})
        for ip in ips:
            self._add_ip(name, ip)
        return IpPool(name=name, provider=self.name, id=name, ips=ips, raw=body)

    def list_pools(self) -> Iterator[IpPool]:
        # The pool list has names only; the members come from the IP list (each IP names
        # its pools): two requests instead of one per pool. Made now, so errors surface here.
        names = self.call("GET", "/v3/ips/pools", lambda b: [
            pl.need_str(p.get("name"), "name")
            for p in pl.objects(b, "the answer", required=True)])
        members: dict[str, list[str]] = {n: [] for n in names}
        if names:
            for ip in self.list_ips():
                for pool in ip.raw.get("pools") or []:
                    if pool in members:
                        members[pool].append(ip.address)
        return iter([IpPool(name=n, provider=self.name, id=n, ips=tuple(members[n]),
                            raw={"name": n}) for n in names])

    def get_pool(self, name: str) -> IpPool:
        return self.call("GET", f"/v3/ips/pools/{self.seg(name)}",
                          lambda b: self._pool(b, name))

    def _pool_or_none(self, name: str) -> IpPool | None:
        try:
            return self.get_pool(name)
        except NotFound:
            return None

    def _pool(self, raw: Any, asked: str) -> IpPool:
        raw = pl.need_obj(raw, "the answer")
        answered = pl.opt_text(raw.get("pool_name") or raw.get("name"), "pool_name")
        if answered and answered != asked:
            raise pl.Malformed("the answer names another pool than the one asked for")
        return IpPool(name=asked, provider=self.name, id=asked, ips=tuple(_members(raw)),
                      raw=raw)

    def add_ip_to_pool(self, pool: str, ip: str) -> IpPool:
        current = self.get_pool(pool)
        if ip in current.ips:
            return current
        # An IP may be in several pools: nothing to take it out of.
        self._add_ip(pool, ip)
        return IpPool(name=current.name, provider=self.name, id=current.id,
                      ips=(*current.ips, ip), raw=current.raw)

    def _add_ip(self, pool: str, ip: str) -> None:
        # "Ensure member" is safe to repeat: let the transport retry a 5xx; an
        # AlreadyExists is a retried add that had landed.
        with contextlib.suppress(AlreadyExists):
            self.call("POST", f"/v3/ips/pools/{self.seg(pool)}/ips", pl.ignored,
                       json={"ip": ip}, idempotent=True)

    def remove_ip_from_pool(self, pool: str, ip: str) -> IpPool:
        current = self.get_pool(pool)
        if ip not in current.ips:
            return current
        self.call("DELETE", f"/v3/ips/pools/{self.seg(pool)}/ips/{self.seg(ip)}",
                   pl.ignored)
        return IpPool(name=current.name, provider=self.name, id=current.id,
                      ips=tuple(i for i in current.ips if i != ip), raw=current.raw)

    def delete_pool(self, name: str, replacement: str | None = None) -> None:
        if replacement is not None:
            raise ValidationError(
                "replacement", replacement, "SendGrid deletes a pool outright: no domain "
                "sends from it (messages name their pool), so there is nothing to move",
            )
        self.call("DELETE", f"/v3/ips/pools/{self.seg(name)}", pl.ignored)

    # -- subusers -------------------------------------------------------------------------

    def create_subaccount(
        self,
        name: str,
        *,
        email: str | None = None,
        password: Secret | str | None = None,
        ips: tuple[str, ...] = (),
    ) -> Subaccount:
        """Create subuser ``name``. SendGrid requires an email address and a password:
        ``acct.subaccounts.create(name)`` sends ``<name>@subusers.espkit.invalid`` and a
        random password nobody learns (the parent acts for the subuser with
        ``on_behalf_of``; set a real address and password in SendGrid to let someone log
        in). Call ``acct.provider.create_subaccount(name, email=..., password=...)`` to
        choose them. ``ips``: the subuser's IPs (SendGrid requires the list, empty is
        allowed); give it a pool's IPs later with ``acct.subaccounts.assign``."""
        secret = password if isinstance(password, Secret) else Secret(
            password if password is not None else _placeholder_password())
        payload: Json = {
            "username": name,
            "email": email or f"{name}@{PLACEHOLDER_EMAIL_DOMAIN}",
            "password": secret.reveal(),
            "ips": [validate.ip_address(ip) for ip in ips],
        }
        if self.region == "eu":
            payload["region"] = "eu"

        def decode(body: Any) -> Subaccount:
            sub = self._subaccount({"disabled": False, **pl.need_obj(body, "the answer")})
            if sub.id != name:
                raise pl.Malformed("the answer names another subuser than the one asked for")
            return sub

        return self.call("POST", "/v3/subusers", decode, json=payload)

    def list_subaccounts(self) -> Iterator[Subaccount]:
        return self._pages("/v3/subusers", [], self._subaccount, lambda s: s.id, None)

    def get_subaccount(self, subaccount_id: str) -> Subaccount:
        # No GET /v3/subusers/{name}: the list filtered by username is the read.
        found = self.call("GET", "/v3/subusers", lambda b: [
            self._subaccount(i) for i in pl.objects(b, "the answer", required=True)],
            params=[("username", subaccount_id)])
        for sub in found:
            if sub.id == subaccount_id:
                return sub
        raise NotFound(f"no subuser {subaccount_id!r}", provider=self.name)

    def set_subaccount_enabled(self, subaccount_id: str, enabled: bool) -> Subaccount:
        # Setting a state is safe to repeat, so let the transport retry a 5xx. SendGrid
        # answers 204 with no body: read the subuser back.
        self.call("PATCH", f"/v3/subusers/{self.seg(subaccount_id)}", pl.ignored,
                   json={"disabled": not enabled}, idempotent=True)
        return self.get_subaccount(subaccount_id)

    def assign_subaccount_pool(self, subaccount_id: str, pool: str) -> Assignment:
        ips = list(self.get_pool(pool).ips)
        if not ips:
            # PUT replaces the subuser's IPs: an empty list would leave it nothing to send from
            raise ValidationError("pool", pool, "has no IPs; add some before assigning it")
        body = self.call("PUT", f"/v3/subusers/{self.seg(subaccount_id)}/ips",
                          lambda b: pl.opt_obj(b, "the answer"), json=ips)
        return Assignment("", AssignmentKind.POOL, pool, self.name,
                          raw={"subaccount": subaccount_id, **body})

    def _subaccount(self, raw: Json) -> Subaccount:
        name = pl.need_str(raw.get("username"), "username")
        return Subaccount(id=name, name=name, provider=self.name,
                          enabled=raw.get("disabled") is not True, raw=raw)


# -- payload helpers ----------------------------------------------------------------------


def _record(key: str, raw: Json, domain: str, check: Json) -> DnsRecord:
    rtype = pl.opt_text(raw.get("type"), "record type").upper()
    host = (pl.opt_text(raw.get("host"), "record host") or domain).rstrip(".").lower()
    value = pl.opt_text(raw.get("data"), "record data")
    valid = check.get("valid", raw.get("valid"))
    status = RecordStatus.UNKNOWN
    if isinstance(valid, bool):
        status = RecordStatus.VALID if valid else RecordStatus.INVALID
    merged = {**raw, "name": key}
    if check.get("reason"):
        merged["reason"] = check["reason"]
    return DnsRecord(
        purpose=_purpose(key, rtype, value),
        type=rtype,
        host=host,
        value=value,
        priority=10 if rtype == "MX" else None,  # SendGrid's MX records are all priority 10
        status=status,
        raw=merged,
    )


def _purpose(key: str, rtype: str, value: str) -> RecordPurpose:
    if key in _DNS_PURPOSES:
        return _DNS_PURPOSES[key]
    text = value.strip().lower()
    if key.startswith("dkim") or text.startswith(("k=rsa", "v=dkim1")):
        return RecordPurpose.DKIM
    if text.startswith("v=spf1"):
        return RecordPurpose.SPF
    if text.startswith("v=dmarc1"):
        return RecordPurpose.DMARC
    return RecordPurpose.OTHER


def _auth_hint(status: int, url: str | None) -> str:
    host = urllib.parse.urlsplit(url or "").hostname or ""
    if status == 403:
        return "the API key lacks the permission (scope) this call needs"
    if host == "api.eu.sendgrid.com":
        return "this is the EU host: is the key an EU regional subuser's? A global key " \
               "needs region='global'"
    if host == "api.sendgrid.com":
        return "check the key; an EU regional subuser's key needs region='eu'"
    return "check the key"


def _placeholder_password() -> str:
    """A random password meeting SendGrid's rules (8-128 characters, mixed classes)."""
    chars = string.ascii_letters + string.digits
    core = "".join(secrets.choice(chars) for _ in range(28))
    return f"{core}aZ7!"


def _members(pool: Json) -> list[str]:
    """A pool's IPs: strings in the spec, ``{"ip": ...}`` objects in what SendGrid sends."""
    items = pool.get("ips")
    if items is not None and not isinstance(items, list):
        raise pl.Malformed(f"ips is {pl.kind(items)}, not a list")
    return [pl.ip(item.get("ip") if isinstance(item, dict) else item, f"ips[{n}]")
            for n, item in enumerate(items or []) if item is not None]


__all__ = ["PLACEHOLDER_EMAIL_DOMAIN", "SendGridProvider"]
