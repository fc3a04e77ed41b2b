"""How long espkit takes over hostile input: fleet files built to blow up the loader (alias
bombs, a base-60 number of 600,000 characters, thousands of streams and misspelt names) and
10 MB of junk through the error-text scrubber.

The suite holds these inputs to a budget of work counted in function calls
(tests/fleet/test_fleet_limits.py) or to a bound on a hang (tests/transport/
test_redaction.py), which a loaded machine cannot make fail; the seconds are this script's
figures. Each target is the bound the suite used to time, with room for a shared machine.

    python benchmarks/hostile_inputs.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from espkit import fleet
from espkit.errors import ConfigError
from espkit.fleet.loader import Loader
from espkit.fleet.schema_errors import validator
from espkit.transport.redaction import scrub_body, scrub_text

ROOT = Path(__file__).resolve().parents[1]
HEAD = 'version: 1\nconnections:\n  main: {provider: sandbox, path: ":memory:"}\n'


def laughs(depth: int, width: int = 9) -> str:
    """The billion laughs: each anchor holds ``width`` aliases of the one before."""
    lines = [f"  a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, depth)]
    return HEAD + "x:\n" + "\n".join(lines) + f"\ncustomers:\n  - name: *a{depth - 1}\n"


def load(text: str) -> Callable[[], object]:
    def run() -> object:
        try:
            return fleet.loads(text)
        except ConfigError as exc:
            return exc
    return run


def fleet_cases() -> list[tuple[str, Callable[[], object], float]]:
    streams_x_customers = HEAD + "streams:\n" + "".join(f"  s{i}: {{}}\n" for i in range(1000))
    streams_x_customers += "customers:\n" + "".join(
        f"  - {{name: c{i}, domain: c{i}.com}}\n" for i in range(1000))
    misspelt = HEAD + "streams: {" + ", ".join(f"stream{i}: {{}}" for i in range(2000)) + "}\n"
    misspelt += "templates:\n  t: {streams: [" + ", ".join(
        f"strem{i}x" for i in range(200)) + "]}\n"
    unique = {"version": 1, "connections": {"m": {"provider": "sandbox"}},
              "customers": [{"name": "a", "streams": [{"a": i} for i in range(10_000)]}]}
    names = [f"s{i}" for i in range(20_000)]

    return [
        ("the sample fleet full.yaml (for scale)",
         lambda: fleet.load(ROOT / "tests" / "data" / "fleets" / "full.yaml"), 1.0),
        ("600-byte alias bomb (depth 9)", load(laughs(9)), 1.0),
        ("alias bomb of depth 20", load(laughs(20)), 1.0),
        ("base-60 number of 600,001 characters",
         load(HEAD + "safety: {min_existing: 1" + ":59" * 200_000 + "}\n"), 2.0),
        ("10,000 mappings in a streams list (uniqueItems)",
         lambda: list(validator().iter_errors(unique)), 1.5),
        ("1,000 streams x 1,000 customers: stops at the 200,000 cap", load(streams_x_customers),
         10.0),
        ("a template listing 20,000 streams",
         lambda: Loader("<t>", Path()).settings({"streams": names + names[:10]},
                                                ("templates", "t"), dict.fromkeys(names)), 0.5),
        ("2,000 streams, 200 misspelt references", load(misspelt), 3.0),
    ]


def scrub_cases() -> list[tuple[str, Callable[[], object], float]]:
    cases: list[tuple[str, Callable[[], object], float]] = []
    for unit in ["x", "a.", "a:", "token", "Basic ", "authorization:", "a-", "=:", "a://",
                 "api:", '"token": "', "Bearer a1"]:
        text = unit * (10_000_000 // len(unit))

        def scrub(text: str = text) -> object:
            scrub_text(text)
            return scrub_body({"m": text, "l": [text] * 3})

        cases.append((f"scrub 10 MB of {unit!r}", scrub, 2.0))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    fleet.load(ROOT / "tests" / "data" / "fleets" / "full.yaml")  # imports: not measured
    failed = 0
    for name, run, target in [*fleet_cases(), *scrub_cases()]:
        took = []
        for _ in range(args.runs):
            start = time.perf_counter()
            run()
            took.append(time.perf_counter() - start)
        median = statistics.median(took)
        ok = median < target
        failed += not ok
        print(f"{name:55} {median * 1000:9.1f} ms median of {args.runs} "
              f"(target < {target:g} s) {'PASS' if ok else 'FAIL'}")
    print(f"{'all PASS' if not failed else f'{failed} FAIL'}")


if __name__ == "__main__":
    main()
