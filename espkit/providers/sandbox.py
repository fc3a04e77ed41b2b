"""The sandbox provider: espkit's client for the embedded sandbox ESP (``espkit.sandbox``).

It is an ordinary ``HttpProvider``: requests go through ``Transport`` (limiter, retries,
``Retry-After``, error mapping) and the managers' safe creates, and only at the bottom does a
``SandboxAdapter`` hand them to the in-process emulator instead of a socket.

    acct = espkit.connect("sandbox")                       # state kept in the user data dir
    acct = espkit.connect("sandbox", path=":memory:", rate_limit=5, faults=0.05, seed=1)
    acct.provider.emulator.inject("timeout_after_commit", method="POST", path="/v1/domains")
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import attrs
import platformdirs
import requests

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
    Subaccount,
)
from espkit.providers.base import HttpProvider
from espkit.sandbox import BASE_URL, MAX_PAGE, SCOPE_HEADER, Clock, Emulator, SandboxAdapter
from espkit.transport import (
    DEFAULT_TIMEOUT,
    ErrorDetail,
    RetryPolicy,
    Transport,
    default_error_parser,
)
from espkit.transport.ratelimit import (
    Limiter,
    RateLimiter,
    RetryBudget,
    resolve_limiter_url,
    shared_limiter,
)

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


class SandboxProvider(HttpProvider):
    name = "sandbox"
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
        rate_limit: float | None = None,
        faults: float = 0.0,
        verify_delay: float = 0.0,
        verify_dns: str | None = None,
        seed: int | None = None,
        api_key: str | Secret | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        limiter_url: str | None = None,
    ) -> SandboxProvider:
        """``path``: SQLite file (default ``default_path()``) or ``":memory:"``. The other
        knobs are ``Emulator``'s. ``api_key``: any key is accepted (default "sandbox").

        ``limiter_url``: a ``redis://`` URL puts the client's rate budget in that Redis
        server, shared with every process using the same sandbox file and key; it runs on
        real time, so it cannot be combined with ``clock``. ``None`` reads
        ``$ESPKIT_LIMITER_URL``, except for an in-memory sandbox (no other process can reach
        it) or one on an injected clock, which keep their own limiter."""
        if limiter_url is not None and clock is not None:
            raise ConfigError("limiter_url runs on real time; it cannot be combined with clock=")
        store = default_path() if path is None else path
        if limiter_url is None and clock is None and store != ":memory:":
            limiter_url = resolve_limiter_url(None)
        if not isinstance(api_key, Secret):
            # any key will do, but an empty one is as wrong here as anywhere
            api_key = Secret(DEFAULT_API_KEY if api_key is None else api_key)
        emulator = Emulator(
            store, latency=latency, rate_limit=rate_limit,
            faults=faults, verify_delay=verify_delay, verify_dns=verify_dns, seed=seed,
            clock=clock,
        )
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
            limiter = RateLimiter(rate_limit, clock=sandbox_clock.monotonic,
                                  sleep=sandbox_clock.sleep)
        else:
            # the account is the sandbox file: processes sharing it share its budget
            where = store if store == ":memory:" else os.path.abspath(store)
            limiter = shared_limiter((cls.name, api_key.fingerprint, where), rate_limit,
                                     limiter_url)
        transport = Transport(
            cls.name, BASE_URL, auth=cls.make_auth(api_key), timeout=timeout,
            retry=retry or RetryPolicy(), limiter=limiter,
            budget=RetryBudget(), session=session, parse_error=cls.parse_error,
            request_id_headers=cls.REQUEST_ID_HEADERS, sleep=sandbox_clock.sleep,
        )
        return cls(transport, emulator)

    def __repr__(self) -> str:
        scope = f", subaccount={self.subaccount!r}" if self.subaccount else ""
        return f"SandboxProvider({self.emulator.store.path!r}{scope})"

    def on_behalf_of(self, subaccount_id: str) -> SandboxProvider:
        return SandboxProvider(self.transport.scoped({SCOPE_HEADER: subaccount_id}),
                               self.emulator, subaccount_id)

    def close(self) -> None:
        # scoped copies share the parent's session and emulator; only the parent closes them
        if self.subaccount is None:
            self.transport.session.close()
            self.emulator.close()

    def _get(self, path: str, **params: Any) -> Any:
        return self.transport.request("GET", path, params=params or None).body

    def _pages(self, path: str, page_size: int | None = None) -> Iterator[Any]:
        params: dict[str, Any] = {"limit": min(page_size or MAX_PAGE, MAX_PAGE)}
        while True:
            body = self._get(path, **params)
            yield from body["items"]
            if not body.get("next_cursor"):
                return
            params["cursor"] = body["next_cursor"]

    # -- domains ---------------------------------------------------------------------------

    def _domain(self, d: Mapping[str, Any]) -> Domain:
        records = tuple(
            DnsRecord(RecordPurpose(r["purpose"]), r["type"], r["host"], r["value"],
                      r["priority"], RecordStatus(r["status"]), raw=r)
            for r in d["records"]
        )
        return Domain(d["name"], self.name, DomainState(d["state"]), id=d["id"],
                      dns_records=records, subaccount=d["subaccount"],
                      created_at=datetime.fromisoformat(d["created_at"]), raw=d)

    def create_domain(self, spec: DomainSpec) -> Domain:
        payload = {k: v for k, v in attrs.asdict(spec).items() if v is not None and v != []}
        return self._domain(self.transport.request("POST", "/v1/domains", json=payload).body)

    def get_domain(self, name: str) -> Domain:
        return self._domain(self._get(f"/v1/domains/{self.seg(name)}"))

    def list_domains(self, page_size: int | None = None) -> Iterator[Domain]:
        return (self._domain(d) for d in self._pages("/v1/domains", page_size))

    def verify_domain(self, name: str) -> Domain:
        path = f"/v1/domains/{self.seg(name)}/verify"
        return self._domain(self.transport.request("PUT", path).body)

    def delete_domain(self, name: str) -> None:
        self.transport.request("DELETE", f"/v1/domains/{self.seg(name)}")

    # -- dedicated IPs ---------------------------------------------------------------------

    def _ip(self, d: Mapping[str, Any]) -> DedicatedIp:
        return DedicatedIp(d["address"], self.name, pool=d["pool"], warming_up=d["warming_up"],
                           rdns=d["rdns"], enabled=d["enabled"], raw=d)

    def list_ips(self) -> Iterator[DedicatedIp]:
        return (self._ip(d) for d in self._pages("/v1/ips"))

    def get_ip(self, address: str) -> DedicatedIp:
        return self._ip(self._get(f"/v1/ips/{self.seg(address)}"))

    # -- pools -------------------------------------------------------------------------------

    def _pool(self, d: Mapping[str, Any]) -> IpPool:
        return IpPool(d["name"], self.name, id=d["id"], ips=tuple(d["ips"]),
                      description=d["description"], raw=d)

    def create_pool(
        self, name: str, ips: tuple[str, ...], description: str | None = None
    ) -> IpPool:
        payload: dict[str, Any] = {"name": name, "ips": list(ips)}
        if description is not None:
            payload["description"] = description
        return self._pool(self.transport.request("POST", "/v1/pools", json=payload).body)

    def list_pools(self) -> Iterator[IpPool]:
        return (self._pool(d) for d in self._pages("/v1/pools"))

    def get_pool(self, name: str) -> IpPool:
        return self._pool(self._get(f"/v1/pools/{self.seg(name)}"))

    def add_ip_to_pool(self, pool: str, ip: str) -> IpPool:
        path = f"/v1/pools/{self.seg(pool)}/ips/{self.seg(ip)}"
        return self._pool(self.transport.request("PUT", path).body)

    def remove_ip_from_pool(self, pool: str, ip: str) -> IpPool:
        path = f"/v1/pools/{self.seg(pool)}/ips/{self.seg(ip)}"
        return self._pool(self.transport.request("DELETE", path).body)

    def delete_pool(self, name: str, replacement: str | None = None) -> None:
        params = {"replacement": replacement} if replacement is not None else None
        self.transport.request("DELETE", f"/v1/pools/{self.seg(name)}", params=params)

    # -- assignments -----------------------------------------------------------------------

    def _assignment(self, d: Mapping[str, Any]) -> Assignment:
        return Assignment(d["domain"], AssignmentKind(d["kind"]), d["target"], self.name,
                          raw=d)

    def _assignment_path(self, domain: str, kind: AssignmentKind, target: str) -> str:
        return f"/v1/domains/{self.seg(domain)}/assignments/{kind.value}/{self.seg(target)}"

    def assign(self, domain: str, kind: AssignmentKind, target: str) -> Assignment:
        path = self._assignment_path(domain, kind, target)
        return self._assignment(self.transport.request("PUT", path).body)

    def unassign(
        self, domain: str, kind: AssignmentKind, target: str, replacement: str | None = None
    ) -> None:
        params = {"replacement": replacement} if replacement is not None else None
        self.transport.request("DELETE", self._assignment_path(domain, kind, target),
                               params=params)

    def list_assignments(self, domain: str) -> list[Assignment]:
        body = self._get(f"/v1/domains/{self.seg(domain)}/assignments")
        return [self._assignment(d) for d in body["items"]]

    # -- subaccounts -----------------------------------------------------------------------

    def _subaccount(self, d: Mapping[str, Any]) -> Subaccount:
        return Subaccount(d["id"], d["name"], self.name, enabled=d["enabled"],
                          created_at=datetime.fromisoformat(d["created_at"]), raw=d)

    def create_subaccount(self, name: str) -> Subaccount:
        body = self.transport.request("POST", "/v1/subaccounts", json={"name": name}).body
        return self._subaccount(body)

    def list_subaccounts(self) -> Iterator[Subaccount]:
        return (self._subaccount(d) for d in self._pages("/v1/subaccounts"))

    def get_subaccount(self, subaccount_id: str) -> Subaccount:
        return self._subaccount(self._get(f"/v1/subaccounts/{self.seg(subaccount_id)}"))

    def set_subaccount_enabled(self, subaccount_id: str, enabled: bool) -> Subaccount:
        path = f"/v1/subaccounts/{self.seg(subaccount_id)}/status"
        return self._subaccount(
            self.transport.request("PUT", path, json={"enabled": enabled}).body)


__all__ = ["SandboxProvider", "default_path"]
