"""The sandbox ESP as a whole: state, API, and the simulated network in front of them.

Knobs (all off by default):

* ``latency``: seconds each exchange takes (on the sandbox clock).
* ``rate_limit``: requests/second the API enforces (token bucket, 429 + ``Retry-After``).
* ``faults``: probability that an exchange fails before the API acts: a 503, a refused
  connection or a reset; drawn from ``random.Random(seed)`` so a run is reproducible (in
  request order; threads make the order itself vary).
* ``verify_delay``: seconds after creation before verification succeeds (DNS propagation).
* ``verify_dns``: a nameserver (``IP[:PORT]``) to look the records up at when asked to
  verify, as a real ESP does in public DNS: a domain verifies once every record is
  published there, and each record reports valid or invalid (replaces ``verify_delay``).

For tests, ``inject`` makes chosen requests fail in a chosen way, exactly ``times`` times::

    emulator.inject("timeout_after_commit", method="POST", path="/v1/domains")

and ``record_sends`` tells the sandbox what was sent (it sends nothing itself), for its
delivery statistics and its simulated IP warmup::

    emulator.record_sends("news.acme.example", 1000, at=date(2026, 1, 2), ip="198.51.100.1",
                          bounced_hard=12, rates={"complained": 0.001})

Fault kinds: ``503`` and ``429`` are answers given without acting; ``refused`` never reaches
the server (safe to re-send); ``reset`` and ``timeout`` lose the request in flight before the
server acts, but the client cannot know that; ``timeout_after_commit`` and
``reset_after_commit`` lose the answer *after* the server acted. No fault sleeps for real
(a timeout is raised at once).
"""

from __future__ import annotations

import collections
import fnmatch
import random
import threading
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import attrs

from espkit.errors import ConfigError
from espkit.sandbox.app import App, Reply, TokenBucket
from espkit.sandbox.clock import Clock, SystemClock
from espkit.sandbox.store import Store

FAULT_KINDS = frozenset({
    "503", "429", "refused", "reset", "timeout", "timeout_after_commit", "reset_after_commit",
})
#: what ``faults=`` draws from: failures before the server acts, as real networks mostly have
RANDOM_FAULTS = ("503", "refused", "reset")
_BEFORE_SERVER = frozenset({"refused", "reset", "timeout"})
_AFTER_COMMIT = frozenset({"timeout_after_commit", "reset_after_commit"})


class NetworkFault(Exception):
    """The exchange failed in the network; ``kind`` is one of ``FAULT_KINDS``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(kind)


@attrs.define
class _Rule:
    kind: str
    method: str | None
    path: str | None
    times: int

    def matches(self, method: str, path: str) -> bool:
        return ((self.method is None or self.method == method)
                and (self.path is None or fnmatch.fnmatchcase(path, self.path)))


class Emulator:
    def __init__(
        self,
        path: str = ":memory:",
        *,
        latency: float = 0.0,
        rate_limit: float | None = None,
        faults: float = 0.0,
        verify_delay: float = 0.0,
        verify_dns: str | None = None,
        seed: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        # all knobs checked before the store is opened, so a bad one leaks no file handle
        _check("latency", latency, minimum=0.0)
        _check("faults", faults, minimum=0.0, maximum=1.0)
        _check("verify_delay", verify_delay, minimum=0.0)
        if rate_limit is not None:
            _check("rate_limit", rate_limit, minimum=1e-3)
        self.clock: Clock = clock or SystemClock()
        self.store = Store(path)
        self.app = App(self.store, self.clock, rate_limit=rate_limit,
                       verify_delay=verify_delay, verify_dns=verify_dns)
        self.latency = latency
        self.faults = faults
        self._rng = random.Random(seed)  # noqa: S311 - simulation, not cryptography
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self.closed = False
        #: (method, path, status or fault kind) of recent exchanges, oldest first
        self.history: collections.deque[tuple[str, str, int | str]] = collections.deque(
            maxlen=10_000)

    def __repr__(self) -> str:
        return f"Emulator({self.store.path!r})"

    @property
    def rate_limit(self) -> float | None:
        """The enforced limit. Settable, e.g. to play "the ESP lowered our limit" against a
        client that started at the old one."""
        return self.app.bucket.rate if self.app.bucket else None

    @rate_limit.setter
    def rate_limit(self, rate: float | None) -> None:
        if rate is not None:
            _check("rate_limit", rate, minimum=1e-3)
        self.app.bucket = TokenBucket(rate, self.clock) if rate else None

    @property
    def verify_delay(self) -> float:
        return self.app.verify_delay

    @verify_delay.setter
    def verify_delay(self, seconds: float) -> None:
        _check("verify_delay", seconds, minimum=0.0)
        self.app.verify_delay = seconds

    def inject(self, kind: str, *, method: str | None = None, path: str | None = None,
               times: int = 1) -> None:
        """Fail the next ``times`` requests matching ``method`` and ``path`` (a glob such as
        ``/v1/domains/*``; None matches any) with fault ``kind``."""
        if kind not in FAULT_KINDS:
            raise ConfigError(f"unknown fault {kind!r}; choose from {sorted(FAULT_KINDS)}")
        if times < 1:
            raise ConfigError(f"times must be at least 1, got {times!r}")
        with self._lock:
            self._rules.append(_Rule(kind, method and method.upper(), path, times))

    def clear_faults(self) -> None:
        """Drop every injected fault not yet used ("the outage is over")."""
        with self._lock:
            self._rules.clear()

    def revoke_key(self, api_key: str) -> None:
        """Answer 401 to requests made with ``api_key`` from now on."""
        self.app.revoked.add(api_key)

    def record_sends(
        self,
        domain: str,
        sent: int,
        *,
        at: date | datetime | str | None = None,
        ip: str | None = None,
        pool: str | None = None,
        subaccount: str | None = None,
        delivered: int | None = None,
        bounced_hard: int | None = None,
        bounced_soft: int | None = None,
        complained: int | None = None,
        deferred: int | None = None,
        rates: Mapping[str, float] | None = None,
    ) -> dict[str, Any]:
        """Record that ``domain`` (a domain of this sandbox) sent ``sent`` messages ``at`` a
        day (counted at its 00:00 UTC), a zone-aware time, or now (None) on the sandbox
        clock, never later than now; through dedicated IP ``ip`` (None: the shared IPs) and
        ``pool`` (default: the pool ``ip`` is in). ``subaccount``, if given, must be the
        domain's account. Figures are counts, or shares of ``sent`` in ``rates``
        (``{"bounced_hard": 0.02}``); bounces, complaints and deferrals default to 0 and
        ``delivered`` to what did not bounce (``sends.figures`` has the rules).

        Nothing goes through the API, so no request is counted. A record on an IP makes its
        day a day of traffic for the IP's warmup. Returns what was recorded; a mistake is a
        ``ValidationError`` naming it, and nothing is recorded."""
        if self.closed:
            raise ConfigError(f"{self!r} is closed; connect again")
        return self.app.sends.record(
            domain, sent, at=at, ip=ip, pool=pool, subaccount=subaccount, delivered=delivered,
            bounced_hard=bounced_hard, bounced_soft=bounced_soft, complained=complained,
            deferred=deferred, rates=rates)

    def close(self) -> None:
        self.closed = True
        self.store.close()

    def _fault(self, method: str, path: str) -> str:
        """The fault this exchange suffers, or "" for none."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.times -= 1
                    if not rule.times:
                        self._rules.remove(rule)
                    return rule.kind
            if self.faults and self._rng.random() < self.faults:
                return self._rng.choice(RANDOM_FAULTS)
        return ""

    def exchange(self, method: str, path: str, query: str, headers: Mapping[str, str],
                 body: bytes | None) -> Reply:
        """One request through the simulated network; raises ``NetworkFault`` where a real
        client would see a connection error or timeout."""
        if self.closed:
            # a plain error, not a network fault: retrying cannot help
            raise ConfigError(f"{self!r} is closed; connect again")
        method = method.upper()
        fault = self._fault(method, path)
        if self.latency and fault != "refused":  # a refused connection fails at once
            self.clock.sleep(self.latency)
        if fault in _BEFORE_SERVER:
            self.history.append((method, path, fault))
            raise NetworkFault(fault)
        if fault == "503":
            reply = self.app.unavailable()
        elif fault == "429":
            reply = self.app.throttled()
        else:
            reply = self.app.handle(method, path, query, headers, body)
        self.history.append((method, path, reply.status))
        if fault in _AFTER_COMMIT:
            raise NetworkFault(fault)
        return reply


def _check(name: str, value: float, *, minimum: float, maximum: float | None = None) -> None:
    if (not isinstance(value, (int, float)) or isinstance(value, bool) or value < minimum
            or (maximum is not None and value > maximum)):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ConfigError(f"{name} must be a number {bound}, got {value!r}")
