"""What a provider is, and the shared plumbing for HTTP ones.

A provider translates the common account model to one ESP's API. It implements:

* ``name``: the registry name (``"mailgun"``), and ``SUPPORTS``: the ``Capability`` flags it
  handles natively. ``HINTS`` says, per unsupported capability, what the ESP offers instead.
* ``DOMAIN_OPTIONS``: which ``DomainSpec`` fields besides ``name`` it honours; the account
  layer raises ``Unsupported`` for the others before anything is sent.
* ``from_options(**options)``: build an instance from ``espkit.connect`` keyword arguments.
* The operations below for every capability in ``SUPPORTS``. Each receives values the
  account layer has already validated and canonicalised (domain names in punycode, IPs in
  ``ipaddress`` form), returns models from ``espkit.models`` (keeping the ESP's payload in
  ``raw``), raises errors from ``espkit.errors``, and paginates lazily in ``list_*``.
  Operations it does not override raise ``Unsupported``.
* ``on_behalf_of(subaccount_id)``: a copy of itself scoped to a subaccount.
* ``runner``: the ``RetryRunner`` its calls go through, or None. ``HttpProvider`` answers
  with its transport's; a provider with its own client (SES) builds one and returns it.

A provider never retries, rate-limits or logs requests itself: ``HttpProvider`` hands it a
``Transport`` that does all of that, through a ``RetryRunner`` (other providers run their
calls through one directly). Creating safely (read back after an ambiguous failure) is done
once, in the account layer, for every provider, under the provider's ``runner``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import requests

from espkit import credentials, validate
from espkit.credentials import Secret
from espkit.errors import ConfigError, Unsupported
from espkit.models import (
    Assignment,
    AssignmentKind,
    Capability,
    DedicatedIp,
    DeliveryStats,
    Domain,
    DomainSpec,
    IpPool,
    StatsQuery,
    StatsScope,
    Stream,
    StreamKind,
    Subaccount,
    Warmup,
)
from espkit.providers.lookups import Lookups
from espkit.providers.payload import Source, credentials_of, decoded, remember_credentials
from espkit.transport import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    ErrorDetail,
    HttpResponse,
    RetryPolicy,
    RetryRunner,
    Transport,
    default_error_parser,
    safe_url,
)
from espkit.transport.ratelimit import (
    RateSpec,
    parse_rate_limit,
    resolve_limiter_url,
    shared_budget,
    shared_limiter,
)

T = TypeVar("T")
P = TypeVar("P", bound="Provider")
#: methods the transport may re-send; a 2xx to any other (POST, PATCH) has been applied
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def remember_auth(session: requests.Session, auth: requests.auth.AuthBase) -> None:
    """Let ``ProtocolError`` excerpts of answers read over ``session`` mask the credentials
    ``auth`` sends: it signs a throwaway request (never sent), and the headers it adds are
    kept in memory beside the session, in the forms an ESP could echo."""
    blank = requests.Request("GET", "https://espkit.invalid/").prepare()
    before = set(blank.headers)
    signed = auth(blank)
    remember_credentials(session, {k: v for k, v in signed.headers.items()
                                   if k not in before and isinstance(v, str)})


class Provider:
    name: ClassVar[str] = ""
    SUPPORTS: ClassVar[frozenset[Capability]] = frozenset()
    HINTS: ClassVar[Mapping[Capability, str]] = {}
    DOMAIN_OPTIONS: ClassVar[frozenset[str]] = frozenset()
    #: True when an IP can be in at most one pool (adding moves it)
    EXCLUSIVE_POOLS: ClassVar[bool] = True
    #: True when the ESP picks a pool per message (SendGrid's ``ip_pool_name``, SparkPost's
    #: ``options.ip_pool``) rather than per domain: a fleet stream's pool is then a send-time
    #: binding, carried by ``espkit.ramp.route``, not an assignment ``apply`` makes
    SEND_TIME_POOLS: ClassVar[bool] = False
    #: what ``delivery_stats`` can filter by (with ``Capability.DELIVERY_STATS``); the
    #: account layer raises ``Unsupported`` for another scope before anything is sent
    STATS_SCOPES: ClassVar[frozenset[StatsScope]] = frozenset()

    @classmethod
    def from_options(cls, **options: Any) -> Provider:
        raise NotImplementedError

    def unsupported(self, capability: Capability) -> Unsupported:
        return Unsupported(self.name, str(capability), self.HINTS.get(capability, ""))

    def close(self) -> None:
        """Release connections. Safe to call twice."""

    def on_behalf_of(self, subaccount_id: str) -> Provider:
        raise self.unsupported(Capability.SUBACCOUNT_SCOPE)

    @property
    def lookups(self) -> Lookups:
        """This instance's per-run lookups (``espkit.providers.lookups``): the name -> id
        maps it reads once inside a run (``Account.batch``) and never keeps outside one."""
        found = self.__dict__.get("_lookups")
        if found is None:  # setdefault: two threads asking first get the same one
            found = self.__dict__.setdefault("_lookups", Lookups())
        return found  # type: ignore[no-any-return]

    def run_scoped(self, copy: P) -> P:
        """``copy`` (this provider acting in a subaccount) with lookups of its own keys,
        inside this provider's run: a scope opened on either spans both."""
        copy.__dict__["_lookups"] = self.lookups.child()
        return copy

    @property
    def runner(self) -> RetryRunner | None:
        """The ``RetryRunner`` this provider's calls go through: its retry policy, retry
        budget, rate limiter, counters (``stats``) and measured latency.

        The layers above read it through ``espkit.account.runner_of``: the account layer
        re-sends an ambiguous create under its policy and budget, bulk runs size their
        worker pool from its limiter's rate and its latency, and fleet verification reports
        the requests and throttles its counters saw. None (the default) means the provider
        has none: creates then make up to 3 attempts without back-off, and bulk runs use a
        fixed worker cap.
        """
        return None

    @property
    def endpoint(self) -> str | None:
        """Where this account's API answers: a base URL (an ESP's region or the host it
        was given), or what stands for it where there is none. With the key's fingerprint
        it names the account a bulk journal belongs to. None: not known."""
        return None

    # -- domains ---------------------------------------------------------------------------
    def create_domain(self, spec: DomainSpec) -> Domain:
        raise self.unsupported(Capability.DOMAINS)

    def get_domain(self, name: str) -> Domain:
        raise self.unsupported(Capability.DOMAINS)

    def list_domains(self, page_size: int | None = None) -> Iterator[Domain]:
        raise self.unsupported(Capability.DOMAINS)

    def verify_domain(self, name: str) -> Domain:
        raise self.unsupported(Capability.DOMAIN_VERIFY)

    def delete_domain(self, name: str) -> None:
        raise self.unsupported(Capability.DOMAINS)

    # -- dedicated IPs ---------------------------------------------------------------------
    def list_ips(self) -> Iterator[DedicatedIp]:
        raise self.unsupported(Capability.DEDICATED_IPS)

    def get_ip(self, address: str) -> DedicatedIp:
        raise self.unsupported(Capability.DEDICATED_IPS)

    # -- pools -------------------------------------------------------------------------------
    def create_pool(
        self, name: str, ips: tuple[str, ...], description: str | None = None
    ) -> IpPool:
        raise self.unsupported(Capability.IP_POOLS)

    def list_pools(self) -> Iterator[IpPool]:
        raise self.unsupported(Capability.IP_POOLS)

    def get_pool(self, name: str) -> IpPool:
        """``name`` is the pool's name; providers keyed by id resolve it."""
        raise self.unsupported(Capability.IP_POOLS)

    def add_ip_to_pool(self, pool: str, ip: str) -> IpPool:
        raise self.unsupported(Capability.IP_POOLS)

    def remove_ip_from_pool(self, pool: str, ip: str) -> IpPool:
        raise self.unsupported(Capability.IP_POOLS)

    def delete_pool(self, name: str, replacement: str | None = None) -> None:
        """``replacement``: an IP, another pool's name, or ``"shared"`` for ESPs (Mailgun)
        that need somewhere to move the pool's domains."""
        raise self.unsupported(Capability.IP_POOLS)

    # -- assignments -----------------------------------------------------------------------
    def assign(self, domain: str, kind: AssignmentKind, target: str) -> Assignment:
        cap = (Capability.ASSIGN_DOMAIN_POOL if kind is AssignmentKind.POOL
               else Capability.ASSIGN_DOMAIN_IP)
        raise self.unsupported(cap)

    def unassign(
        self, domain: str, kind: AssignmentKind, target: str, replacement: str | None = None
    ) -> None:
        cap = (Capability.ASSIGN_DOMAIN_POOL if kind is AssignmentKind.POOL
               else Capability.ASSIGN_DOMAIN_IP)
        raise self.unsupported(cap)

    def list_assignments(self, domain: str) -> list[Assignment]:
        raise self.unsupported(Capability.ASSIGN_DOMAIN_IP)

    def pool_links(self) -> dict[str, str] | None:
        """Domain name -> the pool it sends from, for every pool-bound domain, in a few
        requests instead of one ``list_assignments`` per domain (what a fleet plan of 50,000
        domains needs). Implement it only where a domain bound to a pool sends from that
        pool alone; None (the default) means "read each domain"."""
        return None

    # -- subaccounts -----------------------------------------------------------------------
    def create_subaccount(self, name: str) -> Subaccount:
        raise self.unsupported(Capability.SUBACCOUNTS)

    def list_subaccounts(self) -> Iterator[Subaccount]:
        raise self.unsupported(Capability.SUBACCOUNTS)

    def get_subaccount(self, subaccount_id: str) -> Subaccount:
        raise self.unsupported(Capability.SUBACCOUNTS)

    def set_subaccount_enabled(self, subaccount_id: str, enabled: bool) -> Subaccount:
        raise self.unsupported(Capability.SUBACCOUNT_DISABLE)

    def assign_subaccount_pool(self, subaccount_id: str, pool: str) -> Assignment:
        """Make everything ``subaccount_id`` sends go out of ``pool`` (SparkPost's
        subaccount ``ip_pool``, SendGrid's subuser IPs). The Assignment's ``domain`` is
        empty and ``raw`` names the subaccount."""
        raise self.unsupported(Capability.ASSIGN_SUBACCOUNT_POOL)

    # -- IP warmup (Capability.IP_WARMUP) ----------------------------------------------------
    def warmup_status(self, ip: str) -> Warmup:
        """Where ``ip`` (canonical form) is in its warmup, as the ESP reports it."""
        raise self.unsupported(Capability.IP_WARMUP)

    def list_warmups(self) -> Iterator[Warmup]:
        """The warmup of every dedicated IP of the account, in as few requests as the ESP
        allows (a fleet plan reads this once rather than one status per IP). An IP the ESP
        does not list is not warming."""
        raise self.unsupported(Capability.IP_WARMUP)

    def start_warmup(self, ip: str, stage: int | None = None) -> Warmup:
        """Put ``ip`` on the ESP's own warmup plan; ``stage``, where the ESP has stages and
        lets the caller choose one, is where to start (validated by the provider, which
        raises ``ValidationError`` before sending). Starting a warming IP is not an error."""
        raise self.unsupported(Capability.IP_WARMUP)

    def stop_warmup(self, ip: str) -> Warmup:
        """Take ``ip`` off warmup (it then sends its full volume); returns its new status.
        Stopping an IP that is not warming is not an error."""
        raise self.unsupported(Capability.IP_WARMUP)

    # -- delivery statistics (Capability.DELIVERY_STATS) --------------------------------------
    def delivery_stats(self, query: StatsQuery) -> Iterator[DeliveryStats]:
        """Rows of delivery figures, one per period of ``query.resolution`` from
        ``query.since`` to ``query.until``, oldest first, from the ESP's own statistics API.
        ``query.scope`` is one of ``STATS_SCOPES`` (checked by the account layer)."""
        raise self.unsupported(Capability.DELIVERY_STATS)

    # -- streams -----------------------------------------------------------------------------
    def list_streams(self) -> Iterator[Stream]:
        raise self.unsupported(Capability.STREAMS)

    def create_stream(self, stream_id: str, name: str, kind: StreamKind) -> Stream:
        raise self.unsupported(Capability.STREAMS)

    def get_stream(self, stream_id: str) -> Stream:
        raise self.unsupported(Capability.STREAMS)


class HttpProvider(Provider):
    """A provider speaking HTTP through ``Transport``. Subclasses set the class attributes
    below, implement ``make_auth`` and the operations, and may override ``parse_error``."""

    #: region name -> base URL; the first one is the default
    REGIONS: ClassVar[Mapping[str, str]] = {}
    #: conventional environment variables for the key, after ESPKIT_<NAME>_API_KEY
    ENV_KEYS: ClassVar[tuple[str, ...]] = ()
    #: the ESP's documented limits: requests/second, a ``Budget`` (a count per window), a
    #: tuple of budgets per scope of its API (each with the path prefixes it covers; one
    #: without paths covers the rest), or None (unknown: learnt from 429s and from the
    #: budget the ESP's answers announce). ``rate_limit=`` replaces them all.
    RATE_LIMIT: ClassVar[RateSpec] = None
    REQUEST_ID_HEADERS: ClassVar[tuple[str, ...]] = ("X-Request-Id",)
    #: headers every request carries (e.g. Postmark's ``Accept: application/json``)
    HEADERS: ClassVar[Mapping[str, str]] = {}
    #: the retry policy when the user gives none (SparkPost asks for waits of 1-5 s)
    RETRY: ClassVar[RetryPolicy] = RetryPolicy()

    def __init__(self, transport: Transport, region: str | None = None) -> None:
        self.transport = transport
        self.region = region

    def __repr__(self) -> str:
        return f"{type(self).__name__}(region={self.region!r}, transport={self.transport!r})"

    @property
    def runner(self) -> RetryRunner:
        """The transport's runner, which this provider's requests go through (the copies
        ``Transport.scoped`` makes for ``on_behalf_of`` share it)."""
        return self.transport.runner

    @property
    def endpoint(self) -> str:
        return self.transport.base_url

    @classmethod
    def make_auth(cls, secret: Secret) -> requests.auth.AuthBase:
        raise NotImplementedError

    @staticmethod
    def parse_error(response: requests.Response, body: Any) -> ErrorDetail:
        return default_error_parser(response, body)

    @classmethod
    def resolve_region(cls, region: str | None, base_url: str | None) -> str | None:
        if region is None:
            return None if base_url else next(iter(cls.REGIONS))
        key = region.lower()
        if key not in cls.REGIONS:
            raise ConfigError(
                f"unknown region {region!r} for {cls.name}; choose one of "
                + ", ".join(repr(r) for r in cls.REGIONS)
            )
        return key

    @classmethod
    def from_options(  # type: ignore[override]  # each provider takes its own options
        cls,
        *,
        api_key: str | Secret | None = None,
        region: str | None = None,
        base_url: str | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate_limit: float | str | tuple[int, float] | None = None,
        profile: str | None = None,
        session: requests.Session | None = None,
        limiter_url: str | None = None,
        deadline: float | None = None,
        max_response_bytes: int | None = None,
        allow_insecure: bool = False,
    ) -> HttpProvider:
        """``rate_limit``: the account's budget instead of the documented ones, for every
        request: requests/second (a number), or a count per window (``"300/min"``,
        ``"500/10s"``, ``(300, 60)``); a bad value is a ``ValidationError`` naming it.

        ``limiter_url``: where the rate budget lives; ``None`` reads ``$ESPKIT_LIMITER_URL``,
        and without it the budget is this process's. ``"redis://host:6379/0"`` shares it with
        every process and host using that Redis server for the same account.

        ``deadline``: seconds one attempt may take in all (default: the read timeout);
        ``max_response_bytes``: the largest answer read (default 10 MiB);
        ``allow_insecure``: send the key over plain ``http://`` to a host that is not
        loopback (refused otherwise; ``$ESPKIT_ALLOW_INSECURE_HTTP=1`` does the same)."""
        budget = parse_rate_limit(rate_limit)  # before anything else can go wrong or out
        region = cls.resolve_region(region, base_url)
        url = base_url or cls.REGIONS[region or next(iter(cls.REGIONS))]
        if not url.startswith(("https://", "http://")):
            raise ConfigError(f"base_url must start with https:// or http://, got {url!r}")
        secret = credentials.resolve(cls.name, api_key, env=cls.ENV_KEYS, profile=profile)
        transport = cls.build_transport(
            secret, url, timeout=timeout, retry=retry, rate_limit=budget, session=session,
            limiter_url=resolve_limiter_url(limiter_url), deadline=deadline,
            max_response_bytes=max_response_bytes, allow_insecure=allow_insecure,
        )
        return cls(transport, region)

    @classmethod
    def build_transport(
        cls,
        secret: Secret,
        base_url: str,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate_limit: RateSpec = None,
        session: requests.Session | None = None,
        limiter_url: str | None = None,
        deadline: float | None = None,
        max_response_bytes: int | None = None,
        allow_insecure: bool = False,
    ) -> Transport:
        # One limiter per (provider, account, endpoint) and scope of the API, one retry budget
        # per account, in the whole process; with a Redis limiter_url both are also shared
        # with other processes and hosts.
        key = (cls.name, secret.fingerprint, base_url.rstrip("/"))
        rate = rate_limit if rate_limit is not None else cls.RATE_LIMIT
        auth = cls.make_auth(secret)
        transport = Transport(
            cls.name,
            base_url,
            auth=auth,
            headers=cls.HEADERS,
            timeout=timeout,
            retry=retry or cls.RETRY,
            limiter=shared_limiter(key, rate, limiter_url),
            budget=shared_budget(key, limiter_url),
            session=session,
            parse_error=cls.parse_error,
            request_id_headers=cls.REQUEST_ID_HEADERS,
            deadline=deadline,
            max_response_bytes=(DEFAULT_MAX_RESPONSE_BYTES if max_response_bytes is None
                                else max_response_bytes),
            allow_insecure=allow_insecure,
        )
        remember_auth(transport.session, auth)
        return transport

    def close(self) -> None:
        self.transport.session.close()

    @staticmethod
    def seg(value: str) -> str:
        """Percent-encode one path segment."""
        return validate.segment(value)

    # -- decoding answers (espkit.providers.payload) ------------------------------------

    def source(self, method: str, path: str, response: HttpResponse | None = None, *,
               idempotent: bool | None = None, transport: Transport | None = None) -> Source:
        """Where an answer came from, for the ``ProtocolError`` that may refuse it."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in _IDEMPOTENT
        base = (transport or self.transport).base_url
        return Source(self.name, method, safe_url(base + path),
                      None if response is None else response.status,
                      None if response is None else response.request_id,
                      write=response is not None and not idempotent,
                      secrets=credentials_of((transport or self.transport).session))

    def read(self, response: HttpResponse, decode: Callable[[Any], T], method: str,
             path: str, *, idempotent: bool | None = None,
             transport: Transport | None = None) -> T:
        """``decode(response.body)``: the model, or a ``ProtocolError`` when the answer
        cannot be read (see ``espkit.providers.payload``)."""
        return decoded(decode, response.body,
                       lambda: self.source(method, path, response, idempotent=idempotent,
                                           transport=transport))


__all__ = ["HttpProvider", "Provider"]
