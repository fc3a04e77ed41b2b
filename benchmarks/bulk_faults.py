"""Figure 3: with 10 % of requests failing, every create completes, none is applied twice,
and the run takes at most 1.3 x the fault-free time.

``esp_server.py`` (in a child process) fails each API request (every method, so the
read-backs too) with probability 0.1, the kind drawn uniformly from:
503 before applying, 500 after applying, connection reset after applying, connection reset
before applying (seeded RNG). The same 2,000 creates run once fault-free and once with
faults, each on a fresh server, API key and client limiter, in two settings:

* rate-bound: 100 req/s per key, 25 ms latency (figure 1's server);
* latency-bound: 1,000 req/s per key, 100 ms latency (figure 2's server).

The targets are checked in both.

Counts are the server's: ``creates_applied`` must equal N (every domain exists, once) and
``duplicate_creates`` (a POST for a name that already exists) must be 0.

    python benchmarks/bulk_faults.py [N] [--faults 0.1] [--seed 7] [--only rate|latency]
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

import esp_server

import espkit
import espkit.transport.ratelimit
from espkit.bulk import Bulk

TIME_TARGET = 1.3
SETTINGS = {"rate": (100.0, 0.025), "latency": (1000.0, 0.100)}


def run(n: int, limit: float, latency: float, faults: float, seed: int,
        key: str) -> dict[str, Any]:
    espkit.transport.ratelimit.reset_shared()
    server = esp_server.start(rate=limit, latency=latency, faults=faults, seed=seed,
                              process=True)
    try:
        names = [f"d{i:05d}.{key}.faults.example" for i in range(n)]
        acct = espkit.connect("mailgun", api_key=key, base_url=server.url, rate_limit=limit)
        start = time.perf_counter()
        report = Bulk(acct, journal=None).create_domains(names)
        wall = time.perf_counter() - start
        stats = server.stats()
        present = set(server.names())
    finally:
        server.stop()
    return {"wall": wall, "report": report, "stats": stats,
            "missing": sum(1 for name in names if name not in present)}


def line(label: str, n: int, r: dict[str, Any]) -> None:
    report, stats = r["report"], r["stats"]
    faults = {k: v for k, v in stats["faults"].items() if v}
    print(f"   {label:<11} {r['wall']:7.2f} s  server: {stats['requests']} requests, "
          f"{stats['creates_applied']}/{n} created, {stats['duplicate_creates']} duplicate "
          f"creates, {r['missing']} missing, {stats['throttled']} 429s, faults "
          f"{sum(faults.values())} {faults}")
    print(f"   {'':<11} server: creates applied by {stats['creates_by']} (s after the first "
          f"request); worst loop lag {stats['loop_lag_max_ms']:.0f} ms")
    print(f"   {'':<11} client: counts {dict(report.counts)}, requests {report.requests}, "
          f"retries {report.retries}, throttled {report.throttled}")
    for item in report.failed[:5]:
        print(f"   {'':<11} failed {item.key}: {item.outcome} {item.error}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=2000)
    parser.add_argument("--faults", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=tuple(SETTINGS))
    parser.add_argument("--runs", type=int, default=1, help="fault-free + faults pairs per "
                        "setting")
    args = parser.parse_args()
    # per-retry warnings and urllib3's pool notices would bury the figures
    logging.basicConfig(level=logging.ERROR)
    n = args.n
    print(f"bulk_faults: {esp_server.machine()}")
    print(f"{n} creates; faults {args.faults:.0%} of requests (seed {args.seed}), kinds "
          + ", ".join(esp_server.FAULT_KINDS))
    for name, (limit, latency) in SETTINGS.items():
        for i in range(1, args.runs + 1):
            if args.only in (None, name):
                pair(n, name, limit, latency, args.faults, args.seed, f"{i}/{args.runs}")


def pair(n: int, name: str, limit: float, latency: float, fault_rate: float, seed: int,
         run_label: str) -> None:
    print(f"-- {name}-bound: {limit:g} req/s per key, {latency * 1000:g} ms latency, "
          f"run {run_label}")
    clean = run(n, limit, latency, 0.0, seed, f"key-{name}-clean")
    line("fault-free", n, clean)
    faulty = run(n, limit, latency, fault_rate, seed, f"key-{name}-faults")
    line(f"{fault_rate:.0%} faults", n, faulty)
    stats = faulty["stats"]
    counts = faulty["report"].counts
    reported = counts.get("created", 0) + counts.get("existed", 0)
    completed = stats["creates_applied"] == n and faulty["missing"] == 0 and reported == n
    no_dups = stats["duplicate_creates"] == 0
    ratio = faulty["wall"] / clean["wall"]
    print(f"   completed   {n - faulty['missing']}/{n} on the server, {reported}/{n} "
          f"created or existed in the report (target 100%)  "
          f"{esp_server.verdict(completed)}")
    print(f"   duplicates  {stats['duplicate_creates']} (target 0)  "
          f"{esp_server.verdict(no_dups)}")
    print(f"   time ratio  {ratio:.2f} x fault-free (target <= {TIME_TARGET})  "
          f"{esp_server.verdict(ratio <= TIME_TARGET)}")


if __name__ == "__main__":
    main()
