"""Every benchmark, with the arguments the figures in benchmarks/README.md were taken with,
one after the other, each in its own process, with the commit and the machine's load named
at the top and each script's output kept whole in a log.

    python benchmarks/run_all.py [--quick] [--log benchmarks-<commit>.log] [--only NAME ...]

``--quick`` runs the short variants (a few minutes in all); without it the full set takes
about half an hour on this repository's 2-core machine. The scripts print their own targets
and PASS/FAIL; this one prints which ended in error.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: (name, arguments, quick arguments or None to skip in --quick)
RUNS: list[tuple[str, list[str], list[str] | None]] = [
    ("import_time", [], []),
    ("overhead", ["3000"], ["1000"]),
    ("requests_per_item", ["50"], ["20"]),
    ("bulk_rate", ["--runs", "1"], None),
    ("bulk_vs_sdk", ["--espkit-runs", "2", "--sdk-n", "100"],
     ["300", "--espkit-runs", "2", "--sdk-n", "50"]),
    ("bulk_faults", ["--runs", "2"], None),
    ("bulk_grid", ["--quick"], ["--quick", "--sizes", "10,300"]),
    ("budget_window", ["--quick"], ["--quick", "--only", "job"]),
    ("list_stream", [], ["20000"]),
    ("sandbox_throughput", [], ["500"]),
    ("fleet_plan", [], None),
    ("dns_check", [], []),
    ("hostile_inputs", [], []),
    ("ramp_route", [], []),
]


def commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=HERE, capture_output=True, text=True).stdout.strip()
        return out + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--log")
    parser.add_argument("--only", action="append")
    args = parser.parse_args()
    rev = commit()
    log_path = Path(args.log or f"benchmarks-{rev.split()[0]}.log")
    failed: list[str] = []
    with log_path.open("w") as log:
        head = (f"espkit benchmarks at commit {rev}, {time.strftime('%Y-%m-%d %H:%M')}, "
                f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
                f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}")
        print(head)
        log.write(head + "\n")
        for name, full, quick in RUNS:
            if args.only and name not in args.only:
                continue
            argv = quick if args.quick else full
            if argv is None:
                continue
            command = [sys.executable, str(HERE / f"{name}.py"), *argv]
            started = time.monotonic()
            print(f"== {name} {' '.join(argv)}", flush=True)
            log.write(f"\n== python benchmarks/{name}.py {' '.join(argv)}\n")
            log.flush()
            result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
            took = time.monotonic() - started
            print(f"   exit {result.returncode} after {took:.0f} s, load "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
            if result.returncode != 0:
                failed.append(name)
    print(f"log: {log_path}")
    if failed:
        print(f"ended in error: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
