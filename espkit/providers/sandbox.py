"""The sandbox provider: espkit's client for the embedded sandbox ESP (``espkit.sandbox``).

It is an ordinary ``HttpProvider``: requests go through ``Transport`` (limiter, retries,
``Retry-After``, error mapping) and the managers' safe creates, and only at the bottom does a
``SandboxAdapter`` hand them to the in-process emulator instead of a socket.

    acct = espkit.connect("sandbox")                       # state kept in the user data dir
    acct = espkit.connect("sandbox", path=":memory:", rate_limit=5, faults=0.05, seed=1)
    acct.provider.emulator.inject("timeout_after_commit", method="POST", path="/v1/domains")

It emulates every capability any built-in provider has. ``like="sendgrid"`` narrows it to one
provider's: its ``SUPPORTS``, ``HINTS``, ``DOMAIN_OPTIONS`` and ``STATS_SCOPES``, so a call
SendGrid could not make raises the same ``Unsupported`` (with SendGrid's hint) before anything
is sent, and a fleet or script can be rehearsed against that ESP's limits on the sandbox; its
warmups follow SendGrid's published schedule. IP warmup and delivery statistics (with
``record_sends``, which tells the sandbox what was sent) are in ``sandbox_extras``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import Any

import attrs
import platformdirs
import requests

from espkit import providers
from espkit.credentials import HeaderAuth, Secret
from espkit.errors import ConfigError, ConflictingState
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
    Stream,
    StreamKind,
    Subaccount,
)
from espkit.providers import payload as pl
from espkit.providers.base import Provider, remember_auth
from espkit.providers.sandbox_extras import (
    LIKE_SCHEDULES,
    LIKE_STAGE_CHOICE,
    SandboxBase,
    enum_of,
    report_time,
)
from espkit.sandbox import BASE_URL, SCOPE_HEADER, Clock, Emulator, SandboxAdapter
from espkit.transport import (
    DEFAULT_TIMEOUT,
    ErrorDetail,
    RetryPolicy,
    Transport,
    default_error_parser,
)
from espkit.transport.ratelimit import (
    Budget,
    Limiter,
    RateLimiter,
    RetryBudget,
    parse_rate_limit,
    resolve_limiter_url,
    shared_limiter,
)

Json = dict[str, Any]

ENV_DB = "ESPKIT_SANDBOX_DB"
DEFAULT_API_KEY = "sandbox"


def default_path() -> str:
    """``$ESPKIT_SANDBOX_DB``, else ``sandbox.db`` in the user data directory."""
    from_env = os.environ.get(ENV_DB)
    if from_env:
        return from_env
    directory = platformdirs.user_data_dir("espkit", appauthor=False)
    os.makedirs(directory, exist_ok=True)
    return os.path.join(directory, "sandbox.db")


def like_choices() -> list[str]:
    """The provider names ``like=`` accepts: every registered one but the sandbox itself."""
    return [n for n in providers.names() if n != SandboxProvider.name]


@functools.cache
def _like_class(like: str) -> type[SandboxProvider]:
    """The sandbox narrowed to provider ``like``'s capabilities (one class per name, so
    ``type(acct.provider)`` is stable and scoped copies keep the narrowing)."""
    model: type[Provider] = providers.get(like)
    return type(f"SandboxLike{model.__name__}", (SandboxProvider,), {
        "__doc__": f"The sandbox, restricted to what {model.name} supports.",
        "LIKE": model.name,
        "SUPPORTS": SandboxProvider.SUPPORTS & model.SUPPORTS,
        # the model's own hints, word for word: an Unsupported reads as that ESP's would
        "HINTS": dict(model.HINTS),
        "DOMAIN_OPTIONS": SandboxProvider.DOMAIN_OPTIONS & model.DOMAIN_OPTIONS,
        # read from the model class, as declared by its module: never a copy kept here
        "STATS_SCOPES": SandboxProvider.STATS_SCOPES & model.STATS_SCOPES,
        "SEND_TIME_POOLS": model.SEND_TIME_POOLS,
        "WARMUP_SCHEDULE": LIKE_SCHEDULES.get(model.name, SandboxProvider.WARMUP_SCHEDULE),
        "WARMUP_STAGE_CHOICE": model.name in LIKE_STAGE_CHOICE,
    })


class SandboxProvider(SandboxBase):
    name = "sandbox"
    #: every capability any built-in provider has is emulated (``like=`` narrows it)
    SUPPORTS = frozenset(Capability)
    DOMAIN_OPTIONS = frozenset(f.name for f in attrs.fields(DomainSpec)) - {"name"}

    def __init__(self, transport: Transport, emulator: Emulator,
                 subaccount: str | None = None) -> None:
        super().__init__(transport)
        #: the simulated ESP (inject faults, revoke keys, read ``history``)
        self.emulator = emulator
        self.subaccount = subaccount

    @classmethod
    def make_auth(cls, secret: Secret) -> requests.auth.AuthBase:
        return HeaderAuth("Authorization", secret, "Bearer")

    @staticmethod
    def parse_error(response: requests.Response, body: Any) -> ErrorDetail:
        detail = default_error_parser(response, body)
        if detail.code == "conflict":  # a 409 that is not "already exists"
            return attrs.evolve(detail, error_class=ConflictingState)
        return detail

    @classmethod
    def from_options(  # type: ignore[override]  # the sandbox's knobs, not HTTP options
        cls,
        *,
        path: str | None = None,
        latency: float = 0.0,
        rate_limit: float | str | tuple[int, float] | None = None,
        faults: float = 0.0,
        verify_delay: float = 0.0,
        verify_dns: str | None = None,
        seed: int | None = None,
        api_key: str | Secret | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        limiter_url: str | None = None,
        like: str | None = None,
    ) -> SandboxProvider:
        """``path``: SQLite file (default ``default_path()``) or ``":memory:"``. The other
        knobs are ``Emulator``'s. ``api_key``: any key is accepted (default "sandbox").

        ``limiter_url``: a ``redis://`` URL puts the client's rate budget in that Redis
        server, shared with every process using the same sandbox file and key; it runs on
        real time, so it cannot be combined with ``clock``. ``None`` reads
        ``$ESPKIT_LIMITER_URL``, except for an in-memory sandbox (no other process can reach
        it) or one on an injected clock, which keep their own limiter.

        ``like``: a provider name (``"sendgrid"``): behave as that provider's capability set
        (``like_choices()``), raising its ``Unsupported`` and hint for anything else."""
        target = cls if like is None else cls.narrowed(like)
        # requests/second (a smooth rate, as always) or a count per window ("30/6s"), which
        # the emulator then enforces and announces as a window too
        budget = parse_rate_limit(rate_limit)
        if limiter_url is not None and clock is not None:
            raise ConfigError("limiter_url runs on real time; it cannot be combined with clock=")
        store = default_path() if path is None else path
        if limiter_url is None and clock is None and store != ":memory:":
            limiter_url = resolve_limiter_url(None)
        if not isinstance(api_key, Secret):
            # any key will do, but an empty one is as wrong here as anywhere
            api_key = Secret(DEFAULT_API_KEY if api_key is None else api_key)
        emulator = Emulator(
            store, latency=latency, rate_limit=None if isinstance(budget, Budget) else budget,
            faults=faults, verify_delay=verify_delay, verify_dns=verify_dns, seed=seed,
            clock=clock,
        )
        if isinstance(budget, Budget):
            emulator.app.limit_window(budget.count, budget.per)
        session = requests.Session()
        session.trust_env = False  # no proxy or netrc lookups: nothing leaves the process
        session.headers["User-Agent"] = "espkit/0.1"
        session.mount(BASE_URL, SandboxAdapter(emulator))
        sandbox_clock = emulator.clock
        # Not build_transport's process-wide limiter and budget: each emulator is an account
        # of its own (two in-memory sandboxes must not throttle each other), and the limiter
        # and retry sleeps run on the sandbox clock, so with a FakeClock a client waiting
        # out a 429 advances the very clock that refills the emulator's bucket.
        limiter: Limiter
        if limiter_url is None:
            limiter = RateLimiter(budget, clock=sandbox_clock.monotonic,
                                  sleep=sandbox_clock.sleep)
        else:
            # the account is the sandbox file: processes sharing it share its budget
            where = store if store == ":memory:" else os.path.abspath(store)
            limiter = shared_limiter((cls.name, api_key.fingerprint, where), budget,
                                     limiter_url)
        auth = cls.make_auth(api_key)
        transport = Transport(
            cls.name, BASE_URL, auth=auth, timeout=timeout,
            retry=retry or RetryPolicy(), limiter=limiter,
            budget=RetryBudget(), session=session, parse_error=cls.parse_error,
            request_id_headers=cls.REQUEST_ID_HEADERS, sleep=sandbox_clock.sleep,
        )
        remember_auth(session, auth)
        return target(transport, emulator)

    @staticmethod
    def narrowed(like: str) -> type[SandboxProvider]:
        """The sandbox class restricted to provider ``like``'s capabilities (what
        ``from_options(like=...)`` builds); ``ConfigError`` naming the choices for a name
        that is not one of ``like_choices()``."""
        key = like.lower().strip() if isinstance(like, str) else like
        if key not in like_choices():
            raise ConfigError(f"unknown provider {like!r} for like=; choose one of "
                              + ", ".join(repr(n) for n in like_choices()))
        return _like_class(key)

    @property
    def endpoint(self) -> str:
        """Every sandbox answers at the same made-up URL: the account is its state file."""
        path = self.emulator.store.path
        return "sandbox " + (path if path == ":memory:" else os.path.abspath(path))

    def __repr__(self) -> str:
        scope = f", subaccount={self.subaccount!r}" if self.subaccount else ""
        like = f", like={self.LIKE!r}" if self.LIKE else ""
        return f"SandboxProvider({self.emulator.store.path!r}{like}{scope})"

    def on_behalf_of(self, subaccount_id: str) -> SandboxProvider:
        # type(self): a scoped copy of a like= sandbox keeps its narrowing
        return self.run_scoped(type(self)(self.transport.scoped({SCOPE_HEADER: subaccount_id}),
                                          self.emulator, subaccount_id))

    def close(self) -> None:
        # scoped copies share the parent's session and emulator; only the parent closes them
        if self.subaccount is None:
            self.transport.session.close()
            self.emulator.close()

    # -- domains ---------------------------------------------------------------------------

    def _domain(self, d: Any, asked: str | None = None) -> Domain:
        d = pl.need_obj(d, "the answer")
        name = pl.domain(d.get("name"), "name")
        if asked is not None:
            name = pl.named(name, asked, "name")
        records = tuple(
            DnsRecord(enum_of(RecordPurpose, r.get("purpose")), pl.need_str(r.get("type"), "type"),
                      pl.need_str(r.get("host"), "host"), pl.opt_text(r.get("value"), "value"),
                      pl.opt_priority(r.get("priority"), "priority"),
                      enum_of(RecordStatus, r.get("status")), raw=r)
            for r in pl.objects(d.get("records"), "records")
        )
        return Domain(name, self.name, enum_of(DomainState, d.get("state")),
                      id=pl.opt_ident(d.get("id"), "id"), dns_records=records,
                      subaccount=pl.opt_ident(d.get("subaccount"), "subaccount"),
                      created_at=report_time(d.get("created_at")), raw=d)

    def create_domain(self, spec: DomainSpec) -> Domain:
        payload = {k: v for k, v in attrs.asdict(spec).items() if v is not None and v != []}
        return self._call("POST", "/v1/domains", lambda b: self._domain(b, spec.name),
                          json=payload)

    def get_domain(self, name: str) -> Domain:
        return self._call("GET", f"/v1/domains/{self.seg(name)}",
                          lambda b: self._domain(b, name))

    def list_domains(self, page_size: int | None = None) -> Iterator[Domain]:
        return self._pages("/v1/domains", self._domain, page_size)

    def verify_domain(self, name: str) -> Domain:
        return self._call("PUT", f"/v1/domains/{self.seg(name)}/verify",
                          lambda b: self._domain(b, name))

    def delete_domain(self, name: str) -> None:
        self._call("DELETE", f"/v1/domains/{self.seg(name)}", pl.ignored)

    # -- dedicated IPs ---------------------------------------------------------------------

    def _ip(self, d: Any, asked: str | None = None) -> DedicatedIp:
        d = pl.need_obj(d, "the answer")
        address = pl.ip(d.get("address"), "address")
        if asked is not None and address != asked:
            raise pl.Malformed("the answer is about another IP than the one asked for")
        return DedicatedIp(address, self.name, pool=pl.opt_text(d.get("pool"), "pool") or None,
                           warming_up=pl.opt_bool(d.get("warming_up")),
                           rdns=pl.str_or_none(d.get("rdns")),
                           enabled=d.get("enabled") is not False, raw=d)

    def list_ips(self) -> Iterator[DedicatedIp]:
        return self._pages("/v1/ips", self._ip)

    def get_ip(self, address: str) -> DedicatedIp:
        return self._call("GET", f"/v1/ips/{self.seg(address)}", lambda b: self._ip(b, address))

    # -- pools -------------------------------------------------------------------------------

    def _pool(self, d: Any, asked: str | None = None) -> IpPool:
        d = pl.need_obj(d, "the answer")
        name = pl.need_str(d.get("name"), "name")
        if asked is not None and name != asked:
            raise pl.Malformed("the answer is about another pool than the one asked for")
        return IpPool(name, self.name, id=pl.opt_ident(d.get("id"), "id"),
                      ips=tuple(pl.ips(d.get("ips"), "ips")),
                      description=pl.str_or_none(d.get("description")), raw=d)

    def create_pool(
        self, name: str, ips: tuple[str, ...], description: str | None = None
    ) -> IpPool:
        payload: dict[str, Any] = {"name": name, "ips": list(ips)}
        if description is not None:
            payload["description"] = description
        return self._call("POST", "/v1/pools", lambda b: self._pool(b, name), json=payload)

    def list_pools(self) -> Iterator[IpPool]:
        return self._pages("/v1/pools", self._pool)

    def get_pool(self, name: str) -> IpPool:
        return self._call("GET", f"/v1/pools/{self.seg(name)}", lambda b: self._pool(b, name))

    def add_ip_to_pool(self, pool: str, ip: str) -> IpPool:
        path = f"/v1/pools/{self.seg(pool)}/ips/{self.seg(ip)}"
        return self._call("PUT", path, lambda b: self._pool(b, pool))

    def remove_ip_from_pool(self, pool: str, ip: str) -> IpPool:
        path = f"/v1/pools/{self.seg(pool)}/ips/{self.seg(ip)}"
        return self._call("DELETE", path, lambda b: self._pool(b, pool))

    def delete_pool(self, name: str, replacement: str | None = None) -> None:
        params = {"replacement": replacement} if replacement is not None else None
        self._call("DELETE", f"/v1/pools/{self.seg(name)}", pl.ignored, params=params)

    # -- assignments -----------------------------------------------------------------------

    def _assignment(self, d: Json, domain: str) -> Assignment:
        if not pl.same_domain(pl.domain(d.get("domain"), "domain"), domain):
            raise pl.Malformed("the answer is about another domain than the one asked for")
        return Assignment(domain, enum_of(AssignmentKind, d.get("kind")),
                          pl.need_str(d.get("target"), "target"), self.name, raw=d)

    def _assignment_path(self, domain: str, kind: AssignmentKind, target: str) -> str:
        return f"/v1/domains/{self.seg(domain)}/assignments/{kind.value}/{self.seg(target)}"

    def assign(self, domain: str, kind: AssignmentKind, target: str) -> Assignment:
        return self._call("PUT", self._assignment_path(domain, kind, target),
                          lambda b: self._assignment(pl.need_obj(b, "the answer"), domain))

    def unassign(
        self, domain: str, kind: AssignmentKind, target: str, replacement: str | None = None
    ) -> None:
        params = {"replacement": replacement} if replacement is not None else None
        self._call("DELETE", self._assignment_path(domain, kind, target), pl.ignored,
                   params=params)

    def list_assignments(self, domain: str) -> list[Assignment]:
        return self._call("GET", f"/v1/domains/{self.seg(domain)}/assignments", lambda b: [
            self._assignment(d, domain) for d in pl.objects(
                pl.need_obj(b, "the answer").get("items"), "items", required=True)])

    # -- subaccounts -----------------------------------------------------------------------

    def _subaccount(self, d: Any, asked: str | None = None) -> Subaccount:
        d = pl.need_obj(d, "the answer")
        ident = pl.ident(d.get("id"), "id")
        if asked is not None and ident != asked:
            raise pl.Malformed("the answer is about another subaccount than the one asked for")
        return Subaccount(ident, pl.opt_text(d.get("name"), "name"), self.name,
                          enabled=d.get("enabled") is not False,
                          created_at=report_time(d.get("created_at")), raw=d)

    def create_subaccount(self, name: str) -> Subaccount:
        return self._call("POST", "/v1/subaccounts", self._subaccount, json={"name": name})

    def list_subaccounts(self) -> Iterator[Subaccount]:
        return self._pages("/v1/subaccounts", self._subaccount)

    def get_subaccount(self, subaccount_id: str) -> Subaccount:
        return self._call("GET", f"/v1/subaccounts/{self.seg(subaccount_id)}",
                          lambda b: self._subaccount(b, subaccount_id))

    def set_subaccount_enabled(self, subaccount_id: str, enabled: bool) -> Subaccount:
        return self._call("PUT", f"/v1/subaccounts/{self.seg(subaccount_id)}/status",
                          lambda b: self._subaccount(b, subaccount_id),
                          json={"enabled": enabled})

    def assign_subaccount_pool(self, subaccount_id: str, pool: str) -> Assignment:
        def decode(body: Any) -> Assignment:
            body = pl.need_obj(body, "the answer")
            if pl.ident(body.get("subaccount"), "subaccount") != subaccount_id:
                raise pl.Malformed("the answer is about another subaccount than the one asked")
            if pl.need_str(body.get("target"), "target") != pool:
                raise pl.Malformed("the answer names another pool than the one asked for")
            return Assignment("", enum_of(AssignmentKind, body.get("kind")), pool, self.name,
                              raw=body)

        path = f"/v1/subaccounts/{self.seg(subaccount_id)}/pool/{self.seg(pool)}"
        return self._call("PUT", path, decode)

    # -- message streams ---------------------------------------------------------------------

    def _stream(self, d: Any, asked: str | None = None) -> Stream:
        d = pl.need_obj(d, "the answer")
        ident = pl.need_str(d.get("id"), "id")
        if asked is not None and ident != asked:
            raise pl.Malformed("the answer is about another stream than the one asked for")
        return Stream(ident, pl.need_str(d.get("name"), "name"),
                      enum_of(StreamKind, d.get("kind")), self.name,
                      subaccount=pl.opt_ident(d.get("subaccount"), "subaccount"), raw=d)

    def list_streams(self) -> Iterator[Stream]:
        return self._pages("/v1/streams", self._stream)

    def create_stream(self, stream_id: str, name: str, kind: StreamKind) -> Stream:
        return self._call("POST", "/v1/streams", lambda b: self._stream(b, stream_id),
                          json={"id": stream_id, "name": name, "kind": kind.value})

    def get_stream(self, stream_id: str) -> Stream:
        return self._call("GET", f"/v1/streams/{self.seg(stream_id)}",
                          lambda b: self._stream(b, stream_id))


__all__ = ["SandboxProvider", "default_path", "like_choices"]
