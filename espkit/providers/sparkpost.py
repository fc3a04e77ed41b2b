"""SparkPost: sending domains, sending IPs, IP pools and subaccounts.

Reference: SparkPost's API Blueprint files (``../shared/specs/sparkpost/*.apib``, the source of
developers.sparkpost.com/api; SparkPost publishes no OpenAPI description). Requests and
responses are JSON; every success body wraps its payload in ``{"results": ...}``.

The documented base URL already ends in ``/api/v1`` (``index.apib``), so paths here are the
blueprint's paths without their ``/v1`` prefix; an Enterprise host is a ``base_url``.

SparkPost returns no DNS record list: a sending domain carries its DKIM public key and
selector, from which the TXT record is built here, plus the bounce CNAME the blueprint
describes (the domain -> ``sparkpostmail.com``, ``eu.sparkpostmail.com`` in the EU). SPF has
no record of its own: the blueprint marks ``spf_status`` deprecated, and a CNAME-verified
bounce domain gives SPF alignment through SparkPost's own SPF.

Pools are keyed by an ``id`` SparkPost derives from the name; users pass the *name* (an id is
accepted too), resolved here. Every sending IP is in exactly one pool (``default`` always
exists), so adding an IP to a pool moves it, and removing it moves it back to ``default``.
SparkPost does not bind pools to domains: a pool is chosen per transmission
(``options.ip_pool``) or fixed per subaccount (its ``ip_pool``).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

import requests

from espkit import validate
from espkit.credentials import HeaderAuth, Secret
from espkit.errors import (
    AlreadyExists,
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
from espkit.providers.payload import canonical_ip, is_ip, obj, str_or_none
from espkit.transport import (
    ErrorDetail,
    RetryPolicy,
    Transport,
    default_error_parser,
)

Json = dict[str, Any]

SUBACCOUNT_HEADER = "X-MSYS-SUBACCOUNT"
DEFAULT_POOL = "default"
#: GET /subaccounts caps per_page at 100 (subaccounts.apib, "Pagination")
_MAX_PAGE = 100
#: the bounce CNAME target per region (sending-domains.apib, "DNS notes")
BOUNCE_CNAME = {"us": "sparkpostmail.com", "eu": "eu.sparkpostmail.com"}
#: index.apib: "wait 1 to 5 seconds after receiving a 429 ... heavier usage patterns may
#: require a more sophisticated and incremental backoff strategy", and SparkPost sends no
#: Retry-After. Full-jitter backoff from a 2 s base waits ~1 s, ~2 s, ~4 s, ... on average.
SPARKPOST_RETRY = RetryPolicy(base_delay=2.0)

_EXISTS = re.compile(r"already exists|already (in use|registered|taken)", re.I)
_MISSING = re.compile(r"does not exist|not found", re.I)
_RECORD_STATUS = {
    "valid": RecordStatus.VALID,
    "invalid": RecordStatus.INVALID,
    "pending": RecordStatus.PENDING,
    "unverified": RecordStatus.UNKNOWN,
}
_STATUS_KEYS = (
    "ownership_verified", "dkim_status", "cname_status", "mx_status", "spf_status",
    "abuse_at_status", "postmaster_at_status", "verification_mailbox_status",
    "verification_mailbox", "compliance_status",
)


class SparkPostProvider(HttpProvider):
    name = "sparkpost"
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
    })
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
    }
    DOMAIN_OPTIONS = frozenset({"dkim_key_size"})
    EXCLUSIVE_POOLS = True

    def __init__(
        self, transport: Transport, region: str | None = None, subaccount: str | None = None
    ) -> None:
        super().__init__(transport, region)
        self.subaccount = subaccount

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
        return SparkPostProvider(scoped, self.region, subaccount=subaccount_id)

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
        *,
        params: list[tuple[str, Any]] | None = None,
        json: Json | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """The ``results`` of a call (``None`` for a 204)."""
        body = self.transport.request(
            method, path, params=params, json=json, idempotent=idempotent
        ).body
        return body.get("results") if isinstance(body, dict) else None

    # -- sending domains ----------------------------------------------------------------

    def create_domain(self, spec: DomainSpec) -> Domain:
        # SparkPost generates the DKIM key pair (generate_dkim defaults to true; sent anyway
        # so the intent is explicit) and picks the selector itself.
        payload: Json = {"domain": spec.name, "generate_dkim": True}
        if spec.dkim_key_size is not None:
            payload["dkim_key_length"] = spec.dkim_key_size
        results = obj(self._call("POST", "/sending-domains", json=payload))
        # The answer is {message, domain, dkim}: no status yet, so nothing is verified.
        return self._domain(results, spec.name)

    def get_domain(self, name: str) -> Domain:
        # The object comes back without its "domain" field (sending-domains.apib).
        results = obj(self._call("GET", f"/sending-domains/{self.seg(name)}"))
        return self._domain(results, name)

    def list_domains(self, page_size: int | None = None) -> Iterator[Domain]:
        # Unpaginated: one request, made now so errors surface at the call. List items have
        # no DKIM key, so (like Mailgun's) they carry no DNS records: get() one for those.
        results = self._call("GET", "/sending-domains")
        items = [i for i in results or [] if isinstance(i, dict)]
        return iter([self._domain(i, str(i.get("domain", "")), records=False) for i in items])

    def verify_domain(self, name: str) -> Domain:
        # Ask for the DNS checks only: the mailbox checks would send e-mail. The answer is the
        # status alone; the DKIM key (needed for the records) comes from a read-back, whose
        # status the verify answer then overrides as the fresher of the two. A check is safe
        # to repeat, so let the transport retry it like a read.
        path = f"/sending-domains/{self.seg(name)}"
        verified = obj(self._call("POST", f"{path}/verify",
                                   json={"dkim_verify": True, "cname_verify": True},
                                   idempotent=True))
        current = obj(self._call("GET", path))
        status = {**obj(current.get("status")),
                  **{k: v for k, v in verified.items() if k in _STATUS_KEYS}}
        merged = {**current, "status": status}
        if "dns" in verified:
            merged["dns"] = verified["dns"]
        return self._domain(merged, name)

    def delete_domain(self, name: str) -> None:
        self._call("DELETE", f"/sending-domains/{self.seg(name)}")

    def _domain(self, raw: Json, fallback_name: str, *, records: bool = True) -> Domain:
        name = str(raw.get("domain") or fallback_name).rstrip(".").lower()
        status = obj(raw.get("status"))
        sub = raw.get("subaccount_id")
        return Domain(
            name=name,
            provider=self.name,
            state=_state(status),
            dns_records=self._records(raw, name) if records else (),
            subaccount=str(sub) if sub is not None else self.subaccount,
            created_at=_iso(raw.get("creation_time")),
            raw=raw,
        )

    def _records(self, raw: Json, domain: str) -> tuple[DnsRecord, ...]:
        """The records SparkPost checks, built from the DKIM key and the documented CNAME."""
        status = obj(raw.get("status"))
        dns = obj(raw.get("dns"))
        dkim = obj(raw.get("dkim"))
        out: list[DnsRecord] = []
        public, selector = dkim.get("public"), dkim.get("selector")
        if public and selector:
            signing = str(dkim.get("signing_domain") or domain).rstrip(".").lower()
            out.append(DnsRecord(
                purpose=RecordPurpose.DKIM,
                type="TXT",
                host=f"{str(selector).lower()}._domainkey.{signing}",
                value=f"v=DKIM1; k=rsa; h=sha256; p={public}",
                status=_record_status(status.get("dkim_status")),
                raw={"dkim": dkim, **({"error": dns["dkim_error"]}
                                      if "dkim_error" in dns else {})},
            ))
        out.append(DnsRecord(
            purpose=RecordPurpose.RETURN_PATH,
            type="CNAME",
            host=domain,
            value=self._bounce_target(),
            status=_record_status(status.get("cname_status")),
            raw={"cname_status": status.get("cname_status"),
                 **({"error": dns["cname_error"]} if "cname_error" in dns else {})},
        ))
        return tuple(out)

    def _bounce_target(self) -> str:
        if self.region in BOUNCE_CNAME:
            return BOUNCE_CNAME[self.region]
        host = urllib.parse.urlsplit(self.transport.base_url).hostname or ""
        # a custom base_url: an EU host is recognisable; Enterprise tenants have their own
        # target (<public_tenant_id>.mail.e.sparkpost.com) that the API does not report
        return BOUNCE_CNAME["eu" if ".eu." in f".{host}" else "us"]

    # -- sending IPs --------------------------------------------------------------------

    def list_ips(self) -> Iterator[DedicatedIp]:
        results = self._call("GET", "/sending-ips")  # unpaginated
        names = self._pool_names()
        return iter([self._ip(i, names) for i in results or [] if isinstance(i, dict)])

    def get_ip(self, address: str) -> DedicatedIp:
        results = obj(self._call("GET", f"/sending-ips/{self.seg(address)}"))
        return self._ip(results, self._pool_names(), address)

    def _ip(self, raw: Json, names: Mapping[str, str], fallback: str = "") -> DedicatedIp:
        pool_id = raw.get("ip_pool")
        warmup = raw.get("auto_warmup_enabled")
        return DedicatedIp(
            address=canonical_ip(str(raw.get("external_ip") or fallback)),
            provider=self.name,
            pool=None if pool_id is None else names.get(str(pool_id), str(pool_id)),
            warming_up=warmup if isinstance(warmup, bool) else None,
            rdns=str_or_none(raw.get("hostname")),
            raw=raw,
        )

    def set_ip_warmup(self, address: str, enabled: bool, stage: int | None = None) -> DedicatedIp:
        """SparkPost-only: turn auto warmup on or off for one IP, optionally setting its
        stage (1-29, no higher than the current one). ``acct.provider.set_ip_warmup(...)``."""
        address = validate.ip_address(address)
        payload: Json = {"auto_warmup_enabled": bool(enabled)}
        if stage is not None:
            if not isinstance(stage, int) or isinstance(stage, bool) or not 1 <= stage <= 29:
                raise ValidationError("stage", stage, "must be a whole number from 1 to 29")
            payload["auto_warmup_stage"] = stage
        self._call("PUT", f"/sending-ips/{self.seg(address)}", json=payload)
        return self.get_ip(address)

    # -- IP pools -----------------------------------------------------------------------

    def _pools(self) -> list[Json]:
        results = self._call("GET", "/ip-pools")  # unpaginated
        return [p for p in results or [] if isinstance(p, dict)]

    def _pool_names(self) -> dict[str, str]:
        return {str(p.get("id")): str(p.get("name") or p.get("id")) for p in self._pools()}

    def _find_pool(self, name: str, pools: list[Json] | None = None) -> Json:
        """The pool called ``name``, or whose id is ``name``."""
        pools = self._pools() if pools is None else pools
        for key in ("name", "id"):
            found = [p for p in pools if p.get(key) == name]
            if found:
                return found[0]
        raise NotFound(f"no IP pool named {name!r}", provider=self.name)

    def _pool(self, raw: Json) -> IpPool:
        return IpPool(
            name=str(raw.get("name") or raw.get("id") or ""),
            provider=self.name,
            id=str_or_none(raw.get("id")),
            ips=tuple(_members(raw)),
            raw=raw,
        )

    def create_pool(
        self, name: str, ips: tuple[str, ...], description: str | None = None
    ) -> IpPool:
        if description is not None:
            raise Unsupported(self.name, "pool description",
                              "SparkPost pools have a name only; create it without one")
        pools = self._pools()
        # SparkPost derives the id from the name; a second pool of the same name would make
        # the name ambiguous. Refuse up front.
        if any(p.get("name") == name or p.get("id") == name for p in pools):
            raise AlreadyExists(f"an IP pool named {name!r} already exists", provider=self.name)
        results = obj(self._call("POST", "/ip-pools", json={"name": name}))
        pool_id = str(results.get("id") or name)
        for ip in ips:  # membership lives on the IP: move each one in
            self._move_ip(ip, pool_id)
        return self._pool({"id": pool_id, "name": name,
                           "ips": [{"external_ip": ip} for ip in ips], **results})

    def list_pools(self) -> Iterator[IpPool]:
        return iter([self._pool(p) for p in self._pools()])

    def get_pool(self, name: str) -> IpPool:
        return self._pool(self._find_pool(name))

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
        pools = self._pools()
        pool = self._find_pool(validate.pool_name(name), pools)
        payload: Json = {"name": validate.pool_name(new_name) if new_name is not None
                         else pool.get("name") or pool.get("id")}
        for key, value in (("signing_domain", signing_domain),
                           ("fbl_signing_domain", fbl_signing_domain)):
            if value is not None:
                payload[key] = validate.domain_name(value, key) if value else ""
        if auto_warmup_overflow_pool is not None:
            payload["auto_warmup_overflow_pool"] = (
                auto_warmup_overflow_pool if auto_warmup_overflow_pool == "shared pool"
                else str(self._find_pool(validate.pool_name(auto_warmup_overflow_pool),
                                         pools)["id"]))
        pool_id = str(pool["id"])
        self._call("PUT", f"/ip-pools/{self.seg(pool_id)}", json=payload)
        return self._pool(obj(self._call("GET", f"/ip-pools/{self.seg(pool_id)}")))

    def add_ip_to_pool(self, pool: str, ip: str) -> IpPool:
        target = self._find_pool(pool)
        if ip not in _members(target):
            # An IP is in exactly one pool: this moves it out of its current one.
            self._move_ip(ip, str(target["id"]))
        return self._reread_pool(target)

    def remove_ip_from_pool(self, pool: str, ip: str) -> IpPool:
        target = self._find_pool(pool)
        if ip not in _members(target):
            return self._pool(target)
        if target.get("id") == DEFAULT_POOL:
            raise ValidationError("pool", pool, "every SparkPost IP is in exactly one pool; "
                                  "move it out of 'default' by adding it to another pool")
        self._move_ip(ip, DEFAULT_POOL)
        return self._reread_pool(target)

    def _reread_pool(self, pool: Json) -> IpPool:
        return self._pool(obj(self._call("GET", f"/ip-pools/{self.seg(str(pool['id']))}")))

    def _move_ip(self, ip: str, pool_id: str) -> None:
        self._call("PUT", f"/sending-ips/{self.seg(ip)}", json={"ip_pool": pool_id})

    def delete_pool(self, name: str, replacement: str | None = None) -> None:
        """SparkPost moves a deleted pool's IPs to ``default``; with another pool's name as
        ``replacement`` they are moved there first."""
        pools = self._pools()
        target = self._find_pool(name, pools)
        if replacement not in (None, DEFAULT_POOL):
            if replacement == "shared" or is_ip(replacement):
                raise ValidationError("replacement", replacement, "SparkPost moves a deleted "
                                      "pool's IPs to another pool: give a pool name")
            other = self._find_pool(replacement, pools)
            for ip in _members(target):
                self._move_ip(ip, str(other["id"]))
        self._call("DELETE", f"/ip-pools/{self.seg(str(target['id']))}")

    # -- subaccounts --------------------------------------------------------------------

    def create_subaccount(self, name: str) -> Subaccount:
        # setup_api_key=false: otherwise SparkPost requires key_label/key_grants and answers
        # with a new API key, a secret espkit has no business receiving.
        payload: Json = {"name": name, "setup_api_key": False}
        results = obj(self._call("POST", "/subaccounts", json=payload))
        return self._subaccount({"id": results.get("subaccount_id"), "name": name,
                                 "status": "active", **results})

    def list_subaccounts(self) -> Iterator[Subaccount]:
        # Cursor paging is opt-in: asking for cursor=initial turns it on.
        cursor = "initial"
        while True:
            body = self.transport.request(
                "GET", "/subaccounts", params=[("cursor", cursor), ("per_page", _MAX_PAGE)]
            ).body
            body = body if isinstance(body, dict) else {}
            for item in body.get("results") or []:
                if isinstance(item, dict):
                    yield self._subaccount(item)
            nxt = obj(body.get("links")).get("next")
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(str(nxt or "")).query)
            following = (query.get("cursor") or [""])[0]
            if not following or following == cursor:
                return
            cursor = following

    def get_subaccount(self, subaccount_id: str) -> Subaccount:
        _check_sub_id(subaccount_id)
        return self._subaccount(obj(self._call("GET", f"/subaccounts/{subaccount_id}")))

    def set_subaccount_enabled(self, subaccount_id: str, enabled: bool) -> Subaccount:
        _check_sub_id(subaccount_id)
        # active <-> suspended; "terminated" is final and left to the app.
        self._call("PUT", f"/subaccounts/{subaccount_id}",
                   json={"status": "active" if enabled else "suspended"})
        return self.get_subaccount(subaccount_id)

    def assign_subaccount_pool(self, subaccount_id: str, pool: str) -> Assignment:
        _check_sub_id(subaccount_id)
        target = self._find_pool(pool)
        pool_id = str(target["id"])
        self._call("PUT", f"/subaccounts/{subaccount_id}", json={"ip_pool": pool_id})
        return Assignment("", AssignmentKind.POOL, str(target.get("name") or pool_id),
                          self.name, raw={"subaccount": subaccount_id, "ip_pool": pool_id})

    def _subaccount(self, raw: Json) -> Subaccount:
        return Subaccount(
            id=str(raw.get("id", "")),
            name=str(raw.get("name", "")),
            provider=self.name,
            enabled=str(raw.get("status", "active")).lower() == "active",
            created_at=_iso(raw.get("created_at")),
            raw=raw,
        )


# -- payload helpers ----------------------------------------------------------------------


def _state(status: Json) -> DomainState:
    if str(status.get("compliance_status", "")).lower() == "blocked":
        return DomainState.DISABLED
    if status.get("ownership_verified") is True:
        return DomainState.VERIFIED
    checks = {str(status.get(k, "")).lower() for k in ("dkim_status", "cname_status")}
    if "pending" in checks:
        return DomainState.PENDING
    return DomainState.UNVERIFIED


def _record_status(value: Any) -> RecordStatus:
    return _RECORD_STATUS.get(str(value or "").lower(), RecordStatus.UNKNOWN)


def _check_sub_id(value: str) -> None:
    if not value.isascii() or not value.isdigit():
        raise ValidationError("subaccount", value, "SparkPost subaccount ids are numbers")


def _members(pool: Json) -> list[str]:
    return [canonical_ip(str(i.get("external_ip"))) for i in pool.get("ips") or []
            if isinstance(i, dict) and i.get("external_ip")]






def _iso(value: Any) -> datetime | None:
    """SparkPost timestamps are ISO 8601 ("2025-01-25T14:00:00Z", "...+00:00")."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


__all__ = ["SparkPostProvider"]
