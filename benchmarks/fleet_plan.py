"""Fleet as code at Customer.io scale on the sandbox: 2,300 customers x 3 streams.

    python benchmarks/fleet_plan.py [customers] [latency_ms]

Times each step of the loop: load and check the fleet file, plan against an empty account,
apply, re-plan (must be empty), and the plan after one stream moves pool (one assignment
change per customer). ``latency_ms`` puts a network round trip on every sandbox request
(the sandbox clock really sleeps), to show how the reads scale when they are not free.
Prints seconds per step and requests per second of the reads.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from espkit import fleet as fleet_file
from espkit.fleet import apply, plan

STREAMS = ("news", "mail", "notify")


def fleet_text(customers: int, db: str, latency: float, pool_of_news: str = "mkt") -> str:
    rows = "\n".join(f"  - {{name: c{n}, domain: c{n}.example.com}}" for n in range(customers))
    return f"""\
version: 1
connections:
  main: {{provider: sandbox, path: "{db}", latency: {latency}}}
pools:
  mkt: {{ips: [198.51.100.1, 198.51.100.2]}}
  txn: {{ips: [198.51.100.3]}}
  ntf: {{ips: [198.51.100.4]}}
streams:
  news:   {{pool: {pool_of_news}, domain: "news.{{domain}}"}}
  mail:   {{pool: txn, domain: "mail.{{domain}}"}}
  notify: {{pool: ntf, domain: "notify.{{domain}}"}}
customers:
{rows}
"""


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    print(f"{label:<44} {elapsed:8.2f} s")
    return result, elapsed


def main() -> None:
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 2300
    latency = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0
    work = Path(tempfile.mkdtemp())
    db = str(work / "sandbox.db")
    path = work / "fleet.yaml"
    path.write_text(fleet_text(customers, db, latency))
    domains = customers * len(STREAMS)
    print(f"{customers} customers x {len(STREAMS)} streams = {domains} domains, "
          f"latency {latency * 1000:.0f} ms")

    fleet, _ = timed("load + check the fleet file", lambda: fleet_file.load(path))
    acct = fleet.connections["main"].connect()
    accounts = {"main": acct}
    try:
        first, _ = timed("plan (empty account)", lambda: plan(fleet, accounts))
        report, t_apply = timed("apply", lambda: apply(first, accounts))
        assert report.ok, report.summary()
        print(f"{'  domains created per second':<44} {domains / t_apply:8.0f}")
        again, t_replan = timed("re-plan (everything in place)", lambda: plan(fleet, accounts))
        assert again.empty, again.summary()
        # one list page per 100 domains plus one assignment read per declared domain
        reads = domains + domains / 100
        print(f"{'  reads per second':<44} {reads / t_replan:8.0f}")
        path.write_text(fleet_text(customers, db, latency, pool_of_news="txn"))
        moved = fleet_file.load(path)
        p, _ = timed("plan after moving the news stream's pool", lambda: plan(moved, accounts))
        print(f"{'  assignment changes':<44} {len(p.changes):8d}  (safe: {p.safe()})")
    finally:
        acct.close()


if __name__ == "__main__":
    main()
