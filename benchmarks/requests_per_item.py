"""Requests per item, per provider and operation, counted on the wire-level fakes.

On a rate-limited account the budget sets the pace, so every extra request per item is time.
Each operation runs over N items through the public API (the bulk engine for bulk work,
``acct.domains`` for single calls) against the stateful fake of each ESP that the provider
suite uses (``tests/support/fakes``: ``responses`` for HTTP ESPs, moto for SES), and the fake's
request log is counted: requests the operation sent ÷ N, next to the fewest the ESP's API
allows (the floor, with where it comes from in ``FLOORS``).

    python benchmarks/requests_per_item.py [N=50] [--provider mailgun] [--op create]

Set-up requests (making the pool the items are created into, say) are not counted; a
constant per run (one listing of pools, say) is, divided by N like the rest.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.fakes import all_fakes  # noqa: E402
from support.fakes.base import EspFake  # noqa: E402

import espkit  # noqa: E402
from espkit.bulk import Bulk  # noqa: E402
from espkit.models import Capability  # noqa: E402

POOL = "bench-pool"


def names(n: int) -> list[str]:
    return [f"d{i:05d}.bench.example.com" for i in range(n)]


class Case:
    """One operation: ``setup`` (not counted) then ``run`` (counted) over N items."""

    def __init__(self, needs: Capability | None,
                 setup: Callable[[espkit.Account, EspFake, list[str]], Any],
                 run: Callable[[espkit.Account, EspFake, list[str], Any], Any]) -> None:
        self.needs, self.setup, self.run = needs, setup, run


def _nothing(acct: espkit.Account, fake: EspFake, items: list[str]) -> None:
    return None


def _created(acct: espkit.Account, fake: EspFake, items: list[str]) -> None:
    report = Bulk(acct, journal=None).create_domains(items)
    assert report.ok, report


def _pool(acct: espkit.Account, fake: EspFake, items: list[str]) -> None:
    acct.pools.create(POOL, ips=list(fake.ips[:1]))


def _pool_and_domains(acct: espkit.Account, fake: EspFake, items: list[str]) -> None:
    _pool(acct, fake, items)
    _created(acct, fake, items)


def _published(acct: espkit.Account, fake: EspFake, items: list[str]) -> None:
    _created(acct, fake, items)
    for name in items:
        fake.publish_dns(name)


def _bulk(method: str, **kw: Any) -> Callable[[espkit.Account, EspFake, list[str], Any], Any]:
    def run(acct: espkit.Account, fake: EspFake, items: list[str], _: Any) -> Any:
        report = getattr(Bulk(acct, journal=None), method)(items, **kw)
        if not report.ok:
            raise RuntimeError(f"{method} failed: {report.failed[:1]}")
        return report
    return run


def _with_pool(acct: espkit.Account, fake: EspFake, items: list[str], _: Any) -> Any:
    report = Bulk(acct, journal=None).create_domains([{"name": n, "pool": POOL} for n in items])
    if not report.ok:
        raise RuntimeError(f"create with pool failed: {report.failed[:1]}")


def _assign_ip(acct: espkit.Account, fake: EspFake, items: list[str], _: Any) -> Any:
    return _bulk("assign", ip=fake.ips[0])(acct, fake, items, _)


def _gets(acct: espkit.Account, fake: EspFake, items: list[str], _: Any) -> None:
    for name in items:
        acct.domains.get(name)


def _listing(acct: espkit.Account, fake: EspFake, items: list[str], _: Any) -> None:
    listed = sum(1 for _ in acct.domains.list())
    assert listed >= len(items), listed


def _subaccounts(acct: espkit.Account, fake: EspFake, items: list[str], _: Any) -> None:
    for i in range(len(items)):
        acct.subaccounts.create(f"bench-sub-{i:04d}")


CASES: dict[str, Case] = {
    "create": Case(Capability.DOMAINS, _nothing, _bulk("create_domains")),
    "create with pool": Case(Capability.ASSIGN_DOMAIN_POOL, _pool, _with_pool),
    "assign pool": Case(Capability.ASSIGN_DOMAIN_POOL, _pool_and_domains,
                        _bulk("assign", pool=POOL)),
    "assign ip": Case(Capability.ASSIGN_DOMAIN_IP, _created, _assign_ip),
    "verify": Case(Capability.DOMAINS, _published, _bulk("verify_domains")),
    "get": Case(Capability.DOMAINS, _created, _gets),
    "delete": Case(Capability.DOMAINS, _created, _bulk("delete_domains")),
    "list": Case(Capability.DOMAINS, _created, _listing),
    "subaccount create": Case(Capability.SUBACCOUNTS, _nothing, _subaccounts),
}

#: the fewest requests per item each ESP's API allows, and why (see benchmarks/README.md)
FLOORS: dict[str, float] = {
    "create": 1, "create with pool": 1, "assign pool": 1, "assign ip": 1, "verify": 1,
    "get": 1, "delete": 1, "list": 0, "subaccount create": 1,
}


def measure(fake_cls: type[EspFake], case: Case, n: int) -> tuple[float | None, str]:
    """Requests per item, or None with the reason the case does not apply."""
    with fake_cls() as fake:
        acct = fake.connect()
        if case.needs is not None and not acct.supports(case.needs):
            return None, "not supported"
        items = names(n)
        state = case.setup(acct, fake, items)
        log: list[Any] = getattr(fake, "log", [])
        before = len(log)
        try:
            case.run(acct, fake, items, state)
        except (espkit.EspkitError, RuntimeError) as exc:
            return None, f"failed: {type(exc).__name__}: {str(exc)[:80]}"
        return (len(log) - before) / n, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=50)
    parser.add_argument("--provider", action="append")
    parser.add_argument("--op", action="append")
    args = parser.parse_args()
    fakes = {k: v for k, v in all_fakes().items() if k != "sandbox"}
    providers = args.provider or list(fakes)
    ops = args.op or list(CASES)
    print(f"requests per item, N = {args.n}, counted at each ESP's wire-level fake")
    print(f"{'provider':10s} {'operation':18s} {'per item':>9s} {'floor':>6s}  note")
    for provider in providers:
        for op in ops:
            per_item, why = measure(fakes[provider], CASES[op], args.n)
            floor = FLOORS[op]
            if per_item is None:
                print(f"{provider:10s} {op:18s} {'-':>9s} {floor:6.2f}  {why}")
                continue
            at_floor = per_item <= floor + 0.05
            print(f"{provider:10s} {op:18s} {per_item:9.2f} {floor:6.2f}  "
                  f"{'at floor' if at_floor else 'OVER'} {why}")


if __name__ == "__main__":
    main()
