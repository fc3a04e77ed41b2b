"""How long `espkit.dns.check` takes over a fleet: 1,000 domains x 5 records against a DNS
server on 127.0.0.1 (the test suite's `LocalDns`, dnslib, UDP and TCP), as many lookups at a
time as by default (32), with ten tracking records missing.

The suite checks what a check finds and that each (name, type) is asked once
(tests/dns/test_dns.py); how long it takes is this script's figure. The target is the one
the suite used to hold, on a loaded machine: a thousand domains within a minute.

    python benchmarks/dns_check.py [--domains N] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the suite's DNS server: support.dnsserver

from support.dnsserver import LocalDns  # noqa: E402

from espkit import dns as edns  # noqa: E402
from espkit.models import DnsRecord, Domain, RecordPurpose  # noqa: E402
from espkit.sandbox import records as sandbox_records  # noqa: E402

TARGET = 60.0  # seconds for 1,000 domains


def sandbox_domain(name: str) -> Domain:
    """A domain with the sandbox ESP's five records (SPF, a 1024-bit DKIM TXT, 2 MX, the
    tracking CNAME), built as the sandbox builds them."""
    recs = sandbox_records.generate(name, selector="s1", key_size=1024, web_prefix="email")
    return Domain(name, "sandbox", dns_records=tuple(
        DnsRecord(RecordPurpose(r["purpose"]), r["type"], r["host"], r["value"], r["priority"])
        for r in recs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    domains = [sandbox_domain(f"d{i}.fleet.example") for i in range(args.domains)]
    missing = domains[::100]
    took: list[float] = []
    with LocalDns() as server:
        for d in domains:
            server.add_domain(d)
        for d in missing:
            server.remove(d.records("tracking")[0].host)
        for _ in range(args.runs):
            server.queries.clear()
            start = time.perf_counter()
            checks = edns.check(domains, nameservers=[server.nameserver], timeout=5)
            took.append(time.perf_counter() - start)
            summary = edns.summary(checks)
            expected = {"present": 5 * len(domains) - len(missing), "missing": len(missing),
                        "wrong": 0, "error": 0}
            if summary != expected:
                raise SystemExit(f"unexpected result {summary}, wanted {expected}")
        queries = len(server.queries)
    median = statistics.median(took)
    target = TARGET * args.domains / 1000
    print(f"{args.domains} domains x 5 records, {queries} queries, "
          f"default concurrency ({edns.DEFAULT_CONCURRENCY})")
    print(f"seconds per check: {', '.join(f'{t:.2f}' for t in took)} "
          f"(median {median:.2f}; {args.domains / median:.0f} domains/s)")
    print(f"median {median:.2f} s (target < {target:g} s) {'PASS' if median < target else 'FAIL'}")


if __name__ == "__main__":
    main()
