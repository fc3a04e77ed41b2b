"""Requests per item, per provider and operation, counted on the wire-level fakes.

On a rate-limited account the budget sets the pace, so every extra request per item is time.
Each operation runs over N items through the public API (the bulk engine for bulk work,
``acct.domains`` for single calls, ``espkit.fleet`` for the fleet rows) against the stateful
fake of each ESP that the provider suite uses (``tests/support/fakes``: ``responses`` for
HTTP ESPs, moto for SES), and the fake's request log is counted: requests the operation
sent / N, next to the fewest the ESP's API allows (the floor, with where it comes from in
``FLOORS``, and why a row stays above it in ``ABOVE``).

    python benchmarks/requests_per_item.py [N=50] [--provider mailgun] [--op create] [--show]

``--show`` prints the requests each operation sent (method and path, counted). Set-up
requests (making the pool the items are created into, say) are not counted; a constant per
run (one listing of pools, say) is, divided by N like the rest. The fleet rows use N/2
customers with two streams each (N domains); on ESPs that bind pools to domains each stream
has its own pool. Accounts are opened with a high ``rate_limit`` so that nothing waits on a
budget: pacing changes when requests go out, not how many.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import math
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.fakes import all_fakes
from support.fakes.base import EspFake

import espkit
from espkit.bulk import Bulk
from espkit.fleet import (
    Connection,
    CustomerSpec,
    DesiredDomain,
    Fleet,
    PoolSpec,
    apply,
    apply_fleet,
    plan,
)
from espkit.models import Capability
from espkit.transport import ratelimit

POOL = "bench-pool"
#: fast enough that no budget is ever waited for; counts do not depend on pacing
RATE = 100_000.0


def names(n: int) -> list[str]:
    return [f"d{i:05d}.bench.example.com" for i in range(n)]


@contextlib.contextmanager
def run_of(acct: espkit.Account, n: int) -> Iterator[None]:
    """Nothing: the bulk engine opens its own run (``acct.batch``) around every job, so the
    bulk rows count what a user of ``Bulk`` gets."""
    yield


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
        with run_of(acct, len(items)):
            report = getattr(Bulk(acct, journal=None), method)(items, **kw)
        if not report.ok:
            raise RuntimeError(f"{method} failed: {report.failed[:1]}")
        return report
    return run


def _with_pool(acct: espkit.Account, fake: EspFake, items: list[str], _: Any) -> Any:
    with run_of(acct, len(items)):
        report = Bulk(acct, journal=None).create_domains([{"name": n, "pool": POOL}
                                                          for n in items])
    if not report.ok:
        raise RuntimeError(f"create with pool failed: {report.failed[:1]}")


def _assign_ip(acct: espkit.Account, fake: EspFake, items: list[str], _: Any) -> Any:
    return _bulk("assign", ip=fake.ips[0])(acct, fake, items, _)


def _verify_wait(acct: espkit.Account, fake: EspFake, items: list[str], _: Any) -> Any:
    """Two rounds of one wait: round 1 with nothing published, round 2 with all of it."""
    ticks = iter([0.0, 0.0, 1.0, 2.0, 2.0])

    def sleep(seconds: float) -> None:
        for name in items:
            fake.publish_dns(name)

    report = espkit.wait_until_verified(acct, items, timeout=10, poll=1, sleep=sleep,
                                        clock=lambda: next(ticks, 9.0))
    if report.rounds != 2 or not report.ok:
        raise RuntimeError(f"the wait took {report.rounds} round(s): {report.summary()}")
    return report


def _gets(acct: espkit.Account, fake: EspFake, items: list[str], _: Any) -> None:
    for name in items:
        acct.domains.get(name)


def _listing(acct: espkit.Account, fake: EspFake, items: list[str], _: Any) -> None:
    listed = sum(1 for _ in acct.domains.list())
    assert listed >= len(items), listed


def _subaccounts(acct: espkit.Account, fake: EspFake, items: list[str], _: Any) -> None:
    for i in range(len(items)):
        acct.subaccounts.create(f"bench-sub-{i:04d}")


# -- the fleet rows: N/2 customers x 2 streams -------------------------------------------------


def fleet_of(acct: espkit.Account, fake: EspFake, n: int, *, moved: bool = False) -> Fleet:
    pools = acct.supports(Capability.ASSIGN_DOMAIN_POOL)
    news, mail = ("txn", "txn") if moved else ("mkt", "txn")
    customers = tuple(
        CustomerSpec(f"c{i:04d}", (
            DesiredDomain(f"news.c{i:04d}.bench.example.com", f"c{i:04d}", "news",
                          pool=news if pools else None),
            DesiredDomain(f"mail.c{i:04d}.bench.example.com", f"c{i:04d}", "mail",
                          pool=mail if pools else None),
        )) for i in range(max(1, n // 2)))
    specs = (PoolSpec("mkt", ips=(fake.ips[0],)), PoolSpec("txn", ips=(fake.ips[1],))) \
        if pools else ()
    conn = {"default": Connection("default", fake.provider, {})}
    return Fleet(conn, pools=specs, customers=customers)


def _fleet_planned(acct: espkit.Account, fake: EspFake, items: list[str]) -> Any:
    return plan(fleet_of(acct, fake, len(items)), {"default": acct})


def _fleet_apply(acct: espkit.Account, fake: EspFake, items: list[str], planned: Any) -> None:
    report = apply(planned, {"default": acct})
    if not report.ok:
        raise RuntimeError(report.summary()[:200])


def _fleet_plan_apply(acct: espkit.Account, fake: EspFake, items: list[str], _: Any) -> None:
    report = apply_fleet(fleet_of(acct, fake, len(items)), accounts={"default": acct})
    if not report.ok:
        raise RuntimeError(report.summary()[:200])


def _fleet_applied(acct: espkit.Account, fake: EspFake, items: list[str]) -> None:
    _fleet_plan_apply(acct, fake, items, None)


def _fleet_replan(acct: espkit.Account, fake: EspFake, items: list[str], _: Any) -> None:
    again = plan(fleet_of(acct, fake, len(items)), {"default": acct})
    if not again.empty:
        raise RuntimeError(f"re-plan not empty: {again.summary()}")


def _fleet_move(acct: espkit.Account, fake: EspFake, items: list[str], _: Any) -> None:
    moved = fleet_of(acct, fake, len(items), moved=True)
    report = apply_fleet(moved, accounts={"default": acct}, force=True)
    if not report.ok or not report.plan.changes:
        raise RuntimeError(report.summary()[:200])


CASES: dict[str, Case] = {
    "create": Case(Capability.DOMAINS, _nothing, _bulk("create_domains")),
    "create with pool": Case(Capability.ASSIGN_DOMAIN_POOL, _pool, _with_pool),
    "assign pool": Case(Capability.ASSIGN_DOMAIN_POOL, _pool_and_domains,
                        _bulk("assign", pool=POOL)),
    "assign ip": Case(Capability.ASSIGN_DOMAIN_IP, _created, _assign_ip),
    "verify": Case(Capability.DOMAINS, _published, _bulk("verify_domains")),
    "verify, 2 rounds": Case(Capability.DOMAIN_VERIFY, _created, _verify_wait),
    "get": Case(Capability.DOMAINS, _created, _gets),
    "delete": Case(Capability.DOMAINS, _created, _bulk("delete_domains")),
    "list": Case(Capability.DOMAINS, _created, _listing),
    "subaccount create": Case(Capability.SUBACCOUNTS, _nothing, _subaccounts),
    "fleet apply": Case(Capability.DOMAINS, _fleet_planned, _fleet_apply),
    "fleet plan+apply": Case(Capability.DOMAINS, _nothing, _fleet_plan_apply),
    "fleet re-plan": Case(Capability.DOMAINS, _fleet_applied, _fleet_replan),
    "fleet move pool": Case(Capability.ASSIGN_DOMAIN_POOL, _fleet_applied, _fleet_move),
}

#: the fewest requests each ESP's API allows for N items: (per item, once per run, where it
#: comes from); provider "*" is every ESP without a row of its own. Pages count as a
#: fraction of a request per item (1/100 for pages of 100), rounded up with the constant.
FLOORS: dict[tuple[str, str], tuple[float, float, str]] = {
    ("*", "create"): (1, 0, "one create call per domain"),
    ("sendgrid", "create"): (1, 0.01, "one POST per domain; the duplicate check reads the "
                                      "listing's pages (100 a page) once"),
    ("ses", "create"): (2, 0, "CreateEmailIdentity takes no MAIL FROM: "
                              "PutEmailIdentityMailFromAttributes follows"),
    ("*", "create with pool"): (1, 1, "the create carries the pool (Mailgun pool_id); the "
                                      "pool's id is listed once"),
    ("ses", "create with pool"): (2, 1, "ConfigurationSetName rides on the create, MAIL FROM "
                                        "is a call of its own; the pool's set is made once"),
    ("*", "assign pool"): (0.011, 2, "the pool list and its details once, domain ids from "
                                     "the listing (1000 a page), PATCH link_domain x 100"),
    ("ses", "assign pool"): (1, 1, "PutEmailIdentityConfigurationSetAttributes per domain; "
                                   "the pool's set made once"),
    ("*", "assign ip"): (1, 0, "POST /v3/domains/{name}/ips, one IP per call"),
    ("*", "verify"): (1, 0, "one check call per domain"),
    ("sendgrid", "verify"): (1, 0.01, "the validate call; ids from the listing (100 a page)"),
    ("postmark", "verify"): (2, 0, "DKIM and Return-Path are checked by two calls"),
    ("sparkpost", "verify"): (2, 0, "the check's answer has no DKIM selector, which the "
                                    "records need: one read of the domain"),
    ("*", "verify, 2 rounds"): (2, 0, "one check call per round"),
    ("sendgrid", "verify, 2 rounds"): (2, 0.01, "one check per round; ids listed once"),
    ("postmark", "verify, 2 rounds"): (4, 0, "two check calls per round"),
    ("sparkpost", "verify, 2 rounds"): (3, 0, "one check per round; the DKIM selector read "
                                              "once per run"),
    ("*", "get"): (1, 0, "one read"),
    ("*", "delete"): (1, 0, "one delete call"),
    ("sendgrid", "delete"): (1, 0.01, "the DELETE; ids from the listing (100 a page)"),
    ("*", "list"): (0.001, 0, "pages: 1000 (Mailgun, SES), 500 (Postmark), 100 (SendGrid); "
                              "SparkPost lists in one call"),
    ("sendgrid", "list"): (0.01, 0, "pages of 100"),
    ("postmark", "list"): (0.002, 0, "pages of 500"),
    ("*", "subaccount create"): (1, 0, "one create call"),
    ("*", "fleet apply"): (1, 0, "one create per domain"),
    ("sendgrid", "fleet apply"): (1, 0.01, "one create per domain; the duplicate check "
                                           "reads the listing once"),
    ("mailgun", "fleet apply"): (1, 2, "one create per domain (with pool_id), one per pool"),
    ("ses", "fleet apply"): (2, 6, "create (with the pool's set) + MAIL FROM per domain; "
                                   "per pool: create it, move its IP in, make its set"),
    ("*", "fleet plan+apply"): (1, 3, "one create per domain; the plan lists domains, "
                                      "pools and IPs"),
    ("postmark", "fleet plan+apply"): (1, 1, "one create per domain; the plan lists domains"),
    ("mailgun", "fleet plan+apply"): (1, 5, "one create per domain, one per pool; the plan "
                                            "lists domains, pools and IPs"),
    ("ses", "fleet plan+apply"): (2, 9, "as fleet apply, and the plan lists identities, "
                                        "pools and IPs"),
    ("*", "fleet re-plan"): (0, 3, "the listings of domains, pools and IPs"),
    ("sendgrid", "fleet re-plan"): (0.01, 2, "the listings of domains (100 a page), pools "
                                             "and IPs"),
    ("postmark", "fleet re-plan"): (0.002, 0, "the domain listing (500 a page)"),
    ("mailgun", "fleet re-plan"): (0.001, 4, "the listings of domains, pools and IPs, and "
                                             "each linked pool's details (2)"),
    ("ses", "fleet re-plan"): (1, 5, "GetEmailIdentity per domain (the listing does not say "
                                     "an identity's set), each set once (2), the listings"),
    ("*", "fleet move pool"): (0.01, 0, "PATCH link_domain x 100"),
    ("mailgun", "fleet move pool"): (0.005, 5, "the plan's reads, then one PATCH "
                                               "link_domain per 100 moved domains"),
    ("ses", "fleet move pool"): (1.5, 5, "the plan's reads (as fleet re-plan), then one "
                                         "PutEmailIdentityConfigurationSetAttributes per "
                                         "moved domain (half of them)"),
}
#: why a row stays above its floor (see benchmarks/README.md)
ABOVE: dict[tuple[str, str], str] = {
    ("mailgun", "assign pool"): "the bulk engine links one domain per item (the fleet "
    "applier batches: fleet move pool)",
    ("mailgun", "fleet apply"): "create_pool lists the pools once to refuse a name Mailgun "
    "would take twice (apply_fleet reuses the plan's listing)",
    ("ses", "assign pool"): "GetEmailIdentity per domain: an identity whose default "
    "configuration set espkit did not make is left alone",
    ("ses", "create with pool"): "the pool is checked and its set read before the set is "
    "made (once per pool per run)",
    ("ses", "fleet apply"): "the pool is checked and its set read before the set is made "
    "(once per pool per run)",
    ("ses", "fleet plan+apply"): "the pool is checked and its set read before the set is "
    "made (once per pool per run)",
    ("ses", "fleet move pool"): "the pool is checked before its set is used (once per run)",
}


def floor_of(provider: str, op: str, n: int) -> tuple[int, str]:
    """The floor for N items (pages rounded up) and where it comes from."""
    per_item, once, source = FLOORS.get((provider, op)) or FLOORS[("*", op)]
    return math.ceil(per_item * n + once - 1e-9), source


def requests_of(fake: EspFake) -> list[str]:
    log: list[Any] = getattr(fake, "log", [])
    return [f"{m} {p}" for m, p in log]


def shape(line: str) -> str:
    """A request with its names and ids folded, for ``--show``."""
    line = re.sub(r"[a-z0-9.-]*bench\.example\.com", "{domain}", line)
    line = re.sub(r"/pool[0-9a-f]{20}|/[0-9a-f]{24}\b|/\d{3,}\b", "/{id}", line)
    return re.sub(r"bench-sub-\d+", "{sub}", line)


def measure(fake_cls: type[EspFake], case: Case, n: int
            ) -> tuple[float | None, str, list[str]]:
    """Requests per item (or None and why the case does not apply), and the requests."""
    # budgets are process-wide and learnt from the ESP's answers (SendGrid's fake announces
    # 600 a minute): each case starts with fresh ones, as a separate run would
    ratelimit.reset_shared()
    with fake_cls() as fake:
        acct = fake.connect(rate_limit=RATE)
        if case.needs is not None and not acct.supports(case.needs):
            return None, "not supported", []
        items = names(n)
        state = case.setup(acct, fake, items)
        before = len(requests_of(fake))
        try:
            case.run(acct, fake, items, state)
        except (espkit.EspkitError, RuntimeError) as exc:
            return None, f"failed: {type(exc).__name__}: {str(exc)[:80]}", []
        sent = requests_of(fake)[before:]
        return len(sent) / n, "", sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=50)
    parser.add_argument("--provider", action="append")
    parser.add_argument("--op", action="append")
    parser.add_argument("--show", action="store_true", help="print the requests made")
    args = parser.parse_args()
    fakes = {k: v for k, v in all_fakes().items() if k != "sandbox"}
    providers = args.provider or list(fakes)
    ops = args.op or list(CASES)
    print(f"requests per item, N = {args.n}, counted at each ESP's wire-level fake")
    print("bulk rows: the engine's own run (acct.batch) around each job, as a user gets it")
    print(f"{'provider':10s} {'operation':18s} {'requests':>8s} {'per item':>9s} "
          f"{'floor':>6s}  note")
    for provider in providers:
        for op in ops:
            per_item, why, sent = measure(fakes[provider], CASES[op], args.n)
            floor, _ = floor_of(provider, op, args.n)
            if per_item is None:
                print(f"{provider:10s} {op:18s} {'-':>8s} {'-':>9s} {floor:6d}  {why}")
                continue
            note = "at floor" if len(sent) <= floor else "OVER: " + ABOVE.get((provider, op),
                                                                              "?")
            print(f"{provider:10s} {op:18s} {len(sent):8d} {per_item:9.2f} {floor:6d}  {note}")
            if args.show:
                for line, count in collections.Counter(map(shape, sent)).most_common():
                    print(f"{'':29s}{count:8d}  {line}")


if __name__ == "__main__":
    main()
