"""Figure 3: with 10 % of requests failing, every create completes, none is applied twice,
and the run takes at most 1.3 x the fault-free time.

``esp_server.py`` (in a child process) fails each API request (every method, so the
read-backs too) with probability 0.1, the kind drawn uniformly from:
503 before applying, 500 after applying, connection reset after applying, connection reset
before applying (seeded RNG). The same 2,000 creates run once fault-free and once with
faults, each on a fresh server, API key and client limiter, in two settings:

* rate-bound: 100 req/s per key, 25 ms latency (figure 1's server);
* latency-bound: 1,000 req/s per key, 100 ms latency (figure 2's server).

The targets are checked in both. A short job's wall time is at the mercy of the machine (a
scheduler hiccup of 0.1 s is 5 % of a 2 s job), so, as in ``bulk_grid.py``, a setting whose
bound is under ``--repeat-under`` seconds (default 5: the latency-bound one) runs at least
``--repeat`` pairs (default 3), each on fresh keys, every ratio printed, and its time target
is judged on the median ratio.

Counts are the server's: ``creates_applied`` must equal N (every domain exists, once) and
``duplicate_creates`` (a POST for a name that already exists) must be 0.

``--outage S`` runs the outage figure instead: 1,000 creates at 100 req/s and 25 ms, and
after the server has applied 300 of them it resets every connection (``--outage-kind
reset-before``) or answers 503 to everything (``503-before``) for S seconds (20 by
default), then recovers. The run must wait it out and finish: every create applied once,
none failed, not stopped; its wall time is shown beside the fault-free run's plus S.

    python benchmarks/bulk_faults.py [N] [--faults 0.1] [--seed 7] [--only rate|latency]
                                     [--runs 1] [--repeat 3] [--repeat-under 5]
    python benchmarks/bulk_faults.py --outage 20 [--outage-kind reset-before|503-before]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import threading
import time
from typing import Any

import esp_server

import espkit
import espkit.transport.ratelimit
from espkit.bulk import Bulk

TIME_TARGET = 1.3
SETTINGS = {"rate": (100.0, 0.025), "latency": (1000.0, 0.100)}
#: the outage figure: creates applied before the ESP goes away
OUTAGE_AFTER = 300


def run(n: int, limit: float, latency: float, faults: float, seed: int,
        key: str, outage: tuple[float, str] | None = None) -> dict[str, Any]:
    espkit.transport.ratelimit.reset_shared()
    server = esp_server.start(rate=limit, latency=latency, faults=faults, seed=seed,
                              process=True)
    window: list[float] = []
    try:
        names = [f"d{i:05d}.{key}.faults.example" for i in range(n)]
        acct = espkit.connect("mailgun", api_key=key, base_url=server.url, rate_limit=limit)
        done = threading.Event()
        if outage is not None:
            threading.Thread(target=take_away, args=(server, outage, done, window),
                             daemon=True).start()
        start = time.perf_counter()
        report = Bulk(acct, journal=None).create_domains(names)
        wall = time.perf_counter() - start
        done.set()
        stats = server.stats()
        present = set(server.names())
    finally:
        server.stop()
    return {"wall": wall, "report": report, "stats": stats, "window": window,
            "missing": sum(1 for name in names if name not in present)}


def take_away(server: esp_server.Server, outage: tuple[float, str], done: threading.Event,
              window: list[float]) -> None:
    """After OUTAGE_AFTER creates, fail every request for ``outage`` seconds."""
    seconds, kind = outage
    while not done.is_set() and server.stats()["creates_applied"] < OUTAGE_AFTER:
        time.sleep(0.05)
    if done.is_set():
        return
    window.append(time.perf_counter())
    server.configure(faults=1.0, fault_kinds=[kind])
    time.sleep(seconds)
    server.configure(faults=0.0)
    window.append(time.perf_counter())


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
    esp_server.add_repeat_args(parser, "setting")
    parser.add_argument("--outage", type=float, default=None, metavar="S",
                        help="the outage figure: the ESP fails everything for S seconds")
    parser.add_argument("--outage-kind", default="reset-before",
                        choices=("reset-before", "503-before"))
    args = parser.parse_args()
    # per-retry warnings and urllib3's pool notices would bury the figures
    logging.basicConfig(level=logging.ERROR)
    if args.outage is not None:
        outage_figure(1000 if args.n == 2000 else args.n, args.outage, args.outage_kind)
        return
    n = args.n
    print(f"bulk_faults: {esp_server.machine()}")
    print(f"{n} creates; faults {args.faults:.0%} of requests (seed {args.seed}), kinds "
          + ", ".join(esp_server.FAULT_KINDS))
    for name, (limit, latency) in SETTINGS.items():
        if args.only not in (None, name):
            continue
        runs = esp_server.repeats(n / limit, args, args.runs)
        ratios = [pair(n, name, limit, latency, args.faults, args.seed, f"{i}/{runs}")
                  for i in range(1, runs + 1)]
        if runs > 1:
            median = statistics.median(ratios)
            print(f"-- {name}-bound over {runs} runs: time ratios "
                  f"{', '.join(f'{r:.2f}' for r in ratios)}; median {median:.2f} "
                  f"(target <= {TIME_TARGET})  {esp_server.verdict(median <= TIME_TARGET)}")


def pair(n: int, name: str, limit: float, latency: float, fault_rate: float, seed: int,
         run_label: str) -> float:
    """One fault-free run and one faulty run side by side; returns faulty / fault-free."""
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
    return ratio


def outage_figure(n: int, seconds: float, kind: str) -> None:
    limit, latency = SETTINGS["rate"]
    print(f"bulk_faults --outage: {esp_server.machine()}")
    print(f"{n} creates at {limit:g} req/s, {latency * 1000:g} ms; after {OUTAGE_AFTER} "
          f"creates every request fails ({kind}) for {seconds:g} s")
    clean = run(n, limit, latency, 0.0, 7, "key-outage-clean")
    line("fault-free", n, clean)
    hit = run(n, limit, latency, 0.0, 7, "key-outage", (seconds, kind))
    line("outage", n, hit)
    report, stats = hit["report"], hit["stats"]
    reported = report.counts.get("created", 0) + report.counts.get("existed", 0)
    ok = (stats["creates_applied"] == n and hit["missing"] == 0 and reported == n
          and not report.failed and report.stopped is None)
    start, end = (hit["window"] + [0.0, 0.0])[:2]
    print(f"   outage      {end - start:.1f} s on the server; the run paused {report.outages} "
          f"time(s), {report.outage_seconds:.1f} s in all")
    print(f"   completed   {reported}/{n} created or existed, {len(report.failed)} failed, "
          f"stopped: {report.stopped}  {esp_server.verdict(ok)}")
    print(f"   duplicates  {stats['duplicate_creates']} (target 0)  "
          f"{esp_server.verdict(stats['duplicate_creates'] == 0)}")
    print(f"   wall        {hit['wall']:.2f} s = fault-free {clean['wall']:.2f} s + "
          f"{hit['wall'] - clean['wall']:.2f} s for a {seconds:g} s outage (no target)")


if __name__ == "__main__":
    main()
