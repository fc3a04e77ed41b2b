"""Every provider's ``SUPPORTS`` held against what its methods really do.

One parametrized test over every registered provider (and the sandbox narrowed ``like=`` each
of them) and every ``Capability``, run against that provider's wire-level fake
(``support.fakes``). A declared capability must work: its account-level call reaches the
fake and raises no ``Unsupported``. An undeclared one must raise ``Unsupported`` with a hint
saying what to do instead, before any request is sent (counted at the fake).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from support.fakes import all_fakes
from support.fakes.base import EspFake, WireFake
from support.fakes.sandbox import VERIFY_DELAY, SandboxFake

import espkit
from espkit import Capability, StatsScope
from espkit.sandbox import FakeClock
from espkit.sandbox.store import SEED_IPS

DOMAIN = "news.acme.example"
POOL = "marketing"
SUB = "customer-1"
PLACEHOLDER_SUB = "sub-1"  # where the provider cannot make one: the call is refused first


class LikeFake(SandboxFake):
    """The sandbox opened with ``like=<provider>``, in the shape of the other fakes."""

    like = ""

    def __enter__(self) -> LikeFake:
        self.clock = FakeClock()
        self.acct = espkit.connect("sandbox", path=":memory:", clock=self.clock,
                                   verify_delay=VERIFY_DELAY, like=self.like)
        self.emulator = self.acct.provider.emulator  # type: ignore[attr-defined]
        # not through acct.ips: a like= sandbox may not list IPs (like="postmark")
        self.ips = tuple(ip for ip in SEED_IPS if ":" not in ip)
        return self


def _like(name: str) -> type[EspFake]:
    return type(f"LikeFake_{name}", (LikeFake,), {"like": name})


FAKES: dict[str, type[EspFake]] = dict(all_fakes())
PROVIDERS = [p for p in FAKES if p != "sandbox"]
FAKES.update({f"sandbox-like-{p}": _like(p) for p in PROVIDERS})


def requests_seen(fake: EspFake) -> int:
    """Every request that reached the fake so far."""
    if isinstance(fake, WireFake):
        return len(fake.log)
    assert isinstance(fake, SandboxFake)
    return len(fake.emulator.history)


@dataclass
class Ctx:
    acct: espkit.Account
    ip: str
    sub: str = PLACEHOLDER_SUB


def _streams_home(c: Ctx) -> espkit.Account:
    # Postmark's streams belong to a server (its subaccount); everywhere that can scope,
    # streams are exercised inside a subaccount
    if c.acct.supports(Capability.SUBACCOUNT_SCOPE) and c.sub != PLACEHOLDER_SUB:
        return c.acct.on_behalf_of(c.sub)
    return c.acct


def _streams(c: Ctx) -> None:
    home = _streams_home(c)
    home.streams.create("newsletters", kind="broadcast")
    assert home.streams.get("newsletters").id == "newsletters"
    assert "newsletters" in {s.id for s in home.streams.list()}


def _domains(c: Ctx) -> None:
    c.acct.domains.create("other.acme.example")
    assert c.acct.domains.get("other.acme.example").name == "other.acme.example"


def _dns_records(c: Ctx) -> None:
    assert c.acct.domains.get(DOMAIN).dns_records


def _subaccounts(c: Ctx) -> None:
    made = c.acct.subaccounts.create("customer-2")
    assert made.id in {s.id for s in c.acct.subaccounts.list()}


def _disable(c: Ctx) -> None:
    assert not c.acct.subaccounts.disable(c.sub).enabled
    assert c.acct.subaccounts.enable(c.sub).enabled


def _warmup(c: Ctx) -> None:
    started = c.acct.ips.start_warmup(c.ip)
    assert started.ip == c.ip
    assert c.acct.ips.warmup_status(c.ip).ip == c.ip
    c.acct.ips.stop_warmup(c.ip)


def _stats(c: Ctx) -> None:
    scopes = c.acct.provider.STATS_SCOPES
    since, until = datetime.date(2026, 12, 1), datetime.date(2026, 12, 3)
    if StatsScope.ACCOUNT in scopes or not scopes:  # undeclared: refused before the scope
        c.acct.stats.delivery(since, until)
    else:
        c.acct.stats.delivery(since, until, domain=DOMAIN)


#: each capability's account-level call, and what it needs made first (when declared)
CALLS: dict[Capability, tuple[Callable[[Ctx], object], frozenset[str]]] = {
    Capability.DOMAINS: (_domains, frozenset()),
    Capability.DOMAIN_VERIFY: (lambda c: c.acct.domains.verify(DOMAIN), frozenset({"domain"})),
    Capability.DOMAIN_DNS_RECORDS: (_dns_records, frozenset({"domain"})),
    Capability.DEDICATED_IPS: (lambda c: list(c.acct.ips.list()), frozenset()),
    Capability.IP_POOLS: (lambda c: c.acct.pools.create(POOL, ips=[c.ip]), frozenset()),
    Capability.ASSIGN_DOMAIN_IP: (lambda c: c.acct.domains.assign(DOMAIN, ip=c.ip),
                                  frozenset({"domain"})),
    Capability.ASSIGN_DOMAIN_POOL: (lambda c: c.acct.domains.assign(DOMAIN, pool=POOL),
                                    frozenset({"domain", "pool"})),
    Capability.SUBACCOUNTS: (_subaccounts, frozenset()),
    Capability.SUBACCOUNT_SCOPE: (lambda c: list(c.acct.on_behalf_of(c.sub).domains.list()),
                                  frozenset({"sub"})),
    Capability.SUBACCOUNT_DISABLE: (_disable, frozenset({"sub"})),
    Capability.ASSIGN_SUBACCOUNT_POOL: (lambda c: c.acct.subaccounts.assign(c.sub, pool=POOL),
                                        frozenset({"sub", "pool"})),
    Capability.STREAMS: (_streams, frozenset({"sub"})),
    Capability.IP_WARMUP: (_warmup, frozenset()),
    Capability.DELIVERY_STATS: (_stats, frozenset({"domain"})),
}


#: declared capabilities whose requests the fake has no route for yet (tests/support/fakes is
#: shared): the provider must still send them (no Unsupported), and the fake answers "no
#: route". Strict: once the fake learns the route, the entry must go.
FAKE_GAPS: set[tuple[str, Capability]] = set()


def test_every_capability_has_a_call() -> None:
    assert set(CALLS) == set(Capability)
    assert set(PROVIDERS) == set(espkit.providers.names()) - {"sandbox"}


@pytest.fixture(params=list(FAKES))
def fake(request: pytest.FixtureRequest, sleeps: list[float]) -> Iterator[EspFake]:
    with FAKES[request.param]() as f:
        yield f


def _prepare(acct: espkit.Account, fake: EspFake, needs: frozenset[str]) -> Ctx:
    """Make what the call needs, where the provider can make it."""
    ctx = Ctx(acct, fake.ips[0] if fake.ips else "198.51.100.1")
    if "domain" in needs:
        acct.domains.create(DOMAIN)
    if "pool" in needs and acct.supports(Capability.IP_POOLS):
        acct.pools.create(POOL, ips=[ctx.ip])
    if "sub" in needs and acct.supports(Capability.SUBACCOUNTS):
        ctx.sub = acct.subaccounts.create(SUB).id
    return ctx


@pytest.mark.parametrize("capability", list(Capability), ids=str)
def test_supports_matches_behaviour(fake: EspFake, capability: Capability) -> None:
    acct = fake.connect()
    call, needs = CALLS[capability]
    declared = acct.supports(capability)
    assert declared == (capability in acct.capabilities)
    if isinstance(fake, LikeFake):  # narrowed to exactly the model's set
        assert declared == (capability in espkit.providers.get(fake.like).SUPPORTS)
    if (fake.provider, capability) in FAKE_GAPS:
        assert declared
        before = requests_seen(fake)
        with pytest.raises(espkit.NotFound, match="no route"):
            call(_prepare(acct, fake, needs))
        assert requests_seen(fake) > before
        return
    ctx = _prepare(acct, fake, needs if declared else frozenset())
    before = requests_seen(fake)
    if declared:
        call(ctx)  # any Unsupported (or other error) fails the test
        assert requests_seen(fake) > before, "a declared capability must reach the ESP"
    else:
        with pytest.raises(espkit.Unsupported) as info:
            call(ctx)
        assert info.value.capability == str(capability)
        assert info.value.hint.strip(), f"{fake.provider} gives no hint for {capability}"
        if isinstance(fake, LikeFake):  # the model's own hint, as the real ESP would give
            assert info.value.hint == espkit.providers.get(fake.like).HINTS[capability]
        assert requests_seen(fake) == before, "refused, yet a request was sent"
