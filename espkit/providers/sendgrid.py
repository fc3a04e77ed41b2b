"""Twilio SendGrid: authenticated domains, dedicated IPs, IP pools, warmup and subusers.

Reference: Twilio's official OpenAPI files (``../shared/specs/sendgrid/tsg_*_v3.yaml``:
domain authentication, IPs, IP warmup, subusers). Every request and response body is JSON.

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

Warmup has no place in the common interface; ``start_warmup``, ``stop_warmup``,
``warmup_status`` and ``warming_up`` are SendGrid-only methods on the provider
(``acct.provider``).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import string
import urllib.parse
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, ClassVar

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
    DnsRecord,
    Domain,
    DomainSpec,
    DomainState,
    IpPool,
    RecordPurpose,
    RecordStatus,
    Subaccount,
)
from espkit.providers.base import HttpProvider
from espkit.providers.payload import canonical_ip, obj, str_or_none
from espkit.transport import ErrorDetail, Transport, default_error_parser

Json = dict[str, Any]
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
    # SendGrid publishes no number: limits are per endpoint and per account, and every
    # response carries X-RateLimit-Limit/-Remaining/-Reset, which the transport observes
    # (it pauses the shared limiter when Remaining reaches 0 and honours Reset on a 429).
    # A made-up ceiling would only slow down accounts with higher limits.
    RATE_LIMIT = None
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
    EXCLUSIVE_POOLS = False

    def __init__(
        self, transport: Transport, region: str | None = None, subaccount: str | None = None
    ) -> None:
        super().__init__(transport, region)
        self.subaccount = subaccount

    @classmethod
    def make_auth(cls, secret: Secret) -> requests.auth.AuthBase:
        return HeaderAuth("Authorization", secret, scheme="Bearer")

    def on_behalf_of(self, subaccount_id: str) -> SendGridProvider:
        # A subuser's username; SendGrid's other form ("account-id <id>") is for customer
        # accounts of the partner program, which espkit does not model.
        scoped = self.transport.scoped({ON_BEHALF_OF: subaccount_id})
        return SendGridProvider(scoped, self.region, subaccount=subaccount_id)

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

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        return self.transport.request(
            method, path, params=params, json=json, idempotent=idempotent
        ).body

    def _pages(self, path: str, params: Params, page_size: int | None) -> Iterator[Json]:
        """limit/offset paging over a bare JSON array, one page at a time, until a short or
        empty page (SendGrid sends no total)."""
        limit = min(page_size or _PAGE, _PAGE)
        offset = 0
        while True:
            body = self._call("GET", path, params=[*params, ("limit", limit),
                                                   ("offset", offset)])
            items = [i for i in _list(body) if isinstance(i, dict)]
            yield from items
            offset += len(items)
            if len(items) < limit:
                return

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
        # key is the name, so refuse a second one up front.
        if self._find_domain(spec.name) is not None:
            raise AlreadyExists(f"domain {spec.name} is already authenticated",
                                provider=self.name)
        return self._domain(obj(self._call("POST", "/v3/whitelabel/domains", json=payload)))

    def get_domain(self, name: str) -> Domain:
        found = self._find_domain(name)
        if found is None:
            raise NotFound(f"no authenticated domain {name}", provider=self.name)
        return self._domain(found)

    def list_domains(self, page_size: int | None = None) -> Iterator[Domain]:
        # New domains are appended (ids grow), so paging never skips one; ids seen twice
        # (a delete shifting the list back) are dropped.
        seen: set[str] = set()
        for item in self._pages("/v3/whitelabel/domains", [("exclude_subusers", "true")],
                                page_size):
            domain = self._domain(item)
            if domain.id not in seen:
                seen.add(str(domain.id))
                yield domain

    def verify_domain(self, name: str) -> Domain:
        domain_id = self._domain_id(name)
        # Validation only re-reads DNS: safe to repeat, so let the transport retry a 5xx.
        result = obj(self._call("POST", f"/v3/whitelabel/domains/{domain_id}/validate",
                                 idempotent=True))
        # The answer has per-record validity and reasons but no records: re-read the domain.
        body = obj(self._call("GET", f"/v3/whitelabel/domains/{domain_id}"))
        return self._domain(body, validation=obj(result.get("validation_results")))

    def delete_domain(self, name: str) -> None:
        self._call("DELETE", f"/v3/whitelabel/domains/{self._domain_id(name)}")

    def _find_domain(self, name: str) -> Json | None:
        # ``domain=`` is a search, not an exact match: keep exact names only.
        params: Params = [("domain", name), ("exclude_subusers", "true")]
        found = [d for d in self._pages("/v3/whitelabel/domains", params, None)
                 if str(d.get("domain", "")).rstrip(".").lower() == name]
        if len(found) > 1:
            ids = ", ".join(str(d.get("id")) for d in found)
            raise ConflictingState(
                f"{name} is authenticated {len(found)} times (ids {ids}); delete the extra "
                "ones in SendGrid so the name identifies one", provider=self.name,
            )
        return found[0] if found else None

    def _domain_id(self, name: str) -> str:
        return self.seg(str(self.get_domain(name).id))

    def _domain(self, raw: Json, validation: Mapping[str, Any] | None = None) -> Domain:
        name = str(raw.get("domain", "")).rstrip(".").lower()
        dns = obj(raw.get("dns"))
        records = tuple(
            _record(key, obj(entry), name, obj((validation or {}).get(key)))
            for key, entry in dns.items() if isinstance(entry, dict)
        )
        raw_out = raw if validation is None else {**raw, "validation_results": validation}
        return Domain(
            name=name,
            provider=self.name,
            state=DomainState.VERIFIED if raw.get("valid") is True else DomainState.UNVERIFIED,
            id=_id(raw.get("id")),
            dns_records=records,
            subaccount=self.subaccount,
            raw=raw_out,
        )

    # -- dedicated IPs ------------------------------------------------------------------

    def list_ips(self) -> Iterator[DedicatedIp]:
        for item in self._pages("/v3/ips", [], None):
            yield self._ip(item)

    def get_ip(self, address: str) -> DedicatedIp:
        return self._ip(obj(self._call("GET", f"/v3/ips/{self.seg(address)}")), address)

    def _ip(self, raw: Json, fallback: str = "") -> DedicatedIp:
        pools = [str(p) for p in raw.get("pools") or []]
        return DedicatedIp(
            address=canonical_ip(str(raw.get("ip") or fallback)),
            provider=self.name,
            # an IP may be in several pools; the model has room for one (all are in raw)
            pool=pools[0] if pools else None,
            warming_up=raw.get("warmup") if isinstance(raw.get("warmup"), bool) else None,
            rdns=str_or_none(raw.get("rdns")),
            raw=raw,
        )

    # -- IP warmup (SendGrid only) --------------------------------------------------------

    def start_warmup(self, ip: str) -> DedicatedIp:
        """Put ``ip`` on SendGrid's automated warmup schedule (``POST /v3/ips/warmup``)."""
        ip = validate.ip_address(ip)
        body = self._call("POST", "/v3/ips/warmup", json={"ip": ip}, idempotent=True)
        return self._warmup(ip, body)

    def stop_warmup(self, ip: str) -> None:
        """Take ``ip`` off warmup (``DELETE /v3/ips/warmup/{ip}``)."""
        ip = validate.ip_address(ip)
        self._call("DELETE", f"/v3/ips/warmup/{self.seg(ip)}")

    def warmup_status(self, ip: str) -> DedicatedIp:
        """``ip`` with ``warming_up`` set and, in ``raw["start_date"]``, when it began.

        SendGrid answers 404 both for an IP that is not warming up and for one that is not
        the account's; the IP itself is then read to tell the two apart.
        """
        ip = validate.ip_address(ip)
        try:
            body = self._call("GET", f"/v3/ips/warmup/{self.seg(ip)}")
        except NotFound:
            current = self.get_ip(ip)  # NotFound again if the IP is not the account's
            return DedicatedIp(address=ip, provider=self.name, pool=current.pool,
                               warming_up=False, rdns=current.rdns, raw=current.raw)
        return self._warmup(ip, body)

    def warming_up(self) -> list[DedicatedIp]:
        """Every IP currently warming up (``GET /v3/ips/warmup``, unpaginated)."""
        return [self._warmup(canonical_ip(str(i.get("ip"))), [i])
                for i in _list(self._call("GET", "/v3/ips/warmup")) if isinstance(i, dict)]

    def _warmup(self, ip: str, body: Any) -> DedicatedIp:
        entry = next((i for i in _list(body) if isinstance(i, dict)
                      and canonical_ip(str(i.get("ip"))) == ip), {})
        start = entry.get("start_date")
        return DedicatedIp(address=ip, provider=self.name, warming_up=bool(entry),
                           raw={**entry, "started_at": _epoch(start)} if entry else {})

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
        body = obj(self._call("POST", "/v3/ips/pools", json={"name": name}))
        for ip in ips:
            self._add_ip(name, ip)
        return IpPool(name=str(body.get("name") or name), provider=self.name, id=name,
                      ips=ips, raw=body)

    def list_pools(self) -> Iterator[IpPool]:
        # The pool list has names only; the members come from the IP list (each IP names
        # its pools): two requests instead of one per pool. Made now, so errors surface here.
        names = [str(p.get("name")) for p in _list(self._call("GET", "/v3/ips/pools"))
                 if isinstance(p, dict)]
        members: dict[str, list[str]] = {n: [] for n in names}
        if names:
            for ip in self._pages("/v3/ips", [], None):
                for pool in ip.get("pools") or []:
                    if str(pool) in members:
                        members[str(pool)].append(canonical_ip(str(ip.get("ip"))))
        return iter([IpPool(name=n, provider=self.name, id=n, ips=tuple(members[n]),
                            raw={"name": n}) for n in names])

    def get_pool(self, name: str) -> IpPool:
        return self._pool(obj(self._call("GET", f"/v3/ips/pools/{self.seg(name)}")), name)

    def _pool_or_none(self, name: str) -> IpPool | None:
        try:
            return self.get_pool(name)
        except NotFound:
            return None

    def _pool(self, raw: Json, fallback: str) -> IpPool:
        name = str(raw.get("pool_name") or raw.get("name") or fallback)
        return IpPool(name=name, provider=self.name, id=name, ips=tuple(_members(raw)),
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
            self._call("POST", f"/v3/ips/pools/{self.seg(pool)}/ips", json={"ip": ip},
                       idempotent=True)

    def remove_ip_from_pool(self, pool: str, ip: str) -> IpPool:
        current = self.get_pool(pool)
        if ip not in current.ips:
            return current
        self._call("DELETE", f"/v3/ips/pools/{self.seg(pool)}/ips/{self.seg(ip)}")
        return IpPool(name=current.name, provider=self.name, id=current.id,
                      ips=tuple(i for i in current.ips if i != ip), raw=current.raw)

    def delete_pool(self, name: str, replacement: str | None = None) -> None:
        if replacement is not None:
            raise ValidationError(
                "replacement", replacement, "SendGrid deletes a pool outright: no domain "
                "sends from it (messages name their pool), so there is nothing to move",
            )
        self._call("DELETE", f"/v3/ips/pools/{self.seg(name)}")

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
        body = obj(self._call("POST", "/v3/subusers", json=payload))
        return self._subaccount({"username": name, "disabled": False, **body})

    def list_subaccounts(self) -> Iterator[Subaccount]:
        for item in self._pages("/v3/subusers", [], None):
            yield self._subaccount(item)

    def get_subaccount(self, subaccount_id: str) -> Subaccount:
        # No GET /v3/subusers/{name}: the list filtered by username is the read.
        body = self._call("GET", "/v3/subusers", params=[("username", subaccount_id)])
        for item in _list(body):
            if isinstance(item, dict) and item.get("username") == subaccount_id:
                return self._subaccount(item)
        raise NotFound(f"no subuser {subaccount_id!r}", provider=self.name)

    def set_subaccount_enabled(self, subaccount_id: str, enabled: bool) -> Subaccount:
        # Setting a state is safe to repeat, so let the transport retry a 5xx. SendGrid
        # answers 204 with no body: read the subuser back.
        self._call("PATCH", f"/v3/subusers/{self.seg(subaccount_id)}",
                   json={"disabled": not enabled}, idempotent=True)
        return self.get_subaccount(subaccount_id)

    def assign_subaccount_pool(self, subaccount_id: str, pool: str) -> Assignment:
        ips = list(self.get_pool(pool).ips)
        if not ips:
            # PUT replaces the subuser's IPs: an empty list would leave it nothing to send from
            raise ValidationError("pool", pool, "has no IPs; add some before assigning it")
        body = obj(self._call("PUT", f"/v3/subusers/{self.seg(subaccount_id)}/ips",
                               json=ips))
        return Assignment("", AssignmentKind.POOL, pool, self.name,
                          raw={"subaccount": subaccount_id, **body})

    def _subaccount(self, raw: Json) -> Subaccount:
        name = str(raw.get("username", ""))
        return Subaccount(id=name, name=name, provider=self.name,
                          enabled=raw.get("disabled") is not True, raw=raw)


# -- payload helpers ----------------------------------------------------------------------


def _record(key: str, raw: Json, domain: str, check: Json) -> DnsRecord:
    rtype = str(raw.get("type", "")).upper()
    host = str(raw.get("host") or domain).rstrip(".").lower()
    value = str(raw.get("data", ""))
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
    out = []
    for item in pool.get("ips") or []:
        ip = item.get("ip") if isinstance(item, dict) else item
        if ip:
            out.append(canonical_ip(str(ip)))
    return out



def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []



def _id(value: Any) -> str | None:
    """SendGrid ids are integers (typed ``number`` in the spec, so maybe 42.0)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return None if value is None else str(value)



def _epoch(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    return None


__all__ = ["PLACEHOLDER_EMAIL_DOMAIN", "SendGridProvider"]
