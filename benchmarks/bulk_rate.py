"""Figure 1: the bulk engine runs at the ESP's rate limit without tripping it.

2,000 domain creates through ``Bulk(acct).create_domains`` against ``esp_server.py`` (in a
child process) limiting each API key to 100 requests/second (token bucket, burst 5; 429 +
``Retry-After`` in whole seconds) with 25 ms latency.

* configured: ``espkit.connect(..., rate_limit=100)``, the account's documented limit.
  Targets: wall time / (N / limit) <= 1.05, and 429s / requests <= 1 % (server counts).
* learned: ``rate_limit=1000``, ten times the real limit, so that espkit has to learn the
  limit from 429s. Reported as measured; the targets apply to the configured case.

Each run gets a fresh server, API key and client-side limiter. The configured case runs
``--runs`` times (default 3): a run is PASS only if it meets both targets.

    python benchmarks/bulk_rate.py [N] [--runs 3] [--limit 100] [--latency-ms 25]
                                   [--only configured|learned]
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

TIME_TARGET = 1.05
THROTTLE_TARGET = 0.01


def run(n: int, limit: float, latency: float, client_limit: float, key: str) -> dict[str, Any]:
    espkit.transport.ratelimit.reset_shared()
    server = esp_server.start(rate=limit, latency=latency, process=True)
    try:
        names = [f"d{i:05d}.{key}.rate.example" for i in range(n)]
        acct = espkit.connect("mailgun", api_key=key, base_url=server.url,
                              rate_limit=client_limit)
        start = time.perf_counter()
        report = Bulk(acct, journal=None).create_domains(names)
        wall = time.perf_counter() - start
        stats = server.stats()
    finally:
        server.stop()
    return {"wall": wall, "report": report, "stats": stats, "n": n, "limit": limit}


def show(label: str, r: dict[str, Any], *, targets: bool) -> bool:
    report, stats, n, limit = r["report"], r["stats"], r["n"], r["limit"]
    ideal = n / limit
    ratio = r["wall"] / ideal
    throttled = stats["throttled"] / max(1, stats["requests"])
    done = report.counts.get("created", 0) + report.counts.get("existed", 0)
    span = (stats["last_request"] or 0) - (stats["first_request"] or 0)
    print(f"-- {label}")
    print(f"   completed              {done} of {n}  counts {dict(report.counts)}")
    print(f"   wall time              {r['wall']:.2f} s  (N / limit = {ideal:.2f} s; "
          f"report.elapsed {report.elapsed:.2f} s)")
    print(f"   server requests        {stats['requests']}  ({stats['by_method']}), "
          f"{stats['requests'] / max(span, 1e-9):.1f}/s over {span:.2f} s, "
          f"peak in flight {stats['in_flight_max']}, {stats['connections']} connections")
    print(f"   server event loop      worst lag {stats['loop_lag_max_ms']:.0f} ms, "
          f"{stats['loop_lags_over_25ms']} lags over 25 ms")
    print(f"   client report          requests {report.requests}, throttled "
          f"{report.throttled}, retries {report.retries}, "
          f"throughput {report.throughput:.1f}/s")
    ok_time = ratio <= TIME_TARGET
    ok_429 = throttled <= THROTTLE_TARGET
    tail = (f"(target <= {TIME_TARGET:.2f})  {esp_server.verdict(ok_time)}" if targets
            else "(no target: learned limit)")
    print(f"   wall / (N / limit)     {ratio:.3f}  {tail}")
    tail = (f"(target <= {THROTTLE_TARGET:.0%})  {esp_server.verdict(ok_429)}" if targets
            else "(no target: learned limit)")
    print(f"   429s / requests        {stats['throttled']} / {stats['requests']} = "
          f"{throttled:.2%}  {tail}")
    r["ratio"], r["throttled_share"] = ratio, throttled
    return done == n and ok_time and ok_429


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=2000)
    parser.add_argument("--limit", type=float, default=100.0, help="server limit, req/s")
    parser.add_argument("--latency-ms", type=float, default=25.0)
    parser.add_argument("--only", choices=("configured", "learned"))
    parser.add_argument("--runs", type=int, default=3, help="runs of the configured case")
    args = parser.parse_args()
    # per-retry warnings and urllib3's pool notices would bury the figures
    logging.basicConfig(level=logging.ERROR)
    latency = args.latency_ms / 1000
    print(f"bulk_rate: {esp_server.machine()}")
    print(f"{args.n} creates, server limit {args.limit:g} req/s per key (burst "
          f"{max(1, args.limit / 20):g}), latency {args.latency_ms:g} ms")
    if args.only in (None, "configured"):
        results = []
        for i in range(1, args.runs + 1):
            r = run(args.n, args.limit, latency, args.limit, f"key-bench-{i}")
            ok = show(f"configured, run {i}/{args.runs}: rate_limit={args.limit:g}", r,
                      targets=True)
            results.append((ok, r))
        passed = sum(ok for ok, _ in results)
        print(f"-- configured: {passed} of {len(results)} runs pass both targets; "
              "wall / (N / limit) " + ", ".join(f"{r['ratio']:.3f}" for _, r in results)
              + "; 429s / requests " + ", ".join(f"{r['throttled_share']:.2%}"
                                                 for _, r in results))
    if args.only in (None, "learned"):
        r = run(args.n, args.limit, latency, args.limit * 10, "key-bench-learn")
        show(f"learned from 429s: rate_limit={args.limit * 10:g}", r, targets=False)


if __name__ == "__main__":
    main()
