"""Amazon SES v2: domain identities, Easy DKIM and MAIL FROM records, dedicated IPs and pools.

SES is reached through boto3's ``sesv2`` client, not espkit's HTTP transport. Credentials come
from boto3's own chain (environment, shared config/credentials files, SSO, container or
instance roles) or from the ``boto3.Session`` passed in: espkit never reads, stores or logs
them. There is one retry layer, espkit's: botocore is told to make exactly one attempt
(``total_max_attempts=1``) and every call runs through a ``RetryRunner`` with the account's
shared limiter and retry budget, so SES gets the same semantics as the HTTP providers
(throttles retried after backoff, creates never re-sent blind, ``maybe_applied`` on
ambiguous failures).

Mapping (see ``docs/providers/ses.md``):

* a sending domain is an email identity of type DOMAIN, created with Easy DKIM and a custom
  MAIL FROM domain ``mail.<domain>``. SES returns no record list: the three DKIM CNAMEs are
  built from ``DkimAttributes.Tokens`` and the MAIL FROM MX and SPF TXT from the region
  (``espkit.providers.ses_identities`` decodes the answers).
* SES has no "verify now" call; it checks DNS on its own for up to 72 hours. ``verify_domain``
  re-reads the identity's status.
* an IP is in exactly one pool, so adding it to a pool moves it; removing moves it to SES's
  default pool.
* a pool is bound to a domain through a configuration set ``<prefix><pool>`` whose
  ``DeliveryOptions.SendingPoolName`` is the pool, made the identity's default set. Pools
  and that binding are ``espkit.providers.ses_pools``.
* IP warm-up is ``espkit.providers.ses_warmup``, delivery figures (VDM's
  ``BatchGetMetricData``) ``espkit.providers.ses_stats``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar

import boto3
import botocore.config
import botocore.exceptions
from botocore import xform_name

from espkit.errors import ConfigError, EspError, NotFound, ValidationError
from espkit.models import (
    Assignment,
    AssignmentKind,
    Capability,
    DedicatedIp,
    Domain,
    DomainSpec,
    IpPool,
)
from espkit.providers import paging
from espkit.providers import payload as pl
from espkit.providers.base import Provider
from espkit.providers.delegates import Delegates
from espkit.providers.payload import obj, str_or_none
from espkit.providers.ses_errors import NO_CREDENTIALS, client_error, transport_error
from espkit.providers.ses_identities import (
    MAIL_FROM_LABEL,
    domain_state,
    identity_config_set,
    identity_domain,
)
from espkit.providers.ses_pools import SETS, SesPools
from espkit.providers.ses_stats import SCOPES, SesMetrics
from espkit.providers.ses_warmup import DEFAULT_POOL, SesWarmups, dedicated_ip
from espkit.transport import DEFAULT_TIMEOUT, RetryPolicy, RetryRunner
from espkit.transport.ratelimit import (
    parse_rate_limit,
    resolve_limiter_url,
    shared_budget,
    shared_limiter,
)

log = logging.getLogger("espkit.ses")

Json = dict[str, Any]
T = TypeVar("T")

_CONFIG_SET = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PAGE = 100


class SesProvider(Delegates, Provider):
    name = "ses"
    SUPPORTS = frozenset({
        Capability.DOMAINS,
        Capability.DOMAIN_VERIFY,
        Capability.DOMAIN_DNS_RECORDS,
        Capability.DEDICATED_IPS,
        Capability.IP_POOLS,
        Capability.ASSIGN_DOMAIN_POOL,
        Capability.IP_WARMUP,
        Capability.DELIVERY_STATS,
    })
    STATS_SCOPES = SCOPES  # account and domain (espkit.providers.ses_stats says why)
    HINTS: ClassVar[dict[Capability, str]] = {
        Capability.DOMAIN_VERIFY: "SES has no verify call: it checks DNS on its own for up "
        "to 72 hours; verify() re-reads the status (use wait_until_verified)",
        Capability.ASSIGN_DOMAIN_IP: "SES binds pools, not single IPs: put the IP in a pool of "
        "its own and assign that pool",
        Capability.SUBACCOUNTS: "SES has no subaccounts: use separate AWS accounts, or SES "
        "tenants (CreateTenant / CreateTenantResourceAssociation), not yet in espkit",
        Capability.SUBACCOUNT_SCOPE: "connect with the other AWS account's credentials "
        "(profile= or session=)",
        Capability.SUBACCOUNT_DISABLE: "SES tenants can be paused (not yet in espkit); an "
        "account's sending is paused with PutAccountSendingAttributes",
        Capability.ASSIGN_SUBACCOUNT_POOL: "SES binds pools to configuration sets; a tenant "
        "can be associated with one (not yet in espkit)",
        Capability.STREAMS: "SES models streams as configuration sets; espkit creates one per "
        "assigned pool (<prefix><pool>)",
        Capability.IP_WARMUP: "needs SES's account-wide automatic warm-up on "
        "(acct.provider.warmups.set_auto_warmup(True)); IPs of MANAGED pools warm themselves",
        Capability.DELIVERY_STATS: "Virtual Deliverability Manager's daily metrics (VDM must "
        "be on): per day or month, for the account or one domain",
    }
    DOMAIN_OPTIONS = frozenset({"dkim_key_size", "pool"})
    EXCLUSIVE_POOLS = True

    def __init__(
        self,
        client: Any,
        runner: RetryRunner,
        region: str,
        *,
        configuration_set_prefix: str = "espkit-",
        profile: str | None = None,
    ) -> None:
        self.client = client
        self._runner = runner
        self.region = region
        self.prefix = configuration_set_prefix
        self.profile = profile
        self._endpoint = str(getattr(getattr(client, "meta", None), "endpoint_url", "") or "")
        self.warmups = SesWarmups(self)  # espkit.providers.ses_warmup
        self.metrics = SesMetrics(self)  # espkit.providers.ses_stats
        self.pools = SesPools(self)  # espkit.providers.ses_pools

    def __repr__(self) -> str:
        return f"SesProvider(region={self.region!r}, profile={self.profile!r})"

    @property
    def runner(self) -> RetryRunner:
        """The runner every SES call goes through (boto3 is told to make one attempt), built
        by ``from_options`` with the limiter and budget shared per profile and region."""
        return self._runner

    @property
    def endpoint(self) -> str | None:
        """The regional endpoint boto3's client sends to."""
        url = getattr(getattr(self.client, "meta", None), "endpoint_url", None)
        return url if isinstance(url, str) else None

    @classmethod
    def from_options(  # type: ignore[override]  # each provider takes its own options
        cls,
        *,
        region: str | None = None,
        profile: str | None = None,
        session: boto3.Session | None = None,
        endpoint_url: str | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: float | str | tuple[int, float] | None = None,
        configuration_set_prefix: str = "espkit-",
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        limiter_url: str | None = None,
    ) -> SesProvider:
        if session is not None and profile is not None:
            raise ConfigError("give profile= or session=, not both")
        if not _CONFIG_SET.fullmatch(configuration_set_prefix + "x"):
            raise ValidationError("configuration_set_prefix", configuration_set_prefix,
                                  "letters, digits, '_' and '-' only")
        if endpoint_url is not None and not endpoint_url.startswith(("https://", "http://")):
            raise ConfigError(f"endpoint_url must start with https:// or http://, "
                              f"got {endpoint_url!r}")
        try:
            session = session or boto3.Session(profile_name=profile)
        except botocore.exceptions.ProfileNotFound:
            raise ConfigError(f"no AWS profile named {profile!r} in the AWS config "
                              "files") from None
        region = region or session.region_name
        if not region:
            raise ConfigError("no AWS region: pass region=, set AWS_REGION, or give the "
                              "profile a region")
        config = botocore.config.Config(
            # espkit's RetryRunner is the only retry layer
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=timeout[0],
            read_timeout=timeout[1],
            user_agent_extra="espkit/0.1",
        )
        client = session.client("sesv2", region_name=region, endpoint_url=endpoint_url,
                                config=config)
        # One limiter and budget per (AWS profile, region, endpoint) in the process. The
        # account id would need an STS call and the key is not espkit's to read; sharing
        # too widely only makes throttling more conservative. With a Redis limiter_url,
        # hosts share one budget when they name the same profile and region.
        key = (cls.name, session.profile_name, region, endpoint_url or "")
        url = resolve_limiter_url(limiter_url)
        runner = RetryRunner(
            cls.name,
            retry=retry or RetryPolicy(),
            # SES v2 documents a rate only for operations espkit does not call (policies,
            # templates: once a second, per the botocore model); for identities, pools and
            # configuration sets None learns it from the first throttle
            limiter=shared_limiter(key, parse_rate_limit(rate_limit), url),
            budget=shared_budget(key, url),
        )
        return cls(client, runner, region, configuration_set_prefix=configuration_set_prefix,
                   profile=session.profile_name if profile is not None else None)

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if callable(close):
            close()

    # -- calls and errors ---------------------------------------------------------------

    def _call(self, operation: str, decode: Callable[[Json], T], *, idempotent: bool,
              delete: bool = False, **params: Any) -> T:
        """One SES operation through espkit's retry loop, its answer read by ``decode``
        (``ProtocolError`` if unreadable). ``delete``: NotFound after an ambiguous earlier
        attempt means that attempt deleted it."""
        method: Callable[..., Any] = getattr(self.client, xform_name(operation))
        source = pl.Source(self.name, operation, self._endpoint, write=not idempotent)

        def attempt() -> Json:
            self.runner.start_attempt()
            try:
                response = method(**params)
            except botocore.exceptions.ClientError as exc:
                raise client_error(self.runner, operation, exc, idempotent,
                                   self._endpoint) from None
            except NO_CREDENTIALS as exc:
                raise ConfigError(
                    f"no usable AWS credentials ({type(exc).__name__}): boto3 looked in the "
                    "environment, the shared config and credentials files, SSO and instance "
                    "roles; pass profile= or session="
                ) from None
            except botocore.exceptions.ParamValidationError as exc:
                raise ValidationError("parameters", operation, str(exc)) from None
            except botocore.exceptions.BotoCoreError as exc:
                raise transport_error(operation, exc, self._endpoint) from None
            except pl.SLIPS as exc:
                # botocore parses the answer against its model, and fails untyped on one of
                # the wrong shape (an object for a list, "x" for an integer, deep nesting)
                raise source.error(f"botocore could not parse the answer "
                                   f"({type(exc).__name__})") from None
            self.runner.succeeded()
            return response if isinstance(response, dict) else {}

        def gone(exc: NotFound) -> Json:
            return {}

        body = self.runner.run(attempt, idempotent=idempotent, label=operation,
                               gone=gone if delete else None)
        meta = obj(body.get("ResponseMetadata"))
        status = meta.get("HTTPStatusCode")
        return pl.decoded(decode, {k: v for k, v in body.items() if k != "ResponseMetadata"},
                          pl.Source(self.name, operation, self._endpoint,
                                    status if isinstance(status, int) else None,
                                    str_or_none(meta.get("RequestId")), not idempotent))

    def _pages(self, operation: str, key: str, item: Callable[[Any], T],
               page_size: int | None = None, **params: Any) -> Iterator[T]:
        """NextToken paging, one page at a time (a token seen before is a ProtocolError)."""
        def page(body: Json) -> paging.Page[T]:
            if not isinstance(body.get(key), list):
                raise pl.Malformed(f"{key} is {pl.kind(body.get(key))}, not a list")
            return paging.Page([item(i) for i in body[key] if i is not None],
                               cursor=pl.opt_text(body.get("NextToken"), "NextToken") or None)

        def fetch(token: str | None) -> paging.Page[T]:
            extra: Json = {"NextToken": token} if token else {}
            if page_size is not None:
                extra["PageSize"] = page_size
            return self._call(operation, page, idempotent=True, **params, **extra)

        return paging.cursor_pages(fetch, pl.Source(self.name, operation, self._endpoint))

    # -- domains (email identities) -------------------------------------------------------

    def create_domain(self, spec: DomainSpec) -> Domain:
        """Create a DOMAIN identity with Easy DKIM (``dkim_key_size`` picks the key length)
        and a custom MAIL FROM domain ``mail.<domain>``. ``pool`` makes the pool's
        configuration set the identity's default. Records start PENDING: SES checks DNS
        itself, for up to 72 hours."""
        params: Json = {"EmailIdentity": spec.name}
        if spec.dkim_key_size is not None:
            params["DkimSigningAttributes"] = {
                "NextSigningKeyLength": f"RSA_{spec.dkim_key_size}_BIT"}
        def created(body: Json) -> Json:
            # The answer cannot name the identity; it must at least be a domain's
            if body.get("IdentityType") != "DOMAIN":
                raise pl.Malformed("the answer does not describe a domain identity")
            identity_domain(spec.name, body, self.region)  # readable, or refused now
            return body

        if spec.pool is None:
            body = self._call("CreateEmailIdentity", created, idempotent=False, **params)
        else:
            body = self.pools.with_config_set(spec.pool, lambda set_name: self._call(
                "CreateEmailIdentity", created, idempotent=False,
                ConfigurationSetName=set_name, **params))
        self.lookups.remember(SETS, spec.name,
                              "" if spec.pool is None else self.config_set_name(spec.pool))
        mail_from = f"{MAIL_FROM_LABEL}.{spec.name}"
        try:
            self._call("PutEmailIdentityMailFromAttributes", pl.ignored, idempotent=True,
                       EmailIdentity=spec.name, MailFromDomain=mail_from,
                       BehaviorOnMxFailure="USE_DEFAULT_VALUE")
        except EspError as exc:
            # The identity exists and sends with SES's default MAIL FROM (amazonses.com);
            # failing the create now would leave it behind anyway. Report what is true.
            log.warning("%s created, but setting MAIL FROM %s failed: %s; it keeps the "
                        "default MAIL FROM", spec.name, mail_from, exc)
            return identity_domain(spec.name, body, self.region)
        body = {**body, "MailFromAttributes": {
            "MailFromDomain": mail_from, "MailFromDomainStatus": "PENDING",
            "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"}}
        return identity_domain(spec.name, body, self.region)

    def get_domain(self, name: str) -> Domain:
        def decode(body: Json) -> Domain:
            if body.get("IdentityType") not in (None, "DOMAIN", "MANAGED_DOMAIN"):
                raise NotFound(f"{name} is an SES email address identity, not a domain",
                               provider=self.name)
            self.lookups.remember(SETS, name, identity_config_set(body) or "")
            return identity_domain(name, body, self.region)

        return self._call("GetEmailIdentity", decode, idempotent=True, EmailIdentity=name)

    def list_domains(self, page_size: int | None = None) -> Iterator[Domain]:
        """Domain identities, lazily, page by page. List items carry no DKIM tokens: their
        ``dns_records`` is empty (``get`` a domain for its records)."""
        def item(raw: Any) -> Domain | None:
            raw = pl.need_obj(raw, "EmailIdentities[]")
            if raw.get("IdentityType") != "DOMAIN":
                return None  # an email address identity
            return Domain(name=pl.domain(raw.get("IdentityName"), "IdentityName"),
                          provider=self.name,
                          state=domain_state(None, raw.get("VerificationStatus")), raw=raw)

        found = self._pages("ListEmailIdentities", "EmailIdentities", item,
                            min(page_size, 1000) if page_size else None)
        return (d for d in found if d is not None)

    def verify_domain(self, name: str) -> Domain:
        """SES has no "check now" call: it verifies asynchronously, checking DNS on its own
        for up to 72 hours after the identity is created. This re-reads the status."""
        return self.get_domain(name)

    def delete_domain(self, name: str) -> None:
        self._call("DeleteEmailIdentity", pl.ignored, idempotent=True, delete=True,
                   EmailIdentity=name)
        self.lookups.drop(SETS, name)

    # -- dedicated IPs --------------------------------------------------------------------

    def list_ips(self) -> Iterator[DedicatedIp]:
        if self.lookups.active:  # read once per run: the pool listing needs it too
            return iter(self.lookups.table("ips", lambda: list(self._pages(
                "GetDedicatedIps", "DedicatedIps", dedicated_ip, _PAGE))))
        return self._pages("GetDedicatedIps", "DedicatedIps", dedicated_ip, _PAGE)

    def get_ip(self, address: str) -> DedicatedIp:
        def decode(body: Json) -> DedicatedIp:
            ip = dedicated_ip(body.get("DedicatedIp"))
            if ip.address != address:
                raise pl.Malformed("the answer is about another IP than the one asked for")
            return ip

        return self._call("GetDedicatedIp", decode, idempotent=True, Ip=address)

    # -- warm-up and delivery figures (ses_warmup, ses_stats) ------------------------------

    # -- pools and their assignment (ses_pools) --------------------------------------------

    def create_pool(
        self,
        name: str,
        ips: tuple[str, ...],
        description: str | None = None,
        *,
        scaling_mode: str = "STANDARD",
    ) -> IpPool:
        """Create a pool and move ``ips`` into it; ``scaling_mode="MANAGED"`` lets SES lease
        and warm its IPs (``SesPools.create`` says more)."""
        return self.pools.create(name, ips, description, scaling_mode)

    def list_pools(self) -> Iterator[IpPool]:
        return self.pools.listing()

    def get_pool(self, name: str) -> IpPool:
        return self.pools.get(name)

    def add_ip_to_pool(self, pool: str, ip: str) -> IpPool:
        """Move ``ip`` into ``pool`` (an SES IP is in exactly one pool)."""
        return self.pools.add_ip(pool, ip)

    def remove_ip_from_pool(self, pool: str, ip: str) -> IpPool:
        """Move ``ip`` back to SES's default pool (``ses-default-dedicated-pool``): a
        standard dedicated IP is always in some pool."""
        return self.pools.remove_ip(pool, ip)

    def delete_pool(self, name: str, replacement: str | None = None) -> None:
        """Delete a pool. Its IPs go back to SES's default pool, or into ``replacement``
        (another pool's name) first. ``"shared"`` means the default."""
        self.pools.delete(name, replacement)

    def config_set_name(self, pool: str) -> str:
        """The configuration set espkit uses to bind ``pool`` (dots become '_')."""
        name = self.prefix + pool.replace(".", "_")
        if not _CONFIG_SET.fullmatch(name):
            raise ValidationError("pool", pool, f"configuration set name {name!r} would be "
                                  "over 64 characters or use characters SES refuses")
        return name

    def assign(self, domain: str, kind: AssignmentKind, target: str) -> Assignment:
        """Send ``domain`` from pool ``target``: the pool's configuration set becomes the
        identity's default. An identity whose default set is not espkit's is left alone
        (``ConflictingState``): that set may carry event destinations."""
        return self.pools.assign(domain, kind, target)

    def unassign(
        self, domain: str, kind: AssignmentKind, target: str, replacement: str | None = None
    ) -> None:
        """Stop ``domain`` sending from pool ``target``: clear its default configuration set
        (``replacement`` None or ``"shared"``), or assign pool ``replacement`` instead."""
        self.pools.unassign(domain, kind, target, replacement)

    def list_assignments(self, domain: str) -> list[Assignment]:
        return self.pools.assignments(domain)


__all__ = ["DEFAULT_POOL", "SesProvider"]
