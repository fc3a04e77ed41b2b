"""Twilio SendGrid: authenticated domains, dedicated IPs, IP pools, warmup, subusers, stats.

Reference: Twilio's official OpenAPI files (``../shared/specs/sendgrid/tsg_*_v3.yaml``:
domain authentication, IPs, IP warmup, subusers; the stats file is read from Twilio's
repository, see ``sendgrid_stats``). Every request and response body is JSON.

How espkit's model maps onto SendGrid:

* A *domain* is an authenticated domain (``/v3/whitelabel/domains``). SendGrid keys them by an
  integer id; users pass names, resolved here with the list's ``domain=`` filter. Its DNS
  records come as a named map (``mail_cname``, ``dkim1``, ``dkim2``, ... with lower-case
  types) and are normalised into ``DnsRecord``s in ``espkit.providers.sendgrid_records``.
* *Pools* are the legacy, name-keyed IP pools (``/v3/ips/pools``), in
  ``espkit.providers.sendgrid_pools``. An IP may be in several pools at once, so adding an
  IP never moves it (``EXCLUSIVE_POOLS = False``).
* SendGrid never binds a pool or IP to a *domain*: the pool is chosen per message
  (``ip_pool_name``) or per subuser (the subuser's IPs). ``assign_subaccount_pool`` gives a
  subuser exactly the IPs of a pool.
* *Subaccounts* are subusers, keyed by their username (the id every subuser call and the
  ``on-behalf-of`` header take); ``Subaccount.id`` is that username. They are in
  ``espkit.providers.sendgrid_subusers``.
* *Warmup* is SendGrid's automated IP warmup (``acct.ips.start_warmup`` and the rest), in
  ``espkit.providers.sendgrid_warmup``; *delivery stats* are its Stats API (account and
  subuser figures per day or month), in ``espkit.providers.sendgrid_stats``.
"""

from __future__ import annotations

import itertools
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import requests

from espkit.credentials import HeaderAuth, Secret
from espkit.errors import AlreadyExists, ConflictingState, NotFound, ValidationError
from espkit.models import (
    Assignment,
    Capability,
    DedicatedIp,
    Domain,
    DomainSpec,
    DomainState,
    IpPool,
    StatsScope,
    Subaccount,
)
from espkit.providers import paging
from espkit.providers import payload as pl
from espkit.providers.base import HttpProvider
from espkit.providers.delegates import Delegates
from espkit.providers.domain_index import DomainIndex
from espkit.providers.sendgrid_pools import Pools
from espkit.providers.sendgrid_records import record
from espkit.providers.sendgrid_stats import Stats
from espkit.providers.sendgrid_subusers import PLACEHOLDER_EMAIL_DOMAIN, Subusers
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


class SendGridProvider(Delegates, HttpProvider):
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
        self.pools = Pools(self)
        self.subusers = Subusers(self)
        self.warmups = Warmups(self)
        self.metrics = Stats(self)

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
            record(key, pl.need_obj(entry, f"dns.{key}" if key.isprintable() else "dns.*"),
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

    # -- delivery statistics (espkit.providers.sendgrid_stats) ---------------------------

    # -- IP pools (legacy, name-keyed; espkit.providers.sendgrid_pools) --------------------

    def create_pool(
        self, name: str, ips: tuple[str, ...], description: str | None = None
    ) -> IpPool:
        return self.pools.create(name, ips, description)

    def list_pools(self) -> Iterator[IpPool]:
        return self.pools.listing()

    def get_pool(self, name: str) -> IpPool:
        return self.pools.get(name)

    def add_ip_to_pool(self, pool: str, ip: str) -> IpPool:
        return self.pools.add_ip(pool, ip)

    def remove_ip_from_pool(self, pool: str, ip: str) -> IpPool:
        return self.pools.remove_ip(pool, ip)

    def delete_pool(self, name: str, replacement: str | None = None) -> None:
        self.pools.delete(name, replacement)

    # -- subusers (espkit.providers.sendgrid_subusers) ------------------------------------

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
        return self.subusers.create(name, email, password, ips)

    def list_subaccounts(self) -> Iterator[Subaccount]:
        return self.subusers.listing()

    def get_subaccount(self, subaccount_id: str) -> Subaccount:
        return self.subusers.get(subaccount_id)

    def set_subaccount_enabled(self, subaccount_id: str, enabled: bool) -> Subaccount:
        return self.subusers.set_enabled(subaccount_id, enabled)

    def assign_subaccount_pool(self, subaccount_id: str, pool: str) -> Assignment:
        return self.subusers.assign_pool(subaccount_id, pool)


# -- error helpers ------------------------------------------------------------------------


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


__all__ = ["PLACEHOLDER_EMAIL_DOMAIN", "SendGridProvider"]
