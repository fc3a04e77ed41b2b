"""Figure 2: the bulk engine against a plain loop over the official Mailgun SDK.

2,000 domain creates against ``esp_server.py`` (in a child process) with a limit of 1,000
requests/second per key and 100 ms latency, made two ways:

* espkit: ``Bulk(acct, journal=None).create_domains(names)`` with ``rate_limit=1000``;
* the official SDK (``mailgun`` on PyPI) pointed at the same server with its ``api_url``
  option, in the for-loop its README suggests: ``client.domains.create(data={"name": n})``
  (``POST /v3/domains``), one after the other. The loop takes ~N x latency: ~200 s.

Target: the SDK loop's wall time / espkit's >= 10. Both must create every domain. espkit
runs ``--espkit-runs`` times (default 3, each on a fresh server state and client limiter,
since its time varies from run to run); the ratio is given for every run, and the verdict
for the median and for the slowest run.

    python benchmarks/bulk_vs_sdk.py [N] [--espkit-runs 3] [--sdk-n M]

``--sdk-n`` times the SDK on only M creates and scales its time to N (quick runs; the
figure in README.md is from a full run). ``python benchmarks/bulk_vs_sdk.py 300`` is the
small-job figure of issue 14: a job that fits in the engine's queue at once (the old engine
ran it on 4 workers to the end, 3.9x the SDK loop).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import esp_server
from mailgun.client import Client

import espkit
import espkit.transport.ratelimit
from espkit.bulk import Bulk

LIMIT = 1000.0
LATENCY = 0.100
TARGET = 10.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=2000)
    parser.add_argument("--espkit-runs", type=int, default=3)
    parser.add_argument("--sdk-n", type=int, default=None,
                        help="time the SDK loop on this many creates and scale to N")
    args = parser.parse_args()
    # per-retry warnings and urllib3's pool notices would bury the figures
    logging.basicConfig(level=logging.ERROR)
    n = args.n
    sdk_n = min(args.sdk_n or n, n)
    print(f"bulk_vs_sdk: {esp_server.machine()}")
    print(f"{n} creates, server limit {LIMIT:g} req/s per key, latency {LATENCY * 1000:g} ms")

    server = esp_server.start(rate=LIMIT, latency=LATENCY, process=True)
    try:
        runs = []
        for i in range(1, args.espkit_runs + 1):
            espkit.transport.ratelimit.reset_shared()
            server.reset()
            names = [f"d{j:05d}.espkit{i}.sdk.example" for j in range(n)]
            acct = espkit.connect("mailgun", api_key="key-bench", base_url=server.url,
                                  rate_limit=LIMIT)
            start = time.perf_counter()
            report = Bulk(acct, journal=None).create_domains(names)
            wall = time.perf_counter() - start
            runs.append((wall, report, server.stats()))

        # the official SDK, as its users write it
        server.reset()
        names = [f"d{i:05d}.mailgun.sdk.example" for i in range(sdk_n)]
        failures = 0
        start = time.perf_counter()
        with Client(auth=("api", "key-bench"), api_url=server.url) as client:
            for name in names:
                response = client.domains.create(data={"name": name})
                if response.status_code != 200:
                    failures += 1
        sdk_wall = time.perf_counter() - start
        sdk_stats = server.stats()
    finally:
        server.stop()

    sdk_full = sdk_wall * n / sdk_n
    all_created = True
    for i, (wall, report, stats) in enumerate(runs, 1):
        created = report.counts.get("created", 0)
        all_created &= created == n
        print(f"espkit Bulk run {i}  {wall:7.2f} s  {n / wall:7.1f}/s  created {created}/{n}; "
              f"SDK / espkit {sdk_full / wall:5.1f}x")
        print(f"                   server: {stats['requests']} requests, {stats['throttled']} "
              f"429s, peak in flight {stats['in_flight_max']}, {stats['connections']} "
              f"connections, worst loop lag {stats['loop_lag_max_ms']:.0f} ms; client: "
              f"concurrency {report.concurrency}, retries {report.retries}")
    scaled = "" if sdk_n == n else f" (timed {sdk_n}: {sdk_wall:.2f} s, scaled to {n})"
    print(f"mailgun SDK loop   {sdk_full:7.2f} s  {n / sdk_full:7.1f}/s  created "
          f"{sdk_stats['creates_applied']}/{sdk_n}, {failures} failed{scaled}")
    walls = sorted(wall for wall, _, _ in runs)
    median, worst = statistics.median(walls), walls[-1]
    ok = all_created and failures == 0
    print(f"SDK / espkit       median {sdk_full / median:5.1f}x  (target >= {TARGET:g}x)  "
          f"{esp_server.verdict(ok and sdk_full / median >= TARGET)}")
    print(f"                   slowest {sdk_full / worst:5.1f}x  (target >= {TARGET:g}x)  "
          f"{esp_server.verdict(ok and sdk_full / worst >= TARGET)}")


if __name__ == "__main__":
    main()
