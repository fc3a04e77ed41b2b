"""How fast a ramp routes: decisions per second of ``espkit.ramp.route`` (one call per
message: finds the ramp, replays the state, hashes) and of the hot path
(``espkit.ramp.router(...)``: the day's shares and routes precomputed, one HMAC per call),
side by side, for 1 key routed over and over and for 100,000 distinct keys.

    python benchmarks/ramp_route.py [seconds_per_figure]

The fleet: 100 customers, stream ``news`` moving from a Mailgun-like to a SendGrid-like
sandbox connection at 25 % with three decisions in the state, plus a stream no ramp covers.
The target (issue 16) is 300,000 decisions a second per core for the hot path. Each figure
is the best of three timed rounds (other work on the machine only makes a round slower).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from espkit import fleet as fleet_file
from espkit.fleet.reader import Reader
from espkit.ramp import Ramp, RampState, advance, parse_ramps, route, router

CUSTOMERS = 100
DAY = date(2026, 3, 5)
TARGET = 300_000


def setup() -> tuple[fleet_file.Fleet, Ramp, RampState]:
    rows = "\n".join(f"  - {{name: c{n}, domain: c{n}.example.com}}" for n in range(CUSTOMERS))
    text = f"""\
version: 1
default_connection: old
connections:
  old: {{provider: sandbox, path: ":memory:", like: mailgun}}
  new: {{provider: sandbox, path: ":memory:", like: sendgrid}}
pools:
  mkt-old: {{connection: old, ips: [198.51.100.1]}}
  mkt-new: {{connection: new, ips: [198.51.100.10, 198.51.100.11]}}
streams:
  news: {{connection: old, pool: mkt-old, domain: "news.{{domain}}"}}
  news-new: {{connection: new, pool: mkt-new, domain: "news2.{{domain}}"}}
  mail: {{connection: old, domain: "mail.{{domain}}"}}
customers:
{rows}
"""
    ramps = """\
ramps:
  move:
    from: old
    to: new
    streams: {news: news-new}
    steps: [1%, 5%, 25%, 50%, 100%]
    start: 2026-03-02
    salt: "benchmark-salt-0123456789"
"""
    fleet = fleet_file.loads(text)
    reader = Reader("<bench>", Path("."))
    found, problems = parse_ramps(reader.parse(text + ramps)["ramps"], reader.line_of, fleet)
    assert not problems, problems
    ramp = found[0]
    state = RampState()
    for day in (date(2026, 3, 3), date(2026, 3, 4)):
        state = advance(ramp, state, day, stats_rows=[])
    return fleet, ramp, state


def rate(work: Callable[[], int], seconds: float) -> float:
    """Decisions a second: the best of three rounds of about ``seconds`` each."""
    best = 0.0
    for _ in range(3):
        done = 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            done += work()
        best = max(best, done / elapsed)
    return best


def main(seconds: float = 1.0) -> int:
    fleet, ramp, state = setup()
    ramps = (ramp,)
    hot = router(fleet, DAY, state, ramps=ramps)
    customers = [f"c{n}" for n in range(CUSTOMERS)]
    many = [(customers[n % CUSTOMERS], f"user{n}@example{n % 97}.com") for n in range(100_000)]
    one = [("c1", "ana@example.com")] * 1_000

    def plain(keys: list[tuple[str, str]]) -> Callable[[], int]:
        def work() -> int:
            for customer, key in keys:
                route(fleet, customer, "news", key, DAY, state, ramps=ramps)
            return len(keys)
        return work

    def fast(keys: list[tuple[str, str]]) -> Callable[[], int]:
        def work() -> int:
            for customer, key in keys:
                hot(customer, "news", key)
            return len(keys)
        return work

    new = sum(hot(c, "news", k).side == "new" for c, k in many)
    print(f"ramp {ramp.name} at 25 % on {DAY}: {new:,} of {len(many):,} keys on the new side")
    print(f"{'keys':>8}  {'route() /s':>12}  {'router() /s':>12}")
    ok = True
    for label, keys in (("1", one), ("100,000", many)):
        plain_rate = rate(plain(keys), seconds)
        hot_rate = rate(fast(keys), seconds)
        ok = ok and hot_rate >= TARGET
        print(f"{label:>8}  {plain_rate:>12,.0f}  {hot_rate:>12,.0f}")
    print(f"hot path target {TARGET:,}/s: {'met' if ok else 'NOT met'} "
          f"(Python {sys.version.split()[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
