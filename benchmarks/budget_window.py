"""Issue 14, parts 1 and 2: espkit spends Mailgun's documented budget as a window, not a rate.

The server (``esp_server.py``, in a child process) limits each API key as Mailgun's domains
API does, 300 requests a minute, modelled as a token bucket of ``burst`` 300 refilled at
5 requests/second: a burst of 300, then 5 a second (what the old 5/s pacing threw away).

* **listing**: 100,000 domains (100 pages of 1,000) with ``espkit.connect("mailgun", ...)``
  and default settings, against a raw paging loop (``requests`` with basic auth, ``GET
  /v4/domains?limit=1000&skip=...`` until a short page), and against espkit unpaced
  (``rate_limit=1000000``: what is left is espkit's own cost of decoding 100,000 domains).
  For contrast, ``--old`` runs espkit as before issue 14 (``rate_limit=5``: a smooth 5 a
  second). The old figure was 17.6 x the raw loop.
* **a job of twice the window**: ``Bulk(acct, journal=None).create_domains`` of 2 x 300
  names with default settings, against the budget's bound (300 at once, then 300 at 5 a
  second: 60 s). ``--quick`` scales the budget down to 30 per 6 s (``rate_limit="30/6s"``
  on the client, burst 30 at 5/s on the server: bound 6 s for 60 creates) to keep the run
  short. ``--old`` also runs the old pacing (5/s, or 5/s against 30/6s) for contrast.

429s are the server's count over its requests: the target is <= 1 %.

    python benchmarks/budget_window.py [--quick] [--old] [--only list|job]
                                       [--domains 100000] [--latency-ms 25]
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

import esp_server
import requests

import espkit
import espkit.transport.ratelimit
from espkit.bulk import Bulk

THROTTLE_TARGET = 0.01
JOB_TARGET = 1.1  # wall time / the budget's bound


def raw_listing(url: str, key: str) -> tuple[float, int, int]:
    """The plain paging loop a script would write: (seconds, domains, pages)."""
    session = requests.Session()
    session.auth = ("api", key)
    count = pages = skip = 0
    start = time.perf_counter()
    while True:
        answer = session.get(f"{url}/v4/domains", params={"limit": 1000, "skip": skip},
                             timeout=30)
        answer.raise_for_status()
        items = answer.json()["items"]
        count += len(items)
        pages += 1
        skip += len(items)
        if len(items) < 1000:
            break
    return time.perf_counter() - start, count, pages


def espkit_listing(url: str, key: str, **options: Any) -> tuple[float, int]:
    espkit.transport.ratelimit.reset_shared()
    acct = espkit.connect("mailgun", api_key=key, base_url=url, **options)
    start = time.perf_counter()
    count = sum(1 for _ in acct.domains.list())
    return time.perf_counter() - start, count


def listing(n: int, latency: float, old: bool) -> None:
    print(f"-- listing {n:,} domains; server: 300 per minute per key (burst 300, then 5/s), "
          f"{latency * 1000:g} ms latency")
    server = esp_server.start(rate=5, burst=300, latency=latency, preload=n, process=True)
    try:
        raw, raw_count, pages = raw_listing(server.url, "key-raw")
        print(f"   raw paging loop         {raw:7.2f} s  {raw_count:,} domains in {pages} pages")
        new, count = espkit_listing(server.url, "key-espkit")
        stats_new = server.stats()
        print(f"   espkit, defaults        {new:7.2f} s  {count:,} domains  "
              f"{new / raw:5.2f} x the raw loop (was 17.6 x)")
        # the floor: espkit with no pacing at all (what is left is decoding 100,000 Domains)
        floor, count = espkit_listing(server.url, "key-floor", rate_limit=1_000_000)
        print(f"   espkit, unpaced         {floor:7.2f} s  {count:,} domains  "
              f"{floor / raw:5.2f} x the raw loop (the client's own cost)")
        if old:
            before, count = espkit_listing(server.url, "key-old", rate_limit=5)
            print(f"   espkit, 5/s (as before) {before:7.2f} s  {count:,} domains  "
                  f"{before / raw:5.2f} x the raw loop")
        stats = server.stats()
    finally:
        server.stop()
    throttled = stats["throttled"] / max(1, stats["requests"])
    print(f"   429s / requests         {stats['throttled']} / {stats['requests']} = "
          f"{throttled:.2%} (target <= {THROTTLE_TARGET:.0%})  "
          f"{esp_server.verdict(throttled <= THROTTLE_TARGET)}; after the defaults run "
          f"{stats_new['throttled']} 429s")


def job(quick: bool, latency: float, old: bool) -> None:
    count, per = (30, 6.0) if quick else (300, 60.0)
    n = 2 * count
    bound = per  # all of the first window at once, the second refilled at count / per a second
    options: dict[str, Any] = {"rate_limit": f"{count}/{per:g}s"} if quick else {}
    label = f'rate_limit="{count}/{per:g}s"' if quick else "default settings"
    print(f"-- a job of twice the window: {n} creates, {label}; server: burst {count}, then "
          f"{count / per:g}/s; bound {bound:g} s; {latency * 1000:g} ms latency")
    runs = [("espkit, " + label, options)]
    if old:
        runs.append(("espkit, 5/s (as before)", {"rate_limit": count / per}))
    for name, opts in runs:
        espkit.transport.ratelimit.reset_shared()
        server = esp_server.start(rate=count / per, burst=count, latency=latency,
                                  process=True)
        try:
            acct = espkit.connect("mailgun", api_key=f"key-job-{len(name)}",
                                  base_url=server.url, **opts)
            names = [f"d{i:04d}.window.example" for i in range(n)]
            start = time.perf_counter()
            report = Bulk(acct, journal=None).create_domains(names)
            wall = time.perf_counter() - start
            stats = server.stats()
        finally:
            server.stop()
        done = report.counts.get("created", 0) + report.counts.get("existed", 0)
        throttled = stats["throttled"] / max(1, stats["requests"])
        ratio = wall / bound
        target = ratio <= JOB_TARGET and throttled <= THROTTLE_TARGET and done == n
        print(f"   {name:34} {wall:7.2f} s  {ratio:5.3f} x the bound"
              f"{f' (target <= {JOB_TARGET})' if 'before' not in name else ''}  "
              f"created {done}/{n}  429s {stats['throttled']} / {stats['requests']} = "
              f"{throttled:.2%}  "
              f"{esp_server.verdict(target) if 'before' not in name else '(contrast)'}")
        print(f"   {'':34} server: creates by {stats['creates_by']}, peak in flight "
              f"{stats['in_flight_max']}; client: requests {report.requests}, "
              f"retries {report.retries}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true",
                        help="the job at a budget of 30 per 6 s instead of 300 per minute")
    parser.add_argument("--old", action="store_true",
                        help="also run espkit paced at the old smooth rate, for contrast")
    parser.add_argument("--only", choices=("list", "job"))
    parser.add_argument("--domains", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=25.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    latency = args.latency_ms / 1000
    print(f"budget_window: {esp_server.machine()}")
    if args.only in (None, "list"):
        listing(args.domains, latency, args.old)
    if args.only in (None, "job"):
        job(args.quick, latency, args.old)


if __name__ == "__main__":
    main()
